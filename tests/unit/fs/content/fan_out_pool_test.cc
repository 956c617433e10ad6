#include "fs/content/fan_out_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/deadline.h"

namespace hubfs::fs {
namespace {

TEST(FanOutPoolTest, RunsEveryIndexOnce) {
  FanOutPool pool(3, 16);
  std::vector<std::atomic<int>> runs(100);
  pool.ForEach(runs.size(), 4, [&](size_t i) { ++runs[i]; });
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  pool.ForEach(0, 4, [&](size_t) { FAIL() << "nothing to run"; });
}

TEST(FanOutPoolTest, IndexZeroRunsOnTheCaller) {
  FanOutPool pool(2, 16);
  for (int round = 0; round < 20; ++round) {
    std::thread::id first;
    pool.ForEach(3, 3, [&](size_t i) {
      if (i == 0) first = std::this_thread::get_id();
    });
    EXPECT_EQ(first, std::this_thread::get_id());
  }
}

TEST(FanOutPoolTest, HelpersRunInParallel) {
  // Two indexes that each wait for the other: only finishes when a pool
  // thread runs one while the caller runs the other.
  FanOutPool pool(1, 16);
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  pool.ForEach(2, 2, [&](size_t) {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [&] { return arrived == 2; });
  });
  EXPECT_EQ(arrived, 2);
}

TEST(FanOutPoolTest, NestedFanOutOnABusyPoolCompletes) {
  // Every pool thread is inside an outer index fanning out again: the inner
  // fan-outs must not wait for helpers that cannot start.
  FanOutPool pool(2, 4);
  std::atomic<int> inner{0};
  pool.ForEach(8, 8, [&](size_t) {
    pool.ForEach(8, 8, [&](size_t) { ++inner; });
  });
  EXPECT_EQ(inner.load(), 64);
}

TEST(FanOutPoolTest, WidthOneStaysOnTheCaller) {
  FanOutPool pool(4, 16);
  std::set<std::thread::id> threads;
  pool.ForEach(10, 1, [&](size_t) { threads.insert(std::this_thread::get_id()); });
  EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(FanOutPoolTest, ZeroThreadsRunsEverythingOnTheCaller) {
  FanOutPool pool(0, 16);
  int sum = 0;
  pool.ForEach(5, 8, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum, 10);
}

// Helpers work under the caller's deadline, so hub/'s retries stop with
// the operation they serve.
TEST(FanOutPoolTest, HelpersTakeTheCallersDeadline) {
  FanOutPool pool(3, 16);
  const Clock::TimePoint deadline(std::chrono::seconds(42));
  ScopedDeadline scope(deadline);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> wrong{0};
  pool.ForEach(64, 4, [&](size_t) {
    if (ScopedDeadline::Current() != deadline) ++wrong;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(threads.size(), 1u);  // helpers did run
}

}  // namespace
}  // namespace hubfs::fs
