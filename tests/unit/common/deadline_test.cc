#include "common/deadline.h"

#include <gtest/gtest.h>

#include <thread>

namespace hubfs {
namespace {

using namespace std::chrono_literals;

TEST(ScopedDeadlineTest, NestsShortensAndRestores) {
  EXPECT_FALSE(ScopedDeadline::Current().has_value());
  const Clock::TimePoint t0(100s);
  {
    ScopedDeadline outer(t0);
    EXPECT_EQ(ScopedDeadline::Current(), t0);
    {
      ScopedDeadline later(t0 + 5s);  // cannot extend
      EXPECT_EQ(ScopedDeadline::Current(), t0);
      ScopedDeadline sooner(t0 - 5s);
      EXPECT_EQ(ScopedDeadline::Current(), t0 - 5s);
      ScopedDeadline none(std::nullopt);
      EXPECT_EQ(ScopedDeadline::Current(), t0 - 5s);
    }
    EXPECT_EQ(ScopedDeadline::Current(), t0);
  }
  EXPECT_FALSE(ScopedDeadline::Current().has_value());
}

TEST(ScopedDeadlineTest, IsPerThread) {
  ScopedDeadline here(Clock::TimePoint(7s));
  std::optional<Clock::TimePoint> there = Clock::TimePoint(1s);
  std::thread([&] { there = ScopedDeadline::Current(); }).join();
  EXPECT_FALSE(there.has_value());
  EXPECT_EQ(ScopedDeadline::Current(), Clock::TimePoint(7s));
}

}  // namespace
}  // namespace hubfs
