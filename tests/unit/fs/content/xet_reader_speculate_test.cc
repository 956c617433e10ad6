// XetReader::Speculate (folder read-ahead) over the in-memory CAS: a file
// read ahead for a reader that comes is then read without requests, the
// speculative work stays within its share of the fetch slots and of the
// memory budget, cancelled work is never fetched, and a demand read of
// another file is served while speculation runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
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

// Data fetches take `delay` each (while `slow`); counts the most running at
// once and the bytes fetched of each xorb URL.
class SlowCas final : public XetCas {
 public:
  explicit SlowCas(XetCas* inner) : inner_(inner) {}
  Result<chunkstore::Reconstruction> GetReconstruction(
      const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) override {
    return inner_->GetReconstruction(file_hash, range);
  }
  Result<std::vector<uint8_t>> FetchData(const std::string& url,
                                         const chunkstore::ByteRangeInclusive& range) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_running_ = std::max(max_running_, ++running_);
    }
    if (slow_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Result<std::vector<uint8_t>> body = inner_->FetchData(url, range);
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    if (body.ok()) bytes_ += body->size();
    return body;
  }
  void set_slow(bool s) { slow_ = s; }
  int max_running() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_running_;
  }
  uint64_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

 private:
  XetCas* const inner_;
  std::atomic<bool> slow_{false};
  std::mutex mu_;
  int running_ = 0;
  int max_running_ = 0;
  uint64_t bytes_ = 0;
};

class XetReaderSpeculateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_data_ = TestContent(21, 6 * kMiB + 999);
    b_data_ = TestContent(22, 6 * kMiB + 1234);
    a_ = XetFileRef{fake_.AddFile(a_data_, 16), a_data_.size(), std::nullopt};
    b_ = XetFileRef{fake_.AddFile(b_data_, 16), b_data_.size(), std::nullopt};
    http_cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    cas_ = std::make_unique<SlowCas>(http_cas_.get());
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
    o.memory_limit = 16 * kMiB;
    // The fetch slots stay as set (a slow machine's plans are no distant origin).
    o.far_round_trip = std::chrono::milliseconds(0);
    return o;
  }
  std::unique_ptr<XetReader> NewReader(XetReaderOptions o = Options()) {
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }
  static void WaitIdle(XetReader& r) {
    for (int i = 0; i < 10000 && r.Stats().readahead_in_flight != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(r.Stats().readahead_in_flight, 0u);
  }
  // Reads the whole file in 128 KiB reads, checking the bytes; returns how
  // many reads needed a request of their own.
  int ReadAll(XetReader& r, const XetFileRef& f, const std::vector<uint8_t>& data) {
    int cold = 0;
    std::vector<uint8_t> out(128 * kKiB);
    for (uint64_t off = 0; off < f.size; off += out.size()) {
      const uint64_t warm = r.Stats().warm_reads;
      Result<size_t> n = r.Read(f, off, out);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok()) return -1;
      EXPECT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(*n),
                             data.begin() + static_cast<ptrdiff_t>(off)))
          << "wrong bytes at " << off;
      if (r.Stats().warm_reads == warm) ++cold;
    }
    return cold;
  }

  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  std::vector<uint8_t> a_data_, b_data_;
  XetFileRef a_, b_;
  std::unique_ptr<HttpXetCas> http_cas_;
  std::unique_ptr<SlowCas> cas_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

TEST_F(XetReaderSpeculateTest, AFileReadAheadIsThenReadWithoutRequests) {
  auto r = NewReader();
  r->Speculate(b_, 4 * kMiB, 1);
  WaitIdle(*r);
  // The request waits for a read-ahead thread to load the file first.
  for (int i = 0; i < 5000 && r->Stats().speculative_files == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  WaitIdle(*r);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.speculative_files, 1u);
  EXPECT_EQ(s.speculative_bytes, 4 * kMiB);
  EXPECT_GT(cas_->bytes(), 0u);
  // The reader comes: its first 4 MiB need no request of its own...
  std::vector<uint8_t> out(128 * kKiB);
  for (uint64_t off = 0; off < 4 * kMiB; off += out.size()) {
    const uint64_t warm = r->Stats().warm_reads;
    ASSERT_TRUE(r->Read(b_, off, out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), b_data_.begin() + static_cast<ptrdiff_t>(off)));
    EXPECT_EQ(r->Stats().warm_reads, warm + 1) << "a request for the read at " << off;
  }
  // ...and its stream read on from there.
  WaitIdle(*r);
  EXPECT_GT(r->Stats().readahead_windows, 0u);
  EXPECT_GE(ReadAll(*r, b_, b_data_), 0);
}

TEST_F(XetReaderSpeculateTest, SpeculationUsesAtMostHalfTheFetchSlots) {
  auto r = NewReader();
  cas_->set_slow(true);
  r->Speculate(a_, a_.size, 1);
  r->Speculate(b_, b_.size, 2);
  for (int i = 0; i < 10000 && r->Stats().speculative_files < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().speculative_files, 2u);
  EXPECT_LE(cas_->max_running(), 2);  // half of max_parallel_fetches (4)
}

TEST_F(XetReaderSpeculateTest, SpeculationHoldsAtMostItsShareOfTheBudget) {
  XetReaderOptions o = Options();
  o.memory_limit = 4 * kMiB;
  o.speculative_percent = 50;
  auto r = NewReader(o);
  r->Speculate(a_, a_.size, 1);  // 6 MiB asked: 2 MiB (whole segments) taken
  for (int i = 0; i < 5000 && r->Stats().speculative_files == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().speculative_bytes, 2 * kMiB);
  EXPECT_LE(r->Stats().readahead_peak, 2 * kMiB);
}

TEST_F(XetReaderSpeculateTest, CancelledWorkIsNeverFetched) {
  XetReaderOptions o = Options();
  o.speculative_threads = 1;
  o.readahead_threads = 1;
  auto r = NewReader(o);
  cas_->set_slow(true);
  r->Speculate(a_, a_.size, 7);
  for (int i = 0; i < 5000 && r->Stats().speculative_files == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r->Speculate(b_, b_.size, 7);  // still waiting for the thread
  r->CancelSpeculation(7);
  WaitIdle(*r);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.speculative_files, 1u);  // b's request was dropped before it started
  EXPECT_GE(s.speculative_cancelled, 2u);  // b's request and a's queued segments
  // At most the segment that was running when it was cancelled (and its
  // edge chunks): not a's 6 MiB, nothing of b.
  EXPECT_LT(cas_->bytes(), 1 * kMiB + 512 * kKiB);
  // What was cancelled is read normally afterwards.
  cas_->set_slow(false);
  EXPECT_GE(ReadAll(*r, a_, a_data_), 0);
  EXPECT_GE(ReadAll(*r, b_, b_data_), 0);
}

TEST_F(XetReaderSpeculateTest, ADemandReadIsServedWhileSpeculationRuns) {
  auto r = NewReader();
  cas_->set_slow(true);
  r->Speculate(b_, b_.size, 1);
  for (int i = 0; i < 5000 && r->Stats().speculative_files == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // A random read of the other file: served (exact) while b is read ahead.
  std::vector<uint8_t> out(64 * kKiB);
  const auto t0 = std::chrono::steady_clock::now();
  Result<size_t> n = r->Read(a_, 3 * kMiB, out);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(std::equal(out.begin(), out.end(), a_data_.begin() + 3 * kMiB));
  // One plan and one or two fetches of 20 ms, not a wait behind b's 12
  // segments of 20 ms each.
  EXPECT_LT(took, std::chrono::milliseconds(200));
  WaitIdle(*r);
}

TEST_F(XetReaderSpeculateTest, NothingForAFileThatAlreadyHasAReader) {
  auto r = NewReader();
  std::vector<uint8_t> out(128 * kKiB);
  ASSERT_TRUE(r->Read(b_, 0, out).ok());
  r->Speculate(b_, b_.size, 1);
  for (int i = 0; i < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().speculative_files, 0u);
}

}  // namespace
}  // namespace hubfs::fs
