#include "common/process_guard.h"

#include <sys/prctl.h>

namespace hubfs {

bool GuardProcessMemory(bool keep_dumpable) {
  if (keep_dumpable) return false;
  return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
}

}  // namespace hubfs
