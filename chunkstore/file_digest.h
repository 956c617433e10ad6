// FileDigest: what hashing a file from scratch computes, kept so that an
// edited copy of the file needs to hash only what changed — its chunks
// (hash and length, in order; they give the Xet file hash), SHA-256
// midstates at fixed offsets (sha256_state.h) and the SHA-256 itself.
// Stored in the chunk cache, keyed by the Xet file hash
// (docs/CACHE_FORMAT.md, "chunk lists"); it is a cache: an entry that is
// missing, or fails CheckFileDigest, means hashing the whole file again.
#ifndef HUBFS_CHUNKSTORE_FILE_DIGEST_H_
#define HUBFS_CHUNKSTORE_FILE_DIGEST_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/sha256_state.h"
#include "common/status.h"

namespace hubfs::chunkstore {

// Where midstates are saved: every 1 MiB of the file (40 bytes each, a
// sixteenth of what the chunk records of the same bytes take), so that an
// edit's SHA-256 starts at most 1 MiB before its first re-cut chunk.
inline constexpr uint64_t kDigestMidstateInterval = 1u << 20;

struct DigestChunk {
  Hash hash;
  uint32_t length = 0;

  friend bool operator==(const DigestChunk&, const DigestChunk&) = default;
};

struct FileDigest {
  uint64_t size = 0;
  std::vector<DigestChunk> chunks;
  std::vector<Sha256Midstate> midstates;  // increasing offsets, multiples of 64, <= size
  std::array<uint8_t, 32> sha256{};

  friend bool operator==(const FileDigest&, const FileDigest&) = default;
};

std::vector<uint8_t> EncodeFileDigest(const FileDigest& d);
// Errors: kCorrupt (bad magic, version, or lengths).
Result<FileDigest> DecodeFileDigest(std::span<const uint8_t> bytes);

// The Xet file hash its chunks give (zero for no chunks).
Hash DigestFileHash(const FileDigest& d);

// OK when `d` describes the file whose Xet hash is `file_hash` and whose
// size is `size`: the chunk lengths add up to the size, none is empty or
// over the chunk maximum, the midstates are ordered and aligned, and the
// chunks' Merkle root gives `file_hash`. Errors: kCorrupt.
Status CheckFileDigest(const FileDigest& d, const Hash& file_hash, uint64_t size);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_FILE_DIGEST_H_
