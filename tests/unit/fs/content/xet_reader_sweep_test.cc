// XetReader sweeps of tensor files (XetReaderOptions::tensor_sweep_max_bytes):
// a loader that reads whole tensors out of file order gets the rest of the
// file fetched ahead, once, skipping what it read; a page sink receives the
// swept bytes, byte-exact; a loader that reads slices of the tensors gets no
// sweep.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "common/little_endian.h"
#include "fs/content/page_sink.h"
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
constexpr int kTensors = 12;
constexpr uint64_t kTensorBytes = 4 * kMiB;

// A safetensors file of kTensors tensors of kTensorBytes random bytes each
// (with runs that compress, or none).
std::vector<uint8_t> Model(uint64_t* data_start, bool compressible = true) {
  std::string json = "{";
  for (int i = 0; i < kTensors; ++i) {
    if (i != 0) json += ",";
    json += "\"t" + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[" +
            std::to_string(kTensorBytes) + "],\"data_offsets\":[" +
            std::to_string(i * kTensorBytes) + "," + std::to_string((i + 1) * kTensorBytes) +
            "]}";
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::vector<uint8_t> out;
  AppendLe64(&out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  *data_start = out.size();
  if (compressible) {
    const std::vector<uint8_t> data = TestContent(21, kTensors * kTensorBytes);
    out.insert(out.end(), data.begin(), data.end());
  } else {
    std::mt19937_64 rng(21);
    for (uint64_t i = 0; i < kTensors * kTensorBytes / 8; ++i) AppendLe64(&out, rng());
  }
  return out;
}

// Which stores a sink tells delivered (as the page feed does once the
// kernel has the bytes): all, none (a feed that dropped them), or only
// those that came as more than one piece (held as the cache keeps them,
// not assembled).
enum class Deliver { kAll, kNone, kHeldOnly };

// Records what it is given (and in how many pieces); wants the file while
// `open`.
class RecordingSink : public PageSink {
 public:
  explicit RecordingSink(chunkstore::Hash file, Deliver deliver = Deliver::kAll)
      : file_(file), deliver_(deliver) {}
  bool Wants(const chunkstore::Hash& file) override {
    std::lock_guard<std::mutex> lock(mu_);
    return open_ && file == file_;
  }
  void Store(const chunkstore::Hash& file, uint64_t offset, HeldBytes bytes) override {
    std::vector<uint8_t> got;
    for (std::span<const uint8_t> p : bytes.pieces()) got.insert(got.end(), p.begin(), p.end());
    {
      std::lock_guard<std::mutex> lock(mu_);
      EXPECT_EQ(file, file_);
      stored_[offset] = std::move(got);
      max_pieces_ = std::max(max_pieces_, bytes.pieces().size());
    }
    if (deliver_ == Deliver::kAll || (deliver_ == Deliver::kHeldOnly && bytes.pieces().size() > 1)) {
      bytes.Delivered();
    }
  }
  std::map<uint64_t, std::vector<uint8_t>> stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }
  // The most pieces one store came in (1: assembled into one buffer).
  size_t max_pieces() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_pieces_;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }

 private:
  const chunkstore::Hash file_;
  const Deliver deliver_;
  std::mutex mu_;
  bool open_ = true;
  std::map<uint64_t, std::vector<uint8_t>> stored_;
  size_t max_pieces_ = 0;
};

class XetReaderSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = Model(&data_start_);
    hash_ = fake_.AddFile(data_, 64);
    cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    cache_ = OpenCache("cache");
    ASSERT_NE(cache_, nullptr);
    // What fetching the whole file once costs (records are LZ4-compressed
    // where that pays): a reader without read-ahead over a cache of its own.
    auto other = OpenCache("baseline");
    ASSERT_NE(other, nullptr);
    XetReaderOptions o;
    o.async_readahead = false;
    XetReader r(cas_.get(), other.get(), o);
    ReadRegion(r, 0, data_.size());
    whole_ = fake_.data_bytes();
    ASSERT_GT(whole_, 0u);
    fake_.ResetCounters();
  }

  // `lagging`: a writer that lags (durable: every commit waits for fsync)
  // behind a queue of two entries, chunks kept in memory after their write.
  std::unique_ptr<chunkstore::ChunkCache> OpenCache(const std::string& name,
                                                    bool lagging = false) {
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub(name);
    o.max_bytes = 512ull << 20;
    o.durable = lagging;
    if (lagging) {
      o.queue_max_entries = 2;
      o.recent_max_bytes = 64 * kMiB;
    }
    auto c = chunkstore::ChunkCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Whether a reader over `cache` finds the whole file there (no fetch).
  void ExpectAllCached(chunkstore::ChunkCache* cache) {
    fake_.ResetCounters();
    XetReaderOptions o;
    o.async_readahead = false;
    XetReader r(cas_.get(), cache, o);
    ReadRegion(r, 0, data_.size());
    EXPECT_EQ(fake_.data_bytes(), 0u);
  }

  std::unique_ptr<XetReader> NewReader() {
    XetReaderOptions o;
    o.segment_bytes = 2 * kMiB;
    o.memory_limit = 32 * kMiB;
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }

  uint64_t TensorStart(int i) const { return data_start_ + static_cast<uint64_t>(i) * kTensorBytes; }

  // Reads [begin, end) in 256 KiB reads, checking the bytes.
  void ReadRegion(XetReader& r, uint64_t begin, uint64_t end) {
    for (uint64_t off = begin; off < end; off += 256 * kKiB) {
      std::vector<uint8_t> out(std::min<uint64_t>(256 * kKiB, end - off));
      Result<size_t> got = r.Read(ref(), off, out);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, out.size());
      ASSERT_TRUE(std::equal(out.begin(), out.end(), data_.begin() + static_cast<ptrdiff_t>(off)));
    }
  }

  // A loader's reads that begin a sweep: the header, then four whole
  // tensors out of file order.
  void LoadFourTensors(XetReader& r) {
    ReadRegion(r, 0, data_start_);
    for (int t : {7, 2, 10, 4}) ReadRegion(r, TensorStart(t), TensorStart(t + 1));
  }

  // The same reads by another reader into `cache`, without read-ahead: they
  // are then served by the cache.
  void WarmFourTensors(chunkstore::ChunkCache* cache) {
    XetReaderOptions o;
    o.async_readahead = false;
    XetReader warm(cas_.get(), cache, o);
    LoadFourTensors(warm);
  }

  // Until no read-ahead is held for 50 ms in a row (a sweep's next segment
  // is queued in the same step that ends the one before).
  void WaitIdle(XetReader& r) {
    int idle = 0;
    for (int i = 0; i < 10000 && idle < 50; ++i) {
      idle = r.Stats().readahead_in_flight == 0 ? idle + 1 : 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(idle, 50);
  }

  XetFileRef ref() const { return XetFileRef{hash_, data_.size(), std::nullopt, true}; }

  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  std::vector<uint8_t> data_;
  uint64_t data_start_ = 0;
  chunkstore::Hash hash_;
  std::unique_ptr<HttpXetCas> cas_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
  uint64_t whole_ = 0;  // data bytes of one fetch of the whole file
};

TEST_F(XetReaderSweepTest, ALoaderReadingWholeTensorsOutOfOrderGetsTheRestOfTheFileSweptOnce) {
  auto r = NewReader();
  RecordingSink sink(hash_);
  r->SetPageSink(&sink);
  // The header, then whole tensors in an order that is not the file's.
  ReadRegion(*r, 0, data_start_);
  const std::vector<int> order = {7, 2, 10, 4, 0};
  for (int t : order) ReadRegion(*r, TensorStart(t), TensorStart(t + 1));
  WaitIdle(*r);
  XetReaderStats s = r->Stats();
  EXPECT_EQ(s.tensor_sweeps, 1u);
  EXPECT_GT(s.tensor_sweep_bytes, 0u);
  // Everything the loader did not read was swept: at most the file less
  // the four tensors read before the sweep began.
  EXPECT_LE(s.tensor_sweep_bytes, data_.size() - 4 * kTensorBytes);
  // Every byte was fetched about once: the sweep skips what was read.
  EXPECT_LE(fake_.data_bytes(), whole_ + whole_ / 10);

  // The sink got the swept segments, byte-exact, and with what the loader
  // read they cover the whole file.
  std::vector<std::pair<uint64_t, uint64_t>> covered = {{0, data_start_}};
  for (int t : order) covered.push_back({TensorStart(t), TensorStart(t + 1)});
  uint64_t stored_bytes = 0;
  for (const auto& [offset, bytes] : sink.stored()) {
    ASSERT_LE(offset + bytes.size(), data_.size());
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(),
                           data_.begin() + static_cast<ptrdiff_t>(offset)))
        << "stored bytes at " << offset << " differ";
    covered.push_back({offset, offset + bytes.size()});
    stored_bytes += bytes.size();
  }
  EXPECT_EQ(s.sweep_stored_bytes, stored_bytes);
  std::sort(covered.begin(), covered.end());
  uint64_t reach = 0;
  for (const auto& [a, b] : covered) {
    EXPECT_LE(a, reach) << "bytes [" << reach << ", " << a << ") neither read nor swept";
    reach = std::max(reach, b);
  }
  EXPECT_EQ(reach, data_.size());

  // The rest of the load is served by the cache: no more data fetched.
  const uint64_t fetched = fake_.data_bytes();
  for (int t = 0; t < kTensors; ++t) {
    if (std::find(order.begin(), order.end(), t) == order.end()) {
      ReadRegion(*r, TensorStart(t), TensorStart(t + 1));
    }
  }
  WaitIdle(*r);
  EXPECT_EQ(fake_.data_bytes(), fetched);
  EXPECT_EQ(r->Stats().tensor_sweeps, 1u);  // once per file
  r->SetPageSink(nullptr);
  ExpectAllCached(cache_.get());
}

// The sweep hands the sink the chunks the cache holds in memory as they are
// (stored uncompressed), else a copy; once the sink has delivered them the
// chunks count as read either way, so a put that finds the write queue full
// leaves such chunks unwritten instead of waiting for the disk. Chunks of
// bytes the sink dropped (never delivered) are always written.
TEST_F(XetReaderSweepTest, SweptChunksTheSinkDeliveredMayBeLeftOutOfAFullWriteQueue) {
  auto sweep = [&](Deliver deliver, size_t* max_pieces) -> uint64_t {
    cache_.reset();
    std::filesystem::remove_all(dir_.Sub("lagging"));
    cache_ = OpenCache("lagging", /*lagging=*/true);
    EXPECT_NE(cache_, nullptr);
    if (cache_ == nullptr) return 0;
    fake_.ResetCounters();
    auto r = NewReader();
    RecordingSink sink(hash_, deliver);
    r->SetPageSink(&sink);
    LoadFourTensors(*r);
    WaitIdle(*r);
    r->SetPageSink(nullptr);
    EXPECT_EQ(r->Stats().tensor_sweeps, 1u);
    for (const auto& [offset, bytes] : sink.stored()) {
      EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(),
                             data_.begin() + static_cast<ptrdiff_t>(offset)))
          << "stored bytes at " << offset << " differ";
    }
    EXPECT_FALSE(sink.stored().empty());
    // Nothing was fetched twice for it.
    EXPECT_LE(fake_.data_bytes(), whole_ + whole_ / 5);
    EXPECT_TRUE(cache_->Flush().ok());
    *max_pieces = sink.max_pieces();
    return cache_->Stats().skipped;
  };
  for (const bool compressible : {true, false}) {
    SCOPED_TRACE(compressible ? "records partly LZ4" : "records stored as they are");
    if (!compressible) {
      data_ = Model(&data_start_, /*compressible=*/false);
      hash_ = fake_.AddFile(data_, 64);
      whole_ = data_.size() + data_.size() / 50;  // the records' headers besides
    }
    // Whether a put finds the queue full behind a delivered chunk depends
    // on timing (most passes do): up to eight passes. With records stored
    // as they are, only the held stores are told delivered (the segment
    // holding the header, which compresses, is assembled): the chunks held
    // must count as read on their own.
    const Deliver deliver = compressible ? Deliver::kAll : Deliver::kHeldOnly;
    uint64_t left_out = 0;
    size_t pieces = 0;
    for (int pass = 0; pass < 8 && left_out == 0; ++pass) left_out = sweep(deliver, &pieces);
    EXPECT_GT(left_out, 0u) << "no pass left a delivered chunk out";
    if (compressible) {
      EXPECT_EQ(pieces, 1u) << "compressed chunks cannot be handed on as they are";
    } else {
      EXPECT_GT(pieces, 1u) << "the sink got every segment assembled into one buffer";
    }
    for (int pass = 0; pass < 2; ++pass) {
      EXPECT_EQ(sweep(Deliver::kNone, &pieces), 0u) << "pass " << pass;
    }
  }
}

TEST_F(XetReaderSweepTest, ALoaderReadingSlicesOfEveryTensorGetsNoSweep) {
  auto r = NewReader();
  RecordingSink sink(hash_);
  r->SetPageSink(&sink);
  ReadRegion(*r, 0, data_start_);
  // Rank 1 of 4: the second quarter of each tensor, in a shuffled order.
  for (int t : {7, 2, 10, 4, 0, 11, 5, 1, 9, 3, 8, 6}) {
    ReadRegion(*r, TensorStart(t) + kTensorBytes / 4, TensorStart(t) + kTensorBytes / 2);
  }
  WaitIdle(*r);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.tensor_sweeps, 0u);
  EXPECT_EQ(s.tensor_sweep_bytes, 0u);
  EXPECT_TRUE(sink.stored().empty());
  // About the slices only (their read-ahead stays in their tensors).
  EXPECT_LE(fake_.data_bytes(), whole_ / 2);
  r->SetPageSink(nullptr);
}

TEST_F(XetReaderSweepTest, NoSweepOfAFileLargerThanTheBoundOrWithTheSinkClosed) {
  {
    XetReaderOptions o;
    o.segment_bytes = 2 * kMiB;
    o.memory_limit = 32 * kMiB;
    o.tensor_sweep_max_bytes = data_.size() - 1;
    XetReader r(cas_.get(), cache_.get(), o);
    ReadRegion(r, 0, data_start_);
    for (int t : {7, 2, 10, 4, 0}) ReadRegion(r, TensorStart(t), TensorStart(t + 1));
    WaitIdle(r);
    EXPECT_EQ(r.Stats().tensor_sweeps, 0u);
  }
  fake_.ResetCounters();
  {
    // Swept into the cache, but nothing assembled for a sink that no
    // longer wants the file (it was closed).
    auto cache = OpenCache("cache2");
    ASSERT_NE(cache, nullptr);
    XetReaderOptions ro;
    ro.segment_bytes = 2 * kMiB;
    ro.memory_limit = 32 * kMiB;
    XetReader r(cas_.get(), cache.get(), ro);
    RecordingSink sink(hash_);
    sink.Close();
    r.SetPageSink(&sink);
    ReadRegion(r, 0, data_start_);
    for (int t : {7, 2, 10, 4, 0}) ReadRegion(r, TensorStart(t), TensorStart(t + 1));
    WaitIdle(r);
    const XetReaderStats s = r.Stats();
    EXPECT_EQ(s.tensor_sweeps, 1u);
    EXPECT_EQ(s.sweep_stored_bytes, 0u);
    EXPECT_TRUE(sink.stored().empty());
    r.SetPageSink(nullptr);
    ExpectAllCached(cache.get());
  }
}

TEST_F(XetReaderSweepTest, ASweepStopsAtItsFirstFailure) {
  // The loader's tensors are cached (read once by another reader); then the
  // server goes away: the loader's reads are served from the cache and
  // trigger the sweep, whose segments fail.
  WarmFourTensors(cache_.get());
  fake_.Offline(true);
  auto r = NewReader();
  LoadFourTensors(*r);
  WaitIdle(*r);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.tensor_sweeps, 1u);
  EXPECT_GT(s.readahead_failed, 0u);
  // What was queued at once (half of the 32 MiB budget), not the rest of
  // the file segment after failing segment.
  EXPECT_LE(s.tensor_sweep_bytes, 16 * kMiB);
  EXPECT_LT(s.tensor_sweep_bytes, data_.size() - 4 * kTensorBytes - data_start_);
}


// Reads that arrive after the file's last release (the kernel's read-ahead
// of a mapping just closed, answered late) do not restart the stopped sweep,
// which nobody would stop again; the next open's loader gets it.
TEST_F(XetReaderSweepTest, ReadsAfterTheLastReleaseStartNoSweepUntilTheFileIsOpenedAgain) {
  WarmFourTensors(cache_.get());
  fake_.set_data_delay(std::chrono::milliseconds(200));
  auto r = NewReader();
  r->Opened(ref());
  LoadFourTensors(*r);
  ASSERT_EQ(r->Stats().tensor_sweeps, 1u);
  r->Closed(ref());
  ASSERT_EQ(r->Stats().sweeps_stopped, 1u);
  WaitIdle(*r);
  const uint64_t swept = r->Stats().tensor_sweep_bytes;
  const uint64_t fetched = fake_.data_bytes();
  LoadFourTensors(*r);  // late reads of the closed file
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().tensor_sweeps, 1u);
  EXPECT_EQ(r->Stats().tensor_sweep_bytes, swept);
  EXPECT_EQ(fake_.data_bytes(), fetched);  // its tensors are cached
  fake_.set_data_delay(std::chrono::milliseconds(0));
  r->Opened(ref());
  LoadFourTensors(*r);
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().tensor_sweeps, 2u);
  ExpectAllCached(cache_.get());
  r->Closed(ref());
}

TEST_F(XetReaderSweepTest, ASweepStopsWhenItsFilesLastHandleIsReleasedAndARestartedLoaderGetsItAgain) {
  // The loader's tensors are cached (read once by another reader), so that
  // its reads trigger the sweep at once; the sweep's fetches are slow.
  WarmFourTensors(cache_.get());
  fake_.ResetCounters();
  fake_.set_data_delay(std::chrono::milliseconds(200));
  auto r = NewReader();
  r->Opened(ref());
  r->Opened(ref());  // two handles, as a loader with two descriptors
  LoadFourTensors(*r);
  ASSERT_EQ(r->Stats().tensor_sweeps, 1u);
  r->Closed(ref());
  EXPECT_EQ(r->Stats().sweeps_stopped, 0u);  // one handle is still open
  const uint64_t fetched_at_release = fake_.data_bytes();
  r->Closed(ref());
  EXPECT_EQ(r->Stats().sweeps_stopped, 1u);
  r->Closed(ref());  // more releases than opens: nothing
  WaitIdle(*r);
  const XetReaderStats s = r->Stats();
  EXPECT_EQ(s.sweeps_stopped, 1u);
  // After the release only the segments being fetched finish (one per
  // read-ahead thread, 2 MiB each, and their plans' boundary chunks); the
  // ones still queued are dropped.
  EXPECT_LE(fake_.data_bytes() - fetched_at_release, 4 * (2 * kMiB + 256 * 1024));
  // What was queued when it stopped (half of the 32 MiB budget at most) and
  // the topping-up of segments that ended before, not the rest of the file.
  const uint64_t rest = data_.size() - 4 * kTensorBytes - data_start_;
  EXPECT_LE(s.tensor_sweep_bytes, 16 * kMiB + 2 * kMiB);
  EXPECT_LT(s.tensor_sweep_bytes, rest);
  EXPECT_LT(fake_.data_bytes(), whole_ * rest / data_.size());

  // The loader starts again (after a crash, say): its reads ask for the
  // sweep again, which goes on from where it stopped; then the whole file
  // is cached.
  fake_.set_data_delay(std::chrono::milliseconds(0));
  r->Opened(ref());
  LoadFourTensors(*r);
  WaitIdle(*r);
  EXPECT_EQ(r->Stats().tensor_sweeps, 2u);
  r->Closed(ref());
  EXPECT_EQ(r->Stats().sweeps_stopped, 1u);  // it had ended: nothing to stop
  EXPECT_LE(fake_.data_bytes(), whole_ + whole_ / 10);
  ExpectAllCached(cache_.get());

  // A file never opened through a handle (hubfs cat) is swept to its end.
  fake_.set_data_delay(std::chrono::milliseconds(0));
  auto other_cache = OpenCache("other");
  ASSERT_NE(other_cache, nullptr);
  WarmFourTensors(other_cache.get());
  XetReaderOptions o;
  o.segment_bytes = 2 * kMiB;
  o.memory_limit = 32 * kMiB;
  XetReader unopened(cas_.get(), other_cache.get(), o);
  LoadFourTensors(unopened);
  unopened.Closed(ref());  // never opened: nothing
  WaitIdle(unopened);
  EXPECT_EQ(unopened.Stats().tensor_sweeps, 1u);
  EXPECT_EQ(unopened.Stats().sweeps_stopped, 0u);
  ExpectAllCached(other_cache.get());
}

}  // namespace
}  // namespace hubfs::fs
