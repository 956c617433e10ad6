// fuse_noop: the kernel's FUSE read path alone, a ceiling for sequential
// reads through any FUSE mount on this machine (scripts/bench.sh reports the
// warm read through hubfs against it). One read-only file, `data`, of SIZE
// bytes whose reads are answered from a buffer in memory, with the settings
// hubfs mounts with (1 MiB read-ahead, 64 background requests; up to 16
// threads, 4 kept idle, each with a cloned device descriptor). Not a test;
// never part of ctest.
//   fuse_noop MOUNTPOINT SIZE   (runs until unmounted: fusermount3 -u)
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr fuse_ino_t kFile = 2;
constexpr size_t kPattern = 1 << 20;  // the largest read the kernel sends
uint64_t g_size = 0;
std::vector<char> g_bytes;  // replies are slices of it

struct stat StatOf(fuse_ino_t ino) {
  struct stat st{};
  st.st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(g_size);
  }
  return st;
}

void Init(void*, fuse_conn_info* conn) {
  conn->max_readahead = 1 << 20;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || std::strcmp(name, "data") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFile;
  e.attr = StatOf(kFile);
  e.attr_timeout = e.entry_timeout = 3600;
  fuse_reply_entry(req, &e);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  const struct stat st = StatOf(ino);
  fuse_reply_attr(req, &st, 3600);
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFile) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  const uint64_t at = static_cast<uint64_t>(off);
  if (at >= g_size) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, g_size - at));
  // Slices of the pattern, kPattern bytes at most each (the buffer holds
  // two, so any slice fits).
  std::vector<iovec> iov;
  for (size_t done = 0; done < size;) {
    const size_t n = std::min(size - done, kPattern);
    iov.push_back({g_bytes.data() + (at + done) % kPattern, n});
    done += n;
  }
  fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuse_noop MOUNTPOINT SIZE\n");
    return 2;
  }
  g_size = std::strtoull(argv[2], nullptr, 10);
  g_bytes.resize(2 * kPattern);
  for (size_t i = 0; i < g_bytes.size(); ++i) g_bytes[i] = static_cast<char>(i * 131 + 7);
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.getattr = GetAttr;
  ops.open = Open;
  ops.read = Read;
  char arg0[] = "fuse_noop";
  char* fargv[] = {arg0, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, fargv);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), nullptr);
  if (se == nullptr) return 1;
  int rc = 1;
  if (fuse_set_signal_handlers(se) == 0) {
    if (fuse_session_mount(se, argv[1]) == 0) {
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(config, 1);
      fuse_loop_cfg_set_max_threads(config, 16);
      fuse_loop_cfg_set_idle_threads(config, 4);
      rc = fuse_session_loop_mt(se, config);
      fuse_loop_cfg_destroy(config);
      fuse_session_unmount(se);
    }
    fuse_remove_signal_handlers(se);
  }
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}
