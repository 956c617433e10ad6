// The stored xorb metadata footer (spec/xet.md §3.6): writer and reader.
#include <cstring>
#include <string>

#include "chunkstore/xorb.h"
#include "common/little_endian.h"

namespace hubfs::chunkstore {

namespace {

constexpr uint8_t kHashSectionIdent[7] = {'X', 'B', 'L', 'B', 'H', 'S', 'H'};
constexpr uint8_t kBoundarySectionIdent[7] = {'X', 'B', 'L', 'B', 'B', 'N', 'D'};

void AppendBytes(std::vector<uint8_t>* out, const uint8_t* p, size_t n) {
  out->insert(out->end(), p, p + n);
}

}  // namespace

std::vector<uint8_t> SerializeXorbFooter(const XorbInfo& info, uint32_t nonce) {
  const uint32_t n = static_cast<uint32_t>(info.chunks.size());
  std::vector<uint8_t> out;
  out.reserve(96 + 40 * size_t{n});
  AppendBytes(&out, kXorbFooterIdent, sizeof(kXorbFooterIdent));
  out.push_back(1);
  AppendBytes(&out, info.hash.bytes.data(), 32);
  AppendBytes(&out, kHashSectionIdent, sizeof(kHashSectionIdent));
  out.push_back(0);
  AppendLe32(&out, n);
  for (const XorbChunkInfo& c : info.chunks) AppendBytes(&out, c.hash.bytes.data(), 32);
  AppendBytes(&out, kBoundarySectionIdent, sizeof(kBoundarySectionIdent));
  out.push_back(1);
  AppendLe32(&out, n);
  for (const XorbChunkInfo& c : info.chunks) AppendLe32(&out, c.record_end);
  uint32_t unpacked = 0;
  for (const XorbChunkInfo& c : info.chunks) AppendLe32(&out, unpacked += c.length);
  AppendLe32(&out, n);
  AppendLe32(&out, 52 + 40 * n);
  AppendLe32(&out, 40 + 8 * n);
  AppendLe32(&out, nonce);
  out.resize(out.size() + 12, 0);
  AppendLe32(&out, static_cast<uint32_t>(out.size()));
  return out;
}

namespace {

// Sequential reader over a bounded byte span; every read is checked.
class FooterReader {
 public:
  explicit FooterReader(std::span<const uint8_t> in) : in_(in) {}
  bool Ident(const uint8_t (&ident)[7]) {
    if (!Has(7) || std::memcmp(in_.data() + pos_, ident, 7) != 0) return false;
    pos_ += 7;
    return true;
  }
  bool U8(uint8_t* v) {
    if (!Has(1)) return false;
    *v = in_[pos_++];
    return true;
  }
  bool U32(uint32_t* v) {
    if (!Has(4)) return false;
    *v = LoadLe32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool HashAt(Hash* h) {
    if (!Has(32)) return false;
    std::memcpy(h->bytes.data(), in_.data() + pos_, 32);
    pos_ += 32;
    return true;
  }
  bool Skip(size_t n) {
    if (!Has(n)) return false;
    pos_ += n;
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  bool Has(size_t n) const { return in_.size() - pos_ >= n; }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

Status FooterCorrupt(const std::string& what) { return CorruptError("xorb footer: " + what); }

// Record ends must increase by at least a header and end at the body size.
Status CheckBoundaries(const XorbInfo& info) {
  uint64_t prev = 0;
  for (const XorbChunkInfo& c : info.chunks) {
    if (c.record_end < prev + kChunkRecordHeaderSize ||
        c.record_end - prev > kChunkRecordHeaderSize + kMaxChunkCompressedSize) {
      return FooterCorrupt("chunk boundary offsets out of order or out of bounds");
    }
    prev = c.record_end;
  }
  if (prev != info.body_size) {
    return FooterCorrupt("last chunk boundary " + std::to_string(prev) + " != body size " +
                         std::to_string(info.body_size));
  }
  return Status::Ok();
}

}  // namespace

Result<XorbInfo> ParseXorbFooter(std::span<const uint8_t> stored_bytes) {
  if (stored_bytes.size() < 4) return FooterCorrupt("missing length");
  const uint32_t info_length = LoadLe32(stored_bytes.data() + stored_bytes.size() - 4);
  if (info_length > stored_bytes.size() - 4) {
    return FooterCorrupt("length " + std::to_string(info_length) + " exceeds the object");
  }
  XorbInfo info;
  info.body_size = stored_bytes.size() - 4 - info_length;
  if (info.body_size > kMaxXorbBodySizeRead) return FooterCorrupt("body exceeds 65 MiB");
  FooterReader r(stored_bytes.subspan(info.body_size, info_length));
  uint8_t version = 0;
  if (!r.Ident(kXorbFooterIdent) || !r.U8(&version)) return FooterCorrupt("bad ident");
  if (!r.HashAt(&info.hash)) return FooterCorrupt("truncated");
  uint32_t n = 0;
  if (version == 1) {
    uint8_t hashes_version = 0;
    if (!r.Ident(kHashSectionIdent) || !r.U8(&hashes_version) || hashes_version != 0 ||
        !r.U32(&n)) {
      return FooterCorrupt("bad hash section header");
    }
    // The whole v1 info is 92 + 40n bytes: n is bounded by the bytes present.
    if (uint64_t{92} + uint64_t{40} * n != info_length) {
      return FooterCorrupt("chunk count " + std::to_string(n) + " does not match length " +
                           std::to_string(info_length));
    }
    info.chunks.resize(n);
    for (XorbChunkInfo& c : info.chunks) r.HashAt(&c.hash);
    uint8_t bnd_version = 0;
    uint32_t n2 = 0;
    if (!r.Ident(kBoundarySectionIdent) || !r.U8(&bnd_version) || bnd_version != 1 || !r.U32(&n2) ||
        n2 != n) {
      return FooterCorrupt("bad boundary section header");
    }
    for (XorbChunkInfo& c : info.chunks) r.U32(&c.record_end);
    uint32_t prev_unpacked = 0;
    for (XorbChunkInfo& c : info.chunks) {
      uint32_t unpacked = 0;
      r.U32(&unpacked);
      if (unpacked < prev_unpacked || unpacked - prev_unpacked > kMaxChunkUncompressedSize) {
        return FooterCorrupt("unpacked chunk offsets out of order or out of bounds");
      }
      c.length = unpacked - prev_unpacked;
      info.unpacked_size += c.length;
      prev_unpacked = unpacked;
    }
    uint32_t n3 = 0, hash_off = 0, bnd_off = 0;
    if (!r.U32(&n3) || !r.U32(&hash_off) || !r.U32(&bnd_off) || n3 != n ||
        hash_off != 52 + 40 * n || bnd_off != 40 + 8 * n || !r.Skip(16) || r.remaining() != 0) {
      return FooterCorrupt("bad trailer");
    }
  } else if (version == 0) {
    if (!r.U32(&n) || uint64_t{60} + uint64_t{36} * n != info_length) {
      return FooterCorrupt("v0 chunk count does not match length");
    }
    info.lengths_known = false;
    info.chunks.resize(n);
    for (XorbChunkInfo& c : info.chunks) r.U32(&c.record_end);
    for (XorbChunkInfo& c : info.chunks) r.HashAt(&c.hash);
    if (!r.Skip(16) || r.remaining() != 0) return FooterCorrupt("bad v0 trailer");
  } else {
    return FooterCorrupt("unsupported version " + std::to_string(version));
  }
  if (info.chunks.empty()) return FooterCorrupt("no chunks");
  HUBFS_RETURN_IF_ERROR(CheckBoundaries(info));
  uint32_t start = 0;
  for (XorbChunkInfo& c : info.chunks) {
    c.record_start = start;
    start = c.record_end;
  }
  if (info.lengths_known) {
    std::vector<MerkleNode> leaves;
    leaves.reserve(info.chunks.size());
    for (const XorbChunkInfo& c : info.chunks) leaves.push_back({c.hash, c.length});
    if (MerkleRoot(leaves) != info.hash) {
      return FooterCorrupt("xorb hash is not the Merkle root of the listed chunks");
    }
  }
  return info;
}

}  // namespace hubfs::chunkstore
