#include "chunkstore/chunker.h"

#include <gtest/gtest.h>

#include <numeric>

#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::Vectors;

std::vector<uint8_t> MakeInput(const nlohmann::json& spec) {
  EXPECT_EQ(spec["kind"], "splitmix64") << spec.dump();
  if (spec["kind"] == "splitmix64") return SplitMix64Bytes(spec["seed"], spec["length"]);
  return {};
}

std::vector<uint64_t> Cumulative(const std::vector<size_t>& lengths) {
  std::vector<uint64_t> out;
  uint64_t sum = 0;
  for (size_t l : lengths) out.push_back(sum += l);
  return out;
}

TEST(ChunkerTest, GeneratorMatchesSpecCheck) {
  EXPECT_EQ(HexLower(SplitMix64Bytes(0, 8)), "afcd1d7b39a820e2");
  EXPECT_EQ(HexLower(SplitMix64Bytes(42, 8)), "956eeb2f2632d7bd");
}

TEST(ChunkerTest, EmptyInputHasNoChunks) { EXPECT_TRUE(ChunkLengths({}).empty()); }

TEST(ChunkerTest, VectorBoundaries) {
  const auto& cases = Vectors()["chunking_and_hashing"];
  ASSERT_FALSE(cases.empty());
  int checked = 0;
  for (const auto& c : cases) {
    if (c["input"]["kind"] != "splitmix64") continue;
    auto data = MakeInput(c["input"]);
    auto got = Cumulative(ChunkLengths(data));
    EXPECT_EQ(got, c["boundaries"].get<std::vector<uint64_t>>()) << c["name"];
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace hubfs::chunkstore
