// Streaming Xet file hashing: chunk (§1), hash every chunk (§2.3), and at the
// end compute the file hash (§2.6) and, optionally, the SHA-256. Memory is
// bounded by one chunk plus 40 bytes per chunk of the file.
#ifndef HUBFS_CHUNKSTORE_FILE_HASHER_H_
#define HUBFS_CHUNKSTORE_FILE_HASHER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "chunkstore/chunker.h"
#include "chunkstore/hash.h"

namespace hubfs::chunkstore {

struct ChunkInfo {
  uint64_t offset = 0;
  uint32_t length = 0;
  Hash hash;
};

// Not thread-safe; one per file.
class FileHasher {
 public:
  explicit FileHasher(bool with_sha256);
  ~FileHasher();

  void Update(std::span<const uint8_t> data);
  // Ends the file. REQUIRES: called once, after the last Update.
  void Finish();

  // Valid after Finish().
  Hash file_hash() const;
  const std::vector<ChunkInfo>& chunks() const { return chunks_; }
  uint64_t size() const { return size_; }
  // Present iff constructed with_sha256 and Finish() was called.
  std::optional<std::array<uint8_t, 32>> sha256() const { return sha256_; }

 private:
  void EndChunk();

  Chunker chunker_;
  KeyedHasher chunk_hasher_;
  uint64_t chunk_start_ = 0;
  uint64_t size_ = 0;
  std::vector<ChunkInfo> chunks_;
  std::unique_ptr<Sha256> sha_;
  std::optional<std::array<uint8_t, 32>> sha256_;
  bool finished_ = false;
};

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_FILE_HASHER_H_
