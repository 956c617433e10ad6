#include "fs/fuse/deadlines.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace hubfs::fs {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

void WaitFor(const std::atomic<int>& v, int want) {
  for (int i = 0; i < 2000 && v.load() != want; ++i) std::this_thread::sleep_for(milliseconds(5));
}

TEST(ReplyOnceTest, OnlyTheFirstClaimWins) {
  ReplyOnce once;
  EXPECT_TRUE(once.Claim());
  EXPECT_FALSE(once.Claim());
}

TEST(DeadlineWatcherTest, ExpiresUnclaimedRequests) {
  DeadlineWatcher w;
  auto once = std::make_shared<ReplyOnce>();
  std::atomic<int> fired{0};
  w.Watch(steady_clock::now() + milliseconds(20), once, [&] { ++fired; });
  WaitFor(fired, 1);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(once->Claim());  // the watcher took the reply
}

TEST(DeadlineWatcherTest, ClaimedOrDroppedRequestsDoNotFire) {
  DeadlineWatcher w;
  std::atomic<int> fired{0};
  auto claimed = std::make_shared<ReplyOnce>();
  ASSERT_TRUE(claimed->Claim());
  w.Watch(steady_clock::now(), claimed, [&] { ++fired; });
  // Dropped before it is watched: a temporary passed to Watch() would live
  // until Watch() returns, and the watcher may already find it due and alive.
  std::weak_ptr<ReplyOnce> dropped = std::make_shared<ReplyOnce>();
  ASSERT_TRUE(dropped.expired());
  w.Watch(steady_clock::now(), dropped, [&] { ++fired; });
  auto marker = std::make_shared<ReplyOnce>();
  w.Watch(steady_clock::now() + milliseconds(10), marker, [&] { fired += 100; });
  WaitFor(fired, 100);
  EXPECT_EQ(fired, 100);
}

TEST(DeadlineWatcherTest, CancelledWatchesAreDroppedAtOnce) {
  // Finished requests must not be held until their deadline: a busy mount
  // would keep every request of the last --io-timeout.
  DeadlineWatcher w;
  std::atomic<int> fired{0};
  std::vector<std::shared_ptr<ReplyOnce>> onces;
  std::vector<DeadlineWatcher::Key> keys;
  const auto deadline = steady_clock::now() + milliseconds(50);
  for (int i = 0; i < 1000; ++i) {
    onces.push_back(std::make_shared<ReplyOnce>());
    keys.push_back(w.Watch(deadline, onces.back(), [&] { ++fired; }));  // one deadline for all
  }
  EXPECT_EQ(w.size(), 1000u);
  for (size_t i = 0; i + 1 < keys.size(); ++i) w.Cancel(keys[i]);
  EXPECT_EQ(w.size(), 1u);
  WaitFor(fired, 1);
  EXPECT_EQ(fired, 1);  // only the watch left in place fired
  EXPECT_EQ(w.size(), 0u);
  w.Cancel(keys.back());  // already ran: a no-op
  w.Stop();
  w.Cancel(keys.front());  // stopped: a no-op
}

TEST(DeadlineWatcherTest, EarlierDeadlineWakesTheWatcher) {
  DeadlineWatcher w;
  std::atomic<int> fired{0};
  auto late = std::make_shared<ReplyOnce>();
  auto early = std::make_shared<ReplyOnce>();
  w.Watch(steady_clock::now() + std::chrono::hours(1), late, [&] { fired += 10; });
  w.Watch(steady_clock::now() + milliseconds(10), early, [&] { ++fired; });
  WaitFor(fired, 1);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(w.size(), 1u);
  w.Stop();
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace hubfs::fs
