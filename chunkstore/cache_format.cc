#include "chunkstore/cache_format.h"

#include <blake3.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "chunkstore/cache_checksum.h"
#include "common/little_endian.h"

namespace hubfs::chunkstore {

std::string_view CacheKindName(CacheKind kind) {
  switch (kind) {
    case CacheKind::kChunk:
      return "chunk";
    case CacheKind::kXorbLayout:
      return "xorb";
    case CacheKind::kTerms:
      return "terms";
    case CacheKind::kListing:
      return "listing";
    case CacheKind::kSmallFile:
      return "file";
    case CacheKind::kChunkLocation:
      return "dedup";
    case CacheKind::kChunkList:
      return "chunklist";
  }
  return "unknown";
}

namespace cache_format {
namespace {

// Key of the BLAKE3 that stands for a long dir in a listing key (ASCII, 32
// bytes): separates it from Xet hashes. (Format 1 also keyed its entry
// checksums with it.)
constexpr uint8_t kChecksumKey[BLAKE3_KEY_LEN] = {
    'h', 'u', 'b', 'f', 's', '-', 'c', 'a', 'c', 'h', 'e', '-', 'e', 'n', 't', 'r',
    'y', '-', 'c', 'h', 'e', 'c', 'k', 's', 'u', 'm', '-', 'v', '1', '.', '.', '.'};

// zstd contexts are costly to set up (more than compressing a small listing):
// one of each per thread, reused.
struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ZstdContexts() = default;
  ZstdContexts(const ZstdContexts&) = delete;
  ZstdContexts& operator=(const ZstdContexts&) = delete;
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& ThreadZstd() {
  thread_local ZstdContexts contexts;
  return contexts;
}

// Listing keys replace the dir with this marker + BLAKE3(dir) when too long.
constexpr char kHashedDirMarker = '\xff';


// Writes the checksum lanes of a value into header[12..24).
void PutChecksum(std::string_view key, uint8_t* h, std::span<const uint8_t> payload) {
  const std::array<uint32_t, 3> lanes =
      EntryChecksum(key, std::span<const uint8_t, 12>(h, 12), payload);
  for (int i = 0; i < 3; ++i) StoreLe32(h + 12 + 4 * i, lanes[i]);
}

bool ChecksumMatches(std::string_view key, const uint8_t* h, std::span<const uint8_t> head,
                     std::span<const uint8_t> body) {
  const std::array<uint32_t, 3> lanes =
      EntryChecksumParts(key, std::span<const uint8_t, 12>(h, 12), head, body);
  for (int i = 0; i < 3; ++i) {
    if (LoadLe32(h + 12 + 4 * i) != lanes[i]) return false;
  }
  return true;
}

std::string KindPrefix(CacheKind kind) { return std::string(1, static_cast<char>(kind)); }

std::string HashBytes(const Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.bytes.data()), h.bytes.size());
}

Hash HashFromKey(std::string_view bytes) {
  Hash h;
  std::memcpy(h.bytes.data(), bytes.data(), h.bytes.size());
  return h;
}

// Appends a length-prefixed (u8) string, truncating at 255 bytes; callers
// bound their inputs well below that.
void AppendShort(std::string& out, std::string_view s) {
  const size_t n = std::min<size_t>(s.size(), 255);
  out.push_back(static_cast<char>(n));
  out.append(s.substr(0, n));
}

}  // namespace

std::string ChunkKey(const Hash& xorb, uint32_t index) {
  std::string k = KindPrefix(CacheKind::kChunk) + HashBytes(xorb);
  // Big-endian index: the chunks of one xorb sort together and in order.
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(index >> (8 * i)));
  return k;
}

std::string XorbLayoutKey(const Hash& xorb) {
  return KindPrefix(CacheKind::kXorbLayout) + HashBytes(xorb);
}

std::string TermsKey(const Hash& file_hash) {
  return KindPrefix(CacheKind::kTerms) + HashBytes(file_hash);
}

std::string ListingKey(std::string_view commit, std::string_view dir) {
  std::string k = KindPrefix(CacheKind::kListing);
  AppendShort(k, commit.substr(0, 128));
  if (k.size() + dir.size() <= kMaxKeySize && (dir.empty() || dir[0] != kHashedDirMarker)) {
    k.append(dir);
  } else {
    uint8_t digest[BLAKE3_OUT_LEN];
    blake3_hasher h;
    blake3_hasher_init_keyed(&h, kChecksumKey);
    blake3_hasher_update(&h, dir.data(), dir.size());
    blake3_hasher_finalize(&h, digest, sizeof(digest));
    k.push_back(kHashedDirMarker);
    k.append(reinterpret_cast<const char*>(digest), sizeof(digest));
  }
  return k;
}

std::string ChunkLocationKey(const Hash& chunk_hash) {
  return KindPrefix(CacheKind::kChunkLocation) + HashBytes(chunk_hash);
}

std::string SmallFileKey(std::string_view git_oid) {
  std::string k = KindPrefix(CacheKind::kSmallFile);
  k.append(git_oid.substr(0, 128));
  return k;
}

std::string ChunkListKey(const Hash& file_hash) {
  return KindPrefix(CacheKind::kChunkList) + HashBytes(file_hash);
}

std::optional<CacheKind> KeyKind(std::string_view key) {
  if (key.empty()) return std::nullopt;
  const auto b = static_cast<uint8_t>(key[0]);
  if (b < static_cast<uint8_t>(CacheKind::kChunk) ||
      b > static_cast<uint8_t>(CacheKind::kChunkList)) {
    return std::nullopt;
  }
  return static_cast<CacheKind>(b);
}

std::string DescribeKey(std::string_view key) {
  const auto kind = KeyKind(key);
  if (!kind) return "unknown";
  std::string out(CacheKindName(*kind));
  const std::string_view rest = key.substr(1);
  switch (*kind) {
    case CacheKind::kChunk:
      if (rest.size() == 36) {
        const auto* p = reinterpret_cast<const uint8_t*>(rest.data()) + 32;
        const uint32_t index = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                               (uint32_t{p[2]} << 8) | uint32_t{p[3]};
        return out + " " + HashFromKey(rest).ToString() + "/" + std::to_string(index);
      }
      break;
    case CacheKind::kXorbLayout:
    case CacheKind::kTerms:
    case CacheKind::kChunkLocation:
    case CacheKind::kChunkList:
      if (rest.size() == 32) return out + " " + HashFromKey(rest).ToString();
      break;
    case CacheKind::kListing:
      if (!rest.empty() && rest.size() >= 1u + static_cast<uint8_t>(rest[0])) {
        const size_t n = static_cast<uint8_t>(rest[0]);
        std::string_view dir = rest.substr(1 + n);
        std::string shown(dir);
        if (!dir.empty() && dir[0] == kHashedDirMarker) shown = "<long path>";
        return out + " " + std::string(rest.substr(1, n)) + " /" + shown;
      }
      break;
    case CacheKind::kSmallFile:
      return out + " " + std::string(rest);
  }
  return out + " <malformed key>";
}

namespace {

// Fills the header of `value` (header || payload as encoded with `codec`, of
// `decoded_len` bytes decoded), its checksum last.
void FinishHeader(std::string_view key, CacheKind kind, Codec codec, size_t decoded_len,
                  std::span<uint8_t> value) {
  uint8_t* h = value.data();
  h[0] = kEntryFormatVersion;
  h[1] = static_cast<uint8_t>(kind);
  h[2] = codec;
  h[3] = 0;
  StoreLe32(h + 4, static_cast<uint32_t>(value.size() - kHeaderSize));
  StoreLe32(h + 8, static_cast<uint32_t>(decoded_len));
  PutChecksum(key, h, std::span<const uint8_t>(value).subspan(kHeaderSize));
}

}  // namespace

Result<std::vector<uint8_t>> EncodeValue(std::string_view key, CacheKind kind,
                                         std::span<const uint8_t> payload, Codec codec) {
  if (payload.size() > kMaxDecodedSize) {
    return InvalidArgumentError("cache value of " + std::to_string(payload.size()) +
                                " bytes is over the format bound");
  }
  std::vector<uint8_t> out;
  if (codec == kCodecZstd) {
    const size_t bound = ZSTD_compressBound(payload.size());
    out.resize(kHeaderSize + bound);
    ZSTD_CCtx* cctx = ThreadZstd().c;
    const size_t n = cctx == nullptr
                         ? payload.size()  // no context: store as given
                         : ZSTD_compressCCtx(cctx, out.data() + kHeaderSize, bound,
                                             payload.data(), payload.size(), /*compressionLevel=*/3);
    if (ZSTD_isError(n) || n >= payload.size()) {
      codec = kCodecNone;
    } else {
      out.resize(kHeaderSize + n);
    }
  }
  if (codec == kCodecNone) {
    // Header then payload, each byte written once (resize would zero the
    // payload's bytes first: a second pass over a fresh buffer).
    out.clear();
    out.reserve(kHeaderSize + payload.size());
    out.resize(kHeaderSize);
    out.insert(out.end(), payload.begin(), payload.end());
  }
  FinishHeader(key, kind, codec, payload.size(), out);
  return out;
}

Status EncodeStoredInto(std::string_view key, CacheKind kind, std::span<const uint8_t> payload,
                        std::span<uint8_t> out) {
  if (payload.size() > kMaxDecodedSize) {
    return InvalidArgumentError("cache value of " + std::to_string(payload.size()) +
                                " bytes is over the format bound");
  }
  if (out.size() != kHeaderSize + payload.size()) {
    return InvalidArgumentError("cache value buffer of the wrong size");
  }
  if (!payload.empty()) std::memcpy(out.data() + kHeaderSize, payload.data(), payload.size());
  FinishHeader(key, kind, kCodecNone, payload.size(), out);
  return Status::Ok();
}

Status VerifyValue(std::string_view key, std::span<const uint8_t> stored) {
  return VerifyValueParts(key, stored, {});
}

Status VerifyValueParts(std::string_view key, std::span<const uint8_t> front,
                        std::span<const uint8_t> back) {
  if (front.size() < kHeaderSize) return CorruptError("cache entry shorter than its header");
  const uint8_t* h = front.data();
  if (h[0] != kEntryFormatVersion) {
    return CorruptError("cache entry format version " + std::to_string(h[0]));
  }
  const auto kind = KeyKind(key);
  if (!kind || h[1] != static_cast<uint8_t>(*kind)) return CorruptError("cache entry kind mismatch");
  if (h[2] != kCodecNone && h[2] != kCodecZstd) return CorruptError("cache entry unknown codec");
  const uint32_t payload_len = LoadLe32(h + 4);
  const uint32_t decoded_len = LoadLe32(h + 8);
  if (payload_len != front.size() - kHeaderSize + back.size()) {
    return CorruptError("cache entry length mismatch");
  }
  if (decoded_len > kMaxDecodedSize || (h[2] == kCodecNone && decoded_len != payload_len)) {
    return CorruptError("cache entry bad decoded length");
  }
  if (!ChecksumMatches(key, h, front.subspan(kHeaderSize), back)) {
    return CorruptError("cache entry checksum mismatch");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> DecodeValue(std::string_view key, std::span<const uint8_t> stored) {
  HUBFS_RETURN_IF_ERROR(VerifyValue(key, stored));
  return DecodeVerified(stored);
}

Result<std::vector<uint8_t>> DecodeVerified(std::span<const uint8_t> stored) {
  if (stored.size() < kHeaderSize) return CorruptError("cache entry shorter than its header");
  const std::span<const uint8_t> payload = stored.subspan(kHeaderSize);
  if (stored[2] == kCodecNone) return std::vector<uint8_t>(payload.begin(), payload.end());
  const uint32_t decoded_len = LoadLe32(stored.data() + 8);
  if (decoded_len > kMaxDecodedSize) return CorruptError("cache entry bad decoded length");
  std::vector<uint8_t> out(decoded_len);
  ZSTD_DCtx* dctx = ThreadZstd().d;
  if (dctx == nullptr) return ResourceExhaustedError("zstd context allocation failed");
  const size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), payload.data(), payload.size());
  if (ZSTD_isError(n) || n != decoded_len) return CorruptError("cache entry bad zstd frame");
  return out;
}

}  // namespace cache_format
}  // namespace hubfs::chunkstore
