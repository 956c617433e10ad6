// Shared by the fuzz targets: FUZZ_CHECK aborts with the failed condition, so
// that a crash report says which invariant broke.
#ifndef HUBFS_TESTS_FUZZ_FUZZ_CHECK_H_
#define HUBFS_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#endif  // HUBFS_TESTS_FUZZ_FUZZ_CHECK_H_
