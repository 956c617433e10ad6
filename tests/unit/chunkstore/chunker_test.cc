#include "chunkstore/chunker.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <string>

#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/chunking_inputs.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::BlockSchedule;
using ::hubfs::testing::Cumulative;
using ::hubfs::testing::EdgeCaseData;
using ::hubfs::testing::MakeInput;
using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::TriggerPatternData;
using ::hubfs::testing::Unhex;
using ::hubfs::testing::Vectors;

std::vector<uint64_t> Boundaries(std::span<const uint8_t> data) {
  return Cumulative(ChunkLengths(data));
}

// Chunks `data` through one streaming Chunker fed in the given block sizes.
std::vector<size_t> StreamLengths(std::span<const uint8_t> data, const std::vector<size_t>& blocks) {
  std::vector<size_t> out;
  Chunker c;
  size_t chunk_start = 0;
  size_t pos = 0;
  for (size_t b : blocks) {
    std::span<const uint8_t> rest = data.subspan(pos, b);
    size_t rest_off = pos;
    while (!rest.empty()) {
      size_t cut = c.NextBoundary(rest);
      if (cut == Chunker::kNoBoundary) break;
      EXPECT_GE(cut, 1u);
      EXPECT_LE(cut, rest.size());
      rest_off += cut;
      out.push_back(rest_off - chunk_start);
      chunk_start = rest_off;
      EXPECT_EQ(c.pending(), 0u);
      rest = rest.subspan(cut);
    }
    pos += b;
    EXPECT_EQ(c.pending(), pos - chunk_start);
  }
  if (c.pending() > 0) out.push_back(c.pending());
  return out;
}

// The gear table as published with the Xet spec (tests/data/gear_table.txt).
std::vector<uint64_t> SpecGearTable() {
  std::ifstream in(std::string(HUBFS_TEST_DATA_DIR) + "/gear_table.txt");
  std::vector<uint64_t> t;
  std::string line;
  while (std::getline(in, line)) t.push_back(std::stoull(line, nullptr, 16));
  return t;
}

// The straightforward per-byte formulation of §1.4, written independently of
// chunker.cc (no skip-ahead, no unrolling).
std::vector<size_t> PerByteReference(std::span<const uint8_t> data) {
  static const std::vector<uint64_t> table = SpecGearTable();
  EXPECT_EQ(table.size(), 256u);
  if (table.size() != 256) return {};
  std::vector<size_t> out;
  uint64_t h = 0;
  size_t size = 0;
  for (uint8_t b : data) {
    h = (h << 1) + table[b];
    ++size;
    if (size < kMinChunkSize) continue;
    if (size >= kMaxChunkSize || (h >> 48) == 0) {
      out.push_back(size);
      size = 0;
      h = 0;
    }
  }
  if (size > 0) out.push_back(size);
  return out;
}

TEST(ChunkerTest, GeneratorMatchesSpecCheck) {
  EXPECT_EQ(HexLower(SplitMix64Bytes(0, 16)),
            Vectors().at("input_generator").at("splitmix64").at("check_seed0_first16_hex"));
  EXPECT_EQ(HexLower(SplitMix64Bytes(42, 16)),
            Vectors().at("input_generator").at("splitmix64").at("check_seed42_first16_hex"));
}

TEST(ChunkerTest, GearTableMatchesSpecFile) {
  std::ifstream in(std::string(HUBFS_TEST_DATA_DIR) + "/gear_table.txt", std::ios::binary);
  ASSERT_TRUE(in.good());
  in.seekg(0, std::ios::end);
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  EXPECT_EQ(HexLower(Sha256Digest({reinterpret_cast<const uint8_t*>(text.data()), text.size()})),
            "1e28659c1e21d4f4f3273eb3a484e4829a986d5527935c5b2a4be95672a94ce7");
  std::vector<uint64_t> t = SpecGearTable();
  ASSERT_EQ(t.size(), 256u);
  EXPECT_EQ(t[0], 0xb088d3a9e840f559ULL);
  EXPECT_EQ(t[255], 0x63c7a906c1dd187bULL);
  // 20 entries have their top 16 bits zero (§1.6).
  int zero_top = 0;
  for (uint64_t v : t) zero_top += (v >> 48) == 0 ? 1 : 0;
  EXPECT_EQ(zero_top, 20);
}

TEST(ChunkerTest, EmptyInputHasNoChunks) { EXPECT_TRUE(ChunkLengths({}).empty()); }

TEST(ChunkerTest, ShortInputsAreOneChunk) {
  for (size_t n : {1u, 100u, 8126u, 8127u, 8128u, 8191u}) {
    auto data = SplitMix64Bytes(n, n);
    EXPECT_EQ(ChunkLengths(data), std::vector<size_t>{n});
  }
}

TEST(ChunkerTest, VectorBoundaries) {
  const auto& cases = Vectors().at("chunking_and_hashing");
  ASSERT_EQ(cases.size(), 12u);
  int const_inputs = 0;
  for (const auto& c : cases) {
    auto data = MakeInput(c.at("input"));
    ASSERT_EQ(data.size(), c.at("size").get<size_t>());
    EXPECT_EQ(HexLower(Sha256Digest(data)), c.at("input_sha256")) << c.at("name");
    auto got = Boundaries(data);
    EXPECT_EQ(got, c.at("boundaries").get<std::vector<uint64_t>>()) << c.at("name");
    EXPECT_EQ(got.size(), c.at("num_chunks").get<size_t>()) << c.at("name");
    if (c.at("input").at("kind") == "const") ++const_inputs;
  }
  EXPECT_EQ(const_inputs, 1);
}

TEST(ChunkerTest, OfficialSeed0) {
  const auto& t = Vectors().at("official_xet_core_tests").at("chunk_boundaries_splitmix_seed0_1000000");
  auto data = SplitMix64Bytes(0, 1000000);
  ASSERT_EQ(t.at("data_checks").size(), 3u);
  for (const auto& [pos, value] : t.at("data_checks").items()) {
    EXPECT_EQ(data[std::stoul(pos)], value.get<int>()) << pos;
  }
  EXPECT_EQ(Boundaries(data), t.at("boundaries").get<std::vector<uint64_t>>());
}

TEST(ChunkerTest, OfficialConst59) {
  const auto& t = Vectors().at("official_xet_core_tests").at("chunk_boundaries_const59_1000000");
  std::vector<uint8_t> data(1000000, 59);
  EXPECT_EQ(Boundaries(data), t.at("boundaries").get<std::vector<uint64_t>>());
  EXPECT_EQ(Boundaries(data).size(), 8u);
}

TEST(ChunkerTest, OfficialTriggerPatterns) {
  const auto& t = Vectors().at("official_xet_core_tests").at("chunk_boundaries_trigger_pattern");
  const auto base = t.at("base_pattern").get<std::vector<uint8_t>>();
  ASSERT_EQ(base.size(), 128u);
  const auto& cases = t.at("cases");
  ASSERT_EQ(cases.size(), 128u);
  for (const auto& c : cases) {
    const size_t padding = c.at("padding");
    auto data = TriggerPatternData(base, padding, 65536);
    EXPECT_EQ(data[11111], c.at("byte_at_11111").get<int>()) << padding;
    EXPECT_EQ(Boundaries(data), c.at("boundaries").get<std::vector<uint64_t>>())
        << "padding " << padding;
  }
}

TEST(ChunkerTest, BoundaryEdgeCases) {
  const auto& t = Vectors().at("boundary_edge_cases");
  auto window = Unhex(t.at("window_hex").get<std::string>());
  ASSERT_EQ(window.size(), 64u);
  // The window alone makes the top 16 bits of the gear hash zero.
  ASSERT_EQ(t.at("cases").size(), 3u);
  for (const auto& c : t.at("cases")) {
    const size_t end = c.at("window_ends_at");
    auto data = EdgeCaseData(window, end);
    auto got = Boundaries(data);
    EXPECT_EQ(got, c.at("boundaries").get<std::vector<uint64_t>>()) << end;
    ASSERT_FALSE(got.empty());
    if (end >= kMinChunkSize) {
      EXPECT_EQ(got[0], end);  // inclusive at MIN
    } else {
      EXPECT_GT(got[0], kMinChunkSize);  // 8191 < MIN: no cut there
    }
    EXPECT_EQ(c.at("legacy_boundaries_first").get<uint64_t>(), end);
  }
}

TEST(ChunkerTest, DoesNotFollowTheLegacyRule) {
  const auto& v = Vectors();
  // Where each legacy-differing input comes from, and what the current rule gives.
  std::map<std::string, std::pair<std::vector<uint8_t>, std::vector<uint64_t>>> inputs;
  for (const auto& c : v.at("chunking_and_hashing")) {
    inputs[c.at("name")] = {MakeInput(c.at("input")),
                            c.at("boundaries").get<std::vector<uint64_t>>()};
  }
  auto window = Unhex(v.at("boundary_edge_cases").at("window_hex").get<std::string>());
  for (const auto& c : v.at("boundary_edge_cases").at("cases")) {
    const size_t end = c.at("window_ends_at");
    inputs["edge_window_end_" + std::to_string(end)] = {
        EdgeCaseData(window, end), c.at("boundaries").get<std::vector<uint64_t>>()};
  }
  const auto& trig = v.at("official_xet_core_tests").at("chunk_boundaries_trigger_pattern");
  const auto base = trig.at("base_pattern").get<std::vector<uint8_t>>();
  for (const auto& c : trig.at("cases")) {
    const size_t p = c.at("padding");
    inputs["official_trigger_pattern_padding_" + std::to_string(p)] = {
        TriggerPatternData(base, p, 65536), c.at("boundaries").get<std::vector<uint64_t>>()};
  }

  const auto& differing = v.at("legacy_chunker").at("differing_inputs");
  ASSERT_GE(differing.size(), 17u);
  for (const auto& [name, legacy] : differing.items()) {
    auto it = inputs.find(name);
    ASSERT_NE(it, inputs.end()) << "no input for legacy case " << name;
    auto got = Boundaries(it->second.first);
    EXPECT_NE(got, legacy.get<std::vector<uint64_t>>()) << name;
    EXPECT_EQ(got, it->second.second) << name;
    // The legacy rule's tell: a non-final chunk of 8128..8191 bytes. Never here.
    uint64_t prev = 0;
    for (size_t i = 0; i + 1 < got.size(); ++i) {
      EXPECT_GE(got[i] - prev, kMinChunkSize) << name << " chunk " << i;
      prev = got[i];
    }
  }
}

TEST(ChunkerTest, MatchesPerByteReference) {
  std::mt19937_64 rng(20260101);
  std::vector<std::vector<uint8_t>> inputs;
  inputs.push_back(SplitMix64Bytes(99, 2 * 1024 * 1024 + 17));
  inputs.push_back(std::vector<uint8_t>(400000, 0));
  inputs.push_back(std::vector<uint8_t>(300001, 0xff));
  // Short repeated patterns, text-like bytes, sparse data.
  for (size_t period : {2u, 3u, 64u, 65u, 1000u}) {
    std::vector<uint8_t> d(500000);
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>((i % period) * 37 + 1);
    inputs.push_back(std::move(d));
  }
  {
    std::vector<uint8_t> d(1500000);
    const char alphabet[] = "etaoin shrdlu\n,.ETAOIN";
    for (auto& b : d) b = static_cast<uint8_t>(alphabet[rng() % (sizeof(alphabet) - 1)]);
    inputs.push_back(std::move(d));
  }
  {
    std::vector<uint8_t> d(1500000, 0);
    for (int k = 0; k < 300; ++k) d[rng() % d.size()] = static_cast<uint8_t>(rng());
    inputs.push_back(std::move(d));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto ref = PerByteReference(inputs[i]);
    ASSERT_FALSE(ref.empty());
    EXPECT_EQ(ChunkLengths(inputs[i]), ref) << "input " << i;
  }
}

TEST(ChunkerTest, ChunkSizesWithinLimits) {
  auto data = SplitMix64Bytes(5, 8 * 1024 * 1024);
  auto lengths = ChunkLengths(data);
  ASSERT_GT(lengths.size(), 60u);
  size_t total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    total += lengths[i];
    EXPECT_LE(lengths[i], kMaxChunkSize);
    if (i + 1 < lengths.size()) {
      EXPECT_GE(lengths[i], kMinChunkSize);
    }
  }
  EXPECT_EQ(total, data.size());
  // Mean near the 64 KiB target (random data): loose sanity bounds.
  EXPECT_GT(total / lengths.size(), 40000u);
  EXPECT_LT(total / lengths.size(), 100000u);
}

TEST(ChunkerTest, FeedSizeInvariance) {
  std::vector<std::vector<uint8_t>> inputs = {SplitMix64Bytes(42, 1048576),
                                              SplitMix64Bytes(7, 3000000),
                                              std::vector<uint8_t>(300000, 0)};
  auto window = Unhex(Vectors().at("boundary_edge_cases").at("window_hex").get<std::string>());
  inputs.push_back(EdgeCaseData(window, 8192));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& data = inputs[i];
    auto whole = ChunkLengths(data);
    for (size_t step : {1u, 37u, 255u, 4096u, 0u, 65536u, 131072u}) {
      if (step == 1 && data.size() > 1100000) continue;  // keep the 1-byte feed quick
      EXPECT_EQ(StreamLengths(data, BlockSchedule(data.size(), step)), whole)
          << "input " << i << " step " << step;
    }
    for (uint64_t seed : {1u, 2u, 3u}) {
      EXPECT_EQ(StreamLengths(data, BlockSchedule(data.size(), 0, seed)), whole)
          << "input " << i << " random seed " << seed;
    }
  }
}

TEST(ChunkerTest, ResetStartsANewChunk) {
  auto data = SplitMix64Bytes(42, 200000);
  Chunker c;
  EXPECT_EQ(c.NextBoundary(std::span(data).first(5000)), Chunker::kNoBoundary);
  EXPECT_EQ(c.pending(), 5000u);
  c.Reset();
  EXPECT_EQ(c.pending(), 0u);
  size_t cut = c.NextBoundary(data);
  EXPECT_EQ(cut, ChunkLengths(data)[0]);
}

}  // namespace
}  // namespace hubfs::chunkstore
