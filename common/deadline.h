// ScopedDeadline: the deadline of the operation the calling thread works
// for, so that a retry loop deep down (hub/retry.h) knows how long the
// operation may still take without every layer passing it along. A FUSE
// request sets its --io-timeout deadline on the worker that serves it; a
// fan-out helper takes the deadline of the thread it helps. Work without a
// scope (commands, mount set-up, read-ahead, uploads) gets the retry
// policy's default bound.
//
// Time points are of the monotonic clock (SystemClock::Now, which is
// std::chrono::steady_clock); a test with a fake clock sets points of its
// clock. Thread-safety: per thread; nothing is shared.
#ifndef HUBFS_COMMON_DEADLINE_H_
#define HUBFS_COMMON_DEADLINE_H_

#include <optional>

#include "common/clock.h"

namespace hubfs {

class ScopedDeadline {
 public:
  // Sets the calling thread's deadline to `deadline`, or keeps an earlier
  // enclosing one (a nested scope can only shorten it). nullopt: no change.
  explicit ScopedDeadline(std::optional<Clock::TimePoint> deadline);
  // Restores the enclosing deadline.
  ~ScopedDeadline();
  ScopedDeadline(const ScopedDeadline&) = delete;
  ScopedDeadline& operator=(const ScopedDeadline&) = delete;

  // The calling thread's deadline, or nullopt outside every scope.
  static std::optional<Clock::TimePoint> Current();

 private:
  std::optional<Clock::TimePoint> saved_;
};

}  // namespace hubfs

#endif  // HUBFS_COMMON_DEADLINE_H_
