// Inputs that the chunking/hashing vectors (tests/data/xet-vectors.json) describe
// instead of storing: generated streams, planted windows, xet-core's
// "trigger pattern" data, and block-size schedules for streaming tests.
#ifndef HUBFS_TESTS_UNIT_CHUNKSTORE_CHUNKING_INPUTS_H_
#define HUBFS_TESTS_UNIT_CHUNKSTORE_CHUNKING_INPUTS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::testing {

// Plain hex → bytes; a malformed string fails the calling test.
inline std::vector<uint8_t> Unhex(std::string_view hex) {
  auto r = chunkstore::ParseHex(hex);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<uint8_t>{};
}

// A vector input of chunking_and_hashing: {"kind": "splitmix64"|"const", ...}.
inline std::vector<uint8_t> MakeInput(const nlohmann::json& spec) {
  const std::string kind = spec.at("kind");
  const size_t length = spec.at("length");
  if (kind == "splitmix64") return SplitMix64Bytes(spec.at("seed"), length);
  if (kind == "const") return std::vector<uint8_t>(length, spec.at("value").get<uint8_t>());
  ADD_FAILURE() << "unknown input kind " << spec.dump();
  return {};
}

// official_xet_core_tests.chunk_boundaries_trigger_pattern: the base pattern
// plus `padding` zeros, repeated (copying from its start) to `length` bytes.
inline std::vector<uint8_t> TriggerPatternData(const std::vector<uint8_t>& base, size_t padding,
                                               size_t length) {
  std::vector<uint8_t> block = base;
  block.resize(base.size() + padding, 0);
  std::vector<uint8_t> out;
  out.reserve(length);
  while (out.size() < length) out.push_back(block[out.size() % block.size()]);
  return out;
}

// boundary_edge_cases: splitmix64 seed 77 × 300000 with the 64-byte window
// written so that it ends at `window_end`.
inline std::vector<uint8_t> EdgeCaseData(const std::vector<uint8_t>& window, size_t window_end) {
  std::vector<uint8_t> data = SplitMix64Bytes(77, 300000);
  std::copy(window.begin(), window.end(), data.begin() + (window_end - window.size()));
  return data;
}

// Cumulative end offsets of a list of chunk lengths.
template <typename T>
std::vector<uint64_t> Cumulative(const std::vector<T>& lengths) {
  std::vector<uint64_t> out;
  uint64_t sum = 0;
  for (T l : lengths) out.push_back(sum += l);
  return out;
}

// Splits `total` bytes into consecutive block sizes: all equal to `step`, or
// (step == 0) random sizes in [1, 200000] from a fixed seed.
inline std::vector<size_t> BlockSchedule(size_t total, size_t step, uint64_t seed = 1234) {
  std::vector<size_t> out;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> dist(1, 200000);
  for (size_t done = 0; done < total;) {
    size_t n = step != 0 ? step : dist(rng);
    if (n > total - done) n = total - done;
    out.push_back(n);
    done += n;
  }
  return out;
}

}  // namespace hubfs::testing

#endif  // HUBFS_TESTS_UNIT_CHUNKSTORE_CHUNKING_INPUTS_H_
