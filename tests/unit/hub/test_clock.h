// Test clocks for hub/ unit tests.
#ifndef HUBFS_TESTS_UNIT_HUB_TEST_CLOCK_H_
#define HUBFS_TESTS_UNIT_HUB_TEST_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/clock.h"

namespace hubfs::hub::testing {

// A clock whose SleepFor returns at once, recording the wait and moving time.
class SteppingClock final : public Clock {
 public:
  explicit SteppingClock(int64_t unix_base = 1'800'000'000) : unix_base_(unix_base) {}

  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return TimePoint(now_);
  }
  int64_t UnixSeconds() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return unix_base_ + std::chrono::duration_cast<std::chrono::seconds>(now_).count();
  }
  void SleepFor(Duration d) override {
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(d));
    now_ += d;
  }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  Duration now_{0};
  int64_t unix_base_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace hubfs::hub::testing

#endif  // HUBFS_TESTS_UNIT_HUB_TEST_CLOCK_H_
