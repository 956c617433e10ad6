#include "fs/content/readahead.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace hubfs::fs {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kBig = 1ull << 40;  // file size: never the limit here
constexpr uint64_t kNoLimit = ~uint64_t{0};

ReadaheadOptions Opts() {
  ReadaheadOptions o;
  o.initial_window = 1 * kMiB;
  o.max_window = 8 * kMiB;
  o.max_streams = 4;
  o.slack = 1 * kMiB;
  o.min_prefetch = 64 * kKiB;
  return o;
}

TEST(ReadaheadStreamsTest, FirstReadOfAStreamGetsNoReadahead) {
  ReadaheadStreams s(Opts());
  EXPECT_TRUE(s.OnRead(0, 4096, kBig, kNoLimit).empty());
  EXPECT_TRUE(s.OnRead(100 * kMiB, 4096, kBig, kNoLimit).empty());
  EXPECT_EQ(s.streams(), 2u);
}

TEST(ReadaheadStreamsTest, AStreamStopsWhereAnotherStreamStarted) {
  ReadaheadStreams s(Opts());
  const uint64_t read = 128 * kKiB;
  const uint64_t next_region = 3 * kMiB;
  EXPECT_TRUE(s.OnRead(next_region, read, kBig, kNoLimit).empty());  // the neighbour
  uint64_t fetched_to = 0;
  for (uint64_t off = 0; off < next_region; off += read) {
    ReadaheadRange r = s.OnRead(off, read, kBig, kNoLimit);
    if (r.empty()) continue;
    EXPECT_LE(r.end, next_region) << "read-ahead from " << off << " runs into the next region";
    fetched_to = std::max(fetched_to, r.end);
    s.PrefetchEnded(r, true);
  }
  EXPECT_EQ(fetched_to, next_region);  // up to it, not short of it
  // The neighbour's own stream still reads ahead.
  ReadaheadRange r = s.OnRead(next_region + read, read, kBig, kNoLimit);
  EXPECT_FALSE(r.empty());
  EXPECT_GE(r.start, next_region + 2 * read);
}

// Reads [0, 64 MiB) in 128 KiB reads; every read-ahead must be contiguous
// with what was fetched before and never behind the reader. Returns each
// read-ahead and the stream's window after it; *fetched_to: the end of all.
void ReadSequentially(ReadaheadStreams& s, std::vector<ReadaheadRange>* got,
                      std::vector<uint64_t>* windows, uint64_t* fetched_to) {
  const uint64_t read = 128 * kKiB;
  *fetched_to = 2 * read;
  for (uint64_t off = 0; off < 64 * kMiB; off += read) {
    ReadaheadRange r = s.OnRead(off, read, kBig, kNoLimit);
    if (r.empty()) continue;
    EXPECT_EQ(r.start, *fetched_to) << "at read " << off;
    EXPECT_GE(r.start, off + read);
    *fetched_to = r.end;
    got->push_back(r);
    windows->push_back(s.WindowAt(off + read));
    s.PrefetchEnded(r, true);
  }
}

TEST(ReadaheadStreamsTest, WindowsStartSmallAndDoubleUpToTheMax) {
  ReadaheadStreams s(Opts());
  std::vector<ReadaheadRange> got;
  std::vector<uint64_t> windows;
  const uint64_t read = 128 * kKiB;
  uint64_t fetched_to = 0;
  ReadSequentially(s, &got, &windows, &fetched_to);
  ASSERT_GE(got.size(), 5u);
  EXPECT_EQ(got[0].start, 2 * read);  // on the second read
  EXPECT_EQ(got[0].size(), 1 * kMiB);
  EXPECT_EQ(windows[0], 1 * kMiB);
  EXPECT_EQ(windows[1], 2 * kMiB);
  EXPECT_EQ(windows[2], 4 * kMiB);
  EXPECT_EQ(windows[3], 8 * kMiB);
  for (size_t i = 3; i < windows.size(); ++i) EXPECT_EQ(windows[i], 8 * kMiB);
  for (const ReadaheadRange& r : got) EXPECT_LE(r.size(), 8 * kMiB);
  // The reader never catches up with the read-ahead once it is running.
  EXPECT_GT(fetched_to, 64 * kMiB);
}

TEST(ReadaheadStreamsTest, AFarOriginsWindowsGrowFourfoldUpToTwiceTheMax) {
  ReadaheadStreams s(Opts());
  s.SetFar(true);
  std::vector<ReadaheadRange> got;
  std::vector<uint64_t> windows;
  const uint64_t read = 128 * kKiB;
  uint64_t fetched_to = 0;
  ReadSequentially(s, &got, &windows, &fetched_to);
  ASSERT_GE(windows.size(), 4u);
  EXPECT_EQ(windows[0], 1 * kMiB);
  EXPECT_EQ(windows[1], 4 * kMiB);
  EXPECT_EQ(windows[2], 16 * kMiB);
  for (size_t i = 2; i < windows.size(); ++i) EXPECT_EQ(windows[i], 16 * kMiB);
  // Near again: back to the max at the next step.
  s.SetFar(false);
  uint64_t off = 64 * kMiB;
  ReadaheadRange r;
  for (; r.empty() && off < 128 * kMiB; off += read) r = s.OnRead(off, read, kBig, kNoLimit);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(s.WindowAt(off), 8 * kMiB);
}

TEST(RoundTripGaugeTest, TheLeastOfTheLastSamples) {
  using std::chrono::milliseconds;
  RoundTripGauge g(3);
  EXPECT_EQ(g.Estimate().count(), 0);
  EXPECT_EQ(g.samples(), 0u);
  EXPECT_EQ(g.Record(milliseconds(50)), milliseconds(50));
  EXPECT_EQ(g.Record(milliseconds(20)), milliseconds(20));  // a quick answer
  EXPECT_EQ(g.Record(milliseconds(90)), milliseconds(20));  // one queued behind others
  EXPECT_EQ(g.Estimate(), milliseconds(20));
  // The quick one leaves the window after three newer samples.
  EXPECT_EQ(g.Record(milliseconds(60)), milliseconds(20));
  EXPECT_EQ(g.Record(milliseconds(70)), milliseconds(60));
  EXPECT_EQ(g.Record(milliseconds(80)), milliseconds(60));
  EXPECT_EQ(g.Record(milliseconds(95)), milliseconds(70));
  EXPECT_EQ(g.samples(), 7u);
}

TEST(ReadaheadStreamsTest, AlignedWindowsEndOnMultiplesWhateverTheReadSize) {
  // Two readers of one file with different read sizes (two machines): after
  // the first window, both fetch the same aligned pieces.
  for (const uint64_t read : {128 * kKiB, 300 * kKiB}) {
    ReadaheadOptions o = Opts();
    o.align = 4 * kMiB;
    ReadaheadStreams s(o);
    const uint64_t size = 61 * kMiB + 5;  // the last piece ends at the file's end
    uint64_t fetched_to = 0;
    std::vector<ReadaheadRange> got;
    for (uint64_t off = 0; off < size; off += read) {
      ReadaheadRange r = s.OnRead(off, read, size, kNoLimit);
      if (r.empty()) continue;
      if (fetched_to != 0) {
        EXPECT_EQ(r.start, fetched_to) << "read " << read;
      }
      fetched_to = r.end;
      got.push_back(r);
      s.PrefetchEnded(r, true);
    }
    ASSERT_GE(got.size(), 3u) << "read " << read;
    // The first window is rounded to the first multiples (its start down,
    // into what was read: fetched again or found in the tier).
    EXPECT_EQ(got[0].start, 0u) << "read " << read;
    EXPECT_EQ(got[0].end, 4 * kMiB) << "read " << read;
    for (const ReadaheadRange& r : got) {
      EXPECT_TRUE(r.end % (4 * kMiB) == 0 || r.end == size) << r.start << "-" << r.end;
      EXPECT_LE(r.size(), 8 * kMiB + 4 * kMiB);
    }
    EXPECT_EQ(fetched_to, size);
    // The windows still grow: the last full ones are at least the max less
    // one alignment.
    EXPECT_GE(got[got.size() - 2].size(), 4 * kMiB) << "read " << read;
  }
}

TEST(ReadaheadStreamsTest, AlignedWindowKeepsToTheBudget) {
  ReadaheadOptions o = Opts();
  o.align = 4 * kMiB;
  ReadaheadStreams s(o);
  s.OnRead(0, 128 * kKiB, kBig, kNoLimit);
  // Rounding up to 4 MiB would take more than the 1 MiB left: not rounded.
  ReadaheadRange r = s.OnRead(128 * kKiB, 128 * kKiB, kBig, 1 * kMiB);
  EXPECT_EQ(r.start, 256 * kKiB);
  EXPECT_EQ(r.end, 256 * kKiB + 1 * kMiB);
}

TEST(ReadaheadStreamsTest, LargeReadsStartWithAWindowOfTwiceTheRead) {
  ReadaheadStreams s(Opts());
  EXPECT_TRUE(s.OnRead(0, 2 * kMiB, kBig, kNoLimit).empty());
  ReadaheadRange r = s.OnRead(2 * kMiB, 2 * kMiB, kBig, kNoLimit);
  EXPECT_EQ(r.start, 4 * kMiB);
  EXPECT_EQ(r.end, 8 * kMiB);
}

TEST(ReadaheadStreamsTest, ASeekStartsOverWithTheSmallWindow) {
  ReadaheadStreams s(Opts());
  uint64_t off = 0;
  for (; off < 32 * kMiB; off += 128 * kKiB) s.OnRead(off, 128 * kKiB, kBig, kNoLimit);
  EXPECT_EQ(s.WindowAt(off), 8 * kMiB);
  // Far away: a new stream, no read-ahead for the seek itself.
  EXPECT_TRUE(s.OnRead(500 * kMiB, 128 * kKiB, kBig, kNoLimit).empty());
  ReadaheadRange r = s.OnRead(500 * kMiB + 128 * kKiB, 128 * kKiB, kBig, kNoLimit);
  EXPECT_EQ(r.size(), 1 * kMiB);
  EXPECT_EQ(s.WindowAt(500 * kMiB + 256 * kKiB), 1 * kMiB);
}

TEST(ReadaheadStreamsTest, InterleavedStreamsEachKeepTheirWindow) {
  ReadaheadStreams s(Opts());
  uint64_t a = 0, b = 300 * kMiB;
  int a_hits = 0, b_hits = 0;
  uint64_t a_bytes = 0, b_bytes = 0;
  for (int i = 0; i < 100; ++i) {
    ReadaheadRange ra = s.OnRead(a, 128 * kKiB, kBig, kNoLimit);
    a += 128 * kKiB;
    ReadaheadRange rb = s.OnRead(b, 128 * kKiB, kBig, kNoLimit);
    b += 128 * kKiB;
    if (!ra.empty()) {
      ++a_hits;
      a_bytes += ra.size();
      EXPECT_LT(ra.start, 300 * kMiB);
    }
    if (!rb.empty()) {
      ++b_hits;
      b_bytes += rb.size();
      EXPECT_GE(rb.start, 300 * kMiB);
    }
  }
  EXPECT_EQ(s.streams(), 2u);
  EXPECT_GE(a_hits, 4);
  EXPECT_GE(b_hits, 4);
  // Each stream fetched ahead of all it read (12.5 MiB each), no more than a
  // window beyond.
  EXPECT_GE(a_bytes, 12 * kMiB);
  EXPECT_GE(b_bytes, 12 * kMiB);
  EXPECT_LE(a_bytes, 12 * kMiB + 8 * kMiB + kMiB);
  EXPECT_EQ(s.WindowAt(a), 8 * kMiB);
  EXPECT_EQ(s.WindowAt(b), 8 * kMiB);
}

TEST(ReadaheadStreamsTest, SlightlyOutOfOrderReadsStaySequential) {
  ReadaheadStreams s(Opts());
  // The kernel's pieces of one read-ahead, handled by a pool: 1, 0, 3, 2, ...
  const uint64_t order[] = {1, 0, 3, 2, 5, 4, 7, 6, 9, 8};
  int hits = 0;
  for (uint64_t k : order) hits += !s.OnRead(k * 128 * kKiB, 128 * kKiB, kBig, kNoLimit).empty();
  EXPECT_EQ(s.streams(), 1u);
  EXPECT_GE(hits, 1);
}

TEST(ReadaheadStreamsTest, AReadInsideAStreamsReadaheadContinuesIt) {
  ReadaheadStreams s(Opts());
  // 1 MiB kernel reads: the fourth arrives before the third, 1 MiB past the
  // stream's end, inside what it reads ahead.
  s.OnRead(0, kMiB, kBig, kNoLimit);
  ReadaheadRange r = s.OnRead(kMiB, kMiB, kBig, kNoLimit);
  ASSERT_FALSE(r.empty());
  s.OnRead(3 * kMiB, kMiB, kBig, kNoLimit);
  EXPECT_EQ(s.streams(), 1u);
  s.OnRead(2 * kMiB, kMiB, kBig, kNoLimit);
  EXPECT_EQ(s.streams(), 1u);
  // Past the read-ahead by more than the slack (2 MiB for these reads): a
  // new stream.
  s.OnRead(r.end + 8 * kMiB, kMiB, kBig, kNoLimit);
  EXPECT_EQ(s.streams(), 2u);
}

TEST(ReadaheadStreamsTest, RandomReadsGetNoReadahead) {
  ReadaheadStreams s(Opts());
  // Offsets at least 2 MiB apart from each other, in a scattered order.
  for (uint64_t k : {17, 3, 29, 11, 41, 7, 23, 37, 13, 31, 5, 19}) {
    EXPECT_TRUE(s.OnRead(k * 3 * kMiB + 17, 4096, kBig, kNoLimit).empty()) << k;
  }
  EXPECT_LE(s.streams(), 4u);  // bounded; least recently used replaced
}

TEST(ReadaheadStreamsTest, ReadaheadStopsAtTheEndOfTheFile) {
  ReadaheadStreams s(Opts());
  const uint64_t size = 1 * kMiB + 1000;
  s.OnRead(0, 64 * kKiB, size, kNoLimit);
  ReadaheadRange r = s.OnRead(64 * kKiB, 64 * kKiB, size, kNoLimit);
  EXPECT_EQ(r.end, size);
  EXPECT_TRUE(s.OnRead(128 * kKiB, 64 * kKiB, size, kNoLimit).empty());
}

TEST(ReadaheadStreamsTest, BudgetTrimsOrSkipsAndAFailedRangeIsAskedAgain) {
  ReadaheadStreams s(Opts());
  s.OnRead(0, 128 * kKiB, kBig, kNoLimit);
  // Only 300 KiB left in the budget: trimmed.
  ReadaheadRange r = s.OnRead(128 * kKiB, 128 * kKiB, kBig, 300 * kKiB);
  EXPECT_EQ(r.start, 256 * kKiB);
  EXPECT_EQ(r.size(), 300 * kKiB);
  // It failed: the stream forgets it and asks again on its next read.
  s.PrefetchEnded(r, false);
  ReadaheadRange again = s.OnRead(256 * kKiB, 128 * kKiB, kBig, 10 * kKiB);
  EXPECT_TRUE(again.empty()) << "below min_prefetch: skipped";
  again = s.OnRead(384 * kKiB, 128 * kKiB, kBig, kNoLimit);
  EXPECT_EQ(again.start, 512 * kKiB);
  EXPECT_FALSE(again.empty());
}

TEST(MemoryBudgetTest, TakesWhatFitsAndTracksThePeak) {
  MemoryBudget b(1000);
  EXPECT_EQ(b.TryAcquire(600, 600), 600u);
  EXPECT_EQ(b.TryAcquire(600, 600), 0u);    // does not fit whole
  EXPECT_EQ(b.TryAcquire(600, 100), 400u);  // what is left, above the minimum
  EXPECT_EQ(b.available(), 0u);
  EXPECT_EQ(b.TryAcquire(1, 1), 0u);
  b.Release(1000);
  EXPECT_EQ(b.in_use(), 0u);
  EXPECT_EQ(b.peak(), 1000u);
}

TEST(MemoryBudgetTest, NeverExceededUnderContention) {
  MemoryBudget b(10000);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const uint64_t got = b.TryAcquire(1000 + 37 * t, 500);
        if (b.in_use() > 10000) over = true;
        if (got) b.Release(got);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over.load());
  EXPECT_LE(b.peak(), 10000u);
  EXPECT_GE(b.peak(), 1000u);
  EXPECT_EQ(b.in_use(), 0u);
}

TEST(ReadaheadStreamsTest, ASeededStreamIsContinuedByAReaderFromTheStart) {
  ReadaheadStreams s(Opts());
  ASSERT_TRUE(s.Seed(4 * kMiB, 4 * kMiB));
  EXPECT_FALSE(s.Seed(8 * kMiB, 4 * kMiB));  // once, on a file without streams
  // The reader comes: no new stream; its first read reads on from where the
  // seed ended at once, with a doubled window (it would consume the seeded
  // bytes before a window asked at half of them could come).
  ReadaheadRange r = s.OnRead(0, 128 * kKiB, kBig, kNoLimit);
  EXPECT_EQ(s.streams(), 1u);
  EXPECT_EQ(r.start, 4 * kMiB);
  EXPECT_EQ(r.end, 128 * kKiB + 8 * kMiB);
  // Then as any stream: nothing while at least half of the window (8 MiB,
  // the largest) is ahead of the reader, the next window once less is.
  uint64_t end = 128 * kKiB;
  for (r = {}; r.empty() && end < 8 * kMiB; end += 128 * kKiB) {
    r = s.OnRead(end, 128 * kKiB, kBig, kNoLimit);
  }
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(end, 4 * kMiB + 256 * kKiB);  // the read ending there left < 4 MiB ahead
  EXPECT_EQ(r.start, 128 * kKiB + 8 * kMiB);
  EXPECT_EQ(r.end, end + 8 * kMiB);
}

TEST(ReadaheadStreamsTest, ASeededStreamUnderADistantOriginReadsOnFourTimesItsWindow) {
  ReadaheadStreams s(Opts());
  s.SetFar(true);
  ASSERT_TRUE(s.Seed(4 * kMiB, 4 * kMiB));
  const ReadaheadRange r = s.OnRead(0, 128 * kKiB, kBig, kNoLimit);
  EXPECT_EQ(r.start, 4 * kMiB);
  EXPECT_EQ(r.end, 128 * kKiB + 16 * kMiB);
}

TEST(ReadaheadStreamsTest, AFailedSeedIsForgotten) {
  ReadaheadStreams s(Opts());
  ASSERT_TRUE(s.Seed(4 * kMiB, 4 * kMiB));
  s.PrefetchEnded({0, 4 * kMiB}, false);  // cancelled
  // The reader comes: the stream reads ahead again from the reader's
  // position, not from where the seed would have ended.
  ReadaheadRange r = s.OnRead(0, 128 * kKiB, kBig, kNoLimit);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r.start, 128 * kKiB);
  EXPECT_EQ(s.streams(), 1u);
}

TEST(FairShareTest, EqualSharesOfTheLimitWithinWhatIsLeft) {
  const uint64_t limit = 128 * kMiB;
  EXPECT_EQ(FairShare(limit, limit, 0, 0), limit);                 // alone
  EXPECT_EQ(FairShare(limit, 100 * kMiB, 0, 0), 100 * kMiB);       // what is left
  EXPECT_EQ(FairShare(limit, 100 * kMiB, 0, 1), 64 * kMiB);        // one other file
  EXPECT_EQ(FairShare(limit, 100 * kMiB, 60 * kMiB, 1), 4 * kMiB);  // holds most of its share
  EXPECT_EQ(FairShare(limit, 100 * kMiB, 70 * kMiB, 1), 0u);       // holds more than it
  EXPECT_EQ(FairShare(limit, 10 * kMiB, 0, 3), 10 * kMiB);         // share 32, 10 left
}

}  // namespace
}  // namespace hubfs::fs
