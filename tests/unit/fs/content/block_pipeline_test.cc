#include "fs/content/block_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace hubfs::fs {
namespace {

uint8_t ByteAt(uint64_t offset) { return static_cast<uint8_t>((offset * 131 + offset / 7) & 0xff); }

// The stream's bytes for [offset, offset + out.size()), after a delay that
// varies by block so that blocks finish out of order.
Status FillSlowly(uint64_t offset, std::span<uint8_t> out, size_t block) {
  const uint64_t b = offset / block;
  std::this_thread::sleep_for(std::chrono::microseconds((b * 7919) % 5 * 300));
  for (size_t i = 0; i < out.size(); ++i) out[i] = ByteAt(offset + i);
  return Status::Ok();
}

std::vector<uint8_t> Expected(uint64_t total) {
  std::vector<uint8_t> v(total);
  for (uint64_t i = 0; i < total; ++i) v[i] = ByteAt(i);
  return v;
}

struct Outcome {
  Status status;
  std::vector<uint8_t> consumed;
  std::vector<uint8_t> followed;
  std::vector<size_t> consumed_sizes;
};

Outcome RunPipe(FanOutPool& pool, uint64_t total, BlockPipelineOptions o,
            const std::function<Status(uint64_t, std::span<uint8_t>)>& read) {
  Outcome out;
  std::mutex mu;  // follow may run on any thread (one at a time)
  out.status = RunBlockPipeline(
      pool, total, o, read,
      [&](std::span<const uint8_t> d) {
        out.consumed.insert(out.consumed.end(), d.begin(), d.end());
        out.consumed_sizes.push_back(d.size());
        return Status::Ok();
      },
      [&](std::span<const uint8_t> d) {
        std::lock_guard<std::mutex> lock(mu);
        out.followed.insert(out.followed.end(), d.begin(), d.end());
      });
  return out;
}

TEST(BlockPipelineTest, BothStagesSeeEveryByteInOrder) {
  FanOutPool pool(4, 64);
  const size_t block = 1000;
  for (uint64_t total : {uint64_t{1}, uint64_t{999}, uint64_t{1000}, uint64_t{1001},
                         uint64_t{23'456}}) {
    BlockPipelineOptions o;
    o.block_bytes = block;
    o.slots = 4;
    o.readers = 3;
    Outcome got = RunPipe(pool, total, o, [&](uint64_t off, std::span<uint8_t> out) {
      return FillSlowly(off, out, block);
    });
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.consumed, Expected(total)) << total;
    EXPECT_EQ(got.followed, Expected(total)) << total;
    // Blocks of block_bytes, the last one short.
    ASSERT_EQ(got.consumed_sizes.size(), (total + block - 1) / block);
    for (size_t i = 0; i + 1 < got.consumed_sizes.size(); ++i) EXPECT_EQ(got.consumed_sizes[i], block);
  }
}

TEST(BlockPipelineTest, FinishesWithoutHelpers) {
  FanOutPool pool(0, 64);  // nobody to help: the caller does everything
  BlockPipelineOptions o;
  o.block_bytes = 100;
  o.slots = 3;
  o.readers = 4;
  Outcome got = RunPipe(pool, 1234, o, [&](uint64_t off, std::span<uint8_t> out) {
    return FillSlowly(off, out, 100);
  });
  ASSERT_TRUE(got.status.ok()) << got.status;
  EXPECT_EQ(got.consumed, Expected(1234));
  EXPECT_EQ(got.followed, Expected(1234));
}

// Raises `most` to `v` if it is below.
template <typename T>
void RaiseTo(std::atomic<T>& most, T v) {
  for (T m = most.load(); v > m && !most.compare_exchange_weak(m, v);) {
  }
}

TEST(BlockPipelineTest, ReadsInParallelButNoFurtherThanItsSlots) {
  FanOutPool pool(6, 64);
  BlockPipelineOptions o;
  o.block_bytes = 10;
  o.slots = 3;
  o.readers = 5;
  std::atomic<int> running{0}, most_running{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> most_ahead{0};
  Status st = RunBlockPipeline(
      pool, 400, o,
      [&](uint64_t off, std::span<uint8_t> out) {
        RaiseTo(most_running, ++running);
        // Blocks started beyond the consumer's position: bounded by the slots.
        RaiseTo(most_ahead, off / 10 + 1 - consumed.load());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        --running;
        return FillSlowly(off, out, 10);
      },
      [&](std::span<const uint8_t>) {
        ++consumed;
        return Status::Ok();
      },
      [](std::span<const uint8_t>) {});
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(consumed.load(), 40u);
  EXPECT_GE(most_running.load(), 2);  // blocks were read at once
  EXPECT_LE(most_ahead.load(), 3u);
}

TEST(BlockPipelineTest, ReadErrorStopsAfterTheBlocksBeforeIt) {
  FanOutPool pool(3, 64);
  BlockPipelineOptions o;
  o.block_bytes = 100;
  o.slots = 4;
  o.readers = 3;
  Outcome got = RunPipe(pool, 2000, o, [&](uint64_t off, std::span<uint8_t> out) -> Status {
    if (off == 500) return UnavailableError("block 5 failed");
    return FillSlowly(off, out, 100);
  });
  EXPECT_EQ(got.status.code(), ErrorCode::kUnavailable) << got.status;
  // Never past the failed block, and only whole blocks before it, in order.
  ASSERT_LE(got.consumed.size(), 500u);
  EXPECT_EQ(got.consumed.size() % 100, 0u);
  std::vector<uint8_t> want = Expected(got.consumed.size());
  EXPECT_EQ(got.consumed, want);
}

TEST(BlockPipelineTest, ConsumerErrorStopsTheReads) {
  FanOutPool pool(3, 64);
  BlockPipelineOptions o;
  o.block_bytes = 100;
  o.slots = 2;
  o.readers = 3;
  std::atomic<int> reads{0};
  int consumed = 0;
  Status st = RunBlockPipeline(
      pool, 100'000, o,
      [&](uint64_t off, std::span<uint8_t> out) {
        ++reads;
        return FillSlowly(off, out, 100);
      },
      [&](std::span<const uint8_t>) -> Status {
        if (++consumed == 3) return IoError("sink closed");
        return Status::Ok();
      },
      [](std::span<const uint8_t>) {});
  EXPECT_EQ(st.code(), ErrorCode::kIo) << st;
  EXPECT_EQ(consumed, 3);
  // The third block failed to go out: at most the slots after it were read.
  EXPECT_LE(reads.load(), 3 + 2);
}

}  // namespace
}  // namespace hubfs::fs
