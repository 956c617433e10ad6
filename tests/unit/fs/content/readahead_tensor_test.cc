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


// Sweeps (ReadaheadOptions::sweep_tensor_bytes): a file of 8 MiB tensors
// after a 1 MiB header, read by a loader in 1 MiB reads.
constexpr uint64_t kSweepTensor = 8 * kMiB;
constexpr uint64_t kNone = ~uint64_t{0};

ReadaheadOptions SweepOpts() {
  ReadaheadOptions o = Opts();
  o.sweep_tensor_bytes = 4 * kMiB;
  o.sweep_min_tensors = 4;
  return o;
}

uint64_t SweepFileSize(int n) { return 1 * kMiB + n * kSweepTensor; }
uint64_t TensorStart(int i) { return 1 * kMiB + i * kSweepTensor; }

// Reads [begin, end) in order in 1 MiB reads (the last one shorter).
void ReadRange(ReadaheadStreams& s, uint64_t begin, uint64_t end, uint64_t file_size) {
  for (uint64_t off = begin; off < end; off += 1 * kMiB) {
    ReadaheadRange r = s.OnRead(off, std::min(1 * kMiB, end - off), file_size, kNoLimit);
    if (!r.empty()) s.PrefetchEnded(r, true);
  }
}

void ReadTensor(ReadaheadStreams& s, int i, uint64_t file_size) {
  ReadRange(s, TensorStart(i), TensorStart(i) + kSweepTensor, file_size);
}

// Rank 1 of a 4-way tensor-parallel loader: the second quarter of tensor i.
void ReadSlice(ReadaheadStreams& s, int i, uint64_t file_size) {
  const uint64_t begin = TensorStart(i) + kSweepTensor / 4;
  ReadRange(s, begin, begin + kSweepTensor / 4, file_size);
}

// Streams of a tensor file of n tensors of kSweepTensor after the header.
ReadaheadStreams SweepStreams(int n, const ReadaheadOptions& o = SweepOpts()) {
  ReadaheadStreams s(o);
  s.SetSegments(Tensors(n, kSweepTensor));
  return s;
}

// A loader of a file of n tensors that has read the header (if
// `header`) and then tensors 5, 2, 9 and 0 whole: the fourth one called for
// a sweep, not taken yet.
ReadaheadStreams SweptLoader(int n, bool header = true) {
  ReadaheadStreams s = SweepStreams(n);
  const uint64_t file = SweepFileSize(n);
  if (header) ReadRange(s, 0, 1 * kMiB, file);
  for (int t : {5, 2, 9, 0}) ReadTensor(s, t, file);
  return s;
}

TEST(ReadaheadSweepTest, ALoaderReadingWholeTensorsOutOfOrderGetsOneSweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  ReadRange(s, 0, 1 * kMiB, file);
  for (int t : {5, 2, 9}) {
    ReadTensor(s, t, file);
    EXPECT_FALSE(s.TakeSweep()) << "after tensor " << t << ": fewer than 4 tensors read whole";
  }
  // The fourth tensor: not until its last byte is read.
  ReadRange(s, TensorStart(0), TensorStart(1) - 1 * kMiB, file);
  EXPECT_FALSE(s.TakeSweep());
  ReadRange(s, TensorStart(1) - 1 * kMiB, TensorStart(1), file);
  EXPECT_TRUE(s.TakeSweep());
  EXPECT_FALSE(s.TakeSweep());  // once
  for (int t : {7, 11, 3}) {
    ReadTensor(s, t, file);
    EXPECT_FALSE(s.TakeSweep()) << "after tensor " << t;
  }
}

TEST(ReadaheadSweepTest, SweepMinTensorsSetsHowManyWholeTensorsCallForASweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadOptions o = SweepOpts();
  o.sweep_min_tensors = 2;
  ReadaheadStreams s = SweepStreams(n, o);
  ReadRange(s, 0, 1 * kMiB, file);
  ReadTensor(s, 5, file);
  EXPECT_FALSE(s.TakeSweep());
  ReadTensor(s, 2, file);
  EXPECT_TRUE(s.TakeSweep());
}

TEST(ReadaheadSweepTest, ATensorParallelLoaderReadingASliceOfEachTensorNeverGetsASweep) {
  const int n = 48;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  ReadRange(s, 0, 1 * kMiB, file);
  // Every tensor, out of file order: 7 is prime to 48.
  for (int k = 0; k < n; ++k) {
    const int t = (k * 7 + 5) % n;
    ReadSlice(s, t, file);
    EXPECT_FALSE(s.TakeSweep()) << "after the slice of tensor " << t;
  }
}

TEST(ReadaheadSweepTest, WholeTensorsHoldingTwiceTheBytesOfSlicesReadElsewhereGetASweep) {
  const int n = 24;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  ReadRange(s, 0, 1 * kMiB, file);
  // 8 slices of 2 MiB: 16 MiB, half of the 32 MiB of four whole tensors.
  for (int t = 12; t < 20; ++t) ReadSlice(s, t, file);
  for (int t : {5, 2, 9}) ReadTensor(s, t, file);
  EXPECT_FALSE(s.TakeSweep());
  ReadTensor(s, 0, file);
  EXPECT_TRUE(s.TakeSweep());
}

TEST(ReadaheadSweepTest, SlicesOfMoreThanHalfTheWholeTensorsBytesHoldBackASweep) {
  const int n = 24;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  ReadRange(s, 0, 1 * kMiB, file);
  // 9 slices of 2 MiB: 18 MiB, more than half of four whole tensors.
  for (int t = 12; t < 21; ++t) ReadSlice(s, t, file);
  for (int t : {5, 2, 9, 0}) ReadTensor(s, t, file);
  EXPECT_FALSE(s.TakeSweep());
  // The rest of a sliced tensor: its bytes move from the slices to the
  // whole tensors (40 MiB against 16).
  ReadRange(s, TensorStart(12), TensorStart(12) + kSweepTensor / 4, file);
  EXPECT_FALSE(s.TakeSweep());
  ReadRange(s, TensorStart(12) + kSweepTensor / 2, TensorStart(13), file);
  EXPECT_TRUE(s.TakeSweep());
}

TEST(ReadaheadSweepTest, WholeTensorsUnderASixteenthOfTheFileDoNotCallForASweepYet) {
  // 641 MiB: a sixteenth is a little over 40 MiB, five tensors.
  const int n = 80;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  ReadRange(s, 0, 1 * kMiB, file);
  for (int t : {50, 20, 70, 10, 40}) {
    ReadTensor(s, t, file);
    EXPECT_FALSE(s.TakeSweep()) << "after tensor " << t;
  }
  ReadTensor(s, 30, file);
  EXPECT_TRUE(s.TakeSweep());
}

TEST(ReadaheadSweepTest, ACopyReadingTheFileInOrderNeverGetsASweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  for (uint64_t off = 0; off < file; off += 1 * kMiB) {
    s.OnRead(off, 1 * kMiB, file, 0);
    EXPECT_FALSE(s.TakeSweep()) << "after the read at " << off;
  }
}

TEST(ReadaheadSweepTest, ACopyWhoseReadsArriveInSwappedPairsNeverGetsASweep) {
  // The kernel's pieces of one read-ahead, answered out of order: each
  // pair's second 1 MiB read comes before its first.
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  for (uint64_t off = 0; off < file; off += 2 * kMiB) {
    for (uint64_t at : {off + 1 * kMiB, off}) {
      if (at >= file) continue;
      s.OnRead(at, 1 * kMiB, file, 0);
      EXPECT_FALSE(s.TakeSweep()) << "after the read at " << at;
    }
  }
}

TEST(ReadaheadSweepTest, ACopyWithTwoHolesOpenAtOnceNeverGetsASweep) {
  // In order past five tensors, then four reads answered out of order:
  // two 1 MiB holes at once, each far smaller than a tensor.
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweepStreams(n);
  uint64_t off = 0;
  for (; off < 1 * kMiB + 5 * kSweepTensor; off += 1 * kMiB) {
    s.OnRead(off, 1 * kMiB, file, 0);
    EXPECT_FALSE(s.TakeSweep()) << "after the read at " << off;
  }
  for (uint64_t at : {off + 1 * kMiB, off + 3 * kMiB, off, off + 2 * kMiB}) {
    s.OnRead(at, 1 * kMiB, file, 0);
    EXPECT_FALSE(s.TakeSweep()) << "after the read at " << at;
  }
}

TEST(ReadaheadSweepTest, TensorsSmallerThanSweepTensorBytesDoNotCountForASweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  for (uint64_t min_bytes : {kSweepTensor + 1, kSweepTensor}) {
    ReadaheadOptions o = SweepOpts();
    o.sweep_tensor_bytes = min_bytes;
    ReadaheadStreams s = SweepStreams(n, o);
    ReadRange(s, 0, 1 * kMiB, file);
    for (int t : {5, 2, 9, 0, 7, 11, 3}) ReadTensor(s, t, file);
    // A tensor of exactly sweep_tensor_bytes counts.
    EXPECT_EQ(s.TakeSweep(), min_bytes == kSweepTensor) << "sweep_tensor_bytes " << min_bytes;
  }
}

TEST(ReadaheadSweepTest, ZeroSweepTensorBytesDisablesSweeps) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadOptions o = SweepOpts();
  o.sweep_tensor_bytes = 0;
  ReadaheadStreams s = SweepStreams(n, o);
  ReadRange(s, 0, 1 * kMiB, file);
  for (int t : {5, 2, 9, 0, 7, 11, 3}) {
    ReadTensor(s, t, file);
    EXPECT_FALSE(s.TakeSweep()) << "after tensor " << t;
  }
}

TEST(ReadaheadSweepTest, AFileWithoutSegmentsNeverGetsASweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams plain(SweepOpts());
  ReadaheadStreams cleared(SweepOpts());
  cleared.SetSegments(Tensors(n, kSweepTensor));
  cleared.SetSegments({});
  for (ReadaheadStreams* s : {&plain, &cleared}) {
    ReadRange(*s, 0, 1 * kMiB, file);
    for (int t : {5, 2, 9, 0, 7, 11, 3}) {
      ReadTensor(*s, t, file);
      EXPECT_FALSE(s->TakeSweep()) << "after tensor " << t;
    }
  }
}

TEST(ReadaheadSweepTest, UnreadSkipsTheRunsReadBeforeTheSweep) {
  const int n = 12;
  ReadaheadStreams s = SweptLoader(n);
  ASSERT_TRUE(s.TakeSweep());
  // Read: [0, T1) (the header and tensor 0), T2, T5, T9.
  uint64_t next = 0;
  EXPECT_EQ(s.Unread(0, &next), TensorStart(1));
  EXPECT_EQ(next, TensorStart(2));
  EXPECT_EQ(s.Unread(TensorStart(1) - 1, &next), TensorStart(1));
  EXPECT_EQ(next, TensorStart(2));
  // Bytes not read: themselves, and where the next run starts.
  EXPECT_EQ(s.Unread(TensorStart(1), &next), TensorStart(1));
  EXPECT_EQ(next, TensorStart(2));
  EXPECT_EQ(s.Unread(TensorStart(3) + 3 * kMiB, &next), TensorStart(3) + 3 * kMiB);
  EXPECT_EQ(next, TensorStart(5));
  EXPECT_EQ(s.Unread(TensorStart(2) + 5 * kMiB, &next), TensorStart(3));
  EXPECT_EQ(next, TensorStart(5));
  // The last run: nothing read after it.
  EXPECT_EQ(s.Unread(TensorStart(9), &next), TensorStart(10));
  EXPECT_EQ(next, kNone);
  EXPECT_EQ(s.Unread(TensorStart(11), &next), TensorStart(11));
  EXPECT_EQ(next, kNone);
}

TEST(ReadaheadSweepTest, UnreadOfAByteBeforeEveryRunReturnsItAndTheFirstRun) {
  ReadaheadStreams s = SweptLoader(12, /*header=*/false);
  ASSERT_TRUE(s.TakeSweep());
  uint64_t next = 0;
  EXPECT_EQ(s.Unread(0, &next), 0u);
  EXPECT_EQ(next, TensorStart(0));
  EXPECT_EQ(s.Unread(TensorStart(0), &next), TensorStart(1));
  EXPECT_EQ(next, TensorStart(2));
}

TEST(ReadaheadSweepTest, UnreadAlsoSkipsWhatIsReadAfterTheSweep) {
  const int n = 12;
  const uint64_t file = SweepFileSize(n);
  ReadaheadStreams s = SweptLoader(n);
  ASSERT_TRUE(s.TakeSweep());
  // Tensor 1 joins the runs on either side, [0, T1) and T2, into one.
  ReadTensor(s, 1, file);
  ReadRange(s, TensorStart(7) + 1 * kMiB, TensorStart(7) + 3 * kMiB, file);
  ReadTensor(s, 11, file);
  EXPECT_FALSE(s.TakeSweep());
  uint64_t next = 0;
  EXPECT_EQ(s.Unread(0, &next), TensorStart(3));
  EXPECT_EQ(next, TensorStart(5));
  EXPECT_EQ(s.Unread(TensorStart(6), &next), TensorStart(6));
  EXPECT_EQ(next, TensorStart(7) + 1 * kMiB);
  EXPECT_EQ(s.Unread(TensorStart(7) + 1 * kMiB, &next), TensorStart(7) + 3 * kMiB);
  EXPECT_EQ(next, TensorStart(9));
  EXPECT_EQ(s.Unread(TensorStart(10), &next), TensorStart(10));
  EXPECT_EQ(next, TensorStart(11));
  EXPECT_EQ(s.Unread(TensorStart(11), &next), file);
  EXPECT_EQ(next, kNone);
}

}  // namespace
}  // namespace hubfs::fs
