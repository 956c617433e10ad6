// XetReader read-ahead over the in-memory CAS: several streams per file,
// growing windows, seeks, random reads, the memory budget, failures.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "fs/content/xet_cas.h"
#include "fs/content/xet_reader.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/fs/content/fake_cas.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;
using testing::FakeCas;
using testing::FakeTokens;
using testing::TestContent;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr size_t kFileSize = 16 * kMiB + 4321;

// Fails data fetches of chosen xorbs: with kUnavailable, or by cutting the
// body short (which the reader detects as kCorrupt). Plans can be made to
// take a while (a distant CAS); the most asked at once is counted.
class FailingCas final : public XetCas {
 public:
  explicit FailingCas(XetCas* inner) : inner_(inner) {}
  Result<chunkstore::Reconstruction> GetReconstruction(
      const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_plans_ = std::max(max_plans_, ++plans_);
    }
    std::this_thread::sleep_for(plan_delay_.load());
    Result<chunkstore::Reconstruction> plan = inner_->GetReconstruction(file_hash, range);
    std::lock_guard<std::mutex> lock(mu_);
    --plans_;
    return plan;
  }
  void set_plan_delay(std::chrono::milliseconds d) { plan_delay_ = d; }
  int max_plans() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_plans_;
  }
  Result<std::vector<uint8_t>> FetchData(const std::string& url,
                                         const chunkstore::ByteRangeInclusive& range) override {
    bool bad = false;
    bool reset = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::string& h : bad_) bad = bad || url.find(h) != std::string::npos;
      if (bad) reset = (++failed_ % 2) == 0;
    }
    if (reset) return UnavailableError("injected: connection reset");
    Result<std::vector<uint8_t>> body = inner_->FetchData(url, range);
    if (bad && body.ok()) body->resize(body->size() / 2);
    return body;
  }
  void Fail(std::set<std::string> xorbs) {
    std::lock_guard<std::mutex> lock(mu_);
    bad_ = std::move(xorbs);
  }
  int failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

 private:
  XetCas* const inner_;
  std::atomic<std::chrono::milliseconds> plan_delay_{std::chrono::milliseconds(0)};
  std::mutex mu_;
  std::set<std::string> bad_;
  int failed_ = 0;
  int plans_ = 0;
  int max_plans_ = 0;
};

class XetReaderReadaheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = TestContent(7, kFileSize);
    hash_ = fake_.AddFile(data_, 16);
    file_ = XetFileRef{hash_, data_.size(), std::nullopt};
    http_cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    cas_ = std::make_unique<FailingCas>(http_cas_.get());
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.max_bytes = 256ull << 20;
    o.durable = false;
    auto c = chunkstore::ChunkCache::Open(o);
    ASSERT_TRUE(c.ok()) << c.status();
    cache_ = std::move(*c);
  }

  static XetReaderOptions Options() {
    XetReaderOptions o;
    o.readahead_initial_bytes = 256 * kKiB;
    o.readahead_bytes = 1 * kMiB;
    o.max_parallel_fetches = 4;
    o.segment_bytes = 512 * kKiB;
    o.readahead_queue = 64;
    return o;
  }

  std::unique_ptr<XetReader> NewReader(XetReaderOptions o = Options()) {
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }

  // Reads [off, off + len) and checks the bytes; returns whether the read
  // needed no request of its own (stats of a reader used by one thread).
  bool ReadChecked(XetReader& r, uint64_t off, size_t len) {
    const uint64_t warm_before = r.Stats().warm_reads;
    std::vector<uint8_t> out(len);
    Result<size_t> got = r.Read(file_, off, out);
    EXPECT_TRUE(got.ok()) << got.status() << " at " << off;
    if (!got.ok()) return false;
    const size_t want = std::min<size_t>(len, data_.size() - off);
    EXPECT_EQ(*got, want);
    EXPECT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(want),
                           data_.begin() + static_cast<ptrdiff_t>(off)))
        << "wrong bytes at " << off;
    return r.Stats().warm_reads > warm_before;
  }

  // Reads the file on from byte 1 (its terms loaded already) in 64 KiB
  // reads and checks what plans asked ahead did: at least 8 used, none left
  // held, every plan one request counted once, nothing fetched twice beyond
  // segment edges, and the whole file cached after.
  XetReaderStats ReadOnCheckingPlansAhead(XetReader& r) {
    fake_.ResetCounters();
    const XetReaderStats before = r.Stats();
    for (uint64_t off = 1; off < kFileSize; off += 64 * kKiB) ReadChecked(r, off, 64 * kKiB);
    WaitIdle(r);
    const XetReaderStats s = r.Stats();
    EXPECT_GE(s.plans_ahead_used, 8u);
    EXPECT_LE(s.plans_ahead_used, s.plans_ahead);
    EXPECT_EQ(s.plans_ahead_held, 0u);  // none left behind by its segment
    // Every plan asked (ahead or not) is one request, counted once (one
    // asked ahead that its task did not wait for is not asked at all).
    EXPECT_EQ(static_cast<uint64_t>(fake_.recon_calls()),
              s.reconstructions - before.reconstructions);
    // A segment that used a plan asked ahead fetched only what was missing:
    // nothing twice beyond the chunks at segment edges.
    EXPECT_LE(fake_.data_bytes(), kFileSize * 11 / 10);
    // The whole file was read once: a fresh read of it is warm.
    EXPECT_TRUE(ReadChecked(r, 0, kFileSize));
    return s;
  }

  // Waits until no read-ahead is queued or running.
  static void WaitIdle(XetReader& r) {
    for (int i = 0; i < 5000 && r.Stats().readahead_in_flight != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(r.Stats().readahead_in_flight, 0u);
  }

  // Bytes of the records of the chunks holding [off, off + len): what a read
  // with chunk rounding and no read-ahead may fetch (a record is the chunk,
  // at most, plus its 8-byte header).
  uint64_t ChunkBytes(uint64_t off, uint64_t len) {
    const testing::StoredFile& f = fake_.File(hash_);
    uint64_t total = 0, start = 0;
    for (uint64_t end : f.chunk_ends) {
      if (end > off && start < off + len) total += end - start + 8;
      start = end;
    }
    return total;
  }

  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  std::vector<uint8_t> data_;
  chunkstore::Hash hash_;
  XetFileRef file_;
  std::unique_ptr<HttpXetCas> http_cas_;
  std::unique_ptr<FailingCas> cas_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

TEST_F(XetReaderReadaheadTest, TwoInterleavedSequentialStreamsBothReadAhead) {
  auto r = NewReader();
  ReadChecked(*r, 0, 1);  // terms loaded
  fake_.ResetCounters();
  const uint64_t a0 = 64 * kKiB, b0 = 8 * kMiB;
  const uint64_t step = 64 * kKiB, n = 96;  // 6 MiB per stream
  int a_warm = 0, b_warm = 0;
  for (uint64_t i = 0; i < n; ++i) {
    a_warm += ReadChecked(*r, a0 + i * step, step);
    b_warm += ReadChecked(*r, b0 + i * step, step);
  }
  const XetReaderStats s = r->Stats();
  // Each stream's reads after its second find their bytes fetched ahead
  // (one stream per file would restart at every switch and never read ahead).
  EXPECT_GE(a_warm, static_cast<int>(n) - 4);
  EXPECT_GE(b_warm, static_cast<int>(n) - 4);
  EXPECT_GE(s.readahead_windows, 8u);
  // Windows grew: far fewer windows than reads.
  EXPECT_LE(s.readahead_windows, 2 * n / 3);
  // Nothing fetched twice beyond boundary chunks, and little beyond what was
  // read (each stream's last window).
  EXPECT_LE(fake_.data_bytes(), 2 * (n * step + 1 * kMiB) * 11 / 10);
}

TEST_F(XetReaderReadaheadTest, SixteenThreadsEachReadingTheirOwnRegion) {
  auto r = NewReader();
  constexpr int kThreads = 16;
  const uint64_t region = kFileSize / kThreads;
  std::atomic<int> bad{0};
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> out(32 * kKiB);
      ++started;  // all start together, each at the start of its region
      while (started.load() < kThreads) std::this_thread::yield();
      for (uint64_t off = t * region; off < (t + 1) * region; off += out.size()) {
        Result<size_t> got = r->Read(file_, off, out);
        if (!got.ok() || !std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(*got),
                                     data_.begin() + static_cast<ptrdiff_t>(off))) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  const XetReaderStats s = r->Stats();
  EXPECT_GE(s.readahead_windows, static_cast<uint64_t>(kThreads));
  EXPECT_GT(s.warm_reads, s.reads / 2) << "streams must not thrash one another";
  // No thrashing: about the file once (boundary chunks of windows and
  // regions twice at most).
  EXPECT_LE(fake_.data_bytes(), kFileSize * 3 / 2);
}

TEST_F(XetReaderReadaheadTest, ASeekStartsOverWithoutReadahead) {
  auto r = NewReader();
  for (uint64_t off = 0; off < 4 * kMiB; off += 64 * kKiB) ReadChecked(*r, off, 64 * kKiB);
  const uint64_t windows = r->Stats().readahead_windows;
  EXPECT_GE(windows, 3u);
  // Let running read-ahead finish, then seek: that read fetches only its
  // own chunks and starts no window.
  WaitIdle(*r);
  fake_.ResetCounters();
  const uint64_t far = 12 * kMiB + 5000;
  ReadChecked(*r, far, 4096);
  EXPECT_EQ(r->Stats().readahead_windows, windows);
  EXPECT_LE(fake_.data_bytes(), ChunkBytes(far, 4096));
  // The next sequential read starts with the small window again.
  fake_.ResetCounters();
  ReadChecked(*r, far + 4096, 4096);
  EXPECT_EQ(r->Stats().readahead_windows, windows + 1);
  ReadChecked(*r, far + 8192, 4096);
  EXPECT_LE(fake_.data_bytes(), ChunkBytes(far + 4096, 8192 + 256 * kKiB));
}

TEST_F(XetReaderReadaheadTest, RandomSmallReadsFetchOnlyTheirChunks) {
  auto r = NewReader();
  ReadChecked(*r, kFileSize - 1, 1);  // terms loaded
  // Offsets more than the stream slack (512 KiB) apart, scattered.
  for (uint64_t k : {9, 2, 13, 5, 0, 11, 7, 12, 3}) {
    const uint64_t off = k * (kMiB + kMiB / 7) + 3 * kKiB;
    fake_.ResetCounters();
    ReadChecked(*r, off, 4096);
    EXPECT_LE(fake_.data_bytes(), ChunkBytes(off, 4096)) << "read at " << off;
  }
  EXPECT_EQ(r->Stats().readahead_windows, 0u);
}

TEST_F(XetReaderReadaheadTest, MemoryBudgetIsNeverExceeded) {
  XetReaderOptions o = Options();
  o.memory_limit = 700 * kKiB;
  auto r = NewReader(o);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> seen_max{0};
  std::thread sampler([&] {
    while (!stop) {
      const XetReaderStats s = r->Stats();
      uint64_t m = seen_max.load();
      while (s.readahead_in_flight > m &&
             !seen_max.compare_exchange_weak(m, s.readahead_in_flight)) {
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::vector<uint8_t> out(64 * kKiB);
      for (uint64_t off = t * 4 * kMiB; off < (t + 1) * 4 * kMiB; off += out.size()) {
        Result<size_t> got = r->Read(file_, off, out);
        if (!got.ok() ||
            !std::equal(out.begin(), out.end(), data_.begin() + static_cast<ptrdiff_t>(off))) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  stop = true;
  sampler.join();
  EXPECT_EQ(bad.load(), 0);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.memory_limit, 700 * kKiB);
  EXPECT_GT(s.readahead_windows, 0u);
  EXPECT_GT(s.readahead_peak, 0u);
  EXPECT_LE(s.readahead_peak, 700 * kKiB);
  EXPECT_LE(seen_max.load(), 700 * kKiB);
}

TEST_F(XetReaderReadaheadTest, TheNextSegmentsPlanIsAskedAheadAndUsed) {
  // One read-ahead thread: each task it takes also asks the plan of the next
  // queued one, which that task then uses instead of asking for its own.
  XetReaderOptions o = Options();
  o.readahead_threads = 1;
  o.readahead_bytes = 4 * kMiB;  // windows of up to 8 segments
  auto r = NewReader(o);
  ReadChecked(*r, 0, 1);  // terms loaded
  ReadOnCheckingPlansAhead(*r);
}

TEST_F(XetReaderReadaheadTest, PlansOfSeveralQueuedSegmentsAreAskedAtOnce) {
  // A distant CAS (every plan takes 30 ms) and one read-ahead thread: a
  // window queues 8 segments at once, and the task the thread takes first
  // asks the plans of the next plans_ahead (3) together, so that they wait
  // their round trips side by side rather than one after another.
  XetReaderOptions o = Options();
  o.readahead_threads = 1;
  o.readahead_bytes = 4 * kMiB;
  o.plans_ahead = 3;
  o.far_round_trip = std::chrono::milliseconds(0);  // one thread throughout
  auto r = NewReader(o);
  ReadChecked(*r, 0, 1);  // terms loaded
  cas_->set_plan_delay(std::chrono::milliseconds(30));
  ReadOnCheckingPlansAhead(*r);
  // The thread's own task and three plans ahead (one at a time before).
  EXPECT_GE(cas_->max_plans(), 3);
}

TEST_F(XetReaderReadaheadTest, ADistantOriginGetsTwiceTheReadaheadInFlight) {
  XetReaderOptions o = Options();
  o.readahead_threads = 2;
  o.speculative_threads = 1;
  o.far_round_trip = std::chrono::milliseconds(10);
  auto r = NewReader(o);
  // Near (plans answer at once): as configured.
  for (uint64_t off = 0; off < 4 * kMiB; off += 64 * kKiB) ReadChecked(*r, off, 64 * kKiB);
  WaitIdle(*r);
  XetReaderStats s = r->Stats();
  EXPECT_FALSE(s.far_origin);
  EXPECT_EQ(s.readahead_threads, 2u);
  EXPECT_EQ(s.fetch_slots, 4u);
  EXPECT_LT(s.round_trip_us, 10000u);
  // Every plan takes 25 ms from now on: a distant origin.
  cas_->set_plan_delay(std::chrono::milliseconds(25));
  for (uint64_t off = 4 * kMiB; off < kFileSize; off += 64 * kKiB) ReadChecked(*r, off, 64 * kKiB);
  WaitIdle(*r);
  s = r->Stats();
  EXPECT_TRUE(s.far_origin);
  EXPECT_EQ(s.readahead_threads, 4u);
  EXPECT_EQ(s.fetch_slots, 8u);
  EXPECT_GE(s.round_trip_us, 25000u);
  // Near again once the last 16 plans answered at once: another file.
  cas_->set_plan_delay(std::chrono::milliseconds(0));
  const std::vector<uint8_t> other = TestContent(8, 12 * kMiB + 77);
  const XetFileRef other_ref{fake_.AddFile(other, 16), other.size(), std::nullopt};
  for (uint64_t off = 0; off < other.size(); off += 64 * kKiB) {
    std::vector<uint8_t> out(64 * kKiB);
    Result<size_t> got = r->Read(other_ref, off, out);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(*got),
                           other.begin() + static_cast<ptrdiff_t>(off)));
  }
  WaitIdle(*r);
  s = r->Stats();
  EXPECT_FALSE(s.far_origin);
  EXPECT_EQ(s.readahead_threads, 2u);
  EXPECT_EQ(s.fetch_slots, 4u);
}

TEST_F(XetReaderReadaheadTest, ReadaheadErrorsNeverFailOrCorruptDemandReads) {
  const testing::StoredFile& f = fake_.File(hash_);
  ASSERT_GE(f.terms.size(), 6u);
  // Every xorb after the third fails (half the fetches reset, half cut short).
  std::set<std::string> bad;
  for (size_t i = 3; i < f.terms.size(); ++i) bad.insert(f.terms[i].xorb.ToString());
  cas_->Fail(bad);
  const uint64_t good_end = f.xorb_ends[2];
  auto r = NewReader();
  // Sequential reads of the good part only; read-ahead runs into the bad xorbs.
  for (uint64_t off = 0; off < good_end; off += 32 * kKiB) {
    ReadChecked(*r, off, std::min<uint64_t>(32 * kKiB, good_end - off));
  }
  WaitIdle(*r);
  EXPECT_GT(cas_->failed(), 0);
  EXPECT_GT(r->Stats().readahead_failed, 0u);
  // Healed: the rest reads right; nothing bad was kept.
  cas_->Fail({});
  for (uint64_t off = good_end; off < kFileSize; off += 256 * kKiB) {
    ReadChecked(*r, off, 256 * kKiB);
  }
  auto fresh = NewReader();
  ReadChecked(*fresh, 0, kFileSize);
}

}  // namespace
}  // namespace hubfs::fs
