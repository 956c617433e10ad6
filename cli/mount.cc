// `hubfs mount` and `hubfs unmount`.
//
// mount: checks what can be checked without the network, then (unless -f)
// forks before any thread, curl handle or LMDB environment exists. The child
// resolves the revision, lists the root, mounts, and only then tells the
// parent "ready" through a pipe (or the reason it failed); the parent exits
// with that outcome. SIGTERM/SIGINT/SIGHUP end the session and unmount.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "chunkstore/cache.h"
#include "cli/commands.h"
#include "cli/mount_state.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/log_file.h"
#include "fs/fuse_server.h"
#include "fs/repo_source_hub.h"
#include "fs/vfs_core.h"
#include "fs/xet_cas.h"
#include "fs/xet_reader.h"
#include "hub/curl_transport.h"
#include "hub/hub_client.h"
#include "hub/repo_id.h"
#include "hub/retry.h"
#include "hub/settings.h"

extern char** environ;

namespace hubfs::cli {
namespace {

constexpr char kMountUsage[] =
    "usage: hubfs mount SOURCE MOUNTPOINT [-f] [--revisions] [--cache-dir DIR]\n"
    "                   [--metadata-ttl S] [--io-timeout S] [--uid U] [--gid G]\n"
    "                   [--allow-other] [--memory-limit SIZE] [--log-level LEVEL]\n"
    "SOURCE is [hf://][datasets/|spaces/|models/]NS/NAME[@REV][/SUBDIR];\n"
    "without @REV the repo's default branch is mounted. With --revisions the\n"
    "mount shows the repo's revisions as directories (no @REV; /SUBDIR applies\n"
    "within every revision). SOURCE `hub` mounts the whole Hub: models/,\n"
    "datasets/, spaces/, then NS/NAME/REVISION/... looked up on demand.\n";

constexpr char kUnmountUsage[] = "usage: hubfs unmount MOUNTPOINT\n";

struct MountArgs {
  std::string source;
  std::string mountpoint;
  bool foreground = false;
  bool revisions = false;  // a repo's revisions as directories
  bool hub = false;        // SOURCE "hub": the whole Hub
  std::string cache_dir;
  double metadata_ttl = 10;
  double io_timeout = 30;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool allow_other = false;
  uint64_t memory_limit = fs::XetReaderOptions{}.memory_limit;
  log::Level log_level = log::Level::kInfo;
};

bool ParseNumber(std::string_view s, double max, double* out) {
  std::string str(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(str.c_str(), &end);
  if (str.empty() || *end != '\0' || errno != 0 || !(v >= 0) || v > max) return false;
  *out = v;
  return true;
}

// Returns an error message, or "" on success.
std::string ParseMountArgs(std::span<const std::string_view> args, MountArgs* out) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    std::optional<std::string_view> v;
    double num = 0;
    if (a == "-f" || a == "--foreground") {
      out->foreground = true;
    } else if (a == "--allow-other") {
      out->allow_other = true;
    } else if (a == "--revisions") {
      out->revisions = true;
    } else if (a == "--cache-dir") {
      if (!(v = value())) return "--cache-dir needs a directory";
      out->cache_dir = std::string(*v);
    } else if (a == "--metadata-ttl") {
      if (!(v = value()) || !ParseNumber(*v, 86400 * 365, &out->metadata_ttl)) {
        return "--metadata-ttl needs a number of seconds";
      }
    } else if (a == "--io-timeout") {
      if (!(v = value()) || !ParseNumber(*v, 86400, &out->io_timeout) || out->io_timeout < 1) {
        return "--io-timeout needs a number of seconds (at least 1)";
      }
    } else if (a == "--uid" || a == "--gid") {
      if (!(v = value()) || !ParseNumber(*v, 4294967294.0, &num)) {
        return std::string(a) + " needs a numeric id";
      }
      (a == "--uid" ? out->uid : out->gid) = static_cast<uint32_t>(num);
    } else if (a == "--memory-limit") {
      std::optional<uint64_t> size = (v = value()) ? ParseMemoryLimit(*v) : std::nullopt;
      if (!size) return "--memory-limit needs a size of at least 4M (e.g. 512M)";
      out->memory_limit = *size;
    } else if (a == "--log-level") {
      if (!(v = value()) || !log::ParseLevel(*v, &out->log_level)) {
        return "--log-level needs debug, info, warning, error or off";
      }
    } else if (!a.empty() && a[0] == '-') {
      return "unknown option '" + std::string(a) + "'";
    } else {
      positional.emplace_back(a);
    }
  }
  if (positional.size() != 2) return "expected SOURCE and MOUNTPOINT";
  out->source = positional[0];
  out->mountpoint = positional[1];
  return "";
}

// Checks the mountpoint: an existing directory that is not already a mount.
std::string CheckMountpoint(const std::string& path) {
  struct stat st, parent;
  if (stat(path.c_str(), &st) != 0) {
    return "mountpoint " + path + ": " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "mountpoint " + path + " is not a directory";
  if (stat((path + "/..").c_str(), &parent) == 0 && parent.st_dev != st.st_dev) {
    return "mountpoint " + path + " is busy (something is already mounted there)";
  }
  return "";
}

// Sets the kernel readahead of the FUSE mount at `mountpoint` to `kb`
// (field notes: the 128 KiB default halves sequential speed; about 1 MiB is
// right, the daemon streams ahead itself). Needs root; best effort. Reads
// /proc/self/mountinfo rather than stat(2)ing the mount, which would wait for
// the session loop.
void SetMountReadahead(const std::string& mountpoint, unsigned kb) {
  std::string real = mountpoint;
  if (char* r = realpath(mountpoint.c_str(), nullptr)) {
    real = r;
    free(r);
  }
  FILE* f = std::fopen("/proc/self/mountinfo", "r");
  if (f == nullptr) return;
  char line[4096];
  std::string dev;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    // id parent major:minor root mountpoint ...
    char majmin[64], root[1024], mp[2048];
    if (std::sscanf(line, "%*s %*s %63s %1023s %2047s", majmin, root, mp) == 3 && real == mp) {
      dev = majmin;  // the last match is the newest mount
    }
  }
  std::fclose(f);
  if (dev.empty()) return;
  std::string path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  if (FILE* ra = std::fopen(path.c_str(), "w")) {
    std::fprintf(ra, "%u\n", kb);
    std::fclose(ra);
  }
}

// Where a forked daemon tells its parent how the mount went: one line,
// "ok" or the error.
class ReadyPipe {
 public:
  explicit ReadyPipe(int fd) : fd_(fd) {}
  void Report(const std::string& message) {
    if (fd_ < 0) {
      if (message != "ok") std::fprintf(stderr, "hubfs mount: %s\n", message.c_str());
      return;
    }
    std::string line = message + "\n";
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string DescribeResolveError(const Status& st, const std::string& what) {
  switch (st.code()) {
    case ErrorCode::kNotFound:
      return what + " not found (" + st.message() + ")";
    case ErrorCode::kUnauthenticated:
      return what + ": not found or private, and no valid token (set HF_TOKEN) (" +
             st.message() + ")";
    case ErrorCode::kPermissionDenied:
      return what + ": access denied (" + st.message() + ")";
    default:
      return what + ": " + st.ToString();
  }
}

// The name of the repo's default branch. The Hub maps the revision "HEAD" to
// the default branch; its name is the branch whose head is that commit. When
// several branches share the commit, "main" wins if it is one of them; when
// none can be named (e.g. the branch moved in between), "HEAD" itself is the
// revision, which still follows the default branch.
Result<std::string> DefaultBranch(hub::HubClient* client, fs::HubRepoSource* resolver,
                                  const hub::RepoId& repo) {
  HUBFS_ASSIGN_OR_RETURN(fs::RevisionInfo head, resolver->ResolveRevision(repo, "HEAD"));
  HUBFS_ASSIGN_OR_RETURN(hub::Refs refs, client->ListRefs(repo, /*include_prs=*/false));
  std::vector<std::string> names;
  for (const hub::GitRef& b : refs.branches) {
    if (b.target_commit == head.commit) names.push_back(b.name);
  }
  if (names.size() == 1) return names[0];
  if (std::find(names.begin(), names.end(), "main") != names.end()) return std::string("main");
  HUBFS_LOG(kWarning) << repo.ToString() << ": cannot name the default branch ("
                      << names.size() << " branches at " << head.commit
                      << "); following HEAD";
  return std::string("HEAD");
}

// Runs the mount in this process; reports readiness through `ready`.
// Returns the exit status.
int Serve(const MountArgs& args, const hub::Source& source, const hub::Settings& settings,
          ReadyPipe* ready, bool daemon) {
  // Stop signals stay blocked in every thread started from here; Run() unblocks them
  // where libfuse handles them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string cache_dir = args.cache_dir.empty() ? settings.cache_dir : args.cache_dir;
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) {
    ready->Report("cache dir " + cache_dir + ": " + ec.message());
    return 1;
  }
  log::SetMinLevel(args.log_level);
  if (daemon) {
    // Bounded: the file rotates once to hubfs-mount.log.1 at 16 MiB.
    auto log_file = log::RotatingLogFile::Open(cache_dir + "/hubfs-mount.log", 16ull << 20);
    if (log_file.ok()) {
      std::shared_ptr<log::RotatingLogFile> file = std::move(*log_file);
      log::SetSink([file](log::Level, std::string_view line) { file->Write(line); });
    }
  }

  // libcurl's global state was set up by main(); no transport exists yet.
  // A request may be tried up to three times (below), so each attempt gets a
  // third of the I/O timeout: a dead or stalled server gives EIO after about
  // io_timeout plus the short backoffs, never a hang.
  auto io_timeout = std::chrono::milliseconds(static_cast<int64_t>(args.io_timeout * 1000));
  auto attempt_timeout = std::max<std::chrono::milliseconds>(io_timeout / 3, std::chrono::seconds(1));
  hub::CurlTransportOptions topts;
  topts.connect_timeout = attempt_timeout;
  topts.stall_timeout = attempt_timeout;
  topts.user_agent = settings.user_agent;
  auto curl_transport = hub::CurlTransport::Create(topts);
  if (!curl_transport.ok()) {
    ready->Report(curl_transport.status().ToString());
    return 1;
  }
  SystemClock clock;
  // Few, short retries: a dead server must give EIO well within io_timeout.
  hub::RetryPolicy retry;
  retry.max_attempts = 3;
  retry.initial_backoff = std::chrono::milliseconds(200);
  retry.max_backoff = std::chrono::milliseconds(1000);
  retry.max_server_wait = std::min<std::chrono::milliseconds>(io_timeout, std::chrono::seconds(5));
  hub::RetryingTransport transport(curl_transport->get(), &clock, retry);
  hub::EnvOrFileTokenProvider tokens(settings);
  hub::HubClientOptions copts;
  copts.endpoint = settings.endpoint;
  copts.offline = settings.offline;
  hub::HubClient client(&transport, &clock, &tokens, copts);

  // Resolve first: a missing repo or revision fails before anything else.
  // Without @REV the view follows the repo's default branch, found by name.
  // A mount of several revisions checks its repo with CheckRoot below.
  const bool multi = args.revisions || args.hub;
  fs::HubRepoSource resolver(&client, &transport, &tokens, nullptr, nullptr);
  std::string revision;
  fs::RevisionInfo resolved;
  if (!multi) {
    if (source.revision) {
      revision = *source.revision;
    } else {
      auto branch = DefaultBranch(&client, &resolver, source.repo);
      if (!branch.ok()) {
        ready->Report(DescribeResolveError(branch.status(), source.repo.ToString()));
        return 1;
      }
      revision = *branch;
    }
    auto r = resolver.ResolveRevision(source.repo, revision);
    if (!r.ok()) {
      ready->Report(DescribeResolveError(r.status(), source.repo.ToString() + "@" + revision));
      return 1;
    }
    resolved = *r;
  }

  chunkstore::CacheOptions cache_opts;
  cache_opts.dir = cache_dir + "/chunks";
  cache_opts.durable = false;  // a cache: no fsync per commit; wiped if a crash lost writes
  auto cache = chunkstore::ChunkCache::Open(cache_opts);
  if (!cache.ok()) {
    ready->Report("chunk cache " + cache_opts.dir + ": " + cache.status().ToString());
    return 1;
  }
  const hub::RepoId repo = source.repo;
  const std::string commit = resolved.commit;
  // CAS tokens are per repo: one repo and commit for a single revision;
  // several revisions and repos ask with the repo each file is read from.
  std::unique_ptr<fs::XetCas> cas;
  fs::PerRepoXetCas* routed = nullptr;
  if (multi) {
    auto per_repo = std::make_unique<fs::PerRepoXetCas>(
        &transport, [&client](const hub::RepoId& r, const std::string& c, bool force) {
          return client.XetReadToken(r, c, force);
        });
    routed = per_repo.get();
    cas = std::move(per_repo);
  } else {
    cas = std::make_unique<fs::HttpXetCas>(&transport, [&client, repo, commit](bool force) {
      return client.XetReadToken(repo, commit, force);
    });
  }
  fs::XetReaderOptions reader_opts;
  reader_opts.memory_limit = args.memory_limit;
  fs::XetReader reader(cas.get(), cache->get(), reader_opts);
  fs::HubRepoSource repo_source(&client, &transport, &tokens, &reader, cache->get());
  if (routed != nullptr) repo_source.RouteXetTokens(routed);

  fs::VfsOptions vopts;
  vopts.uid = args.uid.value_or(getuid());
  vopts.gid = args.gid.value_or(getgid());
  vopts.metadata_ttl_seconds = args.metadata_ttl;
  std::unique_ptr<fs::VfsCore> core_ptr;
  std::string what;  // the mounted thing, for messages
  if (multi) {
    fs::VfsLayout layout;
    layout.kind = args.hub ? fs::VfsLayout::Kind::kHub : fs::VfsLayout::Kind::kRevisions;
    layout.repo = source.repo;
    layout.subdir = source.subdir;
    layout.mount_time = static_cast<int64_t>(std::time(nullptr));
    core_ptr = std::make_unique<fs::VfsCore>(&repo_source, layout, vopts);
    what = args.hub ? std::string("hub") : source.repo.ToString() + " (revisions)";
  } else {
    fs::ViewSpec view;
    view.repo = source.repo;
    view.revision = revision;
    view.resolved = resolved;
    view.subdir = source.subdir;
    view.immutable = hub::IsCommitSha(revision);
    core_ptr = std::make_unique<fs::VfsCore>(&repo_source, view, vopts);
    what = source.repo.ToString() + "@" + revision +
           (source.subdir.empty() ? "" : "/" + source.subdir);
  }
  fs::VfsCore& core = *core_ptr;
  auto root = core.CheckRoot();
  if (!root.ok()) {
    if (multi) {
      ready->Report(DescribeResolveError(root.error().cause, source.repo.ToString()));
    } else {
      ready->Report(root.error().code == fs::VfsErrc::kNoEntry
                        ? what + ": folder not found"
                        : what + ": cannot list: " + root.error().cause.ToString());
    }
    return 1;
  }

  fs::FuseServerOptions fopts;
  fopts.mountpoint = args.mountpoint;
  fopts.fs_name = "hubfs:" + (args.hub ? std::string("hub") : source.repo.ToString());
  fopts.allow_other = args.allow_other;
  fopts.request_timeout_seconds = args.io_timeout;
  // Unmounted: nothing more is fetched. Requests still in flight (a server
  // trickling a body keeps one open for as long as it likes) fail at once,
  // so that the I/O threads waiting on them join without waiting for it.
  fopts.on_session_end = [transport = curl_transport->get()] { transport->Shutdown(); };
  auto server = fs::FuseServer::Mount(&core, fopts);
  if (!server.ok()) {
    ready->Report(server.status().message());
    return 1;
  }
  if (geteuid() == 0) SetMountReadahead(args.mountpoint, fopts.max_readahead / 1024);
  HUBFS_LOG(kInfo) << "mounted " << what << (commit.empty() ? "" : " (" + commit + ")")
                   << " at " << args.mountpoint;
  // Record the mount for `hubfs status`, refreshed with the reader's counters.
  MountState state;
  state.pid = getpid();
  state.source = args.source;
  state.repo = args.hub ? std::string("hub") : source.repo.ToString();
  state.revision = multi ? std::string() : revision;  // empty: every revision
  state.commit = commit;
  state.mountpoint = args.mountpoint;
  if (char* r = realpath(args.mountpoint.c_str(), nullptr)) {
    state.mountpoint = r;
    free(r);
  }
  state.cache_dir = cache_dir;
  if (char* r = realpath(cache_dir.c_str(), nullptr)) {
    state.cache_dir = r;
    free(r);
  }
  state.started = static_cast<int64_t>(std::time(nullptr));
  auto refresh_state = [&state, &reader, &core, multi] {
    FillReaderStats(reader.Stats(), &state);
    if (!multi) state.commit = core.current().commit;  // a branch view follows its head
    WriteMountState(state);
  };
  refresh_state();
  ready->Report("ok");
  std::mutex state_mu;
  std::condition_variable state_cv;
  bool state_stop = false;
  std::thread state_thread([&] {
    std::unique_lock lock(state_mu);
    while (!state_cv.wait_for(lock, std::chrono::seconds(2), [&] { return state_stop; })) {
      refresh_state();
    }
  });
  if (daemon) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      close(null_fd);
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  Status st = (*server)->Run();
  {
    std::lock_guard lock(state_mu);
    state_stop = true;
  }
  state_cv.notify_all();
  state_thread.join();
  RemoveMountState(state.cache_dir, state.pid);
  HUBFS_LOG(kInfo) << "unmounted " << args.mountpoint;
  if (!st.ok()) {
    HUBFS_LOG(kError) << st;
    return 1;
  }
  return 0;
}

// Runs a program quietly; true when it exited 0.
bool RunQuiet(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int MountCommand(std::span<const std::string_view> argv) {
  MountArgs args;
  if (!argv.empty() && (argv[0] == "-h" || argv[0] == "--help")) {
    std::fputs(kMountUsage, stdout);
    return 0;
  }
  std::string err = ParseMountArgs(argv, &args);
  if (!err.empty()) {
    std::fprintf(stderr, "hubfs mount: %s\n%s", err.c_str(), kMountUsage);
    return 2;
  }
  // The daemon changes to "/": keep the paths it was given meaningful.
  {
    std::error_code ec;
    auto mp = std::filesystem::absolute(args.mountpoint, ec);
    if (!ec) args.mountpoint = mp.lexically_normal().string();
    if (!args.cache_dir.empty()) {
      auto cd = std::filesystem::absolute(args.cache_dir, ec);
      if (!ec) args.cache_dir = cd.lexically_normal().string();
    }
  }
  // "hub" is no repo (a repo id has a namespace): the whole Hub.
  args.hub = args.source == "hub" || args.source == "hf://hub";
  Result<hub::Source> source = hub::Source{};
  if (!args.hub) source = hub::ParseSource(args.source);
  if (!source.ok()) {
    std::fprintf(stderr, "hubfs mount: %s\n", source.status().message().c_str());
    return 2;
  }
  if (args.revisions && source->revision) {
    std::fprintf(stderr,
                 "hubfs mount: --revisions shows every revision as a directory; "
                 "drop @%s from SOURCE (or drop --revisions to mount that revision alone)\n",
                 source->revision->c_str());
    return 2;
  }
  auto settings = hub::LoadSettings(hub::ProcessEnvironment());
  if (!settings.ok()) {
    std::fprintf(stderr, "hubfs mount: %s\n", settings.status().message().c_str());
    return 2;
  }
  err = CheckMountpoint(args.mountpoint);
  if (!err.empty()) {
    std::fprintf(stderr, "hubfs mount: %s\n", err.c_str());
    return 1;
  }
  if (args.foreground) {
    ReadyPipe ready(-1);
    return Serve(args, *source, *settings, &ready, /*daemon=*/false);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "hubfs mount: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "hubfs mount: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    close(fds[0]);
    setsid();
    if (chdir("/") != 0) {
      // Not fatal: the daemon only uses absolute paths from here on.
    }
    ReadyPipe ready(fds[1]);
    _exit(Serve(args, *source, *settings, &ready, /*daemon=*/true));
  }
  close(fds[1]);
  std::string message;
  char buf[512];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (message == "ok") return 0;
  int status = 0;
  waitpid(pid, &status, 0);
  if (message.empty()) message = "the mount process exited before the mount was ready";
  std::fprintf(stderr, "hubfs mount: %s\n", message.c_str());
  return 1;
}

int UnmountCommand(std::span<const std::string_view> argv) {
  if (argv.size() != 1 || argv[0].empty() || argv[0][0] == '-') {
    std::fputs(kUnmountUsage, argv.empty() ? stderr : stdout);
    return argv.size() == 1 && (argv[0] == "-h" || argv[0] == "--help") ? 0 : 2;
  }
  std::string mp(argv[0]);
  // Graceful first; then a lazy detach, which needs neither a live server
  // nor fusectl (the daemon sees the connection end when the last user goes).
  if (RunQuiet({"fusermount3", "-u", mp}) || RunQuiet({"umount", mp})) return 0;
  if (RunQuiet({"umount", "-l", mp}) || RunQuiet({"fusermount3", "-uz", mp})) {
    std::fprintf(stderr, "hubfs unmount: %s was busy; detached lazily\n", mp.c_str());
    return 0;
  }
  std::fprintf(stderr, "hubfs unmount: cannot unmount %s\n", mp.c_str());
  return 1;
}

}  // namespace hubfs::cli
