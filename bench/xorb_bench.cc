// Chunk record encode/decode throughput (LZ4, BG4+LZ4, none) on ~64 KiB
// chunks of random, text-like and float32 weight-like data, byte grouping on
// its own, and decoding / validating a whole 64 MiB xorb body.
//   build/bin/xorb_bench [--benchmark_filter=Decode]
// Rates are uncompressed bytes per second.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"

namespace hubfs::chunkstore {
namespace {

constexpr size_t kChunk = 65536;

enum class Kind { kRandom, kText, kWeights };

std::vector<uint8_t> Make(Kind kind, size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  switch (kind) {
    case Kind::kRandom:
      for (auto& b : out) b = static_cast<uint8_t>(rng());
      break;
    case Kind::kText: {
      static const char* const kWords[] = {"the ",       "model ",   "weights ",     "are ",
                                           "stored ",    "in ",      "safetensors ", "files, ",
                                           "and ",       "each ",    "layer ",       "has ",
                                           "attention ", "heads.\n", "{\"name\": ",  "0.125, "};
      size_t pos = 0;
      while (pos < n) {
        const char* w = kWords[rng() % 16];
        size_t len = std::min(std::strlen(w), n - pos);
        std::memcpy(out.data() + pos, w, len);
        pos += len;
      }
      break;
    }
    case Kind::kWeights: {
      // float32 weights around N(0, 0.02): sign/exponent bytes repeat, the
      // mantissa is noise — where byte grouping pays.
      std::normal_distribution<float> dist(0.0f, 0.02f);
      for (size_t i = 0; i + 4 <= n; i += 4) {
        float f = dist(rng);
        std::memcpy(out.data() + i, &f, 4);
      }
      break;
    }
  }
  return out;
}

const char* Name(Kind k) {
  return k == Kind::kRandom ? "random" : k == Kind::kText ? "text" : "weights";
}

// A record of each chunk forced into `scheme` (scheme 0 when it would not shrink).
std::vector<uint8_t> RecordWith(std::span<const uint8_t> chunk, CompressionPolicy policy) {
  std::vector<uint8_t> rec;
  AppendChunkRecord(chunk, policy, &rec);
  return rec;
}

void BM_Encode(benchmark::State& state, Kind kind, CompressionPolicy policy) {
  std::vector<uint8_t> chunk = Make(kind, kChunk, 1);
  std::vector<uint8_t> out;
  out.reserve(2 * kChunk);
  CompressionScheme scheme = CompressionScheme::kNone;
  for (auto _ : state) {
    out.clear();
    scheme = AppendChunkRecord(chunk, policy, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  state.counters["ratio"] = static_cast<double>(out.size()) / kChunk;
  state.SetLabel(std::string(Name(kind)) + " scheme=" + std::to_string(static_cast<int>(scheme)));
}

void BM_Decode(benchmark::State& state, Kind kind, CompressionPolicy policy) {
  std::vector<uint8_t> chunk = Make(kind, kChunk, 1);
  std::vector<uint8_t> rec = RecordWith(chunk, policy);
  std::vector<uint8_t> out(kChunk);
  ChunkDecoder decoder;
  for (auto _ : state) {
    size_t consumed = 0;
    Status st = decoder.DecodeRecordInto(rec, &consumed, out);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  state.counters["ratio"] = static_cast<double>(rec.size()) / kChunk;
  state.SetLabel(std::string(Name(kind)) + " scheme=" + std::to_string(rec[4]));
}

void BM_ByteGroup4(benchmark::State& state) {
  std::vector<uint8_t> chunk = Make(Kind::kWeights, kChunk, 1);
  std::vector<uint8_t> out(kChunk);
  for (auto _ : state) {
    ByteGroup4(chunk, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
}

void BM_ByteUngroup4(benchmark::State& state) {
  std::vector<uint8_t> chunk = Make(Kind::kWeights, kChunk, 1);
  std::vector<uint8_t> out(kChunk);
  for (auto _ : state) {
    ByteUngroup4(chunk, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
}

// A ~64 MiB xorb of 64 KiB chunks cycling through the three kinds, encoded
// with `policy`.
const XorbBuilder::Xorb& BigXorb(CompressionPolicy policy) {
  static XorbBuilder::Xorb* cache[3] = {};
  XorbBuilder::Xorb*& x = cache[static_cast<int>(policy)];
  if (x == nullptr) {
    XorbBuilder b(policy);
    std::vector<std::vector<uint8_t>> samples;
    for (Kind k : {Kind::kText, Kind::kWeights, Kind::kRandom}) {
      for (uint32_t s = 0; s < 4; ++s) samples.push_back(Make(k, kChunk, s));
    }
    for (size_t i = 0; b.CanAdd(kChunk); ++i) {
      const auto& c = samples[i % samples.size()];
      (void)b.Add(ChunkHash(c), c);
    }
    x = new XorbBuilder::Xorb(b.Finish());
  }
  return *x;
}

void BM_DecodeXorbBody(benchmark::State& state, CompressionPolicy policy) {
  const XorbBuilder::Xorb& x = BigXorb(policy);
  ChunkDecoder decoder;
  for (auto _ : state) {
    uint64_t total = 0;
    Status st = decoder.DecodeRun(x.body, x.info.chunks.size(),
                                  [&total](size_t, std::span<const uint8_t> c) {
                                    total += c.size();
                                    return Status::Ok();
                                  });
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * x.info.unpacked_size));
  state.counters["chunks"] = static_cast<double>(x.info.chunks.size());
  state.counters["ratio"] = static_cast<double>(x.body.size()) / x.info.unpacked_size;
}

// Decode + hash every chunk + Merkle root: the server-side validation.
void BM_ParseXorb(benchmark::State& state) {
  const XorbBuilder::Xorb& x = BigXorb(CompressionPolicy::kBest);
  for (auto _ : state) {
    Result<XorbInfo> info = ParseXorb(x.body);
    if (!info.ok()) state.SkipWithError(info.status().ToString().c_str());
    benchmark::DoNotOptimize(info);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * x.info.unpacked_size));
}

BENCHMARK_CAPTURE(BM_Encode, lz4_random, Kind::kRandom, CompressionPolicy::kLz4);
BENCHMARK_CAPTURE(BM_Encode, lz4_text, Kind::kText, CompressionPolicy::kLz4);
BENCHMARK_CAPTURE(BM_Encode, lz4_weights, Kind::kWeights, CompressionPolicy::kLz4);
BENCHMARK_CAPTURE(BM_Encode, best_random, Kind::kRandom, CompressionPolicy::kBest);
BENCHMARK_CAPTURE(BM_Encode, best_text, Kind::kText, CompressionPolicy::kBest);
BENCHMARK_CAPTURE(BM_Encode, best_weights, Kind::kWeights, CompressionPolicy::kBest);
BENCHMARK_CAPTURE(BM_Decode, none_random, Kind::kRandom, CompressionPolicy::kNone);
BENCHMARK_CAPTURE(BM_Decode, lz4_text, Kind::kText, CompressionPolicy::kLz4);
BENCHMARK_CAPTURE(BM_Decode, lz4_weights, Kind::kWeights, CompressionPolicy::kLz4);
BENCHMARK_CAPTURE(BM_Decode, best_text, Kind::kText, CompressionPolicy::kBest);
BENCHMARK_CAPTURE(BM_Decode, bg4_weights, Kind::kWeights, CompressionPolicy::kBest);
BENCHMARK(BM_ByteGroup4);
BENCHMARK(BM_ByteUngroup4);
BENCHMARK_CAPTURE(BM_DecodeXorbBody, none, CompressionPolicy::kNone)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecodeXorbBody, lz4, CompressionPolicy::kLz4)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DecodeXorbBody, best, CompressionPolicy::kBest)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseXorb)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hubfs::chunkstore

BENCHMARK_MAIN();
