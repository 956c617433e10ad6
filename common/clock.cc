#include "common/clock.h"

#include <thread>

namespace hubfs {

Clock::TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

int64_t SystemClock::UnixSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemClock::SleepFor(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

SystemClock* SystemClock::Default() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return TimePoint(now_);
}

int64_t FakeClock::UnixSeconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unix_base_ + std::chrono::duration_cast<std::chrono::seconds>(now_).count();
}

void FakeClock::SleepFor(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  const Duration until = now_ + d;
  cv_.wait(lock, [&] { return now_ >= until; });
}

void FakeClock::Advance(Duration d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  cv_.notify_all();
}

}  // namespace hubfs
