#include "fs/content/xet_cache_codec.h"

#include <cstring>
#include <string>

namespace hubfs::fs {
namespace {

constexpr uint8_t kTermsVersion = 1;
constexpr uint8_t kLayoutVersion = 1;
constexpr size_t kTermsHeader = 16;
constexpr size_t kTermRecord = 48;
constexpr size_t kLayoutHeader = 8;
constexpr size_t kLayoutRecord = 8;

void PutU32(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::vector<uint8_t> EncodeTerms(std::span<const chunkstore::ReconTerm> terms,
                                 uint64_t file_size) {
  std::vector<uint8_t> out(4, 0);
  out.reserve(kTermsHeader + terms.size() * kTermRecord);
  out[0] = kTermsVersion;
  PutU32(&out, static_cast<uint32_t>(terms.size()));
  PutU64(&out, file_size);
  for (const chunkstore::ReconTerm& t : terms) {
    for (uint8_t b : t.xorb.bytes) out.push_back(b);
    PutU32(&out, t.range.start);
    PutU32(&out, t.range.end);
    PutU64(&out, t.unpacked_length);
  }
  return out;
}

Result<std::vector<chunkstore::ReconTerm>> DecodeTerms(std::span<const uint8_t> p,
                                                      uint64_t file_size) {
  if (p.size() < kTermsHeader || p[0] != kTermsVersion || p[1] != 0 || p[2] != 0 || p[3] != 0) {
    return CorruptError("cached terms: bad header");
  }
  const uint32_t count = GetU32(p.data() + 4);
  if (GetU64(p.data() + 8) != file_size) return CorruptError("cached terms: file size differs");
  if ((p.size() - kTermsHeader) / kTermRecord != count ||
      (p.size() - kTermsHeader) % kTermRecord != 0) {
    return CorruptError("cached terms: count does not match the length");
  }
  std::vector<chunkstore::ReconTerm> terms(count);
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* r = p.data() + kTermsHeader + size_t{i} * kTermRecord;
    chunkstore::ReconTerm& t = terms[i];
    std::memcpy(t.xorb.bytes.data(), r, 32);
    t.range.start = GetU32(r + 32);
    t.range.end = GetU32(r + 36);
    t.unpacked_length = GetU64(r + 40);
    if (t.range.start >= t.range.end || t.unpacked_length == 0 ||
        t.unpacked_length > uint64_t{t.range.size()} * 131072 ||
        t.unpacked_length > file_size - total) {
      return CorruptError("cached terms: bad term " + std::to_string(i));
    }
    total += t.unpacked_length;
  }
  if (total != file_size) return CorruptError("cached terms: lengths do not sum to the size");
  return terms;
}

bool LearnedLayout::Merge(const LearnedLayout& other, bool* changed) {
  *changed = false;
  if (count_known && other.lengths.size() > lengths.size()) return false;
  if (other.count_known && lengths.size() > other.lengths.size()) return false;
  for (size_t k = 0; k < other.lengths.size() && k < lengths.size(); ++k) {
    if (other.lengths[k] == 0 || lengths[k] == 0) continue;
    if (other.lengths[k] != lengths[k]) return false;
    if (other.record_starts[k] != kUnknownRecordStart &&
        record_starts[k] != kUnknownRecordStart && other.record_starts[k] != record_starts[k]) {
      return false;
    }
  }
  if (other.lengths.size() > lengths.size()) {
    lengths.resize(other.lengths.size(), 0);
    record_starts.resize(other.lengths.size(), 0);
    *changed = true;
  }
  for (size_t k = 0; k < other.lengths.size(); ++k) {
    if (other.lengths[k] == 0) continue;
    if (lengths[k] == 0) {
      lengths[k] = other.lengths[k];
      record_starts[k] = other.record_starts[k];
      *changed = true;
    } else if (record_starts[k] == kUnknownRecordStart &&
               other.record_starts[k] != kUnknownRecordStart) {
      record_starts[k] = other.record_starts[k];
      *changed = true;
    }
  }
  if (other.count_known && !count_known) {
    count_known = true;
    *changed = true;
  }
  return true;
}

std::vector<uint8_t> EncodeLayout(const LearnedLayout& layout) {
  std::vector<uint8_t> out(4, 0);
  out.reserve(kLayoutHeader + layout.lengths.size() * kLayoutRecord);
  out[0] = kLayoutVersion;
  out[1] = layout.count_known ? 1 : 0;
  PutU32(&out, static_cast<uint32_t>(layout.lengths.size()));
  for (size_t k = 0; k < layout.lengths.size(); ++k) {
    PutU32(&out, layout.lengths[k]);
    PutU32(&out, layout.lengths[k] != 0 ? layout.record_starts[k] : 0);
  }
  return out;
}

Result<LearnedLayout> DecodeLayout(std::span<const uint8_t> p) {
  if (p.size() < kLayoutHeader || p[0] != kLayoutVersion || (p[1] & ~1u) != 0 || p[2] != 0 ||
      p[3] != 0) {
    return CorruptError("cached xorb layout: bad header");
  }
  const uint32_t count = GetU32(p.data() + 4);
  if (count > kMaxLayoutChunks || (p.size() - kLayoutHeader) % kLayoutRecord != 0 ||
      (p.size() - kLayoutHeader) / kLayoutRecord != count) {
    return CorruptError("cached xorb layout: count does not match the length");
  }
  LearnedLayout layout;
  layout.count_known = (p[1] & 1) != 0;
  layout.lengths.resize(count);
  layout.record_starts.resize(count);
  for (uint32_t k = 0; k < count; ++k) {
    const uint8_t* r = p.data() + kLayoutHeader + size_t{k} * kLayoutRecord;
    layout.lengths[k] = GetU32(r);
    layout.record_starts[k] = GetU32(r + 4);
    if (layout.lengths[k] > 131072) return CorruptError("cached xorb layout: chunk too long");
  }
  return layout;
}

}  // namespace hubfs::fs
