#include "chunkstore/shard.h"
#include "common/little_endian.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

namespace hubfs::chunkstore {

namespace {

constexpr uint8_t kShardTag[32] = {0x48, 0x46, 0x52, 0x65, 0x70, 0x6f, 0x4d, 0x65, 0x74, 0x61, 0x44,
                                   0x61, 0x74, 0x61, 0x00, 0x55, 0x69, 0x67, 0x45, 0x6a, 0x7b, 0x81,
                                   0x57, 0x83, 0xa5, 0xbd, 0xd9, 0x5c, 0xcd, 0xd1, 0x4a, 0xa9};
constexpr uint32_t kKnownFileFlags = kFileFlagVerification | kFileFlagMetadataExt;
// Lookup table entry sizes (§4.4): {u64 key, u32 index}, {u64, u32}, {u64, u32, u32}.
constexpr uint64_t kFileLookupEntrySize = 12;
constexpr uint64_t kXorbLookupEntrySize = 12;
constexpr uint64_t kChunkLookupEntrySize = 16;

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Bytes(const uint8_t* p, size_t n) { out_->insert(out_->end(), p, p + n); }
  void HashField(const Hash& h) { Bytes(h.bytes.data(), h.bytes.size()); }
  void Zeros(size_t n) { out_->resize(out_->size() + n, 0); }
  void Bookend() {
    out_->resize(out_->size() + 32, 0xFF);
    Zeros(16);
  }
  uint64_t size() const { return out_->size(); }

 private:
  std::vector<uint8_t>* out_;
};

Hash LoadHash(const uint8_t* p) {
  Hash h;
  std::memcpy(h.bytes.data(), p, 32);
  return h;
}
bool IsBookendHash(const uint8_t* p) {
  return std::all_of(p, p + 32, [](uint8_t b) { return b == 0xFF; });
}

Status ShardCorrupt(const std::string& what) { return CorruptError("shard: " + what); }

void WriteFooter(const ShardFooter& f, Writer* w) {
  w->U64(f.version);
  w->U64(f.file_info_offset);
  w->U64(f.cas_info_offset);
  w->U64(f.file_lookup_offset);
  w->U64(f.file_lookup_num_entry);
  w->U64(f.xorb_lookup_offset);
  w->U64(f.xorb_lookup_num_entry);
  w->U64(f.chunk_lookup_offset);
  w->U64(f.chunk_lookup_num_entry);
  w->Bytes(f.hmac_key.data(), f.hmac_key.size());
  w->U64(f.creation_timestamp);
  w->U64(f.key_expiry);
  w->Zeros(48);
  w->U64(f.stored_bytes_on_disk);
  w->U64(f.materialized_bytes);
  w->U64(f.stored_bytes);
  w->U64(f.footer_offset);
}

ShardFooter ReadFooter(const uint8_t* p) {
  ShardFooter f;
  f.version = LoadLe64(p);
  f.file_info_offset = LoadLe64(p + 8);
  f.cas_info_offset = LoadLe64(p + 16);
  f.file_lookup_offset = LoadLe64(p + 24);
  f.file_lookup_num_entry = LoadLe64(p + 32);
  f.xorb_lookup_offset = LoadLe64(p + 40);
  f.xorb_lookup_num_entry = LoadLe64(p + 48);
  f.chunk_lookup_offset = LoadLe64(p + 56);
  f.chunk_lookup_num_entry = LoadLe64(p + 64);
  std::memcpy(f.hmac_key.data(), p + 72, 32);
  f.creation_timestamp = LoadLe64(p + 104);
  f.key_expiry = LoadLe64(p + 112);
  f.stored_bytes_on_disk = LoadLe64(p + 168);
  f.materialized_bytes = LoadLe64(p + 176);
  f.stored_bytes = LoadLe64(p + 184);
  f.footer_offset = LoadLe64(p + 192);
  return f;
}

// Reads the file section starting at `*pos` (bounded by `end`, which leaves
// room for nothing past the section); advances past its bookend.
Status ParseFileSection(std::span<const uint8_t> bytes, size_t end, size_t* pos,
                        std::vector<ShardFile>* files) {
  std::optional<bool> with_verification;
  for (;;) {
    if (end - *pos < kShardRecordSize) return ShardCorrupt("file section has no bookend");
    const uint8_t* rec = bytes.data() + *pos;
    *pos += kShardRecordSize;
    if (IsBookendHash(rec)) return Status::Ok();
    ShardFile file;
    file.file_hash = LoadHash(rec);
    const uint32_t flags = LoadLe32(rec + 32);
    const uint32_t n = LoadLe32(rec + 36);
    const std::string where = "file " + std::to_string(files->size()) + ": ";
    if ((flags & ~kKnownFileFlags) != 0) {
      return ShardCorrupt(where + "unknown flags " + std::to_string(flags));
    }
    const bool verification = (flags & kFileFlagVerification) != 0;
    const bool metadata = (flags & kFileFlagMetadataExt) != 0;
    if (with_verification.has_value() && *with_verification != verification) {
      return ShardCorrupt(where + "verification entries on some files but not all");
    }
    with_verification = verification;
    // Everything this block declares must fit before the section's bookend.
    const uint64_t need =
        (uint64_t{n} * (verification ? 2 : 1) + (metadata ? 1 : 0) + 1) * kShardRecordSize;
    if (need > end - *pos) {
      return ShardCorrupt(where + std::to_string(n) + " entries run past the end");
    }
    file.terms.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* e = bytes.data() + *pos;
      *pos += kShardRecordSize;
      ShardTerm t;
      t.xorb_hash = LoadHash(e);
      t.unpacked_bytes = LoadLe32(e + 36);
      t.chunk_start = LoadLe32(e + 40);
      t.chunk_end = LoadLe32(e + 44);
      if (t.chunk_start >= t.chunk_end) {
        return ShardCorrupt(where + "term " + std::to_string(i) + " has an empty chunk range");
      }
      file.terms.push_back(t);
    }
    if (verification) {
      file.verification.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        file.verification.push_back(LoadHash(bytes.data() + *pos));
        *pos += kShardRecordSize;
      }
    }
    if (metadata) {
      file.sha256 = LoadHash(bytes.data() + *pos);
      *pos += kShardRecordSize;
    }
    files->push_back(std::move(file));
  }
}

Status ParseCasSection(std::span<const uint8_t> bytes, size_t end, size_t* pos,
                       std::vector<ShardXorb>* xorbs) {
  for (;;) {
    if (end - *pos < kShardRecordSize) return ShardCorrupt("CAS section has no bookend");
    const uint8_t* rec = bytes.data() + *pos;
    *pos += kShardRecordSize;
    if (IsBookendHash(rec)) return Status::Ok();
    ShardXorb x;
    x.xorb_hash = LoadHash(rec);
    const uint32_t n = LoadLe32(rec + 36);
    x.num_bytes_in_xorb = LoadLe32(rec + 40);
    x.num_bytes_on_disk = LoadLe32(rec + 44);
    if ((uint64_t{n} + 1) * kShardRecordSize > end - *pos) {
      return ShardCorrupt("xorb " + std::to_string(xorbs->size()) + ": " + std::to_string(n) +
                          " chunks run past the end");
    }
    x.chunks.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* e = bytes.data() + *pos;
      *pos += kShardRecordSize;
      ShardXorbChunk c;
      c.hash = LoadHash(e);
      c.byte_start = LoadLe32(e + 32);
      c.length = LoadLe32(e + 36);
      c.flags = LoadLe32(e + 40);
      x.chunks.push_back(c);
    }
    xorbs->push_back(std::move(x));
  }
}

// Checks the footer against the sections and the bytes between the CAS
// bookend (`cas_end`) and the footer, which may only hold lookup tables.
Status CheckFooter(const ShardFooter& f, uint64_t cas_start, uint64_t cas_end,
                   uint64_t footer_offset) {
  if (f.version != kShardFooterVersion) {
    return ShardCorrupt("unsupported footer version " + std::to_string(f.version));
  }
  if (f.footer_offset != footer_offset) {
    return ShardCorrupt("footer offset " + std::to_string(f.footer_offset) +
                        " != " + std::to_string(footer_offset));
  }
  if (f.file_info_offset != kShardHeaderSize) return ShardCorrupt("bad file info offset");
  if (f.cas_info_offset != cas_start) {
    return ShardCorrupt("CAS info offset " + std::to_string(f.cas_info_offset) +
                        " != " + std::to_string(cas_start));
  }
  const uint64_t gap = footer_offset - cas_end;
  struct Table {
    uint64_t offset, count, entry_size;
  };
  const Table tables[] = {
      {f.file_lookup_offset, f.file_lookup_num_entry, kFileLookupEntrySize},
      {f.xorb_lookup_offset, f.xorb_lookup_num_entry, kXorbLookupEntrySize},
      {f.chunk_lookup_offset, f.chunk_lookup_num_entry, kChunkLookupEntrySize},
  };
  uint64_t total = 0;
  for (const Table& t : tables) {
    if (t.count == 0) continue;  // offset unused (writers put 0 or the footer offset)
    if (t.count > gap / t.entry_size || t.offset < cas_end ||
        t.offset > footer_offset - t.count * t.entry_size) {
      return ShardCorrupt("lookup table outside the space before the footer");
    }
    total += t.count * t.entry_size;
  }
  if (total != gap) {
    return ShardCorrupt(std::to_string(gap) + " bytes before the footer, lookup tables declare " +
                        std::to_string(total));
  }
  return Status::Ok();
}

}  // namespace

std::vector<uint8_t> SerializeShard(const Shard& shard) {
  std::vector<uint8_t> out;
  size_t records = 4;  // header, two bookends, footer (over-estimate)
  for (const ShardFile& f : shard.files) records += 2 + f.terms.size() + f.verification.size();
  for (const ShardXorb& x : shard.xorbs) records += 1 + x.chunks.size();
  out.reserve(records * kShardRecordSize + kShardFooterSize);
  Writer w(&out);
  w.Bytes(kShardTag, sizeof(kShardTag));
  w.U64(kShardVersion);
  w.U64(shard.footer ? kShardFooterSize : 0);

  uint64_t materialized = 0;
  for (const ShardFile& f : shard.files) {
    assert(f.verification.empty() || f.verification.size() == f.terms.size());
    uint32_t flags = 0;
    if (!f.verification.empty()) flags |= kFileFlagVerification;
    if (f.sha256) flags |= kFileFlagMetadataExt;
    w.HashField(f.file_hash);
    w.U32(flags);
    w.U32(static_cast<uint32_t>(f.terms.size()));
    w.U64(0);
    for (const ShardTerm& t : f.terms) {
      w.HashField(t.xorb_hash);
      w.U32(0);
      w.U32(t.unpacked_bytes);
      w.U32(t.chunk_start);
      w.U32(t.chunk_end);
      materialized += t.unpacked_bytes;
    }
    for (const Hash& v : f.verification) {
      w.HashField(v);
      w.Zeros(16);
    }
    if (f.sha256) {
      w.HashField(*f.sha256);
      w.Zeros(16);
    }
  }
  w.Bookend();

  const uint64_t cas_start = w.size();
  uint64_t on_disk = 0;
  uint64_t stored = 0;
  for (const ShardXorb& x : shard.xorbs) {
    w.HashField(x.xorb_hash);
    w.U32(0);
    w.U32(static_cast<uint32_t>(x.chunks.size()));
    w.U32(x.num_bytes_in_xorb);
    w.U32(x.num_bytes_on_disk);
    for (const ShardXorbChunk& c : x.chunks) {
      w.HashField(c.hash);
      w.U32(c.byte_start);
      w.U32(c.length);
      w.U32(c.flags);
      w.U32(0);
    }
    on_disk += x.num_bytes_on_disk;
    stored += x.num_bytes_in_xorb;
  }
  w.Bookend();

  if (shard.footer) {
    ShardFooter f;
    f.file_info_offset = kShardHeaderSize;
    f.cas_info_offset = cas_start;
    f.footer_offset = w.size();
    // No lookup tables: offsets point at the footer, counts are 0.
    f.file_lookup_offset = f.xorb_lookup_offset = f.chunk_lookup_offset = f.footer_offset;
    f.hmac_key = shard.footer->hmac_key;
    f.creation_timestamp = shard.footer->creation_timestamp;
    f.key_expiry = shard.footer->key_expiry;
    f.stored_bytes_on_disk = on_disk;
    f.materialized_bytes = materialized;
    f.stored_bytes = stored;
    WriteFooter(f, &w);
  }
  return out;
}

std::vector<uint8_t> SerializeDedupShard(std::span<const ShardXorb> xorbs, const Key& hmac_key,
                                         uint64_t creation_timestamp, uint64_t key_expiry) {
  Shard shard;
  shard.xorbs.assign(xorbs.begin(), xorbs.end());
  const bool keyed = hmac_key != kZeroKey;
  if (keyed) {
    for (ShardXorb& x : shard.xorbs) {
      for (ShardXorbChunk& c : x.chunks) c.hash = KeyedChunkHash(hmac_key, c.hash);
    }
  }
  ShardFooter footer;
  footer.hmac_key = hmac_key;
  footer.creation_timestamp = creation_timestamp;
  footer.key_expiry = key_expiry;
  shard.footer = footer;
  return SerializeShard(shard);
}

Result<Shard> ParseShard(std::span<const uint8_t> bytes) {
  if (bytes.size() < kShardHeaderSize) return ShardCorrupt("truncated header");
  if (std::memcmp(bytes.data(), kShardTag, sizeof(kShardTag)) != 0) {
    return ShardCorrupt("bad header tag");
  }
  const uint64_t version = LoadLe64(bytes.data() + 32);
  if (version != kShardVersion) {
    return ShardCorrupt("unsupported version " + std::to_string(version));
  }
  const uint64_t footer_size = LoadLe64(bytes.data() + 40);
  if (footer_size != 0 && footer_size != kShardFooterSize) {
    return ShardCorrupt("bad footer size " + std::to_string(footer_size));
  }
  if (bytes.size() < kShardHeaderSize + footer_size) return ShardCorrupt("truncated footer");
  const size_t end = bytes.size() - footer_size;  // sections and lookup tables end here

  Shard shard;
  size_t pos = kShardHeaderSize;
  HUBFS_RETURN_IF_ERROR(ParseFileSection(bytes, end, &pos, &shard.files));
  const size_t cas_start = pos;
  HUBFS_RETURN_IF_ERROR(ParseCasSection(bytes, end, &pos, &shard.xorbs));

  if (footer_size == 0) {
    if (pos != bytes.size()) {
      return ShardCorrupt(std::to_string(bytes.size() - pos) +
                          " bytes after the CAS section of a shard without footer");
    }
    return shard;
  }
  ShardFooter footer = ReadFooter(bytes.data() + end);
  HUBFS_RETURN_IF_ERROR(CheckFooter(footer, cas_start, pos, end));
  shard.footer = footer;
  return shard;
}

ShardXorb ShardXorbFromInfo(const XorbInfo& info) {
  ShardXorb x;
  x.xorb_hash = info.hash;
  x.num_bytes_in_xorb = static_cast<uint32_t>(info.unpacked_size);
  x.num_bytes_on_disk = static_cast<uint32_t>(info.body_size);
  x.chunks.reserve(info.chunks.size());
  uint32_t offset = 0;
  for (const XorbChunkInfo& c : info.chunks) {
    x.chunks.push_back({c.hash, offset, c.length, 0});
    offset += c.length;
  }
  return x;
}

}  // namespace hubfs::chunkstore
