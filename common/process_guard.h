// Keeps the Hub token, which every hubfs process holds in memory, out of
// core dumps and out of reach of other processes of the same user.
#ifndef HUBFS_COMMON_PROCESS_GUARD_H_
#define HUBFS_COMMON_PROCESS_GUARD_H_

namespace hubfs {

// Marks this process not dumpable (prctl PR_SET_DUMPABLE 0): no core dump,
// and no ptrace, /proc/PID/mem or /proc/PID/environ for processes without
// CAP_SYS_PTRACE. `keep_dumpable` (HUBFS_ALLOW_CORE_DUMPS=1, for debugging)
// leaves the process as it is. Returns whether the process is now
// undumpable.
bool GuardProcessMemory(bool keep_dumpable);

}  // namespace hubfs

#endif  // HUBFS_COMMON_PROCESS_GUARD_H_
