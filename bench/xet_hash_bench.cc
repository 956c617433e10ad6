// Xet hashing throughput on one core: gearhash chunking, BLAKE3-keyed chunk
// hashing, the whole FileHasher pipeline, and Merkle roots over many leaves.
// Run through scripts/bench-xet.sh (pins the CPU, compares with b3sum).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "chunkstore/chunker.h"
#include "chunkstore/file_hasher.h"
#include "chunkstore/hash.h"

namespace hubfs::chunkstore {
namespace {

constexpr size_t kDataSize = 64 << 20;

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> out(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i += 8) {
    s += 0x9E3779B97F4A7C15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    for (size_t b = 0; b < 8 && i + b < n; ++b) out[i + b] = static_cast<uint8_t>(z >> (8 * b));
  }
  return out;
}

const std::vector<uint8_t>& Data() {
  static const std::vector<uint8_t>* const data = new std::vector<uint8_t>(RandomBytes(kDataSize, 1));
  return *data;
}

void BM_Chunking(benchmark::State& state) {
  const auto& data = Data();
  size_t chunks = 0;
  for (auto _ : state) {
    Chunker c;
    std::span<const uint8_t> rest(data);
    while (!rest.empty()) {
      size_t cut = c.NextBoundary(rest);
      if (cut == Chunker::kNoBoundary) break;
      ++chunks;
      rest = rest.subspan(cut);
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Chunking)->Unit(benchmark::kMillisecond);

// Keyed BLAKE3 of chunk-sized pieces (arg = chunk size).
void BM_ChunkHash(benchmark::State& state) {
  const auto& data = Data();
  const size_t chunk = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    for (size_t off = 0; off + chunk <= data.size(); off += chunk) {
      Hash h = ChunkHash(std::span(data).subspan(off, chunk));
      benchmark::DoNotOptimize(h);
    }
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * (data.size() / chunk) * chunk));
}
BENCHMARK(BM_ChunkHash)->Arg(8192)->Arg(65536)->Arg(131072)->Unit(benchmark::kMillisecond);

// Chunk + hash every chunk + file hash, fed in blocks (arg = block size).
void BM_FileHasher(benchmark::State& state) {
  const auto& data = Data();
  const size_t block = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    FileHasher h(/*with_sha256=*/false, /*keep_chunks=*/false);
    for (size_t off = 0; off < data.size(); off += block) {
      h.Update(std::span(data).subspan(off, std::min(block, data.size() - off)));
    }
    h.Finish();
    Hash fh = h.file_hash();
    benchmark::DoNotOptimize(fh);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_FileHasher)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// What `xet hash --json` does: also SHA-256 and the chunk list.
void BM_FileHasherWithSha256(benchmark::State& state) {
  const auto& data = Data();
  const size_t block = 1 << 20;
  for (auto _ : state) {
    FileHasher h(/*with_sha256=*/true, /*keep_chunks=*/true);
    for (size_t off = 0; off < data.size(); off += block) {
      h.Update(std::span(data).subspan(off, std::min(block, data.size() - off)));
    }
    h.Finish();
    Hash fh = h.file_hash();
    benchmark::DoNotOptimize(fh);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_FileHasherWithSha256)->Unit(benchmark::kMillisecond);

std::vector<MerkleNode> Leaves(size_t n) {
  std::vector<MerkleNode> leaves(n);
  auto bytes = RandomBytes(n * 32, 2);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(bytes.begin() + static_cast<ptrdiff_t>(i * 32), 32, leaves[i].hash.bytes.begin());
    leaves[i].size = 65536;
  }
  return leaves;
}

// Merkle root over many leaves (arg = leaf count; 16384 leaves ≈ 1 GiB file).
void BM_MerkleRoot(benchmark::State& state) {
  const auto leaves = Leaves(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Hash h = MerkleRoot(leaves);
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * leaves.size()));
}
BENCHMARK(BM_MerkleRoot)->Arg(16)->Arg(1024)->Arg(16384)->Arg(262144)->Unit(benchmark::kMicrosecond);

void BM_MerkleBuilder(benchmark::State& state) {
  const auto leaves = Leaves(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    MerkleBuilder b;
    for (const auto& l : leaves) b.Add(l);
    Hash h = b.Root();
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * leaves.size()));
}
BENCHMARK(BM_MerkleBuilder)->Arg(16384)->Arg(262144)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hubfs::chunkstore

BENCHMARK_MAIN();
