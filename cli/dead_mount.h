// A mount left behind by a daemon that was killed: found without touching
// the mount (stat(2) of a hung FUSE mountpoint can block for ever), its
// daemon judged from /proc, and freed by aborting its FUSE connection.
//
// Why a mount can hang after `kill -9`: a thread of the daemon may be in the
// kernel sending an entry invalidation, waiting for the lock of a directory
// whose lookup holds it while it waits for an answer from the daemon. The
// lookup's answer can never come (every other thread is gone), the waiting
// thread cannot die, and the /dev/fuse descriptor is only closed when the
// last thread exits: the connection stays up with nobody serving it. Aborting
// the connection fails the lookup, which frees the lock, which lets the last
// thread exit.
//
// The daemon does not heal itself: a watchdog would have to learn that the
// daemon died (PR_SET_PDEATHSIG fires when the thread that forked it ends,
// not the process; a pipe's other end never closes while the stuck thread
// holds the descriptor table; polling /proc costs a process per mount) and
// then tell a stuck daemon from one merely exiting slowly. The next command
// on the mountpoint (hubfs unmount, hubfs mount) sees the same /proc facts
// without a process left running, so recovery lives there.
#ifndef HUBFS_CLI_DEAD_MOUNT_H_
#define HUBFS_CLI_DEAD_MOUNT_H_

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hubfs::cli {

// One line of /proc/self/mountinfo.
struct MountInfo {
  std::string mountpoint;  // unescaped (\040 is a space)
  unsigned major = 0;
  unsigned minor = 0;
  std::string fstype;      // "fuse.hubfs", "fuse", ...
};

// The newest mount at `mountpoint` (absolute, normalized) in `mountinfo`
// (the text of /proc/self/mountinfo); nullopt when nothing is mounted there.
std::optional<MountInfo> FindMountIn(std::string_view mountinfo, std::string_view mountpoint);
// The same from this process's /proc/self/mountinfo.
std::optional<MountInfo> FindMount(const std::string& mountpoint);
// "MAJOR:MINOR", as mountinfo writes it (the mount record's "dev").
std::string DevString(const MountInfo& m);

// Whether a daemon can still serve its mount.
enum class DaemonLife {
  kRunning,  // alive, no fatal signal pending: may be slow, never aborted
  kDying,    // exiting: a zombie main thread or SIGKILL pending in a thread
  kGone,     // no such process, or no thread left
};
// Judged from the text of /proc/PID/status (`leader`) and of every
// /proc/PID/task/TID/status (`threads`, the leader's included).
DaemonLife DaemonLifeFromStatus(std::string_view leader, const std::vector<std::string>& threads);
// Reads them under `proc` (normally "/proc").
DaemonLife DaemonLifeOf(pid_t pid, const std::string& proc = "/proc");

// The absolute, normalized path of a mountpoint as the mount records and
// mountinfo name it, resolving symlinks in its parent only: resolving the
// mountpoint itself would stat the (maybe hung) mount.
std::string MountpointKey(const std::string& path);

// Runs a program quietly; true when it exited 0.
bool RunQuiet(const std::vector<std::string>& argv);

// What RecoverDeadMount did.
struct DeadMountOutcome {
  enum Kind {
    kNothing,    // no FUSE mount there, or none recorded by a dead daemon
    kRecovered,  // the connection aborted and the mount detached
    kFailed,     // a dead daemon's mount, but aborting or detaching failed
  } kind = kNothing;
  pid_t pid = 0;
  std::string message;  // one line for stderr (kRecovered, kFailed)
};

// When `mountpoint` (see MountpointKey) holds a FUSE mount whose daemon, as
// recorded under <dir>/mounts for a dir of `cache_dirs` or one FindMountStates
// searches, is dying (see DaemonLife): aborts the mount's FUSE connection
// (through fusectl, mounting it at /sys/fs/fuse/connections when it is not),
// detaches the mount and waits up to `wait_seconds` for the daemon to end.
// A record names the mount by mountpoint and device, so neither an older
// mount at the same place nor a reused pid matches. A running daemon's mount
// is never touched, however slow it is.
DeadMountOutcome RecoverDeadMount(const std::string& mountpoint,
                                  const std::set<std::string>& cache_dirs,
                                  double wait_seconds = 5);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_DEAD_MOUNT_H_
