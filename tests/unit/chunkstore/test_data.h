// Helpers shared by chunkstore unit tests: the spec's input generator and the
// vectors file.
#ifndef HUBFS_TESTS_UNIT_CHUNKSTORE_TEST_DATA_H_
#define HUBFS_TESTS_UNIT_CHUNKSTORE_TEST_DATA_H_

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hubfs::testing {

// SplitMix64 byte stream (spec/xet.md §9).
inline std::vector<uint8_t> SplitMix64Bytes(uint64_t seed, size_t length) {
  std::vector<uint8_t> out(length);
  uint64_t state = seed;
  size_t i = 0;
  while (i < length) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (int b = 0; b < 8 && i < length; ++b, ++i) out[i] = static_cast<uint8_t>(z >> (8 * b));
  }
  return out;
}

inline const nlohmann::json& Vectors() {
  static const nlohmann::json* const v = [] {
    std::ifstream in(std::string(HUBFS_TEST_DATA_DIR) + "/xet-vectors.json");
    auto* j = new nlohmann::json();
    if (in) *j = nlohmann::json::parse(in);
    return j;
  }();
  return *v;
}

}  // namespace hubfs::testing

#endif  // HUBFS_TESTS_UNIT_CHUNKSTORE_TEST_DATA_H_
