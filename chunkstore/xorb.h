// Xorbs (spec/xet.md §3): chunk records (§3.2) with their compression schemes
// (§3.3), the upload body (§3.4), chunk byte offsets (§3.5), the stored
// metadata footer (§3.6) and the server-side validation of an upload (§3.7).
//
// Chunk record wire format (all little-endian):
//   u8 version (= 0) | u24 compressed_size | u8 scheme | u24 uncompressed_size | payload
//
// Everything parsed here is untrusted: sizes are bounded before use, output
// never exceeds the declared uncompressed size, and no allocation is sized by a
// field that was not checked against those bounds.
#ifndef HUBFS_CHUNKSTORE_XORB_H_
#define HUBFS_CHUNKSTORE_XORB_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "chunkstore/hash.h"
#include "common/status.h"

namespace hubfs::chunkstore {

inline constexpr size_t kChunkRecordHeaderSize = 8;
// Reader bounds of §3.2.
inline constexpr uint32_t kMaxChunkUncompressedSize = 131072;
inline constexpr uint32_t kMaxChunkCompressedSize = 262144;
// A serialized xorb body is at most 64 MiB (§3.1): what we write.
inline constexpr uint64_t kMaxXorbBodySize = 64ull << 20;
// What we accept (readers must not assume the writer limits): the reference
// client caps the *uncompressed* data at 64 MiB, so its records, with their
// 8-byte headers, pass 64 MiB slightly (random data: by up to 64 KiB). Found
// by the official Python client's uploads of a 1 GiB random file.
inline constexpr uint64_t kMaxXorbBodySizeRead = kMaxXorbBodySize + (1ull << 20);
// Writer limits of the reference client (§3.1); readers must not assume them.
inline constexpr size_t kMaxXorbChunks = 8192;
// Reader bound (ours): 16 times the writer limit, so that 64 MiB of tiny
// records cannot make ParseXorb keep millions of entries.
inline constexpr size_t kMaxXorbChunksRead = 16 * kMaxXorbChunks;
inline constexpr uint64_t kMaxXorbUnpackedSize = 64ull << 20;
// First bytes of the stored footer; no chunk record starts with them (§3.4).
inline constexpr uint8_t kXorbFooterIdent[7] = {'X', 'E', 'T', 'B', 'L', 'O', 'B'};

enum class CompressionScheme : uint8_t {
  kNone = 0,
  kLz4 = 1,              // payload = one LZ4 frame of the chunk
  kByteGrouping4Lz4 = 2  // payload = one LZ4 frame of ByteGroup4(chunk)
};

// Byte grouping (§3.3): group k (0..3) holds the bytes at positions ≡ k mod 4,
// groups concatenated. REQUIRES: `out` holds in.size() bytes and does not
// overlap `in`.
void ByteGroup4(std::span<const uint8_t> in, uint8_t* out);
// Inverse of ByteGroup4. Same requirements.
void ByteUngroup4(std::span<const uint8_t> in, uint8_t* out);

enum class CompressionPolicy {
  kNone,  // always scheme 0
  kLz4,   // LZ4 when strictly smaller than the chunk, else scheme 0
  kBest,  // try LZ4 and BG4+LZ4, keep the smallest; scheme 0 unless strictly smaller
};

// Appends one chunk record for `chunk` to `*out` and returns the scheme used.
// The record is never longer than kChunkRecordHeaderSize + chunk.size().
// REQUIRES: chunk.size() <= kMaxChunkUncompressedSize. Thread-safe (no shared state).
CompressionScheme AppendChunkRecord(std::span<const uint8_t> chunk, CompressionPolicy policy,
                                    std::vector<uint8_t>* out);

struct ChunkRecordHeader {
  uint8_t version = 0;
  uint32_t compressed_size = 0;  // payload bytes after the header
  CompressionScheme scheme = CompressionScheme::kNone;
  uint32_t uncompressed_size = 0;

  size_t record_size() const { return kChunkRecordHeaderSize + compressed_size; }
};

// Parses and validates the 8-byte header at the start of `in` (the payload
// need not be present). Errors (kCorrupt): fewer than 8 bytes, version > 0,
// scheme > 2, uncompressed_size > 131072, compressed_size > 262144, scheme 0
// with compressed_size != uncompressed_size.
Result<ChunkRecordHeader> ParseChunkRecordHeader(std::span<const uint8_t> in);

// Writes the 8-byte header. REQUIRES: sizes fit in 24 bits.
void WriteChunkRecordHeader(const ChunkRecordHeader& header, uint8_t* out);

// Decodes chunk records. Owns and reuses one LZ4 frame decompression context
// and a scratch buffer. Not thread-safe: use one per thread.
//
// Any conforming LZ4 frame is accepted (checksums, content size, linked
// blocks). A frame that ends early, carries bytes after its end, fails a
// checksum, or decompresses to a length other than uncompressed_size is
// kCorrupt. Output never exceeds uncompressed_size (≤ 128 KiB); liblz4 itself
// keeps at most one frame block (≤ 4 MiB, as the frame declares) per context.
class ChunkDecoder {
 public:
  ChunkDecoder();
  ~ChunkDecoder();
  ChunkDecoder(const ChunkDecoder&) = delete;
  ChunkDecoder& operator=(const ChunkDecoder&) = delete;

  // Decodes the record at the start of `in`, appends exactly
  // uncompressed_size bytes to `*out` and sets `*consumed` to the record size.
  // On error `*out` is left as it was and `*consumed` is unspecified.
  Status DecodeRecord(std::span<const uint8_t> in, size_t* consumed, std::vector<uint8_t>* out);

  // Same, into a caller buffer whose size must equal the record's
  // uncompressed_size (kCorrupt otherwise; nothing is written past `out`).
  Status DecodeRecordInto(std::span<const uint8_t> in, size_t* consumed, std::span<uint8_t> out);

  // Called for each decoded chunk of a run; `chunk` is valid only during the
  // call. A non-OK return stops the run and is returned as is.
  using ChunkCallback = std::function<Status(size_t index, std::span<const uint8_t> chunk)>;

  // Decodes a run of records that must hold exactly `expected_chunks` records
  // and nothing else (the body of a fetched chunk range, §5.3).
  Status DecodeRun(std::span<const uint8_t> body, size_t expected_chunks,
                   const ChunkCallback& on_chunk);
  // Same, collecting the chunks; `*chunks` is replaced.
  Status DecodeRun(std::span<const uint8_t> body, size_t expected_chunks,
                   std::vector<std::vector<uint8_t>>* chunks);

 private:
  struct Lz4Context;
  Status DecodePayload(const ChunkRecordHeader& header, std::span<const uint8_t> payload,
                       std::span<uint8_t> out);
  Status Lz4DecompressFrame(std::span<const uint8_t> frame, std::span<uint8_t> out);

  std::unique_ptr<Lz4Context> lz4_;
  std::vector<uint8_t> scratch_;  // BG4 grouped bytes; at most 128 KiB
  std::vector<uint8_t> chunk_;    // one chunk for DecodeRun callbacks
};

struct XorbChunkInfo {
  Hash hash;                  // chunk hash of the uncompressed bytes
  uint32_t length = 0;        // uncompressed length
  uint32_t record_start = 0;  // body offsets [record_start, record_end) of the record
  uint32_t record_end = 0;
};

struct XorbInfo {
  Hash hash;  // Merkle root of the chunks (§2.5)
  std::vector<XorbChunkInfo> chunks;
  uint64_t body_size = 0;      // bytes of chunk records (no footer)
  uint64_t unpacked_size = 0;  // sum of chunk lengths
  // False only for a legacy v0 footer, which does not record chunk lengths:
  // then every `length` and `unpacked_size` are 0.
  bool lengths_known = true;
};

// Server-side validation of an uploaded (or stored) xorb (§3.7): reads records
// until the end or a `XETBLOB` footer, decodes and hashes every chunk, and
// computes the xorb hash. The caller compares it with the hash it expected.
// If a footer is present it must be well formed and agree with the body.
// Errors (kCorrupt): records past kMaxXorbBodySizeRead, zero chunks, more than kMaxXorbChunksRead
// chunks, a truncated or undecodable record, an unknown scheme or version, a
// footer that disagrees.
Result<XorbInfo> ParseXorb(std::span<const uint8_t> bytes);

// Packs chunks into one xorb body under the limits of §3.1 (64 MiB serialized,
// 8192 chunks, 64 MiB uncompressed). Not thread-safe.
class XorbBuilder {
 public:
  explicit XorbBuilder(CompressionPolicy policy) : policy_(policy) {}

  // Whether a chunk of `length` bytes fits (counted with its worst-case
  // record size, so that Add cannot then fail).
  bool CanAdd(size_t length) const;

  // Appends a chunk whose hash the caller computed (ChunkHash(chunk)).
  // Errors: kInvalidArgument if chunk.size() > 128 KiB; kResourceExhausted
  // if it does not fit (the caller finishes this xorb and starts another).
  Status Add(const Hash& chunk_hash, std::span<const uint8_t> chunk);

  size_t num_chunks() const { return info_.chunks.size(); }
  uint64_t body_size() const { return body_.size(); }
  uint64_t unpacked_size() const { return info_.unpacked_size; }

  struct Xorb {
    std::vector<uint8_t> body;  // what is POSTed to /v1/xorbs
    XorbInfo info;
  };
  // Computes the xorb hash, returns the xorb and leaves the builder empty.
  // REQUIRES: num_chunks() > 0.
  Xorb Finish();

 private:
  CompressionPolicy policy_;
  std::vector<uint8_t> body_;
  XorbInfo info_;
};

// The stored metadata footer (§3.6, version 1): `info` followed by its u32
// length. `nonce` fills the first 4 bytes of the ignored buffer.
// REQUIRES: info.lengths_known and record offsets consistent with the chunks.
std::vector<uint8_t> SerializeXorbFooter(const XorbInfo& info, uint32_t nonce);

// Reads the footer at the end of `stored_bytes` (body ‖ info ‖ u32 length),
// version 1 or legacy version 0. Returns the xorb as the footer describes it
// (body_size = bytes before the footer; chunk data is not decoded). Checks
// the structure, the offsets (increasing, last one = body size), and that the
// xorb hash is the Merkle root of the listed chunks (v1). Errors: kCorrupt.
Result<XorbInfo> ParseXorbFooter(std::span<const uint8_t> stored_bytes);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_XORB_H_
