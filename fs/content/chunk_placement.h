// Where the chunks of one file term lie in the file, from what is known
// locally: the chunk lengths learned for its xorb (0 = unknown) and anchors,
// file offsets of some chunk boundaries of the term. The term's own start and
// end are anchors by definition (the file's terms give them); a ranged plan
// adds one where its first chunk starts (and one where its last term ends
// inside a term). A boundary is placed when a run of known lengths links it
// to an anchor, forwards or backwards. Pure functions, no I/O.
#ifndef HUBFS_FS_CONTENT_CHUNK_PLACEMENT_H_
#define HUBFS_FS_CONTENT_CHUNK_PLACEMENT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace hubfs::fs {

// A boundary that could not be placed.
inline constexpr uint64_t kUnplaced = UINT64_MAX;

// One anchor: boundary `boundary` (0 = the term's first chunk starts there,
// lengths.size() = the term's end) lies at file offset `offset`.
struct ChunkAnchor {
  uint32_t boundary = 0;
  uint64_t offset = 0;
};

// The file offsets of the term's lengths.size() + 1 chunk boundaries
// (kUnplaced where unknown). nullopt when the anchors and lengths disagree
// (two paths give one boundary two offsets, an anchor out of range, a chunk
// that would start before offset 0, or placed boundaries that leave a chunk
// between them empty or longer than a chunk can be): nothing of the term may
// then be served without a plan.
std::optional<std::vector<uint64_t>> PlaceChunks(std::span<const uint32_t> lengths,
                                                 std::span<const ChunkAnchor> anchors);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_CHUNK_PLACEMENT_H_
