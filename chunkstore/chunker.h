// Content-defined chunking (spec/xet.md §1): gearhash with the current
// boundary rule (minimum 8 KiB enforced) and the skip-ahead of §1.5.
//
// Streaming: feed the data in blocks of any size; boundaries are identical to
// chunking the whole input at once.
//
//   Chunker c;
//   for each block: while ((cut = c.NextBoundary(rest)) != Chunker::kNoBoundary) { ... }
//   at end of input: if (c.pending() > 0) the remaining bytes form the last chunk.
#ifndef HUBFS_CHUNKSTORE_CHUNKER_H_
#define HUBFS_CHUNKSTORE_CHUNKER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hubfs::chunkstore {

inline constexpr size_t kTargetChunkSize = 65536;
inline constexpr size_t kMinChunkSize = 8192;
inline constexpr size_t kMaxChunkSize = 131072;

// Not thread-safe; one per stream.
class Chunker {
 public:
  static constexpr size_t kNoBoundary = static_cast<size_t>(-1);

  // Scans `data`, which continues the stream. If the current chunk ends
  // inside `data`, returns the number of bytes of `data` that belong to it
  // (1..data.size()) and starts a new chunk after them; the caller then calls
  // again with the rest. Otherwise consumes all of `data` and returns
  // kNoBoundary.
  size_t NextBoundary(std::span<const uint8_t> data);

  // Bytes of the current, unfinished chunk seen so far. At end of input a
  // non-zero value is the length of the final chunk.
  size_t pending() const { return len_; }

  // Forgets the current chunk (start of a new file).
  void Reset() {
    len_ = 0;
    h_ = 0;
  }

 private:
  size_t len_ = 0;  // bytes of the current chunk consumed
  uint64_t h_ = 0;  // gear hash state
};

// Chunk lengths of a whole buffer (convenience for tests and small inputs).
std::vector<size_t> ChunkLengths(std::span<const uint8_t> data);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_CHUNKER_H_
