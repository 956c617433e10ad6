#include "fs/content/chunk_placement.h"

#include "chunkstore/xorb.h"

namespace hubfs::fs {

std::optional<std::vector<uint64_t>> PlaceChunks(std::span<const uint32_t> lengths,
                                                 std::span<const ChunkAnchor> anchors) {
  const size_t n = lengths.size();
  std::vector<uint64_t> at(n + 1, kUnplaced);
  for (const ChunkAnchor& a : anchors) {
    if (a.boundary > n || a.offset == kUnplaced) return std::nullopt;
    if (at[a.boundary] != kUnplaced && at[a.boundary] != a.offset) return std::nullopt;
    at[a.boundary] = a.offset;
  }
  // Forwards, then backwards: every run of known lengths touching an anchor
  // is placed, and every anchor the runs reach is checked.
  for (size_t k = 0; k < n; ++k) {
    if (at[k] == kUnplaced || lengths[k] == 0) continue;
    const uint64_t next = at[k] + lengths[k];
    if (at[k + 1] != kUnplaced && at[k + 1] != next) return std::nullopt;
    at[k + 1] = next;
  }
  for (size_t k = n; k > 0; --k) {
    if (at[k] == kUnplaced || lengths[k - 1] == 0) continue;
    if (at[k] < lengths[k - 1]) return std::nullopt;
    const uint64_t prev = at[k] - lengths[k - 1];
    if (at[k - 1] != kUnplaced && at[k - 1] != prev) return std::nullopt;
    at[k - 1] = prev;
  }
  // Across unknown lengths, placed boundaries must still leave every chunk
  // between them 1 .. kMaxChunkUncompressedSize bytes.
  size_t prev = n + 1;
  for (size_t k = 0; k <= n; ++k) {
    if (at[k] == kUnplaced) continue;
    if (prev <= n) {
      const uint64_t chunks = k - prev;
      if (at[k] < at[prev] + chunks ||
          at[k] - at[prev] > chunks * chunkstore::kMaxChunkUncompressedSize) {
        return std::nullopt;
      }
    }
    prev = k;
  }
  return at;
}

}  // namespace hubfs::fs
