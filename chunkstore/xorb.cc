#include "chunkstore/xorb.h"

#include <lz4frame.h>

#include <cassert>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hubfs::chunkstore {

namespace {

uint32_t LoadU24(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16;
}
void StoreU24(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
}
void AppendBytes(std::vector<uint8_t>* out, const uint8_t* p, size_t n) {
  out->insert(out->end(), p, p + n);
}

// Group sizes of ByteGroup4 for n bytes, as start offsets of the 4 groups.
struct Bg4Layout {
  size_t q;
  size_t r;
  size_t start[4];
};
Bg4Layout LayoutFor(size_t n) {
  Bg4Layout l{n / 4, n % 4, {}};
  size_t pos = 0;
  for (size_t k = 0; k < 4; ++k) {
    l.start[k] = pos;
    pos += l.q + (l.r > k ? 1 : 0);
  }
  return l;
}

LZ4F_preferences_t EncoderPreferences() {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  // 64 KiB independent blocks, no checksums: what lz4_flex writes by default,
  // and a block size that lets decoders write straight into a chunk buffer.
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.compressionLevel = 0;
  return prefs;
}

// Compresses `in` as one LZ4 frame into `*out` (replaced). Returns false if
// the frame would not be strictly smaller than `in`.
bool Lz4CompressSmaller(std::span<const uint8_t> in, std::vector<uint8_t>* out) {
  const LZ4F_preferences_t prefs = EncoderPreferences();
  out->resize(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out->data(), out->size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n) || n >= in.size()) return false;
  out->resize(n);
  return true;
}

Status CorruptRecord(const std::string& what) { return CorruptError("xet chunk record: " + what); }

}  // namespace

// ---------------------------------------------------------------------------
// Byte grouping.

void ByteGroup4(std::span<const uint8_t> in, uint8_t* out) {
  const Bg4Layout l = LayoutFor(in.size());
  const uint8_t* src = in.data();
  uint8_t* g0 = out + l.start[0];
  uint8_t* g1 = out + l.start[1];
  uint8_t* g2 = out + l.start[2];
  uint8_t* g3 = out + l.start[3];
  for (size_t i = 0; i < l.q; ++i) {
    g0[i] = src[4 * i];
    g1[i] = src[4 * i + 1];
    g2[i] = src[4 * i + 2];
    g3[i] = src[4 * i + 3];
  }
  for (size_t k = 0; k < l.r; ++k) out[l.start[k] + l.q] = src[4 * l.q + k];
}

void ByteUngroup4(std::span<const uint8_t> in, uint8_t* out) {
  const Bg4Layout l = LayoutFor(in.size());
  const uint8_t* g0 = in.data() + l.start[0];
  const uint8_t* g1 = in.data() + l.start[1];
  const uint8_t* g2 = in.data() + l.start[2];
  const uint8_t* g3 = in.data() + l.start[3];
  size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes of each group become 64 interleaved output bytes.
  for (; i + 16 <= l.q; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g0 + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g1 + i));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g2 + i));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g3 + i));
    __m128i ab_lo = _mm_unpacklo_epi8(a, b);
    __m128i ab_hi = _mm_unpackhi_epi8(a, b);
    __m128i cd_lo = _mm_unpacklo_epi8(c, d);
    __m128i cd_hi = _mm_unpackhi_epi8(c, d);
    __m128i* dst = reinterpret_cast<__m128i*>(out + 4 * i);
    _mm_storeu_si128(dst + 0, _mm_unpacklo_epi16(ab_lo, cd_lo));
    _mm_storeu_si128(dst + 1, _mm_unpackhi_epi16(ab_lo, cd_lo));
    _mm_storeu_si128(dst + 2, _mm_unpacklo_epi16(ab_hi, cd_hi));
    _mm_storeu_si128(dst + 3, _mm_unpackhi_epi16(ab_hi, cd_hi));
  }
#endif
  for (; i < l.q; ++i) {
    out[4 * i] = g0[i];
    out[4 * i + 1] = g1[i];
    out[4 * i + 2] = g2[i];
    out[4 * i + 3] = g3[i];
  }
  for (size_t k = 0; k < l.r; ++k) out[4 * l.q + k] = in[l.start[k] + l.q];
}

// ---------------------------------------------------------------------------
// Chunk records.

void WriteChunkRecordHeader(const ChunkRecordHeader& header, uint8_t* out) {
  assert(header.compressed_size < (1u << 24) && header.uncompressed_size < (1u << 24));
  out[0] = header.version;
  StoreU24(out + 1, header.compressed_size);
  out[4] = static_cast<uint8_t>(header.scheme);
  StoreU24(out + 5, header.uncompressed_size);
}

CompressionScheme AppendChunkRecord(std::span<const uint8_t> chunk, CompressionPolicy policy,
                                    std::vector<uint8_t>* out) {
  assert(chunk.size() <= kMaxChunkUncompressedSize);
  CompressionScheme scheme = CompressionScheme::kNone;
  std::vector<uint8_t> best;
  if (policy != CompressionPolicy::kNone && !chunk.empty()) {
    if (Lz4CompressSmaller(chunk, &best)) scheme = CompressionScheme::kLz4;
    if (policy == CompressionPolicy::kBest) {
      std::vector<uint8_t> grouped(chunk.size());
      ByteGroup4(chunk, grouped.data());
      std::vector<uint8_t> bg4;
      if (Lz4CompressSmaller(grouped, &bg4) &&
          (scheme == CompressionScheme::kNone || bg4.size() < best.size())) {
        best = std::move(bg4);
        scheme = CompressionScheme::kByteGrouping4Lz4;
      }
    }
  }
  std::span<const uint8_t> payload =
      scheme == CompressionScheme::kNone ? chunk : std::span<const uint8_t>(best);
  ChunkRecordHeader header;
  header.compressed_size = static_cast<uint32_t>(payload.size());
  header.scheme = scheme;
  header.uncompressed_size = static_cast<uint32_t>(chunk.size());
  const size_t at = out->size();
  out->resize(at + kChunkRecordHeaderSize);
  WriteChunkRecordHeader(header, out->data() + at);
  AppendBytes(out, payload.data(), payload.size());
  return scheme;
}

Result<ChunkRecordHeader> ParseChunkRecordHeader(std::span<const uint8_t> in) {
  if (in.size() < kChunkRecordHeaderSize) {
    return CorruptRecord("truncated header (" + std::to_string(in.size()) + " bytes)");
  }
  ChunkRecordHeader h;
  h.version = in[0];
  h.compressed_size = LoadU24(&in[1]);
  const uint8_t scheme = in[4];
  h.uncompressed_size = LoadU24(&in[5]);
  if (h.version != 0) return CorruptRecord("unsupported version " + std::to_string(h.version));
  if (scheme > static_cast<uint8_t>(CompressionScheme::kByteGrouping4Lz4)) {
    return CorruptRecord("unknown compression scheme " + std::to_string(scheme));
  }
  h.scheme = static_cast<CompressionScheme>(scheme);
  if (h.uncompressed_size > kMaxChunkUncompressedSize) {
    return CorruptRecord("uncompressed size " + std::to_string(h.uncompressed_size) +
                         " exceeds 131072");
  }
  if (h.compressed_size > kMaxChunkCompressedSize) {
    return CorruptRecord("compressed size " + std::to_string(h.compressed_size) +
                         " exceeds 262144");
  }
  if (h.scheme == CompressionScheme::kNone && h.compressed_size != h.uncompressed_size) {
    return CorruptRecord("uncompressed record with compressed size " +
                         std::to_string(h.compressed_size) + " != uncompressed size " +
                         std::to_string(h.uncompressed_size));
  }
  return h;
}

// ---------------------------------------------------------------------------
// ChunkDecoder.

struct ChunkDecoder::Lz4Context {
  LZ4F_dctx* dctx = nullptr;
  ~Lz4Context() {
    if (dctx != nullptr) LZ4F_freeDecompressionContext(dctx);
  }
};

ChunkDecoder::ChunkDecoder() : lz4_(std::make_unique<Lz4Context>()) {
  LZ4F_errorCode_t err = LZ4F_createDecompressionContext(&lz4_->dctx, LZ4F_VERSION);
  if (LZ4F_isError(err)) lz4_->dctx = nullptr;  // reported by every LZ4 decode
}

ChunkDecoder::~ChunkDecoder() = default;

namespace {
// Decodes one whole LZ4 frame into exactly `out`; see Lz4DecompressFrame.
Status Lz4DecompressFrameWith(LZ4F_dctx* dctx, std::span<const uint8_t> frame,
                              std::span<uint8_t> out);
}  // namespace

Status ChunkDecoder::Lz4DecompressFrame(std::span<const uint8_t> frame, std::span<uint8_t> out) {
  if (lz4_->dctx == nullptr) return InternalError("LZ4 decompression context unavailable");
  Status st = Lz4DecompressFrameWith(lz4_->dctx, frame, out);
  if (!st.ok()) {
    // LZ4F_resetDecompressionContext (liblz4 1.9.4) does not clear the
    // remaining content size of a frame abandoned midway, so the next frame
    // without a content size would fail with "frameSize_wrong". Start over
    // with a fresh context after any error.
    LZ4F_freeDecompressionContext(lz4_->dctx);
    lz4_->dctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&lz4_->dctx, LZ4F_VERSION))) {
      lz4_->dctx = nullptr;
    }
  }
  return st;
}

namespace {

Status Lz4DecompressFrameWith(LZ4F_dctx* dctx, std::span<const uint8_t> frame,
                              std::span<uint8_t> out) {
  LZ4F_resetDecompressionContext(dctx);
  LZ4F_decompressOptions_t opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.stableDst = 1;  // `out` stays put for the whole frame
  size_t in_pos = 0;
  size_t out_pos = 0;
  uint8_t probe = 0;
  for (;;) {
    // Once `out` is full, offer one spare byte: a frame that still produces
    // output is longer than declared (never written past `out`).
    const bool probing = out_pos == out.size();
    uint8_t* dst = probing ? &probe : out.data() + out_pos;
    size_t dst_size = probing ? 1 : out.size() - out_pos;
    size_t src_size = frame.size() - in_pos;
    const size_t hint =
        LZ4F_decompress(dctx, dst, &dst_size, frame.data() + in_pos, &src_size, &opts);
    if (LZ4F_isError(hint)) {
      return CorruptRecord(std::string("LZ4 frame: ") + LZ4F_getErrorName(hint));
    }
    in_pos += src_size;
    if (probing && dst_size > 0) {
      return CorruptRecord("LZ4 frame decompresses to more than the declared " +
                           std::to_string(out.size()) + " bytes");
    }
    if (!probing) out_pos += dst_size;
    if (hint == 0) {  // end of frame
      if (in_pos != frame.size()) {
        return CorruptRecord(std::to_string(frame.size() - in_pos) +
                             " bytes after the end of the LZ4 frame");
      }
      if (out_pos != out.size()) {
        return CorruptRecord("LZ4 frame decompresses to " + std::to_string(out_pos) +
                             " bytes, declared " + std::to_string(out.size()));
      }
      return Status::Ok();
    }
    if (src_size == 0 && dst_size == 0) {
      // LZ4F wants more input than the payload has: a truncated frame.
      if (in_pos == frame.size()) return CorruptRecord("truncated LZ4 frame");
      return CorruptRecord("LZ4 frame decoder made no progress");
    }
  }
}

}  // namespace

Status ChunkDecoder::DecodePayload(const ChunkRecordHeader& header,
                                   std::span<const uint8_t> payload, std::span<uint8_t> out) {
  if (out.size() != header.uncompressed_size) {
    return InvalidArgumentError("chunk buffer holds " + std::to_string(out.size()) +
                                " bytes, record declares " +
                                std::to_string(header.uncompressed_size));
  }
  switch (header.scheme) {
    case CompressionScheme::kNone:
      if (!payload.empty()) std::memcpy(out.data(), payload.data(), payload.size());
      return Status::Ok();
    case CompressionScheme::kLz4:
      return Lz4DecompressFrame(payload, out);
    case CompressionScheme::kByteGrouping4Lz4:
      scratch_.resize(out.size());
      HUBFS_RETURN_IF_ERROR(Lz4DecompressFrame(payload, scratch_));
      ByteUngroup4(scratch_, out.data());
      return Status::Ok();
  }
  return CorruptRecord("unknown compression scheme");
}

Status ChunkDecoder::DecodeRecordInto(std::span<const uint8_t> in, size_t* consumed,
                                      std::span<uint8_t> out) {
  HUBFS_ASSIGN_OR_RETURN(ChunkRecordHeader header, ParseChunkRecordHeader(in));
  if (in.size() - kChunkRecordHeaderSize < header.compressed_size) {
    return CorruptRecord(
        "truncated payload: " + std::to_string(in.size() - kChunkRecordHeaderSize) + " of " +
        std::to_string(header.compressed_size) + " bytes");
  }
  if (out.size() != header.uncompressed_size) {
    return CorruptRecord("record declares " + std::to_string(header.uncompressed_size) +
                         " bytes, expected " + std::to_string(out.size()));
  }
  HUBFS_RETURN_IF_ERROR(
      DecodePayload(header, in.subspan(kChunkRecordHeaderSize, header.compressed_size), out));
  *consumed = header.record_size();
  return Status::Ok();
}

Status ChunkDecoder::DecodeRecord(std::span<const uint8_t> in, size_t* consumed,
                                  std::vector<uint8_t>* out) {
  HUBFS_ASSIGN_OR_RETURN(ChunkRecordHeader header, ParseChunkRecordHeader(in));
  if (in.size() - kChunkRecordHeaderSize < header.compressed_size) {
    return CorruptRecord(
        "truncated payload: " + std::to_string(in.size() - kChunkRecordHeaderSize) + " of " +
        std::to_string(header.compressed_size) + " bytes");
  }
  const size_t at = out->size();
  out->resize(at + header.uncompressed_size);  // ≤ 128 KiB, checked above
  Status st = DecodePayload(header, in.subspan(kChunkRecordHeaderSize, header.compressed_size),
                            std::span<uint8_t>(out->data() + at, header.uncompressed_size));
  if (!st.ok()) {
    out->resize(at);
    return st;
  }
  *consumed = header.record_size();
  return Status::Ok();
}

Status ChunkDecoder::DecodeRun(std::span<const uint8_t> body, size_t expected_chunks,
                               const ChunkCallback& on_chunk) {
  size_t pos = 0;
  for (size_t i = 0; i < expected_chunks; ++i) {
    if (pos == body.size()) {
      return CorruptError("xet chunk run: " + std::to_string(i) + " chunks, expected " +
                          std::to_string(expected_chunks));
    }
    chunk_.clear();
    size_t consumed = 0;
    Status st = DecodeRecord(body.subspan(pos), &consumed, &chunk_);
    if (!st.ok()) return st.WithContext("chunk " + std::to_string(i) + " of run");
    pos += consumed;
    HUBFS_RETURN_IF_ERROR(on_chunk(i, chunk_));
  }
  if (pos != body.size()) {
    return CorruptError("xet chunk run: " + std::to_string(body.size() - pos) +
                        " bytes after the last expected chunk");
  }
  return Status::Ok();
}

Status ChunkDecoder::DecodeRun(std::span<const uint8_t> body, size_t expected_chunks,
                               std::vector<std::vector<uint8_t>>* chunks) {
  std::vector<std::vector<uint8_t>> decoded;
  // Every record holds at least a header, which bounds the reservation.
  decoded.reserve(std::min(expected_chunks, body.size() / kChunkRecordHeaderSize));
  HUBFS_RETURN_IF_ERROR(
      DecodeRun(body, expected_chunks, [&decoded](size_t, std::span<const uint8_t> chunk) {
        decoded.emplace_back(chunk.begin(), chunk.end());
        return Status::Ok();
      }));
  *chunks = std::move(decoded);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Whole xorbs.

Result<XorbInfo> ParseXorb(std::span<const uint8_t> bytes) {
  XorbInfo info;
  ChunkDecoder decoder;
  std::vector<uint8_t> chunk;
  std::vector<MerkleNode> leaves;
  size_t pos = 0;
  bool has_footer = false;
  while (pos < bytes.size()) {
    const std::span<const uint8_t> rest = bytes.subspan(pos);
    if (rest.size() >= sizeof(kXorbFooterIdent) &&
        std::memcmp(rest.data(), kXorbFooterIdent, sizeof(kXorbFooterIdent)) == 0) {
      has_footer = true;
      break;
    }
    if (info.chunks.size() == kMaxXorbChunksRead) {
      return CorruptError("xorb: more than " + std::to_string(kMaxXorbChunksRead) + " chunks");
    }
    HUBFS_ASSIGN_OR_RETURN(ChunkRecordHeader header, ParseChunkRecordHeader(rest));
    if (pos + header.record_size() > kMaxXorbBodySizeRead) {
      return CorruptError("xorb: body exceeds 65 MiB");
    }
    chunk.resize(header.uncompressed_size);
    size_t consumed = 0;
    Status st = decoder.DecodeRecordInto(rest, &consumed, chunk);
    if (!st.ok()) return st.WithContext("xorb chunk " + std::to_string(info.chunks.size()));
    XorbChunkInfo c;
    c.hash = ChunkHash(chunk);
    c.length = header.uncompressed_size;
    c.record_start = static_cast<uint32_t>(pos);
    c.record_end = static_cast<uint32_t>(pos + consumed);
    info.chunks.push_back(c);
    leaves.push_back({c.hash, c.length});
    info.unpacked_size += c.length;
    pos += consumed;
  }
  if (info.chunks.empty()) return CorruptError("xorb: no chunks");
  info.body_size = pos;
  info.hash = MerkleRoot(leaves);
  if (has_footer) {
    Result<XorbInfo> footer = ParseXorbFooter(bytes);
    if (!footer.ok()) return footer.status();
    bool same = footer->body_size == info.body_size && footer->hash == info.hash &&
                footer->chunks.size() == info.chunks.size();
    for (size_t i = 0; same && i < info.chunks.size(); ++i) {
      const XorbChunkInfo& a = footer->chunks[i];
      const XorbChunkInfo& b = info.chunks[i];
      same = a.hash == b.hash && a.record_end == b.record_end &&
             (!footer->lengths_known || a.length == b.length);
    }
    if (!same) return CorruptError("xorb: footer does not describe the body");
  }
  return info;
}

bool XorbBuilder::CanAdd(size_t length) const {
  return length <= kMaxChunkUncompressedSize && info_.chunks.size() < kMaxXorbChunks &&
         body_.size() + kChunkRecordHeaderSize + length <= kMaxXorbBodySize &&
         info_.unpacked_size + length <= kMaxXorbUnpackedSize;
}

Status XorbBuilder::Add(const Hash& chunk_hash, std::span<const uint8_t> chunk) {
  if (chunk.size() > kMaxChunkUncompressedSize) {
    return InvalidArgumentError("chunk of " + std::to_string(chunk.size()) +
                                " bytes exceeds 131072");
  }
  if (!CanAdd(chunk.size())) return ResourceExhaustedError("xorb is full");
  XorbChunkInfo c;
  c.hash = chunk_hash;
  c.length = static_cast<uint32_t>(chunk.size());
  c.record_start = static_cast<uint32_t>(body_.size());
  AppendChunkRecord(chunk, policy_, &body_);
  c.record_end = static_cast<uint32_t>(body_.size());
  info_.chunks.push_back(c);
  info_.unpacked_size += c.length;
  return Status::Ok();
}

XorbBuilder::Xorb XorbBuilder::Finish() {
  assert(!info_.chunks.empty());
  std::vector<MerkleNode> leaves;
  leaves.reserve(info_.chunks.size());
  for (const XorbChunkInfo& c : info_.chunks) leaves.push_back({c.hash, c.length});
  info_.hash = MerkleRoot(leaves);
  info_.body_size = body_.size();
  Xorb x{std::move(body_), std::move(info_)};
  body_ = {};
  info_ = {};
  return x;
}

}  // namespace hubfs::chunkstore
