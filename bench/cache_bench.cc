// Chunk-cache throughput and latency: puts and hits of 64 KiB chunks.
//   build/bin/cache_bench [--benchmark_filter=...]
// Uses a fresh directory under $TMPDIR (or /tmp) per benchmark.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "chunkstore/cache.h"

namespace hubfs::chunkstore {
namespace {

constexpr size_t kChunk = 64 << 10;

class BenchDir {
 public:
  BenchDir() {
    const char* base = getenv("TMPDIR");
    std::string t = std::string(base != nullptr ? base : "/tmp") + "/hubfs-cache-bench-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Hash XorbFor(uint64_t n) {
  Hash h;
  for (size_t i = 0; i < h.bytes.size(); ++i) h.bytes[i] = static_cast<uint8_t>(n >> (i % 8 * 8)) ^ static_cast<uint8_t>(i);
  return h;
}

std::vector<uint8_t> RandomChunk(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(kChunk);
  for (size_t i = 0; i + 8 <= v.size(); i += 8) {
    const uint64_t x = rng();
    std::copy_n(reinterpret_cast<const uint8_t*>(&x), 8, v.data() + i);
  }
  return v;
}

std::unique_ptr<ChunkCache> OpenCache(const std::string& dir, uint64_t max_bytes, bool durable) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.durable = durable;
  auto c = ChunkCache::Open(o);
  return c.ok() ? std::move(c).value() : nullptr;
}

// Puts of distinct 64 KiB chunks, committed (Flush) every 64.
// Arg 0: durable (fsync per commit). Arg 1: limit in MiB (evicting once full).
void BM_Put64K(benchmark::State& state) {
  BenchDir dir;
  auto cache = OpenCache(dir.path(), static_cast<uint64_t>(state.range(1)) << 20, state.range(0) != 0);
  if (!cache) {
    state.SkipWithError("open failed");
    return;
  }
  const auto data = RandomChunk(1);
  uint32_t i = 0;
  for (auto _ : state) {
    cache->PutChunk(XorbFor(i / 1024), i % 1024, data);
    if (++i % 64 == 0 && !cache->Flush().ok()) state.SkipWithError("flush failed");
  }
  if (!cache->Flush().ok()) state.SkipWithError("flush failed");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  const CacheStats st = cache->Stats();
  state.counters["evictions"] = static_cast<double>(st.evictions);
  // Store file size over the limit: stays near 1 when freed pages are reused.
  std::error_code ec;
  const auto file = std::filesystem::file_size(dir.path() + "/data.mdb", ec);
  state.counters["file_over_limit"] =
      ec ? 0.0 : static_cast<double>(file) / static_cast<double>(state.range(1) << 20);
}
BENCHMARK(BM_Put64K)->Args({0, 4096})->Args({1, 4096})->Args({0, 64})->Args({0, 256})->UseRealTime();

// Hits on a warm cache of 512 chunks (32 MiB), random order, from `threads`
// threads; p50/p99 latency per lookup in microseconds. Arg 0: 0 = GetChunk
// (copy out), 1 = VisitChunk (zero-copy).
void BM_GetHit64K(benchmark::State& state) {
  static std::unique_ptr<BenchDir> dir;
  static std::unique_ptr<ChunkCache> cache;
  constexpr uint32_t kN = 512;
  if (state.thread_index() == 0) {
    dir = std::make_unique<BenchDir>();
    cache = OpenCache(dir->path(), 1ull << 30, false);
    for (uint32_t i = 0; i < kN; ++i) cache->PutChunk(XorbFor(7), i, RandomChunk(i));
    (void)cache->Flush();
  }
  std::mt19937 rng(static_cast<uint32_t>(state.thread_index()) + 1);
  std::vector<double> lat;
  lat.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    bool hit = false;
    if (state.range(0) == 0) {
      auto got = cache->GetChunk(XorbFor(7), rng() % kN);
      hit = got.ok() && got->has_value();
      benchmark::DoNotOptimize(got);
    } else {
      uint8_t first = 0;
      auto got = cache->VisitChunk(XorbFor(7), rng() % kN,
                                   [&](std::span<const uint8_t> rec) { first = rec[0]; });
      hit = got.ok() && *got;
      benchmark::DoNotOptimize(first);
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (!hit) state.SkipWithError("miss");
    if (lat.size() < lat.capacity()) lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    state.counters["p50_us"] = lat[lat.size() / 2];
    state.counters["p99_us"] = lat[lat.size() * 99 / 100];
  }
  if (state.thread_index() == 0) {
    cache.reset();
    dir.reset();
  }
}
BENCHMARK(BM_GetHit64K)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

// Fixed cost of a hit: 200-byte terms entries (a read transaction, the
// pending-map check, recency bookkeeping, a small checksum and zstd frame).
void BM_GetHitSmall(benchmark::State& state) {
  BenchDir dir;
  auto cache = OpenCache(dir.path(), 1ull << 30, false);
  if (!cache) {
    state.SkipWithError("open failed");
    return;
  }
  constexpr uint32_t kN = 4096;
  for (uint32_t i = 0; i < kN; ++i) cache->PutTerms(XorbFor(i), std::vector<uint8_t>(200, static_cast<uint8_t>(i)));
  (void)cache->Flush();
  std::mt19937 rng(1);
  for (auto _ : state) {
    auto got = cache->GetTerms(XorbFor(rng() % kN));
    if (!got.ok() || !got->has_value()) state.SkipWithError("miss");
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_GetHitSmall)->UseRealTime();

}  // namespace
}  // namespace hubfs::chunkstore

BENCHMARK_MAIN();
