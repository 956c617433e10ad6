#include "common/process_guard.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace hubfs {
namespace {

// The dumpable flag belongs to the process: each case runs in a child so
// that the test runner itself stays as it was. The child's exit code is the
// flag it sees afterwards (0 or 1), 9 when the guard's answer was wrong.
int DumpableAfter(bool keep_dumpable) {
  pid_t pid = fork();
  if (pid == 0) {
    bool guarded = GuardProcessMemory(keep_dumpable);
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    _exit(guarded == (dumpable == 0) ? dumpable : 9);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ProcessGuardTest, ProcessBecomesUndumpable) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1) << "the test runner starts dumpable";
  EXPECT_EQ(DumpableAfter(/*keep_dumpable=*/false), 0);
}

TEST(ProcessGuardTest, DebuggingKeepsItDumpable) {
  EXPECT_EQ(DumpableAfter(/*keep_dumpable=*/true), 1);
}

// glibc's heap only: a sanitizer's allocator keeps its own (malloc_trim
// has nothing to give back there).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUBFS_TEST_OWN_ALLOCATOR 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HUBFS_TEST_OWN_ALLOCATOR 1
#endif
#if defined(__GLIBC__) && !defined(HUBFS_TEST_OWN_ALLOCATOR)
TEST(ProcessGuardTest, FreedHeapMemoryIsGivenBack) {
  // Every other 64 KiB block freed: the holes sit between live blocks, so
  // free() cannot shrink the heap from its top; only a trim gives them back.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 512; ++i) {
    blocks.push_back(std::make_unique<char[]>(64 << 10));
    blocks.back()[0] = static_cast<char>(i);
  }
  for (size_t i = 0; i < blocks.size(); i += 2) blocks[i].reset();
  EXPECT_TRUE(ReleaseFreedMemory());
}
#endif

}  // namespace
}  // namespace hubfs
