#include "fs/fuse/page_feed.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace hubfs::fs {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr uint64_t kPiece = 4096;  // the smallest piece PageFeed takes

chunkstore::Hash Content(uint8_t id) {
  chunkstore::Hash h;
  h.bytes[0] = id;
  return h;
}

std::vector<uint8_t> Pattern(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(size);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// The bytes of v in a buffer of their own.
HeldBytes Copy(const std::vector<uint8_t>& v) {
  HeldBytes held;
  const std::span<uint8_t> out = held.Own(v.size());
  std::copy(v.begin(), v.end(), out.begin());
  return held;
}

// The feed's thread stores asynchronously: polls `done` for up to 5 s.
template <typename F>
bool WaitUntil(F done) {
  const auto deadline = steady_clock::now() + seconds(5);
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

struct StoreCall {
  uint64_t ino = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
  size_t pieces = 0;  // of memory the bytes were gathered from
};

// The kernel's side of notify_store: records every call and answers 0, or
// the errno set for the inode. HoldFirstCall makes the first call wait for
// Release (at most 10 s, so a failed test cannot hang the feed's join).
class FakeStore {
 public:
  PageFeed::StoreFn Fn() {
    return [this](uint64_t ino, uint64_t offset, std::span<const iovec> data) {
      return Store(ino, offset, data);
    };
  }
  void FailWith(uint64_t ino, int rc) {
    std::lock_guard<std::mutex> lock(mu_);
    rc_[ino] = rc;
  }
  void HoldFirstCall() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  bool holding() const {
    std::lock_guard<std::mutex> lock(mu_);
    return holding_;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  std::vector<StoreCall> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // The calls for one inode, in order.
  std::vector<StoreCall> calls(uint64_t ino) const {
    std::vector<StoreCall> out;
    for (StoreCall& c : calls()) {
      if (c.ino == ino) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  int Store(uint64_t ino, uint64_t offset, std::span<const iovec> data) {
    std::vector<uint8_t> bytes;
    for (const iovec& v : data) {
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      bytes.insert(bytes.end(), p, p + v.iov_len);
    }
    std::unique_lock<std::mutex> lock(mu_);
    calls_.push_back(StoreCall{ino, offset, std::move(bytes), data.size()});
    if (hold_ && calls_.size() == 1) {
      holding_ = true;
      cv_.wait_for(lock, seconds(10), [&] { return !hold_; });
      holding_ = false;
    }
    auto it = rc_.find(ino);
    return it == rc_.end() ? 0 : it->second;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StoreCall> calls_;
  std::map<uint64_t, int> rc_;
  bool hold_ = false;
  bool holding_ = false;
};

// Checks that `calls` put `bytes` at `offset` in pieces of kPiece (the
// last one shorter), in order.
void ExpectPieces(const std::vector<StoreCall>& calls, uint64_t offset,
                  const std::vector<uint8_t>& bytes) {
  ASSERT_EQ(calls.size(), (bytes.size() + kPiece - 1) / kPiece);
  for (size_t i = 0; i < calls.size(); ++i) {
    const uint64_t at = i * kPiece;
    const uint64_t n = std::min<uint64_t>(kPiece, bytes.size() - at);
    EXPECT_EQ(calls[i].offset, offset + at) << "piece " << i;
    EXPECT_TRUE(std::equal(calls[i].bytes.begin(), calls[i].bytes.end(), bytes.begin() + at,
                           bytes.begin() + at + n) &&
                calls[i].bytes.size() == n)
        << "piece " << i << " holds other bytes";
  }
}

TEST(PageFeedTest, WantsAFileOnlyWhileAnInodeWithItsContentIsOpen) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2);
  EXPECT_FALSE(feed.Wants(a));
  feed.Opened(a, 7);
  feed.Opened(a, 7);
  feed.Opened(a, 8);
  EXPECT_TRUE(feed.Wants(a));
  EXPECT_FALSE(feed.Wants(b));
  feed.Released(8);
  feed.Released(7);
  EXPECT_TRUE(feed.Wants(a)) << "inode 7 was opened twice";
  feed.Released(7);
  EXPECT_FALSE(feed.Wants(a));
  feed.Released(7);  // one too many: ignored
  EXPECT_FALSE(feed.Wants(a));
}

TEST(PageFeedTest, AStoreReachesEveryInodeOpenWithTheContentInPieces) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2);
  feed.Opened(a, 7);
  feed.Opened(a, 8);
  feed.Opened(b, 9);
  const std::vector<uint8_t> bytes = Pattern(10000, 1);
  feed.Store(a, 100000, Copy(bytes));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().stored_bytes == bytes.size(); }));
  for (uint64_t ino : {7, 8}) {
    SCOPED_TRACE(ino);
    ExpectPieces(store.calls(ino), 100000, bytes);
  }
  EXPECT_TRUE(store.calls(9).empty());
  EXPECT_EQ(feed.stats().dropped_bytes, 0u);
  EXPECT_EQ(feed.stats().failed, 0u);
}

TEST(PageFeedTest, AStoreForContentNoInodeHasOpenIsDropped) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2), c = Content(3);
  feed.Opened(a, 7);
  feed.Opened(c, 9);
  feed.Released(9);
  feed.Store(b, 0, Copy(Pattern(5000, 1)));
  feed.Store(c, 0, Copy(Pattern(6000, 2)));
  EXPECT_EQ(feed.stats().dropped_bytes, 11000u);
  // A store after them: once it is through, they never reached the kernel.
  const std::vector<uint8_t> bytes = Pattern(3000, 3);
  feed.Store(a, 0, Copy(bytes));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().stored_bytes == bytes.size(); }));
  ExpectPieces(store.calls(), 0, bytes);
  EXPECT_EQ(feed.stats().dropped_bytes, 11000u);
}

TEST(PageFeedTest, AStoreQueuedForAFileReleasedBeforeItsTurnIsDropped) {
  FakeStore store;
  store.HoldFirstCall();
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2);
  feed.Opened(a, 7);
  feed.Opened(b, 8);
  feed.Store(a, 0, Copy(Pattern(kPiece, 1)));
  ASSERT_TRUE(WaitUntil([&] { return store.holding(); }));
  feed.Store(b, 0, Copy(Pattern(5000, 2)));
  feed.Released(8);
  store.Release();
  ASSERT_TRUE(WaitUntil([&] {
    const PageFeed::Stats s = feed.stats();
    return s.stored_bytes + s.dropped_bytes == kPiece + 5000;
  }));
  EXPECT_EQ(feed.stats().stored_bytes, kPiece);
  EXPECT_EQ(feed.stats().dropped_bytes, 5000u);
  EXPECT_TRUE(store.calls(8).empty());
}

TEST(PageFeedTest, StoresBeyondMaxQueuedBytesAreDropped) {
  FakeStore store;
  store.HoldFirstCall();
  PageFeed feed(store.Fn(), 3 * kPiece, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  const std::vector<uint8_t> first = Pattern(kPiece, 1);
  feed.Store(a, 0, Copy(first));
  // Taken off the queue by the feed's thread, which now waits in the store.
  ASSERT_TRUE(WaitUntil([&] { return store.holding(); }));
  const std::vector<uint8_t> queued = Pattern(3 * kPiece, 2);
  feed.Store(a, kPiece, Copy(std::vector<uint8_t>(queued.begin(), queued.begin() + 2 * kPiece)));
  feed.Store(a, 3 * kPiece, Copy(std::vector<uint8_t>(kPiece)));  // exactly full
  EXPECT_EQ(feed.stats().dropped_bytes, 0u);
  std::atomic<int> delivered{0};
  HeldBytes over = Copy(Pattern(1, 3));
  over.OnDelivered([&delivered] { delivered.fetch_add(1); });
  feed.Store(a, 4 * kPiece, std::move(over));
  EXPECT_EQ(feed.stats().dropped_bytes, 1u);
  EXPECT_EQ(delivered.load(), 0) << "dropped bytes are never delivered";
  store.Release();
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().stored_bytes == 4 * kPiece; }));
  const std::vector<StoreCall> calls = store.calls();
  ASSERT_EQ(calls.size(), 4u);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].offset, i * kPiece);
  EXPECT_EQ(feed.stats().dropped_bytes, 1u);
}

TEST(PageFeedTest, AStoreRefusedBecauseTheKernelForgotTheInodeIsNotAFailure) {
  FakeStore store;
  store.FailWith(7, -ENOENT);
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  feed.Store(a, 0, Copy(Pattern(10000, 1)));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().dropped_bytes == 10000; }));
  EXPECT_FALSE(store.calls(7).empty());
  EXPECT_EQ(feed.stats().failed, 0u);
  EXPECT_EQ(feed.stats().stored_bytes, 0u);
}

TEST(PageFeedTest, AStoreTheKernelRefusesWithAnotherErrorIsAFailure) {
  FakeStore store;
  store.FailWith(7, -EIO);
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  feed.Store(a, 0, Copy(Pattern(10000, 1)));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().dropped_bytes == 10000; }));
  EXPECT_GE(feed.stats().failed, 1u);
  EXPECT_EQ(feed.stats().stored_bytes, 0u);
}

TEST(PageFeedTest, BytesStoredForOneOfTheOpenInodesCountAsStored) {
  FakeStore store;
  // Each way round: the inode the feed tries first refuses, or the last.
  store.FailWith(7, -EIO);
  store.FailWith(10, -EIO);
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2);
  feed.Opened(a, 7);
  feed.Opened(a, 8);
  feed.Opened(b, 9);
  feed.Opened(b, 10);
  const std::vector<uint8_t> bytes = Pattern(10000, 1);
  feed.Store(a, 0, Copy(bytes));
  feed.Store(b, 0, Copy(bytes));
  ASSERT_TRUE(WaitUntil([&] {
    const PageFeed::Stats s = feed.stats();
    return s.stored_bytes + s.dropped_bytes == 2 * bytes.size();
  }));
  EXPECT_EQ(feed.stats().stored_bytes, 2 * bytes.size());
  ExpectPieces(store.calls(8), 0, bytes);
  ExpectPieces(store.calls(9), 0, bytes);
  EXPECT_GE(feed.stats().failed, 1u);
  EXPECT_EQ(feed.stats().dropped_bytes, 0u);
}

TEST(PageFeedTest, AfterStopNothingIsWantedAndStoresAreDropped) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  feed.Stop();
  EXPECT_FALSE(feed.Wants(a));
  feed.Store(a, 0, Copy(Pattern(5000, 1)));
  EXPECT_EQ(feed.stats().dropped_bytes, 5000u);
  EXPECT_TRUE(store.calls().empty());
}

TEST(PageFeedTest, StopDropsWhatIsQueuedAndFinishesTheStoreUnderWay) {
  FakeStore store;
  store.HoldFirstCall();
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  feed.Store(a, 0, Copy(Pattern(kPiece, 1)));
  ASSERT_TRUE(WaitUntil([&] { return store.holding(); }));
  std::atomic<int> delivered{0};
  HeldBytes queued = Copy(Pattern(5000, 2));
  queued.OnDelivered([&delivered] { delivered.fetch_add(1); });
  feed.Store(a, kPiece, std::move(queued));
  // Stop joins the feed's thread, which waits in the store until released.
  std::thread stopper([&] { feed.Stop(); });
  EXPECT_TRUE(WaitUntil([&] { return !feed.Wants(a); }));
  store.Release();
  stopper.join();
  EXPECT_EQ(delivered.load(), 0) << "bytes dropped at the stop are never delivered";
  EXPECT_EQ(feed.stats().stored_bytes, kPiece);
  EXPECT_EQ(feed.stats().dropped_bytes, 5000u);
  EXPECT_EQ(store.calls().size(), 1u);
}

TEST(PageFeedTest, OpeningAnInodeWithOtherContentMovesItToThatContent) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2), c = Content(3);
  feed.Opened(a, 7);
  feed.Opened(a, 7);
  feed.Opened(c, 7);
  feed.Opened(c, 8);
  // Inode 7's number now stands for b: its opens of a are gone with it.
  feed.Opened(b, 7);
  EXPECT_FALSE(feed.Wants(a));
  EXPECT_TRUE(feed.Wants(b));
  EXPECT_TRUE(feed.Wants(c)) << "inode 8 still has c open";
  feed.Store(a, 0, Copy(Pattern(100, 1)));
  EXPECT_EQ(feed.stats().dropped_bytes, 100u);
  const std::vector<uint8_t> bytes = Pattern(200, 2);
  feed.Store(b, 0, Copy(bytes));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().stored_bytes == bytes.size(); }));
  ExpectPieces(store.calls(7), 0, bytes);
  EXPECT_TRUE(store.calls(8).empty());
  // Opened once with b: one Released closes it.
  feed.Released(7);
  EXPECT_FALSE(feed.Wants(b));
}

// Bytes held in pieces of memory of odd sizes (as chunks are) reach the
// kernel byte-exact in pieces of kPiece, each gathered from the pieces that
// hold it: none is copied into one buffer first.
TEST(PageFeedTest, HeldPiecesAreGatheredIntoEachStoreAsTheyAre) {
  FakeStore store;
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1);
  feed.Opened(a, 7);
  const std::vector<uint8_t> bytes = Pattern(1000 + 5000 + 3 + 7000 + 2500, 4);
  HeldBytes held;
  size_t at = 0;
  for (size_t n : {1000, 5000, 3, 7000, 2500}) {
    auto piece = std::make_shared<std::vector<uint8_t>>(bytes.begin() + static_cast<ptrdiff_t>(at),
                                                        bytes.begin() + static_cast<ptrdiff_t>(at + n));
    held.Add(*piece, piece);
    at += n;
  }
  feed.Store(a, 3 * kPiece, std::move(held));
  ASSERT_TRUE(WaitUntil([&] { return feed.stats().stored_bytes == bytes.size(); }));
  const std::vector<StoreCall> calls = store.calls(7);
  ExpectPieces(calls, 3 * kPiece, bytes);
  ASSERT_EQ(calls.size(), 4u);
  // [0, 4096) spans the pieces of 1000 and 5000 bytes; [4096, 8192) the
  // rest of the 5000, the 3 and the 7000; [8192, 12288) and the last one
  // within the 7000 and then into the 2500.
  EXPECT_EQ(calls[0].pieces, 2u);
  EXPECT_EQ(calls[1].pieces, 3u);
  EXPECT_EQ(calls[2].pieces, 1u);
  EXPECT_EQ(calls[3].pieces, 2u);
}

// Delivered() tells the source that the kernel has the bytes (the chunks
// they hold count as read): once they reached an inode, never for bytes
// dropped or refused by the kernel for every inode.
TEST(PageFeedTest, HeldBytesAreDeliveredOnlyOnceTheKernelHasThem) {
  FakeStore store;
  store.FailWith(9, -EIO);
  PageFeed feed(store.Fn(), 1 << 20, kPiece);
  const chunkstore::Hash a = Content(1), b = Content(2), c = Content(3);
  feed.Opened(a, 7);
  feed.Opened(a, 8);
  feed.Opened(b, 9);
  std::atomic<int> delivered_a{0}, delivered_b{0}, delivered_c{0};
  auto counted = [](std::atomic<int>* n, uint32_t seed) {
    HeldBytes held = Copy(Pattern(6000, seed));
    held.OnDelivered([n] { n->fetch_add(1); });
    return held;
  };
  feed.Store(c, 0, counted(&delivered_c, 1));  // nobody has c open: dropped
  feed.Store(b, 0, counted(&delivered_b, 2));  // refused for b's only inode
  feed.Store(a, 0, counted(&delivered_a, 3));  // two inodes: delivered once
  ASSERT_TRUE(WaitUntil([&] {
    const PageFeed::Stats s = feed.stats();
    return s.stored_bytes + s.dropped_bytes == 3 * 6000;
  }));
  EXPECT_EQ(feed.stats().stored_bytes, 6000u);
  EXPECT_EQ(delivered_a.load(), 1);
  EXPECT_EQ(delivered_b.load(), 0);
  EXPECT_EQ(delivered_c.load(), 0);
  EXPECT_EQ(store.calls(7).size(), 2u);
  EXPECT_EQ(store.calls(8).size(), 2u);
}

}  // namespace
}  // namespace hubfs::fs
