// Clock: the only source of time for code that has deadlines, TTLs or
// backoff. Production code gets SystemClock; tests inject FakeClock and move
// time by hand, so no test sleeps to wait for a TTL.
#ifndef HUBFS_COMMON_CLOCK_H_
#define HUBFS_COMMON_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace hubfs {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  // Monotonic time, for deadlines and TTLs.
  using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

  virtual ~Clock() = default;
  // Monotonic now. Thread-safe.
  virtual TimePoint Now() const = 0;
  // Wall-clock seconds since the Unix epoch (token expiry, shard timestamps). Thread-safe.
  virtual int64_t UnixSeconds() const = 0;
  // Blocks the calling thread for `d` of this clock's time. Thread-safe.
  virtual void SleepFor(Duration d) = 0;
};

// The real clocks (steady_clock, system_clock). Stateless.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  int64_t UnixSeconds() const override;
  void SleepFor(Duration d) override;
  // A shared instance for main() to hand out. Never destroyed.
  static SystemClock* Default();
};

// A clock that moves only when told. SleepFor(d) returns once another thread
// has advanced time by at least d (or immediately if d <= 0). Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds = 1'700'000'000) : unix_base_(unix_seconds) {}
  TimePoint Now() const override;
  int64_t UnixSeconds() const override;
  void SleepFor(Duration d) override;
  void Advance(Duration d);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Duration now_{0};  // GUARDED_BY(mu_)
  int64_t unix_base_;
};

}  // namespace hubfs

#endif  // HUBFS_COMMON_CLOCK_H_
