#include "chunkstore/chunker.h"

#include <algorithm>

namespace hubfs::chunkstore {
namespace {

constexpr uint64_t kGearTable[256] = {
#include "chunkstore/gear_table.inc"
};

constexpr uint64_t kMask = 0xFFFF000000000000ULL;
// The first kMinChunkSize - 65 bytes of a chunk never influence an admissible
// boundary (§1.5): hashing starts at this offset with h = 0.
constexpr size_t kSkip = kMinChunkSize - 65;

}  // namespace

size_t Chunker::NextBoundary(std::span<const uint8_t> data) {
  const uint8_t* p = data.data();
  const size_t n = data.size();
  size_t i = 0;

  // Skip-ahead: bytes [0, kSkip) of a chunk are not hashed.
  if (len_ < kSkip) {
    size_t skip = std::min(n - i, kSkip - len_);
    len_ += skip;
    i += skip;
    if (len_ < kSkip) return kNoBoundary;
  }

  uint64_t h = h_;
  // Warm-up: bytes whose chunk length stays below kMinChunkSize are hashed
  // but never tested (at most 64 bytes).
  if (len_ < kMinChunkSize - 1) {
    size_t warm = std::min(n - i, (kMinChunkSize - 1) - len_);
    for (size_t k = 0; k < warm; ++k) h = (h << 1) + kGearTable[p[i + k]];
    i += warm;
    len_ += warm;
    if (len_ < kMinChunkSize - 1) {
      h_ = h;
      return kNoBoundary;
    }
  }

  // Tested region: a byte that brings the chunk length to L in
  // [kMinChunkSize, kMaxChunkSize] may end the chunk.
  const size_t avail = std::min(n - i, kMaxChunkSize - len_);
  const uint8_t* q = p + i;
  size_t k = 0;
  // Unrolled by 4; the common case is a long run without a match.
  for (; k + 4 <= avail; k += 4) {
    h = (h << 1) + kGearTable[q[k]];
    if ((h & kMask) == 0) {
      k += 1;
      goto cut;
    }
    h = (h << 1) + kGearTable[q[k + 1]];
    if ((h & kMask) == 0) {
      k += 2;
      goto cut;
    }
    h = (h << 1) + kGearTable[q[k + 2]];
    if ((h & kMask) == 0) {
      k += 3;
      goto cut;
    }
    h = (h << 1) + kGearTable[q[k + 3]];
    if ((h & kMask) == 0) {
      k += 4;
      goto cut;
    }
  }
  for (; k < avail; ++k) {
    h = (h << 1) + kGearTable[q[k]];
    if ((h & kMask) == 0) {
      k += 1;
      goto cut;
    }
  }
  len_ += avail;
  if (len_ >= kMaxChunkSize) {  // forced cut at MAX
    i += avail;
    len_ = 0;
    h_ = 0;
    return i;
  }
  h_ = h;
  return kNoBoundary;

cut:
  len_ = 0;
  h_ = 0;
  return i + k;
}

std::vector<size_t> ChunkLengths(std::span<const uint8_t> data) {
  std::vector<size_t> out;
  Chunker c;
  while (!data.empty()) {
    size_t cut = c.NextBoundary(data);
    if (cut == Chunker::kNoBoundary) break;
    out.push_back(cut);  // every call starts at a chunk start here
    data = data.subspan(cut);
  }
  if (c.pending() > 0) out.push_back(c.pending());
  return out;
}

}  // namespace hubfs::chunkstore
