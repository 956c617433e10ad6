// ReadaheadStreams in a tensor file (SetSegments): read-ahead follows the
// tensors. The reads below are shaped like the kernel's for an mmap loader:
// a first read-around centred on the faulting address, then sequential
// reads of the readahead size.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "fs/content/readahead.h"

namespace hubfs::fs {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kNoLimit = ~uint64_t{0};

ReadaheadOptions Opts() {
  ReadaheadOptions o;
  o.initial_window = 1 * kMiB;
  o.max_window = 32 * kMiB;
  o.max_streams = 4;
  o.slack = 512 * kKiB;
  o.min_prefetch = 256 * kKiB;
  o.tensor_streams = 64;
  o.tensor_ahead_divisor = 8;
  return o;
}

// Bytes touched by reads and read-aheads, as a union of ranges.
class Fetched {
 public:
  void Add(uint64_t start, uint64_t end) {
    if (start >= end) return;
    auto it = ranges_.upper_bound(start);
    if (it != ranges_.begin() && std::prev(it)->second >= start) {
      --it;
      start = it->first;
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    while (it != ranges_.end() && it->first <= end) {
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    ranges_[start] = end;
  }
  uint64_t Total() const {
    uint64_t t = 0;
    for (const auto& [s, e] : ranges_) t += e - s;
    return t;
  }

 private:
  std::map<uint64_t, uint64_t> ranges_;
};

// A mmap loader's reads of [begin, end) of a file: a 1 MiB read-around of
// the first touched page, then 1 MiB reads in order. Every read and
// read-ahead is added to `fetched`; returns the highest read-ahead end.
uint64_t LoadRegion(ReadaheadStreams& s, uint64_t begin, uint64_t end, uint64_t file_size,
                    Fetched* fetched) {
  const uint64_t ra = 1 * kMiB;
  uint64_t off = begin > ra / 2 ? begin - ra / 2 : 0;
  uint64_t furthest = 0;
  while (off < end) {
    const uint64_t len = std::min(ra, file_size - off);
    fetched->Add(off, off + len);
    ReadaheadRange r = s.OnRead(off, len, file_size, kNoLimit);
    if (!r.empty()) {
      fetched->Add(r.start, r.end);
      furthest = std::max(furthest, r.end);
      s.PrefetchEnded(r, true);
    }
    off += len;
  }
  return furthest;
}

// Segment starts of a file of `n` tensors of `size` bytes after a 1 MiB header.
std::vector<uint64_t> Tensors(int n, uint64_t size) {
  std::vector<uint64_t> starts = {0};
  for (int i = 0; i < n; ++i) starts.push_back(1 * kMiB + i * size);
  return starts;
}

TEST(ReadaheadTensorTest, AReadInsideATensorNeverPrefetchesPastItsEnd) {
  const uint64_t size = 40 * kMiB;
  const uint64_t file = 1 * kMiB + 4 * size;
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(4, size));
  ASSERT_TRUE(s.tensor_file());
  // Tensor 2 only, from its start to its end, in 128 KiB reads.
  const uint64_t begin = 1 * kMiB + 2 * size, end = begin + size;
  uint64_t furthest = 0;
  for (uint64_t off = begin; off < end; off += 128 * kKiB) {
    ReadaheadRange r = s.OnRead(off, 128 * kKiB, file, kNoLimit);
    if (r.empty()) continue;
    EXPECT_GE(r.start, off + 128 * kKiB);
    EXPECT_LE(r.end, end) << "read-ahead from " << off << " crosses the tensor's end";
    furthest = std::max(furthest, r.end);
    s.PrefetchEnded(r, true);
  }
  EXPECT_EQ(furthest, end);  // up to the end, not short of it
  // The same reads in an ordinary file run on into the next tensor.
  ReadaheadStreams plain(Opts());
  uint64_t plain_furthest = 0;
  for (uint64_t off = begin; off < end; off += 128 * kKiB) {
    ReadaheadRange r = plain.OnRead(off, 128 * kKiB, file, kNoLimit);
    plain_furthest = std::max(plain_furthest, r.end);
    if (!r.empty()) plain.PrefetchEnded(r, true);
  }
  EXPECT_GT(plain_furthest, end);
}

TEST(ReadaheadTensorTest, ASliceReaderFetchesWithinTheSelectiveReadBound) {
  // Tensor-parallel rank r of 4 reads rows [r/4, (r+1)/4) of each tensor.
  const int n = 24;
  const uint64_t size = 64 * kMiB;
  const uint64_t file = 1 * kMiB + n * size;
  for (bool tensor : {true, false}) {
    ReadaheadStreams s(Opts());
    if (tensor) s.SetSegments(Tensors(n, size));
    Fetched fetched;
    uint64_t needed = 0;
    for (int i = 0; i < n; ++i) {
      const int rank = i % 4;
      const uint64_t begin = 1 * kMiB + i * size + rank * size / 4;
      LoadRegion(s, begin, begin + size / 4, file, &fetched);
      needed += size / 4;
    }
    // Design §8: 1.1 x the bytes needed + about one kernel readahead window
    // per slice edge.
    const double bound = 1.1 * needed + 2.0 * n * (1 * kMiB);
    if (tensor) {
      EXPECT_LE(fetched.Total(), bound) << "needed " << needed;
    } else {
      // The ordinary policy reads well past each slice: the bound is a real one.
      EXPECT_GT(fetched.Total(), bound);
    }
  }
}

TEST(ReadaheadTensorTest, TensorsLoadedOutOfOrderEachGetAStream) {
  const int n = 12;
  const uint64_t size = 16 * kMiB;
  const uint64_t file = 1 * kMiB + n * size;
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(n, size));
  // Eight loader threads, each on its own tensor, their reads interleaved;
  // neighbouring tensors on purpose (a read-around reaches the neighbour).
  const std::vector<int> order = {5, 6, 7, 2, 3, 9, 10, 0};
  std::vector<uint64_t> pos, ahead(order.size(), 0);
  for (int t : order) pos.push_back(1 * kMiB + t * size - 512 * kKiB);
  // 14 of each tensor's 16 MiB: the last 2 MiB are the window's reach, and a
  // stream stops where the next tensor's read-around started (its bytes are
  // fetched already).
  for (int step = 0; step < 14; ++step) {
    for (size_t k = 0; k < order.size(); ++k) {
      const uint64_t end = 1 * kMiB + (order[k] + 1) * size;
      ReadaheadRange r = s.OnRead(pos[k], 1 * kMiB, file, kNoLimit);
      if (!r.empty()) {
        EXPECT_LE(r.end, end) << "tensor " << order[k];
        EXPECT_GE(r.start, pos[k] + 1 * kMiB);
        ahead[k] = std::max(ahead[k], r.end);
        s.PrefetchEnded(r, true);
      }
      pos[k] += 1 * kMiB;
    }
  }
  EXPECT_EQ(s.streams(), order.size());  // more than max_streams (4)
  for (size_t k = 0; k < order.size(); ++k) {
    EXPECT_GT(ahead[k], pos[k]) << "tensor " << order[k] << " read nothing ahead";
  }
}

TEST(ReadaheadTensorTest, AReadAtTheNextTensorsStartIsANewStream) {
  const uint64_t size = 16 * kMiB;
  const uint64_t file = 1 * kMiB + 4 * size;
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(4, size));
  const uint64_t t1 = 1 * kMiB + size, t2 = t1 + size;
  // A loader well into tensor 1 (no budget left for read-ahead yet) ...
  for (uint64_t off = t1; off < t2 - 2 * kMiB; off += 1 * kMiB) s.OnRead(off, 1 * kMiB, file, 0);
  EXPECT_EQ(s.streams(), 1u);
  // ... and another thread's read-around of tensor 2's start, within slack
  // of the first stream's end: a stream of its own.
  EXPECT_TRUE(s.OnRead(t2 - 512 * kKiB, 1 * kMiB, file, kNoLimit).empty());
  EXPECT_EQ(s.streams(), 2u);
  // The first loader still reads ahead, up to where the second one started.
  ReadaheadRange r = s.OnRead(t2 - 2 * kMiB, 512 * kKiB, file, kNoLimit);
  EXPECT_EQ(s.streams(), 2u);
  EXPECT_FALSE(r.empty());
  EXPECT_GE(r.start, t2 - 2 * kMiB + 512 * kKiB);
  EXPECT_LE(r.end, t2 - 512 * kKiB);
}

// The tensor's tail comes with the window before it when less than
// min_prefetch would be left: alone it would cost a plan and a fetch.
TEST(ReadaheadTensorTest, TheTensorsTailComesWithTheWindowBeforeIt) {
  const uint64_t size = 2020 * kKiB;
  const uint64_t file = 1 * kMiB + 3 * size;
  const uint64_t t1 = 1 * kMiB + size, t2 = t1 + size;
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(3, size));
  std::vector<ReadaheadRange> got;
  for (uint64_t off = t1; off < t2; off += 128 * kKiB) {
    ReadaheadRange r = s.OnRead(off, std::min(128 * kKiB, t2 - off), file, kNoLimit);
    if (r.empty()) continue;
    got.push_back(r);
    s.PrefetchEnded(r, true);
  }
  // The first window at the second read, [256 KiB, 1280 KiB); the second
  // once half of it is read (at 896 KiB) to 1920 KiB, which would leave
  // 100 KiB: to the end.
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start, t1 + 256 * kKiB);
  EXPECT_EQ(got[0].end, t1 + 1280 * kKiB);
  EXPECT_EQ(got[1].start, got[0].end);
  EXPECT_EQ(got[1].end, t2);
}

// The file of the file-order tests: 32 tensors of 4 MiB after the header.
constexpr uint64_t kSmallTensor = 4 * kMiB;
constexpr int kSmallTensors = 32;
constexpr uint64_t kSmallTensorFile = 1 * kMiB + kSmallTensors * kSmallTensor;

ReadaheadStreams SmallTensorStreams() {
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(kSmallTensors, kSmallTensor));
  return s;
}

TEST(ReadaheadTensorTest, AFileOrderReaderReadsAheadAcrossTensors) {
  const uint64_t file = kSmallTensorFile;
  ReadaheadStreams s = SmallTensorStreams();
  uint64_t furthest = 0;
  for (uint64_t off = 0; off < 64 * kMiB; off += 1 * kMiB) {
    ReadaheadRange r = s.OnRead(off, 1 * kMiB, file, kNoLimit);
    if (r.empty()) continue;
    furthest = std::max(furthest, r.end);
    s.PrefetchEnded(r, true);
  }
  // Like an ordinary file: the window doubled up to 32 MiB past the tensors.
  EXPECT_GE(furthest, 64 * kMiB + 16 * kMiB);
  EXPECT_EQ(s.streams(), 1u);
}

// A copy's reads reach the daemon slightly out of order (the kernel splits
// its read-ahead into pieces that several threads answer): once the stream
// reads the file in order, a piece that starts past its end and reaches the
// next tensor is that stream's, not another reader starting the tensor.
TEST(ReadaheadTensorTest, AFileOrderStreamKeepsItsReorderedReadsAtATensorStart) {
  const uint64_t file = kSmallTensorFile;
  ReadaheadStreams s = SmallTensorStreams();
  // In order across two tensor boundaries (a file-order reader), to 256 KiB
  // short of a tensor's start, with no budget for read-ahead.
  const uint64_t t5 = 1 * kMiB + 5 * kSmallTensor;
  for (uint64_t off = 0; off < t5 - 256 * kKiB; off += 256 * kKiB) {
    s.OnRead(off, 256 * kKiB, file, 0);
  }
  ASSERT_EQ(s.streams(), 1u);
  // The piece after the next one arrives first, reaching tensor 5.
  s.OnRead(t5, 256 * kKiB, file, 0);
  EXPECT_EQ(s.streams(), 1u);
  // The stream reads ahead past the piece, into tensor 5 (a stream of its
  // own there would have cut the read-ahead at the tensor's start).
  ReadaheadRange r = s.OnRead(t5 - 256 * kKiB, 256 * kKiB, file, kNoLimit);
  EXPECT_EQ(s.streams(), 1u);
  EXPECT_FALSE(r.empty());
  EXPECT_GT(r.end, t5 + 256 * kKiB);
}

TEST(ReadaheadTensorTest, AStreamInsideABigTensorGrowsItsWindowWithWhatItRead) {
  const uint64_t size = 512 * kMiB;
  const uint64_t file = 1 * kMiB + size;
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(1, size));
  uint64_t ahead_at_8 = 0, ahead_at_256 = 0;
  for (uint64_t off = 1 * kMiB; off < 1 * kMiB + 300 * kMiB; off += 1 * kMiB) {
    ReadaheadRange r = s.OnRead(off, 1 * kMiB, file, kNoLimit);
    if (r.empty()) continue;
    s.PrefetchEnded(r, true);
    const uint64_t read = off;  // tensor bytes read so far (the tensor starts at 1 MiB)
    const uint64_t ahead = r.end - (off + 1 * kMiB);
    if (read <= 8 * kMiB) ahead_at_8 = std::max(ahead_at_8, ahead);
    if (read >= 256 * kMiB) ahead_at_256 = std::max(ahead_at_256, ahead);
  }
  EXPECT_LE(ahead_at_8, 1 * kMiB);  // 1/8 of what it read, at least 1 MiB
  EXPECT_GE(ahead_at_256, 30 * kMiB);  // the full window
  EXPECT_LE(ahead_at_256, 32 * kMiB);
}

TEST(ReadaheadTensorTest, WithoutSegmentsTheFileIsOrdinaryAgain) {
  ReadaheadStreams s(Opts());
  s.SetSegments(Tensors(2, 4 * kMiB));
  s.SetSegments({});
  EXPECT_FALSE(s.tensor_file());
}

}  // namespace
}  // namespace hubfs::fs
