// `hubfs mount` and `hubfs unmount`.
//
// mount: checks what can be checked without the network, then (unless -f)
// forks before any thread, curl handle or LMDB environment exists. The child
// resolves the revision, lists the root, mounts, and only then tells the
// parent "ready" through a pipe (or the reason it failed); the parent exits
// with that outcome. SIGTERM/SIGINT/SIGHUP end the session and unmount.
//
// The daemon stays in the session (and so the scheduler's autogroup) of the
// shell that started it; see DetachFromTerminal.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/dead_mount.h"
#include "cli/mount_serve.h"
#include "cli/mount_state.h"
#include "chunkstore/shared_tier.h"
#include "cli/size_arg.h"
#include "common/log.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::cli {
namespace {

constexpr char kMountUsage[] =
    "usage: hubfs mount SOURCE MOUNTPOINT [-f] [--revisions] [--cache-dir DIR]\n"
    "                   [--metadata-ttl S] [--io-timeout S] [--uid U] [--gid G]\n"
    "                   [--allow-other | --allow-other-private] [--memory-limit SIZE]\n"
    "                   [--cache-size SIZE] [--folder-readahead on|off]\n"
    "                   [--log-level LEVEL]\n"
    "                   [--shared-cache memcached://HOST:PORT[,HOST:PORT...]]\n"
    "                   [--rw [--create-pr] [--commit-delay S] [--sync-timeout S]\n"
    "                         [--upload-while-writing on|off]]\n"
    "SOURCE is [hf://][datasets/|spaces/|models/]NS/NAME[@REV][/SUBDIR];\n"
    "without @REV the repo's default branch is mounted. With --revisions the\n"
    "mount shows the repo's revisions as directories (no @REV; /SUBDIR applies\n"
    "within every revision). SOURCE `hub` mounts the whole Hub: models/,\n"
    "datasets/, spaces/, then NS/NAME/REVISION/... looked up on demand.\n"
    "--rw makes a branch (or refs/pr/N) writable: files closed are journaled at once\n"
    "and committed within --commit-delay (2 s); fsync waits for the commit. With\n"
    "--revisions or hub, every branch and refs/pr/N directory is writable (tags\n"
    "and commit shas EROFS).\n"
    "MOUNTPOINT /dev/fd/N serves a /dev/fuse descriptor N that the caller opened\n"
    "and mounted (fd=N): the caller mounts and unmounts, hubfs needs no privilege.\n";

constexpr char kUnmountUsage[] = "usage: hubfs unmount MOUNTPOINT\n";

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
    } else if (a == "--allow-other-private") {
      out->allow_other = out->allow_other_private = true;
    } else if (a == "--revisions") {
      out->revisions = true;
    } else if (a == "--rw") {
      out->rw = true;
    } else if (a == "--create-pr") {
      out->create_pr = true;
    } else if (a == "--commit-delay") {
      if (!(v = value()) || !ParseNumber(*v, 3600, &out->commit_delay)) {
        return "--commit-delay needs a number of seconds";
      }
    } else if (a == "--sync-timeout") {
      if (!(v = value()) || !ParseNumber(*v, 86400, &out->sync_timeout) || out->sync_timeout < 1) {
        return "--sync-timeout needs a number of seconds (at least 1)";
      }
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
    } else if (a == "--upload-while-writing") {
      if (!(v = value()) || (*v != "on" && *v != "off")) {
        return "--upload-while-writing needs on or off";
      }
      out->upload_while_writing = *v == "on";
    } else if (a == "--folder-readahead") {
      if (!(v = value()) || (*v != "on" && *v != "off")) {
        return "--folder-readahead needs on or off";
      }
      out->folder_readahead = *v == "on";
    } else if (a == "--shared-cache") {
      if (!(v = value())) return "--shared-cache needs memcached://HOST:PORT[,HOST:PORT...]";
      auto servers = chunkstore::ParseSharedCacheUrl(*v);
      if (!servers.ok()) return servers.status().message();
      out->shared_cache = std::string(*v);
    } else if (a == "--cache-size") {
      std::optional<uint64_t> size = (v = value()) ? ParseSize(*v) : std::nullopt;
      if (!size || *size < (1u << 20)) return "--cache-size needs a size of at least 1M (e.g. 10G)";
      out->cache_size = *size;
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
  if (out->create_pr && !out->rw) return "--create-pr needs --rw";
  out->source = positional[0];
  out->mountpoint = positional[1];
  return "";
}

// Checks a /dev/fd/N mountpoint: N must be an open descriptor of /dev/fuse
// (the caller opened it and mounted it with fd=N; libfuse then serves it
// without mounting).
std::string CheckFuseFd(const std::string& path, int fd) {
  const std::string how = " (open /dev/fuse, mount it with -o fd=" + std::to_string(fd) +
                          ", then start hubfs with the descriptor inherited)";
  struct stat st;
  if (fcntl(fd, F_GETFD) == -1 || fstat(fd, &st) != 0) {
    return "mountpoint " + path + ": descriptor " + std::to_string(fd) + " is not open" + how;
  }
  // /dev/fuse is the misc character device 10:229.
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 || minor(st.st_rdev) != 229) {
    return "mountpoint " + path + ": descriptor " + std::to_string(fd) +
           " is not /dev/fuse" + how;
  }
  return "";
}

// Checks the mountpoint: an existing directory that is not already a mount,
// or a /dev/fd/N descriptor of /dev/fuse.
std::string CheckMountpoint(const std::string& path) {
  if (std::optional<int> fd = FuseFdOf(path)) return CheckFuseFd(path, *fd);
  struct stat st, parent;
  if (stat(path.c_str(), &st) != 0) {
    // A FUSE mount whose daemon is gone (its connection ended): in the way,
    // serving nothing. Detached, then the mountpoint is checked again.
    if (errno == ENOTCONN && FindMount(MountpointKey(path)) &&
        (RunQuiet({"fusermount3", "-u", path}) || RunQuiet({"umount", "-l", path}))) {
      std::fprintf(stderr, "hubfs mount: %s held a mount whose daemon is gone; unmounted it\n",
                   path.c_str());
      return CheckMountpoint(path);
    }
    return "mountpoint " + path + ": " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "mountpoint " + path + " is not a directory";
  if (stat((path + "/..").c_str(), &parent) == 0 && parent.st_dev != st.st_dev) {
    return "mountpoint " + path + " is busy (something is already mounted there)";
  }
  return "";
}

// Detaches the daemon from the terminal without leaving the session. With
// setsid() the daemon had a session, hence an autogroup (the scheduler's CPU
// share per session, on by default in Debian's kernels), of its own. When
// the shell's session kept both cores busy, the daemon's transfer thread then
// waited runnable for up to 1.9 s at a time, and a cold 1 GiB read under a
// 50 ms round trip took 5-27 s against 4-5 s without the own group. Sharing the group of the
// programs it serves, it gets their share. Its own process group keeps the
// shell's job control (and a Ctrl-C) away; the terminal is given up, so its
// hangup signals nothing; and it never reads or writes the terminal (stdio
// goes to /dev/null once the mount is ready), so background-I/O stops are off.
void DetachFromTerminal() {
  setpgid(0, 0);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty >= 0) {
    ioctl(tty, TIOCNOTTY);  // not a session leader: gives up the terminal only
    close(tty);
  }
}

// Forks the daemon, which serves the mount, and waits for its "ready" (or
// the reason it failed). Returns the exit status of `hubfs mount`.
int ServeInDaemon(const MountArgs& args, const hub::Source& source, const hub::Settings& settings) {
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
    DetachFromTerminal();
    if (chdir("/") != 0) {
      // Not fatal: the daemon only uses absolute paths from here on.
    }
    ReadyPipe ready(fds[1]);
    _exit(Serve(args, source, settings, &ready, /*daemon=*/true));
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
    if (!ec && !FuseFdOf(args.mountpoint)) args.mountpoint = mp.lexically_normal().string();
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
  // A mount left hung at the mountpoint by a killed daemon: stat(2) of it
  // would block, so it is found (and freed) before the mountpoint is checked.
  if (!FuseFdOf(args.mountpoint)) {
    std::set<std::string> dirs;
    if (!args.cache_dir.empty()) dirs.insert(args.cache_dir);
    DeadMountOutcome dead = RecoverDeadMount(args.mountpoint, dirs);
    if (dead.kind != DeadMountOutcome::kNothing) {
      std::fprintf(stderr, "hubfs mount: %s\n", dead.message.c_str());
    }
    if (dead.kind == DeadMountOutcome::kFailed) return 1;
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
  return ServeInDaemon(args, *source, *settings);
}

int UnmountCommand(std::span<const std::string_view> argv) {
  if (argv.size() != 1 || argv[0].empty() || argv[0][0] == '-') {
    std::fputs(kUnmountUsage, argv.empty() ? stderr : stdout);
    return argv.size() == 1 && (argv[0] == "-h" || argv[0] == "--help") ? 0 : 2;
  }
  std::string mp(argv[0]);
  // A mount whose daemon was killed and left it hung: the steps below would
  // block on it (umount stats the mountpoint), so its connection is aborted
  // first. A mount with a running daemon is never aborted, however slow.
  DeadMountOutcome dead = RecoverDeadMount(mp, {});
  if (dead.kind != DeadMountOutcome::kNothing) {
    std::fprintf(stderr, "hubfs unmount: %s\n", dead.message.c_str());
    return dead.kind == DeadMountOutcome::kRecovered ? 0 : 1;
  }
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
