// Encodings of what the Xet reader keeps in the chunk cache besides chunk
// records (docs/CACHE_FORMAT.md lists the cache's own envelope: version and
// checksum per entry). Payloads here are untrusted on decode.
//
// Terms of a file (ChunkCache terms, keyed by file hash), little-endian:
//   u8 version (1 or 2) | u8[3] 0 | u32 count | u64 file size
//   count × { u8[32] raw xorb hash | u32 chunk start | u32 chunk end | u64 unpacked length }
//   version 2 only: u32 anchor count | u8[4] 0
//                   anchor count × { u32 term index | u32 chunk index | u64 file offset }
// An anchor says where a chunk inside a term starts in the file (learned from
// a ranged plan), so that a later read there can be placed without a plan
// (fs/content/chunk_placement.h). Version 1 is written when there is none.
// No URL is ever stored: they expire.
//
// Layout of a xorb (ChunkCache xorb layout, keyed by xorb hash):
//   u8 version (1) | u8 flags (bit 0: chunk count known) | u8[2] 0 | u32 count
//   count × { u32 uncompressed length (0 = unknown) | u32 record start offset (~0 = unknown) }
#ifndef HUBFS_FS_CONTENT_XET_CACHE_CODEC_H_
#define HUBFS_FS_CONTENT_XET_CACHE_CODEC_H_

#include <cstdint>
#include <span>
#include <vector>

#include "chunkstore/reconstruction.h"
#include "common/status.h"

namespace hubfs::fs {

// Bound on the chunk indices a layout may describe (a xorb body is ≤ 64 MiB
// and a record ≥ 9 bytes).
inline constexpr uint32_t kMaxLayoutChunks = 8u << 20;

// Chunk `chunk` (an index in the xorb of term `term`) starts at file offset
// `offset`. Only chunks strictly inside a term are anchors (its first chunk's
// start is known from the terms alone).
struct TermAnchor {
  uint32_t term = 0;
  uint32_t chunk = 0;
  uint64_t offset = 0;

  friend bool operator==(const TermAnchor&, const TermAnchor&) = default;
};

// Bound on the anchors one terms entry may hold.
inline constexpr uint32_t kMaxTermAnchors = 1u << 16;

std::vector<uint8_t> EncodeTerms(std::span<const chunkstore::ReconTerm> terms, uint64_t file_size,
                                 std::span<const TermAnchor> anchors = {});
// Checks the version, the counts against the payload length, every chunk
// range (start < end), non-zero lengths, that the lengths sum to
// `file_size`, and that each anchor lies strictly inside its term, both as a
// chunk index and as a file offset. `anchors` (may be nullptr) gets them.
// Errors: kCorrupt.
Result<std::vector<chunkstore::ReconTerm>> DecodeTerms(std::span<const uint8_t> payload,
                                                      uint64_t file_size,
                                                      std::vector<TermAnchor>* anchors = nullptr);

// Record start offset not known (a length learned from a cached chunk).
inline constexpr uint32_t kUnknownRecordStart = 0xffffffffu;

// What reads learned about one xorb. Index k describes chunk k.
struct LearnedLayout {
  std::vector<uint32_t> lengths;        // 0 = not known yet
  std::vector<uint32_t> record_starts;  // where lengths[k] != 0; or kUnknownRecordStart
  bool count_known = false;             // the xorb has exactly lengths.size() chunks

  // Merges `other` in. Returns false (and leaves *this unchanged) when they
  // disagree about a known length or offset, or about the chunk count.
  bool Merge(const LearnedLayout& other, bool* changed);
};

std::vector<uint8_t> EncodeLayout(const LearnedLayout& layout);
// Errors: kCorrupt (version, sizes, count over kMaxLayoutChunks).
Result<LearnedLayout> DecodeLayout(std::span<const uint8_t> payload);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_XET_CACHE_CODEC_H_
