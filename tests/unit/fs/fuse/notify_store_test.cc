// NotifyStoreGather writes the FUSE_NOTIFY_STORE message as the kernel reads
// it (include/uapi/linux/fuse.h): checked by writing into a file and parsing
// it back, for a few pieces and for more pieces than one writev takes.
#include "fs/fuse/notify_store.h"

#include <gtest/gtest.h>
#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace hubfs::fs {
namespace {

struct Message {
  fuse_out_header header{};
  fuse_notify_store_out args{};
  std::vector<uint8_t> data;
  size_t total = 0;  // bytes written
};

// The message NotifyStoreGather writes for `pieces`, read back from a file.
Message WriteAndParse(uint64_t ino, uint64_t offset,
                      const std::vector<std::vector<uint8_t>>& pieces, int* rc) {
  std::FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  Message m;
  if (f == nullptr) return m;
  std::vector<iovec> iov;
  for (const auto& p : pieces) iov.push_back(iovec{const_cast<uint8_t*>(p.data()), p.size()});
  *rc = NotifyStoreGather(fileno(f), ino, offset, iov);
  std::vector<uint8_t> all;
  std::rewind(f);
  uint8_t buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) all.insert(all.end(), buf, buf + n);
  std::fclose(f);
  m.total = all.size();
  if (all.size() < sizeof(m.header) + sizeof(m.args)) return m;
  std::memcpy(&m.header, all.data(), sizeof(m.header));
  std::memcpy(&m.args, all.data() + sizeof(m.header), sizeof(m.args));
  m.data.assign(all.begin() + sizeof(m.header) + sizeof(m.args), all.end());
  return m;
}

std::vector<std::vector<uint8_t>> Pieces(const std::vector<size_t>& sizes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint8_t>> out;
  for (size_t n : sizes) {
    std::vector<uint8_t> p(n);
    for (uint8_t& b : p) b = static_cast<uint8_t>(rng());
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<uint8_t> Joined(const std::vector<std::vector<uint8_t>>& pieces) {
  std::vector<uint8_t> out;
  for (const auto& p : pieces) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void ExpectMessage(const Message& m, uint64_t ino, uint64_t offset,
                   const std::vector<uint8_t>& data) {
  EXPECT_EQ(m.header.unique, 0u) << "a notification";
  EXPECT_EQ(m.header.error, FUSE_NOTIFY_STORE);
  EXPECT_EQ(m.header.len, m.total) << "the length is the whole message";
  EXPECT_EQ(m.args.nodeid, ino);
  EXPECT_EQ(m.args.offset, offset);
  EXPECT_EQ(m.args.size, data.size());
  EXPECT_EQ(m.args.padding, 0u);
  EXPECT_EQ(m.data, data);
}

TEST(NotifyStoreTest, TheMessageCarriesTheInodeTheOffsetAndThePiecesInOrder) {
  const auto pieces = Pieces({1000, 5000, 3, 0, 7000}, 1);
  int rc = -1;
  const Message m = WriteAndParse(42, (1ull << 33) + 4096, pieces, &rc);
  EXPECT_EQ(rc, 0);
  ExpectMessage(m, 42, (1ull << 33) + 4096, Joined(pieces));
}

TEST(NotifyStoreTest, MorePiecesThanOneWriteTakesAreJoinedIntoOne) {
  std::vector<size_t> sizes(IOV_MAX + 10);
  for (size_t i = 0; i < sizes.size(); ++i) sizes[i] = 1 + i % 97;
  const auto pieces = Pieces(sizes, 2);
  int rc = -1;
  const Message m = WriteAndParse(7, 0, pieces, &rc);
  EXPECT_EQ(rc, 0);
  ExpectMessage(m, 7, 0, Joined(pieces));
}

TEST(NotifyStoreTest, AWriteTheDeviceRefusesIsItsNegativeErrno) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // no reader: EPIPE (SIGPIPE ignored below)
  std::signal(SIGPIPE, SIG_IGN);
  const auto pieces = Pieces({100}, 3);
  std::vector<iovec> iov = {iovec{const_cast<uint8_t*>(pieces[0].data()), pieces[0].size()}};
  EXPECT_EQ(NotifyStoreGather(fds[1], 1, 0, iov), -EPIPE);
  ::close(fds[1]);
  EXPECT_EQ(NotifyStoreGather(-1, 1, 0, iov), -EBADF);
}

}  // namespace
}  // namespace hubfs::fs
