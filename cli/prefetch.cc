// `hubfs prefetch [-j N] [--cache-dir DIR] PATH...`: warms the chunk cache of
// a mount for files and folders inside it before a job needs them; or, for
// SOURCEs (no mount), a cache dir's chunk cache for the files of a repo
// (cli/source_prefetch.h).
//
// It reads the files through the mount (O_DIRECT), several at once, each
// sequentially: the daemon's own read path (its read-ahead, memory budget and
// cache writer) fetches and caches the chunks, so prefetching needs no
// channel to the daemon and warms exactly what a later read will look up.
// The reads bypass the page cache, so warming a large folder does not push
// other data out of memory.
// Progress: a redrawn bar on a terminal, plain lines otherwise; a record in
// <cache>/prefetch/ lets `hubfs status` show it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/mount_state.h"
#include "cli/prefetch_state.h"
#include "cli/source_prefetch.h"
#include "hub/repo_id.h"
#include "common/mutex.h"

namespace hubfs::cli {
namespace {

constexpr char kPrefetchUsage[] =
    "usage: hubfs prefetch [-j N] [--cache-dir DIR] PATH...\n"
    "       hubfs prefetch [-j N] [--cache-dir DIR] SOURCE...\n"
    "Reads the files and folders PATH... of a hubfs mount through it, N files at a\n"
    "time (default 4), so that their chunks are in the mount's cache before a job\n"
    "reads them. A progress bar on a terminal, plain lines otherwise; `hubfs status`\n"
    "shows prefetches in flight. --cache-dir: where to look for the mount's record\n"
    "when the mount uses a cache dir that `hubfs status` would not find.\n"
    "With SOURCEs ([hf://][datasets/|spaces/]NS/NAME[@REV][/PATH], not a local path)\n"
    "no mount is needed: the files are read from the Hub, verified, into the cache\n"
    "dir (--cache-dir, else HUBFS_CACHE_DIR or the default) that a later mount of\n"
    "the same revision uses.\n";

constexpr size_t kBlock = 1 << 20;
constexpr int kMaxJobs = 64;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct File {
  std::string path;
  uint64_t size = 0;
};

// Reads file i of the list whole, adding bytes to *done as they are read and
// stopping early once *stop is set. "" or the error.
using ReadFn =
    std::function<std::string(size_t i, std::atomic<uint64_t>* done, const std::atomic<bool>* stop)>;

std::string Human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

// The mount holding `path` (its record), or an error message.
std::string FindMount(const std::string& path, const std::map<std::string, MountState>& mounts,
                      const MountState** out) {
  const MountState* best = nullptr;
  for (const auto& [mp, s] : mounts) {
    if (path == mp || (path.rfind(mp + "/", 0) == 0) || (mp == "/" && path[0] == '/')) {
      if (best == nullptr || mp.size() > best->mountpoint.size()) best = &s;
    }
  }
  if (best == nullptr) {
    return path + ": not inside a running hubfs mount (or its cache dir is unknown: try --cache-dir)";
  }
  *out = best;
  return "";
}

// The regular files under `path` (or `path` itself), in name order.
std::string Collect(const std::string& path, std::vector<File>* files) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) return path + ": " + ec.message();
  if (std::filesystem::is_regular_file(st)) {
    files->push_back({path, std::filesystem::file_size(path, ec)});
    return ec ? path + ": " + ec.message() : "";
  }
  if (!std::filesystem::is_directory(st)) return path + ": not a file or folder";
  std::vector<File> found;
  std::filesystem::recursive_directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    found.push_back({it->path().string(), it->file_size(ec)});
    if (ec) break;
  }
  if (ec) return path + ": " + ec.message();
  std::sort(found.begin(), found.end(), [](const File& a, const File& b) { return a.path < b.path; });
  files->insert(files->end(), found.begin(), found.end());
  return "";
}

// Reads a file through the mount; "" or the error. O_DIRECT: every read
// reaches the daemon (pages the kernel holds are not taken for cached), no
// page is kept, and the daemon caches every chunk it reads for it (a reader
// that keeps pages may see some left uncached when the cache's disk lags:
// fs/vfs/vfs_core.h, Open). Where O_DIRECT is refused, a plain open whose
// pages are dropped as it goes.
std::string ReadThroughMount(const std::string& path, std::atomic<uint64_t>* done,
                             const std::atomic<bool>* stop) {
  std::unique_ptr<char, decltype(&std::free)> mem(
      static_cast<char*>(std::aligned_alloc(4096, kBlock)), &std::free);
  if (mem == nullptr) return "out of memory";
  const std::span<char> buf(mem.get(), kBlock);
  bool direct = true;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  if (fd < 0 && errno == EINVAL) {
    direct = false;
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    static std::atomic<bool> warned{false};
    if (fd >= 0 && !warned.exchange(true)) {
      std::fprintf(stderr,
                   "hubfs prefetch: warning: O_DIRECT refused (%s); reading through the page "
                   "cache, where chunks the cache's disk cannot take as fast may stay uncached\n",
                   path.c_str());
    }
  }
  if (fd < 0) return std::strerror(errno);
  std::string err;
  off_t off = 0;
  while (!stop->load()) {
    const ssize_t n = pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = std::strerror(errno);
      break;
    }
    if (n == 0) break;
    // The chunks are cached now; the pages need not stay in memory.
    if (!direct) posix_fadvise(fd, off, n, POSIX_FADV_DONTNEED);
    off += n;
    done->fetch_add(static_cast<uint64_t>(n));
  }
  close(fd);
  return err;
}

class Prefetcher {
 public:
  Prefetcher(std::vector<File> files, ReadFn read, PrefetchState record, int jobs)
      : files_(std::move(files)),
        read_(std::move(read)),
        record_(std::move(record)),
        jobs_(jobs),
        tty_(isatty(2) == 1) {
    for (const File& f : files_) total_ += f.size;
  }

  // Returns the number of files that failed.
  int Run() {
    start_ = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int i = 0; i < std::min<int>(jobs_, static_cast<int>(files_.size())); ++i) {
      workers.emplace_back([this] { Work(); });
    }
    std::thread reporter([this] { Report(); });
    for (auto& w : workers) w.join();
    finished_.store(true);
    reporter.join();
    RemovePrefetchState(record_.cache_dir, record_.pid);
    return failed_.load();
  }

  uint64_t total() const { return total_; }
  uint64_t done() const { return done_bytes_.load(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void Work() {
    for (size_t i; !g_stop.load() && (i = next_.fetch_add(1)) < files_.size();) {
      const File& f = files_[i];
      const std::string err = read_(i, &done_bytes_, &g_stop);
      files_done_.fetch_add(1);
      if (!err.empty()) failed_.fetch_add(1);
      if (!err.empty() || !tty_) {
        MutexLock lock(&out_mu_);
        ClearBarLocked();
        if (err.empty()) {
          std::fprintf(stderr, "prefetch: %s (%s)\n", f.path.c_str(), Human(f.size).c_str());
        } else {
          std::fprintf(stderr, "prefetch: %s: %s\n", f.path.c_str(), err.c_str());
        }
      }
    }
  }

  void Report() {
    auto last_line = std::chrono::steady_clock::now();
    auto last_record = last_line - std::chrono::hours(1);
    for (;;) {
      const bool end = finished_.load();
      const auto now = std::chrono::steady_clock::now();
      if (now - last_record >= std::chrono::seconds(1) && !end) {
        record_.files_total = files_.size();
        record_.files_done = files_done_.load();
        record_.bytes_total = total_;
        record_.bytes_done = done_bytes_.load();
        record_.updated = std::time(nullptr);
        WritePrefetchState(record_);
        last_record = now;
      }
      {
        MutexLock lock(&out_mu_);
        if (tty_) {
          DrawBarLocked(end);
        } else if (now - last_line >= std::chrono::seconds(10) && !end) {
          std::fprintf(stderr, "prefetch: %s\n", ProgressText().c_str());
          last_line = now;
        }
      }
      if (end) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // "1.2 GiB of 4.0 GiB (30%), 210.0 MiB/s, ETA 13 s, 3 of 12 files"
  std::string ProgressText() const {
    const double done = static_cast<double>(done_bytes_.load());
    const double secs = std::max(seconds(), 1e-3);
    const double rate = done / secs;
    const int pct = total_ == 0 ? 100 : static_cast<int>(100.0 * done / static_cast<double>(total_));
    std::string eta = "?";
    if (rate > 0) eta = std::to_string(static_cast<long long>((static_cast<double>(total_) - done) / rate)) + " s";
    char buf[200];
    std::snprintf(buf, sizeof(buf), "%s of %s (%d%%), %s/s, ETA %s, %llu of %zu files",
                  Human(done).c_str(), Human(static_cast<double>(total_)).c_str(), pct,
                  Human(rate).c_str(), eta.c_str(),
                  static_cast<unsigned long long>(files_done_.load()), files_.size());
    return buf;
  }

  void DrawBarLocked(bool end) REQUIRES(out_mu_) {
    constexpr int kWidth = 24;
    const double frac =
        total_ == 0 ? 1.0 : static_cast<double>(done_bytes_.load()) / static_cast<double>(total_);
    const int fill = std::clamp(static_cast<int>(frac * kWidth), 0, kWidth);
    std::fprintf(stderr, "\r\033[K[%s%s] %s", std::string(fill, '#').c_str(),
                 std::string(kWidth - fill, '.').c_str(), ProgressText().c_str());
    if (end) std::fputc('\n', stderr);
    bar_shown_ = !end;
    std::fflush(stderr);
  }

  void ClearBarLocked() REQUIRES(out_mu_) {
    if (tty_ && bar_shown_) std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }

  const std::vector<File> files_;
  const ReadFn read_;
  PrefetchState record_;  // the reporter thread's
  const int jobs_;
  const bool tty_;
  uint64_t total_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> done_bytes_{0}, files_done_{0};
  std::atomic<int> failed_{0};
  std::atomic<bool> finished_{false};
  Mutex out_mu_;
  bool bar_shown_ GUARDED_BY(out_mu_) = false;
};

// Runs the prefetch, then `finish` (a source's cache flush), and prints the
// summary. Returns the exit status.
int Finish(Prefetcher& pf, const std::function<std::string()>& finish) {
  const int failed = pf.Run();
  if (finish) {
    if (const std::string err = finish(); !err.empty()) {
      std::fprintf(stderr, "hubfs prefetch: %s\n", err.c_str());
      return 1;
    }
  }
  const double secs = std::max(pf.seconds(), 1e-3);
  std::printf("prefetched %s of %s in %.1f s (%s/s)%s\n", Human(static_cast<double>(pf.done())).c_str(),
              Human(static_cast<double>(pf.total())).c_str(), secs,
              Human(static_cast<double>(pf.done()) / secs).c_str(),
              g_stop.load() ? ", interrupted" : "");
  if (g_stop.load()) return 130;
  if (failed > 0) {
    std::fprintf(stderr, "hubfs prefetch: %d file(s) failed\n", failed);
    return 1;
  }
  return 0;
}

}  // namespace

int PrefetchCommand(std::span<const std::string_view> args) {
  int jobs = 4;
  std::set<std::string> dirs;
  std::vector<std::string> paths;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kPrefetchUsage, stdout);
      return 0;
    }
    if ((a == "-j" || a == "--jobs") && i + 1 < args.size()) {
      const std::string v(args[++i]);
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > kMaxJobs) {
        std::fprintf(stderr, "hubfs prefetch: -j needs a number from 1 to %d\n", kMaxJobs);
        return 2;
      }
      jobs = static_cast<int>(n);
    } else if (a == "--cache-dir" && i + 1 < args.size()) {
      dirs.insert(std::string(args[++i]));
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "hubfs prefetch: unknown option '%s'\n%s", std::string(a).c_str(),
                   kPrefetchUsage);
      return 2;
    } else {
      paths.emplace_back(a);
    }
  }
  if (paths.empty()) {
    std::fputs(kPrefetchUsage, stderr);
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A path that does not exist here but reads as a SOURCE: no mount.
  std::error_code exists_ec;
  if (!std::filesystem::exists(paths[0], exists_ec) && hub::ParseSource(paths[0]).ok()) {
    if (paths.size() > 1 || dirs.size() > 1) {
      std::fprintf(stderr, "hubfs prefetch: one SOURCE at a time (and at most one --cache-dir)\n");
      return 2;
    }
    std::optional<std::string> dir;
    if (!dirs.empty()) dir = *dirs.begin();
    auto source = OpenSourcePrefetch(paths[0], dir);
    if (!source.ok()) {
      std::fprintf(stderr, "hubfs prefetch: %s\n", source.status().message().c_str());
      return 1;
    }
    std::vector<File> files;
    for (const auto& f : source->files) files.push_back({f.path, f.size});
    PrefetchState record;
    record.pid = getpid();
    record.cache_dir = source->cache_dir;
    record.paths = paths[0];
    record.started = std::time(nullptr);
    Prefetcher pf(std::move(files), source->read, record, jobs);
    return Finish(pf, source->finish);
  }
  const auto mounts = FindMountStates(dirs);
  const MountState* mount = nullptr;
  std::vector<File> files;
  std::string shown;
  for (const std::string& p : paths) {
    std::error_code ec;
    const std::string abs = std::filesystem::canonical(p, ec).string();
    if (ec) {
      std::fprintf(stderr, "hubfs prefetch: %s: %s\n", p.c_str(), ec.message().c_str());
      return 1;
    }
    const MountState* m = nullptr;
    if (std::string err = FindMount(abs, mounts, &m); !err.empty()) {
      std::fprintf(stderr, "hubfs prefetch: %s\n", err.c_str());
      return 1;
    }
    if (mount != nullptr && m->mountpoint != mount->mountpoint) {
      std::fprintf(stderr, "hubfs prefetch: %s and %s are in different mounts: one prefetch per mount\n",
                   paths[0].c_str(), p.c_str());
      return 2;
    }
    mount = m;
    if (std::string err = Collect(abs, &files); !err.empty()) {
      std::fprintf(stderr, "hubfs prefetch: %s\n", err.c_str());
      return 1;
    }
    shown += (shown.empty() ? "" : " ") + p;
  }
  PrefetchState record;
  record.pid = getpid();
  record.mountpoint = mount->mountpoint;
  record.cache_dir = mount->cache_dir;
  record.paths = shown;
  record.started = std::time(nullptr);
  std::vector<std::string> local;
  for (const File& f : files) local.push_back(f.path);
  ReadFn read = [local = std::move(local)](size_t i, std::atomic<uint64_t>* done,
                                           const std::atomic<bool>* stop) {
    return ReadThroughMount(local[i], done, stop);
  };
  Prefetcher pf(std::move(files), std::move(read), record, jobs);
  return Finish(pf, nullptr);
}

}  // namespace hubfs::cli
