#include "common/process_guard.h"

#include <sys/prctl.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hubfs {

bool GuardProcessMemory(bool keep_dumpable) {
  if (keep_dumpable) return false;
  return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
}

bool ReleaseFreedMemory() {
#if defined(__GLIBC__)
  return ::malloc_trim(0) == 1;
#else
  return false;
#endif
}

}  // namespace hubfs
