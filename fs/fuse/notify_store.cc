#include "fs/fuse/notify_store.h"

#include <linux/fuse.h>
#include <sys/uio.h>

#include <limits.h>

#include <cerrno>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <vector>

namespace hubfs::fs {

int NotifyStoreGather(int fd, uint64_t ino, uint64_t offset, std::span<const iovec> data) {
  size_t size = 0;
  for (const iovec& v : data) size += v.iov_len;
  if (size > std::numeric_limits<uint32_t>::max() - sizeof(fuse_out_header) -
                 sizeof(fuse_notify_store_out)) {
    return -EINVAL;
  }
  // The message: the header (unique 0 marks a notification, error its
  // code), the store's arguments, then the bytes.
  fuse_notify_store_out args{};
  args.nodeid = ino;
  args.offset = offset;
  args.size = static_cast<uint32_t>(size);
  fuse_out_header header{};
  header.len = static_cast<uint32_t>(sizeof(header) + sizeof(args) + size);
  header.error = FUSE_NOTIFY_STORE;
  header.unique = 0;
  std::vector<iovec> iov;
  std::vector<uint8_t> joined;  // pieces beyond what one writev takes: copied
  iov.reserve(3 + data.size());
  iov.push_back(iovec{&header, sizeof(header)});
  iov.push_back(iovec{&args, sizeof(args)});
  if (data.size() + 2 <= IOV_MAX) {
    iov.insert(iov.end(), data.begin(), data.end());
  } else {
    joined.reserve(size);
    for (const iovec& v : data) {
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      joined.insert(joined.end(), p, p + v.iov_len);
    }
    iov.push_back(iovec{joined.data(), joined.size()});
  }
  for (;;) {
    const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
    if (n >= 0) return 0;  // the device takes a message whole or not at all
    if (errno != EINTR) return -errno;
  }
}

}  // namespace hubfs::fs
