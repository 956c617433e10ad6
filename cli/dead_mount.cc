#include "cli/dead_mount.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/mount_state.h"

extern char** environ;

namespace hubfs::cli {
namespace {

constexpr char kFuseConnections[] = "/sys/fs/fuse/connections";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                      (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// The value of a "Key:\tvalue" line of a /proc status file ("" if absent).
std::string_view StatusField(std::string_view status, std::string_view key) {
  size_t pos = 0;
  while (pos < status.size()) {
    size_t end = status.find('\n', pos);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(pos, end - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key &&
        line[key.size()] == ':') {
      std::string_view v = line.substr(key.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      return v;
    }
    pos = end + 1;
  }
  return "";
}

// Whether a signal mask field (hex) holds SIGKILL.
bool HasSigkill(std::string_view hex) {
  if (hex.empty()) return false;
  uint64_t mask = std::strtoull(std::string(hex).c_str(), nullptr, 16);
  return (mask & (uint64_t{1} << (SIGKILL - 1))) != 0;
}

char StateLetter(std::string_view status) {
  std::string_view state = StatusField(status, "State");
  return state.empty() ? '\0' : state.front();
}

// Detaches the mount at `mountpoint`: it needs no answer from the daemon.
bool Detach(const std::string& mountpoint) {
  if (umount2(mountpoint.c_str(), MNT_DETACH) == 0) return true;
  return RunQuiet({"umount", "-l", mountpoint}) || RunQuiet({"fusermount3", "-uz", mountpoint});
}

// Aborts the FUSE connection of the mount on device `m`: every request
// waiting on it fails with ENOTCONN. "" on success, else why not.
std::string AbortConnection(const MountInfo& m, std::string* path_out) {
  // fusectl names a connection by the kernel's dev_t of the mount:
  // MAJOR << 20 | MINOR (FUSE mounts have major 0).
  const uint64_t dev = (uint64_t{m.major} << 20) | m.minor;
  const std::string dir = std::string(kFuseConnections) + "/" + std::to_string(dev);
  const std::string abort = dir + "/abort";
  *path_out = abort;
  if (access(dir.c_str(), F_OK) != 0) {
    // fusectl not mounted (some systems leave it to an optional unit).
    std::error_code ec;
    if (std::filesystem::is_directory(kFuseConnections, ec) &&
        std::filesystem::is_empty(kFuseConnections, ec)) {
      mount("fusectl", kFuseConnections, "fusectl", 0, nullptr);
    }
  }
  int fd = open(abort.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  std::string err;
  if (write(fd, "1", 1) != 1) err = std::strerror(errno);
  close(fd);
  return err;
}

}  // namespace

std::optional<MountInfo> FindMountIn(std::string_view mountinfo, std::string_view mountpoint) {
  std::optional<MountInfo> found;
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string_view::npos) end = mountinfo.size();
    std::string_view line = mountinfo.substr(pos, end - pos);
    pos = end + 1;
    // id parent major:minor root mountpoint options [optional...] - fstype source super
    std::vector<std::string_view> f = SplitSpaces(line);
    if (f.size() < 7) continue;
    if (Unescape(f[4]) != mountpoint) continue;
    MountInfo m;
    m.mountpoint = std::string(mountpoint);
    std::string majmin(f[2]);
    unsigned maj = 0, min = 0;
    if (std::sscanf(majmin.c_str(), "%u:%u", &maj, &min) != 2) continue;
    m.major = maj;
    m.minor = min;
    for (size_t i = 6; i + 1 < f.size(); ++i) {
      if (f[i] == "-") {
        m.fstype = std::string(f[i + 1]);
        break;
      }
    }
    found = std::move(m);  // the last match is the newest mount (the visible one)
  }
  return found;
}

std::optional<MountInfo> FindMount(const std::string& mountpoint) {
  return FindMountIn(ReadText("/proc/self/mountinfo"), mountpoint);
}

std::string DevString(const MountInfo& m) {
  return std::to_string(m.major) + ":" + std::to_string(m.minor);
}

DaemonLife DaemonLifeFromStatus(std::string_view leader, const std::vector<std::string>& threads) {
  if (leader.empty() || threads.empty()) return DaemonLife::kGone;
  const char state = StateLetter(leader);
  if (state == 'X') return DaemonLife::kGone;
  // A zombie main thread alone: exited, waiting to be reaped; its files
  // (the /dev/fuse descriptor) are closed.
  if (state == 'Z' && threads.size() == 1) return DaemonLife::kGone;
  // A zombie main thread with threads left: the daemon's main thread never
  // returns before the process exits, so the process is exiting.
  if (state == 'Z') return DaemonLife::kDying;
  if (HasSigkill(StatusField(leader, "ShdPnd"))) return DaemonLife::kDying;
  for (const std::string& t : threads) {
    if (HasSigkill(StatusField(t, "SigPnd")) || HasSigkill(StatusField(t, "ShdPnd"))) {
      return DaemonLife::kDying;
    }
  }
  return DaemonLife::kRunning;
}

DaemonLife DaemonLifeOf(pid_t pid, const std::string& proc) {
  if (pid <= 0) return DaemonLife::kGone;
  const std::string base = proc + "/" + std::to_string(pid);
  std::string leader = ReadText(base + "/status");
  std::vector<std::string> threads;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator(base + "/task", ec)) {
    std::string s = ReadText(t.path().string() + "/status");
    if (!s.empty()) threads.push_back(std::move(s));
  }
  return DaemonLifeFromStatus(leader, threads);
}

std::string MountpointKey(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) abs = path;
  abs = abs.lexically_normal();
  std::string s = abs.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  abs = s;
  if (!abs.has_parent_path() || abs.parent_path() == abs) return s;
  std::string parent = abs.parent_path().string();
  if (char* r = realpath(parent.c_str(), nullptr)) {
    parent = r;
    free(r);
  }
  if (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  return (parent == "/" ? "" : parent) + "/" + abs.filename().string();
}

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

DeadMountOutcome RecoverDeadMount(const std::string& mountpoint,
                                  const std::set<std::string>& cache_dirs, double wait_seconds) {
  DeadMountOutcome out;
  const std::string key = MountpointKey(mountpoint);
  std::optional<MountInfo> mount = FindMount(key);
  if (!mount || mount->fstype.rfind("fuse", 0) != 0) return out;
  const std::string dev = DevString(*mount);
  // The record of this very mount (same device): a record without a device
  // (or of another one) may be an older mount at the same place.
  pid_t pid = 0;
  for (const MountState& s : FindMountStatesAt(key, cache_dirs)) {
    if (s.dev == dev) pid = s.pid;
  }
  if (pid == 0 || DaemonLifeOf(pid) != DaemonLife::kDying) return out;
  out.pid = pid;
  std::string abort_path;
  std::string err = AbortConnection(*mount, &abort_path);
  const bool detached = Detach(key);
  const std::string who = "the daemon of " + key + " (pid " + std::to_string(pid) + ")";
  if (!err.empty()) {
    out.kind = DeadMountOutcome::kFailed;
    out.message = who + " was killed and left the mount hung, but its FUSE connection could " +
                  "not be aborted (" + abort_path + ": " + err + "; as root: echo 1 > " +
                  abort_path + ")" + (detached ? "; the mount was detached" : "");
    return out;
  }
  if (!detached) {
    out.kind = DeadMountOutcome::kFailed;
    out.message = who + " was killed and left the mount hung; its FUSE connection was " +
                  "aborted, but the mount could not be detached";
    return out;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(wait_seconds * 1000));
  bool ended = false;
  for (;;) {
    ended = DaemonLifeOf(pid) == DaemonLife::kGone;
    if (ended || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  out.kind = DeadMountOutcome::kRecovered;
  out.message = who + " was killed and left the mount hung; aborted its FUSE connection and " +
                "unmounted it" + (ended ? "" : " (the daemon has not ended yet)");
  return out;
}

}  // namespace hubfs::cli
