#include "chunkstore/file_hasher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/chunking_inputs.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::BlockSchedule;
using ::hubfs::testing::MakeInput;
using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::Vectors;

struct Hashed {
  std::vector<ChunkInfo> chunks;
  Hash file_hash;
  uint64_t size = 0;
  std::optional<std::array<uint8_t, 32>> sha256;
};

Hashed HashInBlocks(std::span<const uint8_t> data, const std::vector<size_t>& blocks,
                    bool with_sha256 = true) {
  FileHasher h(with_sha256);
  size_t pos = 0;
  for (size_t b : blocks) {
    h.Update(data.subspan(pos, b));
    pos += b;
  }
  EXPECT_EQ(pos, data.size());
  h.Finish();
  return {h.chunks(), h.file_hash(), h.size(), h.sha256()};
}

Hashed HashWhole(std::span<const uint8_t> data) {
  return HashInBlocks(data, data.empty() ? std::vector<size_t>{} : std::vector<size_t>{data.size()});
}

std::vector<MerkleNode> Leaves(const std::vector<ChunkInfo>& chunks) {
  std::vector<MerkleNode> out;
  for (const auto& c : chunks) out.push_back({c.hash, c.length});
  return out;
}

bool SameChunks(const std::vector<ChunkInfo>& a, const std::vector<ChunkInfo>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].offset != b[i].offset || a[i].length != b[i].length || a[i].hash != b[i].hash)
      return false;
  }
  return true;
}

TEST(FileHasherTest, ChunkingAndHashingVectors) {
  const auto& cases = Vectors().at("chunking_and_hashing");
  ASSERT_EQ(cases.size(), 12u);
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    auto data = MakeInput(c.at("input"));
    Hashed got = HashWhole(data);
    EXPECT_EQ(got.size, c.at("size").get<uint64_t>());
    ASSERT_TRUE(got.sha256.has_value());
    EXPECT_EQ(HexLower(*got.sha256), c.at("input_sha256"));
    EXPECT_EQ(got.file_hash.ToString(), c.at("file_hash"));

    const auto& want = c.at("chunks");
    ASSERT_EQ(got.chunks.size(), want.size());
    ASSERT_EQ(got.chunks.size(), c.at("num_chunks").get<size_t>());
    for (size_t i = 0; i < want.size(); ++i) {
      const ChunkInfo& g = got.chunks[i];
      EXPECT_EQ(g.offset, want[i].at("start").get<uint64_t>()) << i;
      EXPECT_EQ(g.length, want[i].at("length").get<uint32_t>()) << i;
      EXPECT_EQ(g.hash.ToString(), want[i].at("hash")) << i;
      EXPECT_EQ(g.hash, ChunkHash(std::span(data).subspan(g.offset, g.length))) << i;
      EXPECT_EQ(IsGlobalDedupEligible(g.hash), want[i].at("global_dedup_eligible").get<bool>()) << i;
      // §5.6: the first chunk of a file is always queried.
      EXPECT_EQ(IsGlobalDedupCandidate(i, g.hash),
                i == 0 || want[i].at("global_dedup_eligible").get<bool>())
          << i;
    }
    if (want.empty()) {
      EXPECT_TRUE(got.file_hash.IsZero());
      EXPECT_FALSE(c.contains("single_xorb") && c.at("single_xorb").contains("xorb_hash"));
      continue;
    }
    const auto& xorb = c.at("single_xorb");
    auto leaves = Leaves(got.chunks);
    EXPECT_EQ(XorbHash(leaves).ToString(), xorb.at("xorb_hash"));
    std::vector<Hash> hashes;
    for (const auto& ch : got.chunks) hashes.push_back(ch.hash);
    EXPECT_EQ(VerificationHash(hashes).ToString(), xorb.at("verification_hash_all_chunks"));
  }
}

TEST(FileHasherTest, EmptyFile) {
  FileHasher h(true);
  h.Finish();
  EXPECT_EQ(h.size(), 0u);
  EXPECT_TRUE(h.chunks().empty());
  EXPECT_TRUE(h.file_hash().IsZero());
  EXPECT_EQ(HexLower(*h.sha256()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileHasherTest, EmptyUpdatesChangeNothing) {
  auto data = SplitMix64Bytes(42, 100000);
  FileHasher h(false);
  h.Update({});
  h.Update(std::span(data).first(50000));
  h.Update({});
  h.Update(std::span(data).subspan(50000));
  h.Finish();
  EXPECT_FALSE(h.sha256().has_value());
  Hashed whole = HashWhole(data);
  EXPECT_TRUE(SameChunks(h.chunks(), whole.chunks));
  EXPECT_EQ(h.file_hash(), whole.file_hash);
}

TEST(FileHasherTest, FeedSizeInvariance) {
  std::vector<std::vector<uint8_t>> inputs = {SplitMix64Bytes(42, 1048576),
                                              SplitMix64Bytes(7, 3000000),
                                              std::vector<uint8_t>(300000, 0),
                                              SplitMix64Bytes(42, 8193)};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& data = inputs[i];
    Hashed whole = HashWhole(data);
    ASSERT_FALSE(whole.chunks.empty());
    for (size_t step : {1u, 37u, 255u, 4096u, 65536u, 1u << 20}) {
      if (step == 1 && data.size() > 1100000) continue;
      Hashed got = HashInBlocks(data, BlockSchedule(data.size(), step));
      EXPECT_TRUE(SameChunks(got.chunks, whole.chunks)) << "input " << i << " step " << step;
      EXPECT_EQ(got.file_hash, whole.file_hash) << "input " << i << " step " << step;
      EXPECT_EQ(got.sha256, whole.sha256) << "input " << i << " step " << step;
    }
    for (uint64_t seed : {11u, 12u, 13u}) {
      Hashed got = HashInBlocks(data, BlockSchedule(data.size(), 0, seed));
      EXPECT_TRUE(SameChunks(got.chunks, whole.chunks)) << "input " << i << " seed " << seed;
      EXPECT_EQ(got.file_hash, whole.file_hash) << "input " << i << " seed " << seed;
    }
  }
}

TEST(FileHasherTest, ChunksTileTheFile) {
  auto data = SplitMix64Bytes(3, 5 * 1024 * 1024 + 3);
  Hashed got = HashInBlocks(data, BlockSchedule(data.size(), 0, 99));
  uint64_t expect_offset = 0;
  for (const auto& c : got.chunks) {
    EXPECT_EQ(c.offset, expect_offset);
    expect_offset += c.length;
  }
  EXPECT_EQ(expect_offset, data.size());
  EXPECT_EQ(got.size, data.size());
  std::vector<size_t> lengths;
  for (const auto& c : got.chunks) lengths.push_back(c.length);
  EXPECT_EQ(lengths, ChunkLengths(data));
  EXPECT_EQ(got.file_hash, FileHash(Leaves(got.chunks)));
}

TEST(FileHasherTest, WithoutChunkListSameHash) {
  for (size_t n : {0u, 1u, 8192u, 300000u, 4000000u}) {
    auto data = SplitMix64Bytes(n, n);
    Hashed whole = HashWhole(data);
    FileHasher h(/*with_sha256=*/false, /*keep_chunks=*/false);
    for (size_t b : BlockSchedule(data.size(), 0, n)) {
      h.Update(std::span(data).first(b));
      data.erase(data.begin(), data.begin() + static_cast<ptrdiff_t>(b));
    }
    h.Finish();
    EXPECT_TRUE(h.chunks().empty());
    EXPECT_EQ(h.num_chunks(), whole.chunks.size()) << n;
    EXPECT_EQ(h.file_hash(), whole.file_hash) << n;
    EXPECT_EQ(h.size(), n);
  }
}

TEST(FileHasherTest, FinishTwiceIsHarmless) {
  auto data = SplitMix64Bytes(42, 70000);
  FileHasher h(true);
  h.Update(data);
  h.Finish();
  Hash first = h.file_hash();
  auto sha = h.sha256();
  h.Finish();
  EXPECT_EQ(h.file_hash(), first);
  EXPECT_EQ(h.sha256(), sha);
  EXPECT_EQ(h.chunks().size(), 2u);
}

}  // namespace
}  // namespace hubfs::chunkstore
