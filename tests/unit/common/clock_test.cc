#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hubfs {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(1'000);
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  EXPECT_EQ(clock.UnixSeconds(), 1'000);
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - t0, Clock::Duration(1500ms));
  EXPECT_EQ(clock.UnixSeconds(), 1'001);
  clock.Advance(500ms);
  EXPECT_EQ(clock.UnixSeconds(), 1'002);
}

TEST(FakeClockTest, NonPositiveSleepReturnsAtOnce) {
  FakeClock clock;
  clock.SleepFor(0s);
  clock.SleepFor(-5s);
  EXPECT_EQ(clock.UnixSeconds(), 1'700'000'000);
}

TEST(FakeClockTest, SleepWakesOnlyAfterEnoughTimeIsAdvanced) {
  FakeClock clock;
  std::atomic<bool> started{false};
  std::atomic<bool> woke{false};
  Clock::Duration slept{};
  std::thread sleeper([&] {
    const auto t0 = clock.Now();
    started = true;
    clock.SleepFor(10s);
    slept = clock.Now() - t0;
    woke = true;
  });
  while (!started) std::this_thread::yield();
  // Advance in small steps until the sleeper wakes; it must not wake before
  // 10 s of fake time have passed since it started sleeping.
  for (int i = 0; i < 100000 && !woke; ++i) {
    clock.Advance(250ms);
    std::this_thread::sleep_for(100us);
  }
  sleeper.join();
  EXPECT_TRUE(woke.load());
  EXPECT_GE(slept, Clock::Duration(10s));
}

TEST(SystemClockTest, MonotonicAndPlausible) {
  SystemClock* c = SystemClock::Default();
  EXPECT_EQ(c, SystemClock::Default());
  auto a = c->Now();
  auto b = c->Now();
  EXPECT_LE(a, b);
  EXPECT_GT(c->UnixSeconds(), 1'600'000'000);
}

}  // namespace
}  // namespace hubfs
