#include "fs/content/xet_reader.h"
#include "fs/content/repo_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "fs/content/xet_cas.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/fs/content/fake_cas.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;
using testing::FakeCas;
using testing::FakeTokens;
using testing::TestContent;

constexpr size_t kFileSize = 3 * 1024 * 1024 + 12345;

class XetReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = TestContent(42, kFileSize);
    hash_ = fake_.AddFile(data_, 7);
    file_ = XetFileRef{hash_, data_.size(), chunkstore::Sha256Digest(data_)};
    cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    OpenCache();
  }

  void OpenCache(uint64_t recent_max_bytes = 0, size_t queue_max_entries = 1024,
                 bool durable = false) {
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.max_bytes = 256ull << 20;
    o.durable = durable;
    o.recent_max_bytes = recent_max_bytes;
    o.queue_max_entries = queue_max_entries;
    auto c = chunkstore::ChunkCache::Open(o);
    ASSERT_TRUE(c.ok()) << c.status();
    cache_ = std::move(*c);
  }

  std::unique_ptr<XetReader> NewReader(XetReaderOptions o = SmallWindows()) {
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }

  static XetReaderOptions SmallWindows() {
    XetReaderOptions o;
    o.max_window_bytes = 512 * 1024;
    o.readahead_bytes = 256 * 1024;
    o.max_parallel_fetches = 4;
    o.segment_bytes = 200 * 1024;
    return o;
  }

  // Reads [off, off + len) and expects exactly the source bytes.
  void ExpectRange(XetReader& r, uint64_t off, size_t len) {
    std::vector<uint8_t> out(len, 0xee);
    Result<size_t> got = r.Read(file_, off, out);
    ASSERT_TRUE(got.ok()) << got.status() << " at " << off << "+" << len;
    const size_t want = off >= data_.size() ? 0 : std::min<size_t>(len, data_.size() - off);
    ASSERT_EQ(*got, want) << "at " << off;
    ASSERT_TRUE(std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(want),
                           data_.begin() + static_cast<ptrdiff_t>(off)))
        << "wrong bytes at " << off << "+" << len;
  }

  // ReadAllVerified of `ref` in 1 MiB blocks, the bytes appended to `sunk`
  // (or dropped).
  static Status ReadAll(XetReader& r, const XetFileRef& ref, std::vector<uint8_t>* sunk = nullptr) {
    return r.ReadAllVerified(ref, 1 << 20, [sunk](std::span<const uint8_t> d) {
      if (sunk != nullptr) sunk->insert(sunk->end(), d.begin(), d.end());
      return Status::Ok();
    });
  }

  // A read of [off, off + len) must fail as corrupt.
  void ExpectCorrupt(XetReader& r, uint64_t off, size_t len) {
    std::vector<uint8_t> out(len);
    Result<size_t> got = r.Read(file_, off, out);
    ASSERT_FALSE(got.ok()) << "at " << off << "+" << len;
    EXPECT_EQ(got.status().code(), ErrorCode::kCorrupt) << got.status();
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

TEST_F(XetReaderTest, FakeHasSeveralXorbsAndCompressedRecords) {
  const testing::StoredFile& f = fake_.File(hash_);
  EXPECT_GE(f.terms.size(), 4u);
  EXPECT_GE(f.chunk_ends.size(), 30u);
}

TEST_F(XetReaderTest, ColdWholeFileThenWarmReadNeedsNoRequest) {
  auto r = NewReader();
  ExpectRange(*r, 0, data_.size());
  EXPECT_GT(fake_.data_calls(), 0);
  // Each chunk range is fetched once: bytes fetched are the xorb bodies.
  const auto ranges = fake_.data_ranges();
  EXPECT_EQ(std::set<std::string>(ranges.begin(), ranges.end()).size(), ranges.size());

  fake_.ResetCounters();
  ExpectRange(*r, 0, data_.size());
  ExpectRange(*r, 1000, 70000);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);

  // A new reader over the same cache (terms and layouts from the cache).
  auto r2 = NewReader();
  ExpectRange(*r2, 123457, 300000);
  ExpectRange(*r2, data_.size() - 1, 1);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
  EXPECT_GT(r2->Stats().warm_reads, 0u);
}

TEST_F(XetReaderTest, ReadHeldAnswersFromChunksInMemoryWithoutACopy) {
  // Incompressible: every record is stored as is.
  const std::vector<uint8_t> data = chunkstore::cache_testing::Bytes(77, 900000);
  const XetFileRef file{fake_.AddFile(data, 5), data.size(), std::nullopt};
  auto joined = [](const HeldBytes& h) {
    std::vector<uint8_t> out;
    for (std::span<const uint8_t> p : h.pieces()) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto expect = [&](const HeldBytes& h, uint64_t off, size_t len) {
    const std::vector<uint8_t> got = joined(h);
    ASSERT_EQ(got.size(), len);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<ptrdiff_t>(off)));
  };
  XetReaderOptions o = SmallWindows();
  o.async_readahead = false;  // only what the reads ask for is fetched
  // Written chunks stay in memory for a while (as in a mount).
  cache_.reset();
  OpenCache(8 << 20);
  {
    auto r = NewReader(o);
    HeldBytes held;
    // Cold: fetched, answered from a buffer of its own.
    Result<size_t> n = r->ReadHeld(file, 1000, 400000, &held);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, 400000u);
    expect(held, 1000, 400000);
    // Warm, its chunks still in the cache's memory: held, one piece per
    // chunk (the first and last cut), no request.
    fake_.ResetCounters();
    n = r->ReadHeld(file, 1000, 400000, &held);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_EQ(*n, 400000u);
    EXPECT_GT(held.pieces().size(), 1u);
    expect(held, 1000, 400000);
    EXPECT_EQ(fake_.data_calls(), 0);
    // Past the end: short.
    n = r->ReadHeld(file, data.size() - 10, 100, &held);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 10u);
    expect(held, data.size() - 10, 10);
    ASSERT_TRUE(cache_->Flush().ok());
  }
  // Reopened: the chunks are on disk only, read and checked into a buffer.
  cache_.reset();
  OpenCache();
  fake_.ResetCounters();
  auto r = NewReader(o);
  HeldBytes held;
  Result<size_t> n = r->ReadHeld(file, 1000, 400000, &held);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(held.pieces().size(), 1u);
  expect(held, 1000, 400000);
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTest, WarmAfterReopeningTheCache) {
  {
    auto r = NewReader();
    ExpectRange(*r, 0, data_.size());
    ASSERT_TRUE(cache_->Flush().ok());
  }
  cache_.reset();
  OpenCache();
  fake_.ResetCounters();
  fake_.Offline(true);
  auto r = NewReader();
  ExpectRange(*r, 77777, 1 << 20);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTest, RandomRangesAreByteExact) {
  const testing::StoredFile& f = fake_.File(hash_);
  std::vector<std::pair<uint64_t, size_t>> cases = {
      {0, 1}, {data_.size() - 1, 1}, {0, data_.size()}, {data_.size() - 5000, 5000}};
  for (uint64_t b : f.chunk_ends) {
    if (b >= 2 && b + 2 < data_.size()) cases.push_back({b - 2, 4});
  }
  for (uint64_t b : f.xorb_ends) {
    if (b >= 100 && b + 100 < data_.size()) cases.push_back({b - 100, 200});
    if (b < data_.size()) cases.push_back({b, 1});
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 60; ++i) {
    const uint64_t off = rng() % data_.size();
    const size_t len = 1 + rng() % (rng() % 2 ? 4096 : 400000);
    cases.push_back({off, len});
  }
  // Cold reader each time for a third, shared cache otherwise.
  auto r = NewReader();
  for (size_t i = 0; i < cases.size(); ++i) {
    if (i % 3 == 0) {
      r.reset();  // its read-ahead uses the cache
      cache_.reset();
      std::filesystem::remove_all(dir_.Sub("cache"));
      OpenCache();
      r = NewReader();
    }
    ExpectRange(*r, cases[i].first, cases[i].second);
  }
}

TEST_F(XetReaderTest, SequentialReadsPrefetchInTheBackground) {
  XetReaderOptions o = SmallWindows();
  o.readahead_bytes = 600 * 1024;
  auto r = NewReader(o);
  for (uint64_t off = 0; off < data_.size(); off += 128 * 1024) ExpectRange(*r, off, 128 * 1024);
  const XetReaderStats s = r->Stats();
  EXPECT_GT(s.warm_reads, s.reads / 2) << "most sequential reads should find their bytes fetched";
  // Prefetched and foreground windows may share a boundary chunk, no more.
  EXPECT_LE(fake_.data_bytes(), data_.size() * 13 / 10);
  // A new reader finds everything cached.
  fake_.ResetCounters();
  auto r2 = NewReader(o);
  ExpectRange(*r2, 0, data_.size());
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTest, SmallRandomReadFetchesLittle) {
  auto r = NewReader();
  ExpectRange(*r, 1'500'000, 4096);
  // Terms (one full reconstruction) + one ranged reconstruction.
  EXPECT_EQ(fake_.recon_calls(), 2);
  // A 4 KiB read fetches at most the chunks holding it (≤ 2 × 128 KiB records).
  EXPECT_LE(fake_.data_bytes(), 2u * 131080);
  EXPECT_GE(fake_.data_calls(), 1);
}

TEST_F(XetReaderTest, ReadsPastTheEnd) {
  auto r = NewReader();
  std::vector<uint8_t> out(100);
  EXPECT_EQ(*r->Read(file_, data_.size(), out), 0u);
  EXPECT_EQ(*r->Read(file_, data_.size() + 100, out), 0u);
  ExpectRange(*r, data_.size() - 10, 100);  // short read of the last 10 bytes
}

TEST_F(XetReaderTest, EmptyFileNeedsNoRequest) {
  auto r = NewReader();
  XetFileRef empty{chunkstore::Hash{}, 0, std::nullopt};
  std::vector<uint8_t> out(10);
  EXPECT_EQ(*r->Read(empty, 0, out), 0u);
  EXPECT_EQ(fake_.recon_calls(), 0);
}

TEST_F(XetReaderTest, WrongUncompressedLengthIsCorruptAndNotCached) {
  // Make the first record of every answer claim one byte less.
  fake_.set_corrupt([](std::vector<uint8_t>* b) {
    if (b->size() >= 8) (*b)[5] = static_cast<uint8_t>((*b)[5] - 1);
  });
  auto r = NewReader();
  ExpectCorrupt(*r, 0, 200000);
  fake_.set_corrupt(nullptr);
  ExpectRange(*r, 0, 200000);
}

TEST_F(XetReaderTest, BadLz4PayloadIsCorrupt) {
  // Damage the payload of every LZ4 record in the answer.
  fake_.set_corrupt([](std::vector<uint8_t>* b) {
    size_t pos = 0;
    while (pos + 8 <= b->size()) {
      const uint32_t csize = (*b)[pos + 1] | ((*b)[pos + 2] << 8) | ((*b)[pos + 3] << 16);
      if ((*b)[pos + 4] != 0 && csize > 20) {
        for (size_t i = pos + 15; i < pos + 8 + csize && i < pos + 40; ++i) (*b)[i] ^= 0xff;
      }
      pos += 8 + csize;
    }
  });
  // The compressible stretch starts at 50000.
  auto r = NewReader();
  ExpectCorrupt(*r, 50000, 100000);
  fake_.set_corrupt(nullptr);
  ExpectRange(*r, 50000, 100000);
}

TEST_F(XetReaderTest, TruncatedAnswerIsCorrupt) {
  fake_.set_corrupt([](std::vector<uint8_t>* b) { b->resize(b->size() / 2); });
  auto r = NewReader();
  ExpectCorrupt(*r, 0, 4096);
}

TEST_F(XetReaderTest, ExpiredDataUrlGetsANewPlanOnce) {
  auto r = NewReader();
  ExpectRange(*r, 0, 10);  // terms loaded
  fake_.ResetCounters();
  // Expire every URL handed out so far plus the next one: the reader's
  // first plan is stale by the time it fetches.
  struct Expirer : hub::HttpTransport {
    FakeCas* fake;
    std::mutex mu;
    int recon_seen = 0;  // GUARDED_BY(mu)
    Result<hub::HttpResponse> Send(const hub::HttpRequest& req) override {
      if (req.url.find("/reconstructions/") == std::string::npos) return fake->Send(req);
      // Plans are issued one at a time here, so that only the first one is
      // expired (segments ask for theirs in parallel).
      std::lock_guard<std::mutex> lock(mu);
      auto resp = fake->Send(req);
      if (++recon_seen == 1) fake->ExpireUrls();
      return resp;
    }
  } expirer;
  expirer.fake = &fake_;
  HttpXetCas cas(&expirer, [this](bool f) { return tokens_(f); });
  XetReader r2(&cas, cache_.get(), SmallWindows());
  std::vector<uint8_t> out(300000);
  Result<size_t> got = r2.Read(file_, 1'000'000, out);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(std::equal(out.begin(), out.end(), data_.begin() + 1'000'000));
  // Only the first plan went stale: one segment asked again.
  EXPECT_EQ(r2.Stats().expired_url_retries, 1u);
}

TEST_F(XetReaderTest, DataUrlsThatStayExpiredFail) {
  struct AlwaysExpired : hub::HttpTransport {
    FakeCas* fake;
    Result<hub::HttpResponse> Send(const hub::HttpRequest& req) override {
      auto resp = fake->Send(req);
      if (req.url.find("/reconstructions/") != std::string::npos) fake->ExpireUrls();
      return resp;
    }
  } t;
  t.fake = &fake_;
  HttpXetCas cas(&t, [this](bool f) { return tokens_(f); });
  XetReader r(&cas, cache_.get(), SmallWindows());
  std::vector<uint8_t> out(1000);
  Result<size_t> got = r.Read(file_, 0, out);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().http_status(), 403);
}

// Data bodies cut after half their bytes (a connection dropped mid-body):
// the range is fetched again - whole, as its URL is signed for it - and the
// read returns the exact bytes.
TEST_F(XetReaderTest, BodiesCutShortAreFetchedAgain) {
  struct Cutter : hub::HttpTransport {
    FakeCas* fake;
    std::atomic<int> cuts{0};
    std::atomic<int> data_calls{0};
    Result<hub::HttpResponse> Send(const hub::HttpRequest& req) override {
      if (!req.body_sink || data_calls.fetch_add(1) % 2 == 1) return fake->Send(req);
      hub::HttpRequest cut = req;
      auto left = std::make_shared<size_t>(req.ranges.at(0).size() / 2);
      cut.body_sink = [&req, left, this](std::string_view piece) -> Status {
        if (piece.size() <= *left) {
          *left -= piece.size();
          return req.body_sink(piece);
        }
        HUBFS_RETURN_IF_ERROR(req.body_sink(piece.substr(0, *left)));
        ++cuts;
        return UnavailableError("Transferred a partial file");
      };
      return fake->Send(cut);
    }
  } t;
  t.fake = &fake_;
  HttpXetCas cas(&t, [this](bool f) { return tokens_(f); });
  XetReader r(&cas, cache_.get(), SmallWindows());
  std::vector<uint8_t> out(600000);
  Result<size_t> got = r.Read(file_, 100'000, out);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(*got, out.size());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), data_.begin() + 100'000));
  EXPECT_GT(t.cuts.load(), 0);
}

TEST_F(XetReaderTest, V1FallbackAndTokenRefresh) {
  fake_.set_v2_enabled(false);
  fake_.RejectTokens(1);
  auto r = NewReader();
  ExpectRange(*r, 400000, 500000);
  EXPECT_EQ(tokens_.forced, 1);
}

TEST_F(XetReaderTest, ConcurrentReadersShareFetches) {
  constexpr int kThreads = 8;
  auto r = NewReader();
  ExpectRange(*r, 0, 1);  // terms
  fake_.ResetCounters();
  fake_.HoldData(kThreads);  // the first data GET waits for every plan
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<uint8_t> out(600000);
      Result<size_t> got = r->Read(file_, 2'000'000, out);
      if (!got.ok() || *got != out.size() ||
          !std::equal(out.begin(), out.end(), data_.begin() + 2'000'000)) {
        ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  const auto ranges = fake_.data_ranges();
  EXPECT_EQ(std::set<std::string>(ranges.begin(), ranges.end()).size(), ranges.size())
      << "a range was fetched twice";
  EXPECT_GT(r->Stats().shared_fetches, 0u);
}

TEST_F(XetReaderTest, ManyThreadsRandomReadsOfOneFile) {
  auto r = NewReader();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < 25; ++i) {
        const uint64_t off = rng() % data_.size();
        std::vector<uint8_t> out(1 + rng() % 200000);
        Result<size_t> got = r->Read(file_, off, out);
        const size_t want = std::min<size_t>(out.size(), data_.size() - off);
        if (!got.ok() || *got != want ||
            !std::equal(out.begin(), out.begin() + static_cast<ptrdiff_t>(want),
                        data_.begin() + static_cast<ptrdiff_t>(off))) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(XetReaderTest, BadCachedChunkIsRefetched) {
  auto r = NewReader();
  ExpectRange(*r, 0, 300000);
  ASSERT_TRUE(cache_->Flush().ok());
  // Replace chunk 1 of the first xorb with a record that decodes to other
  // bytes of another length (its envelope checksum is valid).
  const chunkstore::Hash xorb = fake_.File(hash_).terms[0].xorb;
  std::vector<uint8_t> bogus;
  std::vector<uint8_t> other(1000, 7);
  chunkstore::AppendChunkRecord(other, chunkstore::CompressionPolicy::kNone, &bogus);
  cache_->PutChunk(xorb, 1, bogus);
  ASSERT_TRUE(cache_->Flush().ok());
  fake_.ResetCounters();
  auto r2 = NewReader();
  ExpectRange(*r2, 0, 300000);
  EXPECT_GT(fake_.data_calls(), 0);
  EXPECT_GT(r2->Stats().corrupt_cache_chunks, 0u);
  // And the refetched record replaced the bad one.
  fake_.ResetCounters();
  auto r3 = NewReader();
  ExpectRange(*r3, 0, 300000);
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTest, BadCachedChunkIsRefetchedWhenAReadTakesPartOfIt) {
  auto r = NewReader();
  ExpectRange(*r, 0, 300000);
  ASSERT_TRUE(cache_->Flush().ok());
  const chunkstore::FileTerm& term = fake_.File(hash_).terms[0];
  ASSERT_GE(term.range.size(), 2u);
  auto first = cache_->GetChunk(term.xorb, term.range.start);
  ASSERT_TRUE(first.ok() && first->has_value());
  auto header = chunkstore::ParseChunkRecordHeader(**first);
  ASSERT_TRUE(header.ok());
  // The term's second chunk, cached as a record of another length.
  std::vector<uint8_t> bogus;
  chunkstore::AppendChunkRecord(std::vector<uint8_t>(1000, 7),
                                chunkstore::CompressionPolicy::kNone, &bogus);
  cache_->PutChunk(term.xorb, term.range.start + 1, bogus);
  ASSERT_TRUE(cache_->Flush().ok());
  fake_.ResetCounters();
  auto r2 = NewReader();
  ExpectRange(*r2, header->uncompressed_size + 10, 100);  // inside that chunk
  EXPECT_GT(fake_.data_calls(), 0);
  EXPECT_GT(r2->Stats().corrupt_cache_chunks, 0u);
}

TEST_F(XetReaderTest, ReadAllVerifiedChecksHashes) {
  XetReaderOptions o = SmallWindows();
  o.segment_bytes = 8 << 20;  // whole xorbs fit in one fetch: their hashes get checked
  auto r = NewReader(o);
  std::vector<uint8_t> sunk;
  Status st = ReadAll(*r, file_, &sunk);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sunk, data_);
  EXPECT_GT(r->Stats().xorbs_verified, 0u);

  // Warm, with a wrong sha256: the data streams, then the check fails.
  XetFileRef wrong = file_;
  (*wrong.sha256)[0] ^= 1;
  st = ReadAll(*r, wrong);
  EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << st;
}

// Without a SHA-256 in the ref (hubfs cat without --sha256) the Xet file
// hash alone is checked, and still catches a wrong file.
TEST_F(XetReaderTest, ReadAllVerifiedWithoutASha256ChecksTheXetFileHash) {
  auto r = NewReader();
  XetFileRef no_sha = file_;
  no_sha.sha256.reset();
  std::vector<uint8_t> sunk;
  Status st = ReadAll(*r, no_sha, &sunk);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sunk, data_);
  // Terms of this file under another Xet hash: every byte as before, the
  // computed file hash is not the one asked for.
  XetFileRef other = no_sha;
  other.hash.bytes[0] ^= 1;
  fake_.AddFileAlias(other.hash, hash_);
  st = ReadAll(*r, other);
  EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << st;
  EXPECT_NE(st.message().find("Xet file hash mismatch"), std::string::npos) << st;
}

// A reader that does not wait for the cache (hubfs cat) still caches the
// chunks it fetches when the writer keeps up: the next reader is warm.
TEST_F(XetReaderTest, AReaderThatDoesNotWaitForTheCacheCachesWhatItHasRoomFor) {
  XetReaderOptions o = SmallWindows();
  o.wait_for_cache = false;
  auto r = NewReader(o);
  Status st = ReadAll(*r, file_);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(cache_->Flush().ok());
  ASSERT_EQ(cache_->Stats().skipped, 0u);
  fake_.ResetCounters();
  auto r2 = NewReader();
  ExpectRange(*r2, 0, data_.size());
  EXPECT_EQ(fake_.data_calls(), 0);
}

// A cache whose write queue takes one value at a time (a disk far slower
// than the network): a whole-file read that does not wait leaves chunks
// uncached and still streams exact bytes.
// A cache whose write queue holds two values (a disk far slower than the
// network), read sequentially through ReadHeld as a mount does, each read
// handed over (HeldBytes::Delivered, as a FUSE reply sent). A reader that
// keeps its pages (pages_kept) lets a full queue leave the chunks it read
// through unwritten: exact bytes, none fetched twice. A reader that keeps
// none (O_DIRECT: `hubfs prefetch`) leaves nothing out: afterwards the file
// is read with no request.
TEST_F(XetReaderTest, OnlyAReaderThatKeepsItsPagesLetsAFullCacheQueueLeaveChunksOut) {
  // Incompressible: every record is stored as is, so reads are held.
  const std::vector<uint8_t> data = chunkstore::cache_testing::Bytes(78, 3 << 20);
  const XetFileRef file{fake_.AddFile(data, 5), data.size(), std::nullopt};
  auto read_all = [&](XetReader& r, bool pages_kept) {
    for (uint64_t off = 0; off < data.size(); off += 64 * 1024) {
      HeldBytes held;
      Result<size_t> n = r.ReadHeld(file, off, 64 * 1024, &held, pages_kept);
      ASSERT_TRUE(n.ok()) << n.status() << " at " << off;
      std::vector<uint8_t> got;
      for (std::span<const uint8_t> p : held.pieces()) got.insert(got.end(), p.begin(), p.end());
      ASSERT_EQ(got.size(), *n);
      ASSERT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<ptrdiff_t>(off)))
          << "wrong bytes at " << off;
      held.Delivered();
    }
  };
  // A fresh cache whose writer lags: durable, every commit waits for fsync.
  auto fresh_cache = [&] {
    cache_.reset();
    std::filesystem::remove_all(dir_.Sub("cache"));
    OpenCache(/*recent_max_bytes=*/1 << 20, /*queue_max_entries=*/2, /*durable=*/true);
    fake_.ResetCounters();
  };
  XetReaderOptions o = SmallWindows();
  o.readahead_bytes = 1 << 20;
  o.segment_bytes = 1 << 20;
  // Whether a put finds the queue full while the reader is past a queued
  // chunk depends on timing (most passes do): up to eight passes.
  uint64_t left_out = 0;
  for (int pass = 0; pass < 8 && left_out == 0; ++pass) {
    fresh_cache();
    auto r = NewReader(o);
    read_all(*r, /*pages_kept=*/true);
    // Chunks left out were read through: none is fetched again.
    EXPECT_LE(fake_.data_bytes(), data.size() * 12 / 10);
    ASSERT_TRUE(cache_->Flush().ok());
    left_out = cache_->Stats().skipped;
  }
  EXPECT_GT(left_out, 0u) << "no pass left a chunk out";
  for (int pass = 0; pass < 3; ++pass) {
    fresh_cache();
    {
      auto r = NewReader(o);
      read_all(*r, /*pages_kept=*/false);
      ASSERT_TRUE(cache_->Flush().ok());
    }
    EXPECT_EQ(cache_->Stats().skipped, 0u) << "pass " << pass;
    cache_.reset();
    OpenCache();
    fake_.ResetCounters();
    auto r = NewReader(o);
    read_all(*r, /*pages_kept=*/false);
    EXPECT_EQ(fake_.data_calls(), 0) << "pass " << pass;
  }
}

TEST_F(XetReaderTest, AWholeReadThatDoesNotWaitSkipsWhatAFullCacheQueueCannotTake) {
  cache_.reset();
  OpenCache(0, /*queue_max_entries=*/1);
  XetReaderOptions o = SmallWindows();
  o.wait_for_cache = false;
  auto r = NewReader(o);
  std::vector<uint8_t> sunk;
  Status st = ReadAll(*r, file_, &sunk);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sunk, data_);
  // Runs of chunks are put in a tight loop: the one before is still queued.
  EXPECT_GT(cache_->Stats().skipped, 0u);
  EXPECT_LE(fake_.data_bytes(), data_.size() * 11 / 10);
}

// Fetched bodies in reused buffers (reuse_body_bytes): with no cache every
// read fetches, so buffers go round many times; the bytes stay exact, also
// for reads running at once.
TEST_F(XetReaderTest, ReusedBodyBuffersGiveExactBytes) {
  XetReaderOptions o = SmallWindows();
  o.reuse_body_bytes = 4 << 20;
  XetReader r(cas_.get(), /*cache=*/nullptr, o);
  for (int round = 0; round < 2; ++round) {
    std::vector<uint8_t> sunk;
    Status st = r.ReadAllVerified(file_, 64 << 10, [&](std::span<const uint8_t> d) {
      sunk.insert(sunk.end(), d.begin(), d.end());
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(sunk, data_);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = 7919u * t; off < data_.size(); off += 300'001) ExpectRange(r, off, 70'000);
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_GT(r.Stats().data_fetches, 20u);
  r.ReleaseIdleBuffers();
  ExpectRange(r, 12345, 100'000);
}

TEST_F(XetReaderTest, LostLayoutsAreRelearnedFromCachedChunks) {
  {
    auto r = NewReader();
    ExpectRange(*r, 0, data_.size());
  }
  // Replace every xorb layout by one that knows nothing (as if evicted).
  for (const chunkstore::FileTerm& t : fake_.File(hash_).terms) {
    cache_->PutXorbLayout(t.xorb, EncodeLayout(LearnedLayout{}));
  }
  ASSERT_TRUE(cache_->Flush().ok());
  fake_.ResetCounters();
  auto r = NewReader();
  std::vector<uint8_t> sunk;
  Status st = r->ReadAllVerified(file_, 1 << 20, [&](std::span<const uint8_t> d) {
    sunk.insert(sunk.end(), d.begin(), d.end());
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sunk, data_);
  EXPECT_EQ(fake_.data_calls(), 0);
  // Relearned: the next reader is warm without any request.
  fake_.ResetCounters();
  auto r2 = NewReader();
  ExpectRange(*r2, 0, data_.size());
  EXPECT_EQ(fake_.recon_calls(), 0);
}

TEST_F(XetReaderTest, UncachedDataFailsFastOffline) {
  auto r = NewReader();
  ExpectRange(*r, 0, 100000);
  fake_.Offline(true);
  ExpectRange(*r, 0, 100000);  // cached
  std::vector<uint8_t> out(1000);
  Result<size_t> got = r->Read(file_, 3'000'000, out);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kUnavailable) << got.status();
}

// A CAS that ignores the Range of a reconstruction request must not make the
// reader return bytes from the wrong place.
TEST_F(XetReaderTest, PlanForTheWrongRangeIsCorrupt) {
  auto r = NewReader();
  fake_.IgnoreRange(true);
  for (uint64_t off : {uint64_t{100}, uint64_t{1'500'000}, uint64_t{kFileSize - 1}}) {
    std::vector<uint8_t> out(1000);
    Result<size_t> got = r->Read(file_, off, out);
    ASSERT_FALSE(got.ok()) << "read at " << off << " succeeded";
    EXPECT_EQ(got.status().code(), ErrorCode::kCorrupt) << got.status();
  }
}

TEST_F(XetReaderTest, UnknownFileIsNotFound) {
  auto r = NewReader();
  XetFileRef missing{chunkstore::Hash{}, 10, std::nullopt};
  missing.hash.bytes[0] = 1;
  std::vector<uint8_t> out(10);
  Result<size_t> got = r->Read(missing, 0, out);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotFound) << got.status();
}

TEST_F(XetReaderTest, SizeDisagreeingWithTermsIsCorrupt) {
  auto r = NewReader();
  XetFileRef lying = file_;
  lying.size += 1;
  std::vector<uint8_t> out(10);
  Result<size_t> got = r->Read(lying, 0, out);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kCorrupt) << got.status();
}

}  // namespace
}  // namespace hubfs::fs
