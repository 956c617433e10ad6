// Shards (spec/xet.md §4): the binary description of files (terms,
// verification hashes, SHA-256) and of xorbs (chunk hashes and offsets) that a
// client uploads after its xorbs, and that the CAS returns for global dedup.
//
// Layout (little-endian, fixed 48-byte records, raw 32-byte hashes):
//   [header 48] [file blocks ... bookend 48] [CAS blocks ... bookend 48]
//   [optional lookup tables] [optional footer 200]
// Shapes (§4.5): upload without footer (what we send), upload with footer
// (what huggingface.js sends), and the global-dedup answer (empty file
// section, footer with an HMAC key).
#ifndef HUBFS_CHUNKSTORE_SHARD_H_
#define HUBFS_CHUNKSTORE_SHARD_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"
#include "common/status.h"

namespace hubfs::chunkstore {

inline constexpr size_t kShardRecordSize = 48;
inline constexpr size_t kShardHeaderSize = 48;
inline constexpr size_t kShardFooterSize = 200;
inline constexpr uint64_t kShardVersion = 2;
inline constexpr uint64_t kShardFooterVersion = 1;
// File block flags (§4.2).
inline constexpr uint32_t kFileFlagVerification = 0x80000000u;
inline constexpr uint32_t kFileFlagMetadataExt = 0x40000000u;
// CAS chunk entry flag (§4.3): the chunk may be queried for global dedup.
inline constexpr uint32_t kChunkFlagGlobalDedupEligible = 0x80000000u;

// One term of a file: chunks [chunk_start, chunk_end) of a xorb.
struct ShardTerm {
  Hash xorb_hash;
  uint32_t unpacked_bytes = 0;  // sum of the uncompressed lengths of those chunks
  uint32_t chunk_start = 0;
  uint32_t chunk_end = 0;  // exclusive

  friend bool operator==(const ShardTerm&, const ShardTerm&) = default;
};

struct ShardFile {
  Hash file_hash;
  std::vector<ShardTerm> terms;
  // Empty, or one range hash (§2.7) per term. Within a shard either every
  // file has them or none does.
  std::vector<Hash> verification;
  // The file's SHA-256 in stored form (§2.9; see Sha256AsHash).
  std::optional<Hash> sha256;

  friend bool operator==(const ShardFile&, const ShardFile&) = default;
};

struct ShardXorbChunk {
  Hash hash;                // plain, or keyed (§2.8) when the footer has an HMAC key
  uint32_t byte_start = 0;  // uncompressed offset of the chunk inside the xorb
  uint32_t length = 0;      // uncompressed length
  uint32_t flags = 0;       // kChunkFlagGlobalDedupEligible or 0

  friend bool operator==(const ShardXorbChunk&, const ShardXorbChunk&) = default;
};

struct ShardXorb {
  Hash xorb_hash;
  uint32_t num_bytes_in_xorb = 0;  // sum of the chunk lengths
  uint32_t num_bytes_on_disk = 0;  // serialized body size (0 from xet-core)
  std::vector<ShardXorbChunk> chunks;

  friend bool operator==(const ShardXorb&, const ShardXorb&) = default;
};

// The 200-byte footer (§4.4). When serializing, SerializeShard computes the
// offsets and sums; only hmac_key, creation_timestamp and key_expiry are taken
// from the caller.
struct ShardFooter {
  uint64_t version = kShardFooterVersion;
  uint64_t file_info_offset = 0;
  uint64_t cas_info_offset = 0;
  uint64_t file_lookup_offset = 0;
  uint64_t file_lookup_num_entry = 0;
  uint64_t xorb_lookup_offset = 0;
  uint64_t xorb_lookup_num_entry = 0;
  uint64_t chunk_lookup_offset = 0;
  uint64_t chunk_lookup_num_entry = 0;
  Key hmac_key{};                   // all zero = chunk hashes are plain
  uint64_t creation_timestamp = 0;  // Unix seconds
  uint64_t key_expiry = 0;          // Unix seconds; 0 or ~0 = none
  uint64_t stored_bytes_on_disk = 0;
  uint64_t materialized_bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t footer_offset = 0;

  friend bool operator==(const ShardFooter&, const ShardFooter&) = default;
};

struct Shard {
  std::vector<ShardFile> files;
  std::vector<ShardXorb> xorbs;
  std::optional<ShardFooter> footer;  // present iff the shard has one

  friend bool operator==(const Shard&, const Shard&) = default;
};

// Serializes `shard` in the order given. With shard.footer, appends a footer
// with computed offsets (lookup tables absent: lookup offsets = footer offset,
// counts 0) and sums, and hmac_key/creation_timestamp/key_expiry copied from
// it; header footer_size is then 200, else 0.
// REQUIRES: each file's verification is empty or has one hash per term, and
// either all files have verification hashes or none do.
std::vector<uint8_t> SerializeShard(const Shard& shard);

// The global-dedup answer (§4.5, §5.6): empty file section, the xorbs' CAS
// blocks, a footer. `xorbs` carry plain chunk hashes; when `hmac_key` is not
// all zero each is written as KeyedChunkHash(hmac_key, hash) (§2.8).
std::vector<uint8_t> SerializeDedupShard(std::span<const ShardXorb> xorbs, const Key& hmac_key,
                                         uint64_t creation_timestamp, uint64_t key_expiry);

// Parses any of the three shapes. Hostile input: every count is checked
// against the remaining bytes before use; unknown file flags, mixed
// verification, empty term ranges, a missing bookend, a footer whose offsets
// disagree with the sections or the size, and bytes not accounted for (other
// than lookup tables the footer declares) are kCorrupt. Lookup tables are
// skipped (not returned). Hashes are returned as stored (keyed ones stay keyed).
Result<Shard> ParseShard(std::span<const uint8_t> bytes);

// The CAS block describing a xorb built or parsed here (chunk offsets from the
// lengths, flags 0, num_bytes_on_disk = body size).
// REQUIRES: info.lengths_known.
ShardXorb ShardXorbFromInfo(const XorbInfo& info);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_SHARD_H_
