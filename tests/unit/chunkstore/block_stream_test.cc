#include "chunkstore/block_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <vector>

namespace hubfs::chunkstore {
namespace {

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// A file served in reads of at most `piece` bytes (short reads included).
struct FakeFile {
  std::vector<uint8_t> bytes;
  size_t piece = SIZE_MAX;
  size_t pos = 0;
  size_t fail_at = SIZE_MAX;  // a read starting at or past this fails
  std::atomic<int> reads{0};
  BlockStream::ReadFn Fn() {
    return [this](std::span<uint8_t> buf) -> Result<size_t> {
      ++reads;
      if (pos >= fail_at) return IoError("the disk went away");
      const size_t n = std::min({buf.size(), bytes.size() - pos, piece});
      std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(pos), n, buf.begin());
      pos += n;
      return n;
    };
  }
};

std::vector<uint8_t> Drain(BlockStream* s, size_t* blocks = nullptr) {
  std::vector<uint8_t> out;
  for (;;) {
    auto b = s->Next();
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok() || b->empty()) break;
    out.insert(out.end(), b->begin(), b->end());
    if (blocks) ++*blocks;
  }
  return out;
}

TEST(BlockStreamTest, LargeFilesComeBackWholeInOrderWithTheirSha256) {
  // Sizes around block multiples, on the threaded path (a full first block)
  // and the inline one (a short first read).
  for (size_t size : {0ul, 1ul, 4095ul, 4096ul, 4097ul, 40960ul, 123457ul}) {
    for (size_t piece : {SIZE_MAX, 1000ul}) {
      FakeFile f{RandomBytes(size, static_cast<uint32_t>(size))};
      f.piece = piece;
      auto fn = f.Fn();
      BlockStream s(fn, 4096);
      size_t blocks = 0;
      EXPECT_EQ(Drain(&s, &blocks), f.bytes) << size << " " << piece;
      EXPECT_EQ(s.Sha256(), Sha256Digest(f.bytes)) << size << " " << piece;
      // The end stays the end.
      auto again = s.Next();
      ASSERT_TRUE(again.ok());
      EXPECT_TRUE(again->empty());
    }
  }
}

TEST(BlockStreamTest, ASmallFileIsReadOnTheCallersThreadWithoutReadingAhead) {
  FakeFile f{RandomBytes(100, 1)};
  auto fn = f.Fn();
  BlockStream s(fn, 4096);
  auto b = s.Next();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), 100u);
  EXPECT_EQ(f.reads.load(), 1);  // nothing read ahead
  EXPECT_TRUE(s.Next()->empty());
  EXPECT_EQ(s.Sha256(), Sha256Digest(f.bytes));
}

TEST(BlockStreamTest, AReadErrorReachesTheCallerAfterTheBlocksBeforeIt) {
  FakeFile f{RandomBytes(50'000, 2)};
  f.fail_at = 20'480;  // the sixth block's read fails
  auto fn = f.Fn();
  BlockStream s(fn, 4096);
  std::vector<uint8_t> got;
  Status err;
  for (int i = 0; i < 100; ++i) {
    auto b = s.Next();
    if (!b.ok()) {
      err = b.status();
      break;
    }
    ASSERT_FALSE(b->empty()) << "the end, not the error";
    got.insert(got.end(), b->begin(), b->end());
  }
  EXPECT_EQ(err.code(), ErrorCode::kIo);
  EXPECT_EQ(got, std::vector<uint8_t>(f.bytes.begin(), f.bytes.begin() + 20'480));
  EXPECT_EQ(s.Next().status().code(), ErrorCode::kIo);  // and stays
}

TEST(BlockStreamTest, ReadsAheadAtMostItsDepth) {
  FakeFile f{RandomBytes(4096 * 20, 3)};
  auto fn = f.Fn();
  {
    BlockStream s(fn, 4096, 3);
    auto b = s.Next();
    ASSERT_TRUE(b.ok());
    // Hold the first block: the reader may fill the other two slots only.
    for (int i = 0; i < 200 && f.reads.load() < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(f.reads.load(), 3);
  }  // destroyed early: the threads stop
  EXPECT_LE(f.reads.load(), 3);
}

}  // namespace
}  // namespace hubfs::chunkstore
