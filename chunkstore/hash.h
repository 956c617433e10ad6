// Xet hashes (spec/xet.md §2): the 32-byte hash type, its canonical string
// form, keyed BLAKE3, and the hashes built from it (chunk, Merkle root / xorb,
// file, term verification, keyed dedup hashes), plus SHA-256.
#ifndef HUBFS_CHUNKSTORE_HASH_H_
#define HUBFS_CHUNKSTORE_HASH_H_

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubfs::chunkstore {

// 32 raw bytes. Binary formats and BLAKE3 keys use the raw bytes; URLs, JSON
// and headers use the canonical string (§2.1).
struct Hash {
  std::array<uint8_t, 32> bytes{};

  // Canonical form: four 8-byte groups, each printed as a little-endian u64
  // in 16 lowercase hex digits.
  std::string ToString() const;
  // Plain hex of the raw bytes in order (for debugging and vectors).
  std::string ToRawHex() const;
  // Parses the canonical form (64 hex digits, either case).
  static Result<Hash> Parse(std::string_view canonical);
  static Result<Hash> FromRawHex(std::string_view raw_hex);
  static Hash FromRaw(std::span<const uint8_t, 32> raw);

  bool IsZero() const;
  // Bytes 24..31 as a little-endian u64 (the "hash value" for `mod m`, §2.1).
  uint64_t LastU64() const;
  // First 8 bytes as a little-endian u64 (shard lookup-table key, map buckets).
  uint64_t FirstU64() const;

  friend auto operator<=>(const Hash&, const Hash&) = default;
  friend bool operator==(const Hash&, const Hash&) = default;
};

struct HashHasher {
  size_t operator()(const Hash& h) const { return static_cast<size_t>(h.FirstU64()); }
};

using Key = std::array<uint8_t, 32>;

extern const Key kDataKey;
extern const Key kInternalNodeKey;
extern const Key kVerificationKey;
extern const Key kZeroKey;

// Keyed BLAKE3 of `data` (§2.2).
Hash KeyedBlake3(const Key& key, std::span<const uint8_t> data);

// Incremental keyed BLAKE3, for data that arrives in pieces.
class KeyedHasher {
 public:
  explicit KeyedHasher(const Key& key);
  ~KeyedHasher();
  KeyedHasher(const KeyedHasher&) = delete;
  KeyedHasher& operator=(const KeyedHasher&) = delete;
  void Update(std::span<const uint8_t> data);
  Hash Finalize() const;
  // Starts over with the same key.
  void Reset();

 private:
  struct Impl;
  Impl* impl_;  // owned; blake3_hasher is ~1.9 KB, kept off the caller's stack
};

// chunk_hash = K(DATA_KEY, bytes) (§2.3).
Hash ChunkHash(std::span<const uint8_t> chunk);

// A Merkle leaf or node: hash and uncompressed size.
struct MerkleNode {
  Hash hash;
  uint64_t size = 0;
};

// Aggregated Merkle root (§2.4). Empty → zero hash; one leaf → that hash.
Hash MerkleRoot(std::span<const MerkleNode> leaves);

// The text hashed into a parent node (§2.4): per member one line
// "<canonical hash> : <decimal size>\n".
std::string MerkleNodeText(std::span<const MerkleNode> group);
// The parent of `group`: K(INTERNAL_NODE_KEY, MerkleNodeText(group)), summed size.
MerkleNode MerkleParent(std::span<const MerkleNode> group);
// Number of leading nodes of `level` that form the next group (§2.4 cut rule):
// all of them if ≤ 2, else 3..9. 0 for an empty span.
size_t MerkleGroupSize(std::span<const MerkleNode> level);

// Builds the same root as MerkleRoot from leaves that arrive one at a time,
// keeping at most 9 nodes per tree level (O(log n) memory). Not thread-safe.
class MerkleBuilder {
 public:
  void Add(const MerkleNode& leaf);
  size_t leaf_count() const { return leaves_; }
  // The root over all leaves added so far (zero hash if none). Does not
  // consume the builder: more leaves may be added afterwards.
  Hash Root() const;

 private:
  // Appends `node` to `level`, closing groups into the level above.
  static void Push(std::vector<std::vector<MerkleNode>>* levels,
                   std::vector<uint64_t>* counts, size_t level, const MerkleNode& node);

  std::vector<std::vector<MerkleNode>> levels_;  // open (ungrouped) nodes per level
  std::vector<uint64_t> counts_;                 // nodes ever pushed per level
  size_t leaves_ = 0;
};

// xorb_hash = MerkleRoot(chunks) (§2.5).
inline Hash XorbHash(std::span<const MerkleNode> chunks) { return MerkleRoot(chunks); }

// file_hash = K(ZERO_KEY, MerkleRoot(chunks)); empty file → zero hash (§2.6).
Hash FileHash(std::span<const MerkleNode> chunks);
// The salted variant (xet-core tests): key = raw salt bytes.
Hash FileHashWithSalt(std::span<const MerkleNode> chunks, const Key& salt);

// Term verification hash: K(VERIFICATION_KEY, raw(h_a) || ... || raw(h_{b-1})) (§2.7).
Hash VerificationHash(std::span<const Hash> chunk_hashes);

// Keyed chunk hash for global-dedup answers: K(key, raw(h)) (§2.8).
Hash KeyedChunkHash(const Key& key, const Hash& chunk_hash);

// Whether a chunk may be queried for global dedup on its own merits:
// hash mod 1024 == 0 (§5.6). (The first chunk of a file is always eligible.)
inline bool IsGlobalDedupEligible(const Hash& h) { return h.LastU64() % 1024 == 0; }
// The client-side rule of §5.6: the first chunk of every file, or an eligible hash.
inline bool IsGlobalDedupCandidate(size_t chunk_index_in_file, const Hash& h) {
  return chunk_index_in_file == 0 || IsGlobalDedupEligible(h);
}

// SHA-256 (OpenSSL).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::span<const uint8_t> data);
  std::array<uint8_t, 32> Finalize();

 private:
  void* ctx_;  // EVP_MD_CTX*, owned
};

std::array<uint8_t, 32> Sha256Digest(std::span<const uint8_t> data);
// The git blob id of `content`: lowercase hex SHA-1 of "blob <size>\0" +
// content, as tree listings give for files stored in git.
std::string GitBlobId(std::span<const uint8_t> content);
std::string HexLower(std::span<const uint8_t> bytes);
// Parses plain hex (even length, either case).
Result<std::vector<uint8_t>> ParseHex(std::string_view hex);

// The SHA-256 as stored inside shards (§2.9): a Hash whose canonical string
// equals the usual lowercase sha256 hex.
Hash Sha256AsHash(const std::array<uint8_t, 32>& digest);
std::array<uint8_t, 32> HashAsSha256(const Hash& h);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_HASH_H_
