// XetReader: reads placed from what is known locally (cached terms, learned
// chunk lengths, anchors from earlier plans) make no request; in a tensor
// file, plans cover a window shared by the reads after them. The file here is
// a safetensors file of one tensor (~3 MiB).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "common/little_endian.h"
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

constexpr size_t kTensorBytes = 3 * 1024 * 1024 + 12345;
constexpr size_t kPage = 4096;

// A safetensors file holding one tensor of `n` bytes of test content.
std::vector<uint8_t> OneTensorModel(size_t n) {
  std::string json = R"({"t":{"dtype":"U8","shape":[)" + std::to_string(n) +
                     R"(],"data_offsets":[0,)" + std::to_string(n) + "]}}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::vector<uint8_t> out;
  AppendLe64(&out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  const std::vector<uint8_t> data = TestContent(11, n);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

class XetReaderPlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = OneTensorModel(kTensorBytes);
    hash_ = fake_.AddFile(data_, 7);
    file_ = XetFileRef{hash_, data_.size(), std::nullopt, /*tensor_name=*/true};
    cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    OpenCache();
  }

  void OpenCache() {
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.max_bytes = 256ull << 20;
    o.durable = false;
    auto c = chunkstore::ChunkCache::Open(o);
    ASSERT_TRUE(c.ok()) << c.status();
    cache_ = std::move(*c);
  }

  // No read-ahead: every request counted is one a read made itself.
  static XetReaderOptions NoReadahead(uint64_t plan_window) {
    XetReaderOptions o;
    o.async_readahead = false;
    o.max_parallel_fetches = 4;
    o.plan_window_bytes = plan_window;
    return o;
  }

  std::unique_ptr<XetReader> NewReader(XetReaderOptions o) {
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }

  void ExpectRange(XetReader& r, uint64_t off, size_t len) {
    std::vector<uint8_t> out(len, 0xee);
    Result<size_t> got = r.Read(file_, off, out);
    ASSERT_TRUE(got.ok()) << got.status() << " at " << off << "+" << len;
    const size_t want = std::min<size_t>(len, data_.size() - off);
    ASSERT_EQ(*got, want) << "at " << off;
    ASSERT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(want),
                           data_.begin() + static_cast<ptrdiff_t>(off)))
        << "wrong bytes at " << off << "+" << len;
  }

  // Every page of the file, in a shuffled order.
  std::vector<uint64_t> ShuffledPages(uint64_t seed) const {
    std::vector<uint64_t> pages((data_.size() + kPage - 1) / kPage);
    std::iota(pages.begin(), pages.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(pages.begin(), pages.end(), rng);
    return pages;
  }

  void ReadPages(XetReader& r, const std::vector<uint64_t>& pages) {
    for (uint64_t p : pages) {
      ExpectRange(r, p * kPage, kPage);
      if (HasFatalFailure()) return;
    }
  }

  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  std::vector<uint8_t> data_;
  chunkstore::Hash hash_;
  XetFileRef file_;
  std::unique_ptr<HttpXetCas> cas_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

// The issue itself: a chunk inside a term was fetched by a ranged plan that
// started in it; the term's earlier chunks are unknown. Reading it again, or
// its neighbours fetched with it, needs no plan: the plan's anchor places it.
TEST_F(XetReaderPlacementTest, MidTermChunkFetchedOnceIsPlacedWithoutAPlan) {
  const testing::StoredFile& f = fake_.File(hash_);
  ASSERT_GE(f.terms.size(), 3u);
  ASSERT_EQ(f.terms[1].range.start, 0u);
  // Chunk 3 of the second xorb: [chunk_ends[9], chunk_ends[10]).
  const uint64_t a = f.chunk_ends[9], b = f.chunk_ends[10];
  ASSERT_GT(a, f.xorb_ends[0]);
  auto r = NewReader(NoReadahead(0));
  ExpectRange(*r, 0, 1);  // terms, the tensor header
  fake_.ResetCounters();
  ExpectRange(*r, a + 10, 10);
  EXPECT_EQ(fake_.recon_calls(), 1);
  fake_.ResetCounters();
  ExpectRange(*r, a, static_cast<size_t>(b - a));
  ExpectRange(*r, b - 50, 50);
  ExpectRange(*r, a + 4096, 100);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
  // The next chunk is not cached: one plan, one fetch; then both are warm.
  ExpectRange(*r, b - 5, 10);
  EXPECT_EQ(fake_.recon_calls(), 1);
  fake_.ResetCounters();
  ExpectRange(*r, a, static_cast<size_t>(f.chunk_ends[11] - a));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// A cold read next to chunks fetched before asks its plan for the chunks
// still missing only: the cached ones at either end of it are served from the
// cache, not listed and fetched again with their neighbours.
TEST_F(XetReaderPlacementTest, ColdReadFetchesOnlyTheChunksNotCachedAtItsEnds) {
  const testing::StoredFile& f = fake_.File(hash_);
  // Chunks 10 to 13 of the file lie in its second xorb, chunk 13 last.
  ASSERT_EQ(f.xorb_ends[1], f.chunk_ends[13]);
  const std::vector<uint64_t>& at = f.chunk_ends;
  auto r = NewReader(NoReadahead(0));
  ExpectRange(*r, 0, 1);  // terms, the tensor header
  ExpectRange(*r, at[9] + 10, 10);   // chunk 10
  ExpectRange(*r, at[12] + 10, 10);  // chunk 13
  fake_.ResetCounters();
  // From inside chunk 10 to inside chunk 13: only chunks 11 and 12 are
  // fetched (a record is at most its chunk and a header).
  ExpectRange(*r, at[9] + 20, static_cast<size_t>(at[12] + 20 - (at[9] + 20)));
  EXPECT_EQ(fake_.recon_calls(), 1);
  EXPECT_EQ(fake_.data_calls(), 1);
  EXPECT_LE(fake_.data_bytes(), at[12] - at[10] + 2 * chunkstore::kChunkRecordHeaderSize);
  // Chunks 10 to 13 are all placed and cached now.
  fake_.ResetCounters();
  ExpectRange(*r, at[9], static_cast<size_t>(at[13] - at[9]));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// A reader keeps the anchors its plans give in memory and puts them with the
// file's terms in batches (once the set grew by a quarter, at least
// 64 anchors): a put per plan re-encoded the whole set each time. What is
// left is put when the reader ends, so a reader after it over the same cache
// places every chunk the first one fetched without a plan.
TEST_F(XetReaderPlacementTest, AnchorsArePutInBatchesAndWhenTheReaderEnds) {
  const testing::StoredFile& f = fake_.File(hash_);
  auto cached_anchors = [&] {
    std::vector<TermAnchor> anchors;
    auto entry = cache_->GetTerms(hash_);
    if (!entry.ok() || !entry->has_value()) return size_t{0};
    if (!DecodeTerms(**entry, data_.size(), &anchors).ok()) return size_t{0};
    return anchors.size();
  };
  // A read inside each of 20 chunks that are neither the first nor the last
  // of their xorb: each plan starts and ends inside its term (two anchors),
  // and without the anchors no run of learned lengths reaches a term's end.
  auto edge = [&](uint64_t at) {
    return at == 0 || std::find(f.xorb_ends.begin(), f.xorb_ends.end(), at) != f.xorb_ends.end();
  };
  std::vector<uint64_t> pages;
  for (size_t i = 1; i < f.chunk_ends.size() && pages.size() < 20; ++i) {
    if (!edge(f.chunk_ends[i - 1]) && !edge(f.chunk_ends[i])) {
      pages.push_back(f.chunk_ends[i - 1] + 100);
    }
  }
  ASSERT_EQ(pages.size(), 20u);
  auto r = NewReader(NoReadahead(0));
  for (uint64_t p : pages) ExpectRange(*r, p, 100);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(fake_.recon_calls(), static_cast<int>(pages.size()));
  EXPECT_EQ(cached_anchors(), 0u);  // at most 40, fewer than 64: none put yet
  r.reset();
  EXPECT_GE(cached_anchors(), pages.size());
  fake_.ResetCounters();
  auto r2 = NewReader(NoReadahead(0));
  for (uint64_t p : pages) ExpectRange(*r2, p, 100);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// A random-order load of a cold file asks a bounded number of plans (per
// window, not per page); a second pass asks nothing, nor does a new reader
// over the same cache, nor one over the cache reopened, offline.
TEST_F(XetReaderPlacementTest, RandomOrderLoadSecondPassMakesNoRequest) {
  XetReaderOptions o = NoReadahead(256 * 1024);
  auto r = NewReader(o);
  const std::vector<uint64_t> pages = ShuffledPages(5);
  ReadPages(*r, pages);
  ASSERT_FALSE(HasFatalFailure());
  // At most a few plans per window (a page before the first one read in it
  // asks its own), never one per page.
  const int windows =
      static_cast<int>((data_.size() + o.plan_window_bytes - 1) / o.plan_window_bytes);
  EXPECT_LE(fake_.recon_calls(), 2 + 8 * windows)
      << "plans for " << pages.size() << " pages in " << windows << " windows";
  EXPECT_LT(fake_.recon_calls(), static_cast<int>(pages.size()) / 8);

  fake_.ResetCounters();
  ReadPages(*r, ShuffledPages(6));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);

  auto r2 = NewReader(o);
  ReadPages(*r2, ShuffledPages(7));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);

  r.reset();
  r2.reset();
  ASSERT_TRUE(cache_->Flush().ok());
  cache_.reset();
  OpenCache();
  fake_.Offline(true);
  auto r3 = NewReader(o);
  ReadPages(*r3, ShuffledPages(8));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// Without plan windows (each plan covers one page) the second pass still
// makes no request: every fetched chunk is placed by some plan's anchor.
TEST_F(XetReaderPlacementTest, PagePlansAlsoLeaveEveryChunkPlaced) {
  auto r = NewReader(NoReadahead(0));
  ReadPages(*r, ShuffledPages(9));
  ASSERT_FALSE(HasFatalFailure());
  fake_.ResetCounters();
  auto r2 = NewReader(NoReadahead(0));
  ReadPages(*r2, ShuffledPages(10));
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// Read-ahead over bytes already cached and placed asks no plan either: a
// sequential reader (read-ahead on) of a file read before in random order.
TEST_F(XetReaderPlacementTest, ReadaheadOfCachedBytesAsksNothing) {
  {
    auto r = NewReader(NoReadahead(256 * 1024));
    ReadPages(*r, ShuffledPages(3));
    ASSERT_FALSE(HasFatalFailure());
  }
  XetReaderOptions o = NoReadahead(256 * 1024);
  o.async_readahead = true;
  o.readahead_initial_bytes = 256 * 1024;
  o.readahead_bytes = 1024 * 1024;
  o.segment_bytes = 256 * 1024;
  fake_.ResetCounters();
  auto r = NewReader(o);
  for (uint64_t off = 0; off < data_.size(); off += 32 * 1024) ExpectRange(*r, off, 32 * 1024);
  r.reset();  // waits for the read-ahead threads
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

// A small cold read fetches from it to the end of its window; the pages
// after it in the window need nothing more; a non-tensor file's does not.
TEST_F(XetReaderPlacementTest, SmallColdReadFetchesItsPlanWindow) {
  auto r = NewReader(NoReadahead(256 * 1024));
  ExpectRange(*r, 0, 1);  // terms, the tensor header
  fake_.ResetCounters();
  const uint64_t off = 1'500'000, window_end = 1'572'864;  // 6 x 256 KiB
  ExpectRange(*r, off, kPage);
  EXPECT_EQ(fake_.recon_calls(), 1);
  // The window plus the chunks holding its ends (≤ 2 × 128 KiB records).
  EXPECT_LE(fake_.data_bytes(), (window_end - off) + 2u * 131080);
  fake_.ResetCounters();
  for (uint64_t p = off + kPage; p + kPage <= window_end; p += kPage) ExpectRange(*r, p, kPage);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);

  // The same file not named as a tensor file: only the read's chunks.
  XetFileRef plain = file_;
  plain.tensor_name = false;
  auto r2 = NewReader(NoReadahead(256 * 1024));
  fake_.ResetCounters();
  std::vector<uint8_t> out(kPage);
  ASSERT_TRUE(r2->Read(plain, 2'500'000, out).ok());
  EXPECT_LE(fake_.data_bytes(), 2u * 131080);
}

TEST_F(XetReaderPlacementTest, ConcurrentReadersOfOneWindowShareOnePlan) {
  constexpr int kThreads = 6;
  auto r = NewReader(NoReadahead(512 * 1024));
  ExpectRange(*r, 0, 1);  // terms, the tensor header
  fake_.ResetCounters();
  fake_.set_data_delay(std::chrono::milliseconds(300));
  const uint64_t off = 1'600'000;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<uint8_t> out(kPage);
      Result<size_t> got = r->Read(file_, off, out);
      if (!got.ok() || *got != out.size() ||
          !std::equal(out.begin(), out.end(), data_.begin() + static_cast<ptrdiff_t>(off))) {
        ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(fake_.recon_calls(), 1);
  EXPECT_EQ(r->Stats().shared_plans, static_cast<uint64_t>(kThreads - 1));
}

// A cached anchor that disagrees with the chunk lengths is never used to
// place bytes: the read asks for a plan, serves the right bytes, and the
// bad anchor is dropped.
TEST_F(XetReaderPlacementTest, DisagreeingCachedAnchorIsNotTrusted) {
  const testing::StoredFile& f = fake_.File(hash_);
  {
    auto r = NewReader(NoReadahead(0));
    ExpectRange(*r, 0, data_.size());
  }
  // Chunk 3 of xorb 1 claimed 1000 bytes later than it is (a valid entry).
  std::vector<chunkstore::ReconTerm> terms;
  for (const chunkstore::FileTerm& t : f.terms) terms.push_back({t.xorb, t.range, 0});
  uint64_t prev = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    terms[i].unpacked_length = f.xorb_ends[i] - prev;
    prev = f.xorb_ends[i];
  }
  const std::vector<TermAnchor> bad = {{1, 3, f.chunk_ends[9] + 1000}};
  cache_->PutTerms(hash_, EncodeTerms(terms, data_.size(), bad));
  ASSERT_TRUE(cache_->Flush().ok());
  fake_.ResetCounters();
  auto r = NewReader(NoReadahead(0));
  ExpectRange(*r, f.chunk_ends[9] + 10, 3000);
  EXPECT_EQ(fake_.recon_calls(), 1);  // the plan; the terms came from the cache
  fake_.ResetCounters();
  ExpectRange(*r, f.chunk_ends[9] + 10, 3000);
  ExpectRange(*r, 0, data_.size());
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
  // Dropped from the cached terms too.
  r.reset();
  ASSERT_TRUE(cache_->Flush().ok());
  auto r2 = NewReader(NoReadahead(0));
  ExpectRange(*r2, f.chunk_ends[9] + 10, 3000);
  EXPECT_EQ(fake_.recon_calls(), 0);
}

}  // namespace
}  // namespace hubfs::fs
