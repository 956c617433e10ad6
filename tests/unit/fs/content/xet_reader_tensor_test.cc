// XetReader over a safetensors file named as one (XetFileRef::tensor_name):
// the header is parsed on the first read and read-ahead stops at the end of
// the tensor being read; a file whose header does not parse reads as any.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
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

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// A safetensors file: tensors of 3, 3 and 4 MiB of random bytes.
std::vector<uint8_t> Model(uint64_t* data_start) {
  std::string json =
      R"({"t0":{"dtype":"U8","shape":[3145728],"data_offsets":[0,3145728]},)"
      R"("t1":{"dtype":"U8","shape":[3145728],"data_offsets":[3145728,6291456]},)"
      R"("t2":{"dtype":"U8","shape":[4194304],"data_offsets":[6291456,10485760]}})";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::vector<uint8_t> out;
  AppendLe64(&out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  *data_start = out.size();
  const std::vector<uint8_t> data = TestContent(9, 10 * kMiB);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

class XetReaderTensorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = Model(&data_start_);
    hash_ = fake_.AddFile(data_, 16);
    cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.max_bytes = 256ull << 20;
    o.durable = false;
    auto c = chunkstore::ChunkCache::Open(o);
    ASSERT_TRUE(c.ok()) << c.status();
    cache_ = std::move(*c);
  }

  std::unique_ptr<XetReader> NewReader() {
    XetReaderOptions o;
    o.readahead_initial_bytes = 256 * kKiB;
    o.readahead_bytes = 4 * kMiB;
    o.segment_bytes = 512 * kKiB;
    return std::make_unique<XetReader>(cas_.get(), cache_.get(), o);
  }

  // Reads [begin, end) in 128 KiB reads, checking the bytes, then waits for
  // the read-ahead to finish.
  void ReadRegion(XetReader& r, const XetFileRef& ref, uint64_t begin, uint64_t end) {
    for (uint64_t off = begin; off < end; off += 128 * kKiB) {
      std::vector<uint8_t> out(std::min<uint64_t>(128 * kKiB, end - off));
      Result<size_t> got = r.Read(ref, off, out);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(*got, out.size());
      ASSERT_TRUE(std::equal(out.begin(), out.end(), data_.begin() + static_cast<ptrdiff_t>(off)));
    }
    for (int i = 0; i < 5000 && r.Stats().readahead_in_flight != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(r.Stats().readahead_in_flight, 0u);
  }

  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  std::vector<uint8_t> data_;
  uint64_t data_start_ = 0;
  chunkstore::Hash hash_;
  std::unique_ptr<HttpXetCas> cas_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

TEST_F(XetReaderTensorTest, ReadaheadStopsAtTheEndOfTheTensorBeingRead) {
  const uint64_t t1 = data_start_ + 3 * kMiB, t2 = data_start_ + 6 * kMiB;
  for (bool named : {true, false}) {
    SCOPED_TRACE(named ? "named .safetensors" : "not named");
    auto r = NewReader();
    XetFileRef ref{hash_, data_.size(), std::nullopt, named};
    ReadRegion(*r, ref, t1, t2);
    const XetReaderStats s = r->Stats();
    EXPECT_EQ(s.tensor_layouts, named ? 1u : 0u);
    EXPECT_GT(s.readahead_windows, 0u);
    if (named) {
      // Everything fetched ahead lies inside t1 (after its first read).
      EXPECT_LE(s.readahead_bytes, t2 - t1);
    } else {
      EXPECT_GT(s.readahead_bytes + t1, t2);  // ran on into t2
    }
  }
}

TEST_F(XetReaderTensorTest, AHeaderThatDoesNotParseLeavesTheOrdinaryReadahead) {
  StoreLe64(data_.data(), data_.size());  // a header longer than the file
  hash_ = fake_.AddFile(data_, 16);
  auto r = NewReader();
  XetFileRef ref{hash_, data_.size(), std::nullopt, true};
  ReadRegion(*r, ref, 1 * kMiB, 4 * kMiB);
  EXPECT_EQ(r->Stats().tensor_layouts, 0u);
  EXPECT_GT(r->Stats().readahead_windows, 0u);
}

}  // namespace
}  // namespace hubfs::fs
