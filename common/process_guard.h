// The process's memory: the Hub token, which every hubfs process holds, kept
// out of core dumps and out of reach of other processes of the same user;
// freed heap memory given back to the kernel.
#ifndef HUBFS_COMMON_PROCESS_GUARD_H_
#define HUBFS_COMMON_PROCESS_GUARD_H_

namespace hubfs {

// Marks this process not dumpable (prctl PR_SET_DUMPABLE 0): no core dump,
// and no ptrace, /proc/PID/mem or /proc/PID/environ for processes without
// CAP_SYS_PTRACE. `keep_dumpable` (HUBFS_ALLOW_CORE_DUMPS=1, for debugging)
// leaves the process as it is. Returns whether the process is now
// undumpable.
bool GuardProcessMemory(bool keep_dumpable);

// Gives the heap's free pages back to the kernel (glibc: malloc_trim(0),
// which releases free pages inside the heaps, not only at their top).
// Buffers allocated on one thread and freed on another (fetches, uploads)
// otherwise stay with the allocator, and a long-running mount's RSS creeps
// up to its high-water mark. Takes the allocator's locks for a few
// milliseconds: call it from a background thread now and then. Returns
// whether anything was released (false where unsupported).
bool ReleaseFreedMemory();

}  // namespace hubfs

#endif  // HUBFS_COMMON_PROCESS_GUARD_H_
