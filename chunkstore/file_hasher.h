// Streaming Xet file hashing: chunk (§1), hash every chunk (§2.3), and at the
// end compute the file hash (§2.6) and, optionally, the SHA-256. Memory is
// bounded (a few KB) unless the chunk list is kept: then 48 bytes per chunk
// (~0.75 MB per GB of input).
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
  // keep_chunks: record every chunk for chunks(); without it only the file
  // hash (and SHA-256) are available.
  explicit FileHasher(bool with_sha256, bool keep_chunks = true);
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  void Update(std::span<const uint8_t> data);
  // Ends the file. REQUIRES: called once, after the last Update.
  void Finish();

  // Valid after Finish().
  Hash file_hash() const;
  // Empty unless constructed with keep_chunks.
  const std::vector<ChunkInfo>& chunks() const { return chunks_; }
  uint64_t num_chunks() const { return merkle_.leaf_count(); }
  uint64_t size() const { return size_; }
  // Present iff constructed with_sha256 and Finish() was called.
  std::optional<std::array<uint8_t, 32>> sha256() const { return sha256_; }

 private:
  void EndChunk(const Hash& hash);

  Chunker chunker_;
  KeyedHasher chunk_hasher_;
  uint64_t chunk_start_ = 0;
  uint64_t size_ = 0;
  std::vector<ChunkInfo> chunks_;
  MerkleBuilder merkle_;
  bool keep_chunks_;
  std::unique_ptr<Sha256> sha_;
  std::optional<std::array<uint8_t, 32>> sha256_;
  bool finished_ = false;
};

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_FILE_HASHER_H_
