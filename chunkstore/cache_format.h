// On-disk encoding of chunk-cache keys and values (docs/CACHE_FORMAT.md).
// Internal to chunkstore: used by cache.cc and cache_store.cc, and by tests
// that corrupt entries on purpose.
//
// Key:   kind (1 byte) || kind-specific bytes (see the Encode*Key functions).
// Value: a 24-byte header || payload.
//   0  u8  format version (kEntryFormatVersion)
//   1  u8  kind (same as the key's first byte)
//   2  u8  codec (0 = stored as given, 1 = zstd)
//   3  u8  reserved, 0
//   4  u32 payload length (bytes after the header)
//   8  u32 decoded length (after decompression; = payload length for codec 0)
//   12 u32 checksum lane 0 \  three CRC-32C lanes over
//   16 u32 checksum lane 1  > key || header[0..12) || payload
//   20 u32 checksum lane 2 /   (cache_checksum.h)
// Integers are little-endian. The checksum covers the key, so a value that
// ended up under the wrong key is caught too. Format 1 (keyed BLAKE3 at 16)
// is never read: its stores are wiped at open.
#ifndef HUBFS_CHUNKSTORE_CACHE_FORMAT_H_
#define HUBFS_CHUNKSTORE_CACHE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/hash.h"
#include "common/status.h"

namespace hubfs::chunkstore::cache_format {

inline constexpr uint8_t kEntryFormatVersion = 2;
inline constexpr size_t kHeaderSize = 24;
// LMDB's default maximum key size is 511 bytes; keys are kept below this.
inline constexpr size_t kMaxKeySize = 480;
// Largest decoded value accepted (a bound for untrusted length fields).
inline constexpr uint32_t kMaxDecodedSize = 256u << 20;

enum Codec : uint8_t { kCodecNone = 0, kCodecZstd = 1 };

std::string ChunkKey(const Hash& xorb, uint32_t index);
std::string XorbLayoutKey(const Hash& xorb);
std::string TermsKey(const Hash& file_hash);
// commit and dir are opaque strings; a key that would pass kMaxKeySize gets
// the BLAKE3 of dir in place of dir.
std::string ListingKey(std::string_view commit, std::string_view dir);
std::string SmallFileKey(std::string_view git_oid);
std::string ChunkLocationKey(const Hash& chunk_hash);
std::string ChunkListKey(const Hash& file_hash);

// The kind of an encoded key, or nullopt for an unknown first byte.
std::optional<CacheKind> KeyKind(std::string_view key);
// Human-readable form of a key for `hubfs cache ls` ("chunk <xorb>/<index>").
std::string DescribeKey(std::string_view key);

// Builds header || payload. With codec kCodecZstd the payload is compressed
// first (falling back to kCodecNone when that does not make it smaller).
// Fails with kInvalidArgument when the payload is larger than kMaxDecodedSize.
Result<std::vector<uint8_t>> EncodeValue(std::string_view key, CacheKind kind,
                                         std::span<const uint8_t> payload, Codec codec);

// EncodeValue with kCodecNone into `out`, which must be exactly kHeaderSize +
// payload.size() bytes (memory the caller chose: the cache's pack writes take
// it without a copy). Fails as EncodeValue does.
Status EncodeStoredInto(std::string_view key, CacheKind kind, std::span<const uint8_t> payload,
                        std::span<uint8_t> out);

// Checks header fields and the checksum of a stored value under `key`.
// kCorrupt with a reason on any mismatch.
Status VerifyValue(std::string_view key, std::span<const uint8_t> stored);
// VerifyValue of front || back (front: the header and the payload's first
// bytes; back: the rest, read straight into the caller's memory).
Status VerifyValueParts(std::string_view key, std::span<const uint8_t> front,
                        std::span<const uint8_t> back);

// Verifies and returns the decoded payload (decompressed when zstd).
// kCorrupt on any mismatch, including a bad zstd frame or length.
Result<std::vector<uint8_t>> DecodeValue(std::string_view key, std::span<const uint8_t> stored);

// The decoded payload of a value that VerifyValue accepted (decompressed
// when zstd). kCorrupt for a bad zstd frame or length.
Result<std::vector<uint8_t>> DecodeVerified(std::span<const uint8_t> stored);

}  // namespace hubfs::chunkstore::cache_format

#endif  // HUBFS_CHUNKSTORE_CACHE_FORMAT_H_
