#include "fs/fuse/io_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace hubfs::fs {
namespace {

TEST(IoPoolTest, ShutdownRunsEveryQueuedTask) {
  std::atomic<int> done{0};
  IoPool pool(2, 100);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.Submit([&] { ++done; }));
  pool.Shutdown();
  EXPECT_EQ(done, 50);
  EXPECT_FALSE(pool.Submit([&] { ++done; }));
  EXPECT_EQ(pool.pending(), 0u);
}

TEST(IoPoolTest, QueueIsBounded) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> started{0};
  IoPool pool(1, 2);
  auto blocker = [&] {
    ++started;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  };
  ASSERT_TRUE(pool.Submit(blocker));
  while (started == 0) std::this_thread::yield();
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_FALSE(pool.Submit([] {}));  // two queued already
  EXPECT_EQ(pool.pending(), 3u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  pool.Shutdown();
  EXPECT_EQ(pool.pending(), 0u);
}

}  // namespace
}  // namespace hubfs::fs
