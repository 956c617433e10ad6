#include "fs/content/xet_cache_codec.h"

#include <cstring>
#include <string>
#include <utility>

#include "common/little_endian.h"

namespace hubfs::fs {
namespace {

constexpr uint8_t kTermsVersion = 1;
constexpr uint8_t kTermsAnchorsVersion = 2;
constexpr size_t kAnchorsHeader = 8;
constexpr size_t kAnchorRecord = 16;
constexpr uint8_t kLayoutVersion = 1;
constexpr size_t kTermsHeader = 16;
constexpr size_t kTermRecord = 48;
constexpr size_t kLayoutHeader = 8;
constexpr size_t kLayoutRecord = 8;

}  // namespace

std::vector<uint8_t> EncodeTerms(std::span<const chunkstore::ReconTerm> terms,
                                 uint64_t file_size, std::span<const TermAnchor> anchors) {
  if (anchors.size() > kMaxTermAnchors) anchors = anchors.first(kMaxTermAnchors);
  std::vector<uint8_t> out(4, 0);
  out.reserve(kTermsHeader + terms.size() * kTermRecord +
              (anchors.empty() ? 0 : kAnchorsHeader + anchors.size() * kAnchorRecord));
  out[0] = anchors.empty() ? kTermsVersion : kTermsAnchorsVersion;
  AppendLe32(&out, static_cast<uint32_t>(terms.size()));
  AppendLe64(&out, file_size);
  for (const chunkstore::ReconTerm& t : terms) {
    for (uint8_t b : t.xorb.bytes) out.push_back(b);
    AppendLe32(&out, t.range.start);
    AppendLe32(&out, t.range.end);
    AppendLe64(&out, t.unpacked_length);
  }
  if (!anchors.empty()) {
    AppendLe32(&out, static_cast<uint32_t>(anchors.size()));
    AppendLe32(&out, 0);
    for (const TermAnchor& a : anchors) {
      AppendLe32(&out, a.term);
      AppendLe32(&out, a.chunk);
      AppendLe64(&out, a.offset);
    }
  }
  return out;
}

Result<std::vector<chunkstore::ReconTerm>> DecodeTerms(std::span<const uint8_t> p,
                                                      uint64_t file_size,
                                                      std::vector<TermAnchor>* anchors_out) {
  if (p.size() < kTermsHeader || (p[0] != kTermsVersion && p[0] != kTermsAnchorsVersion) ||
      p[1] != 0 || p[2] != 0 || p[3] != 0) {
    return CorruptError("cached terms: bad header");
  }
  const bool with_anchors = p[0] == kTermsAnchorsVersion;
  const uint32_t count = LoadLe32(p.data() + 4);
  if (LoadLe64(p.data() + 8) != file_size) return CorruptError("cached terms: file size differs");
  const size_t terms_end = kTermsHeader + size_t{count} * kTermRecord;
  if ((p.size() - kTermsHeader) / kTermRecord < count ||
      (!with_anchors && p.size() != terms_end)) {
    return CorruptError("cached terms: count does not match the length");
  }
  uint32_t anchor_count = 0;
  if (with_anchors) {
    if (p.size() < terms_end + kAnchorsHeader) return CorruptError("cached terms: no anchor count");
    anchor_count = LoadLe32(p.data() + terms_end);
    if (anchor_count == 0 || anchor_count > kMaxTermAnchors ||
        LoadLe32(p.data() + terms_end + 4) != 0 ||
        p.size() != terms_end + kAnchorsHeader + size_t{anchor_count} * kAnchorRecord) {
      return CorruptError("cached terms: anchor count does not match the length");
    }
  }
  std::vector<chunkstore::ReconTerm> terms(count);
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* r = p.data() + kTermsHeader + size_t{i} * kTermRecord;
    chunkstore::ReconTerm& t = terms[i];
    std::memcpy(t.xorb.bytes.data(), r, 32);
    t.range.start = LoadLe32(r + 32);
    t.range.end = LoadLe32(r + 36);
    t.unpacked_length = LoadLe64(r + 40);
    if (t.range.start >= t.range.end || t.unpacked_length == 0 ||
        t.unpacked_length > uint64_t{t.range.size()} * 131072 ||
        t.unpacked_length > file_size - total) {
      return CorruptError("cached terms: bad term " + std::to_string(i));
    }
    total += t.unpacked_length;
  }
  if (total != file_size) return CorruptError("cached terms: lengths do not sum to the size");
  if (anchor_count == 0) {
    if (anchors_out != nullptr) anchors_out->clear();
    return terms;
  }
  std::vector<uint64_t> starts(count);
  uint64_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    starts[i] = pos;
    pos += terms[i].unpacked_length;
  }
  std::vector<TermAnchor> anchors(anchor_count);
  for (uint32_t i = 0; i < anchor_count; ++i) {
    const uint8_t* r = p.data() + terms_end + kAnchorsHeader + size_t{i} * kAnchorRecord;
    TermAnchor& a = anchors[i];
    a.term = LoadLe32(r);
    a.chunk = LoadLe32(r + 4);
    a.offset = LoadLe64(r + 8);
    if (a.term >= count) return CorruptError("cached terms: anchor of no term");
    const chunkstore::ReconTerm& t = terms[a.term];
    if (a.chunk <= t.range.start || a.chunk >= t.range.end || a.offset <= starts[a.term] ||
        a.offset >= starts[a.term] + t.unpacked_length) {
      return CorruptError("cached terms: anchor " + std::to_string(i) + " outside its term");
    }
  }
  if (anchors_out != nullptr) *anchors_out = std::move(anchors);
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
  AppendLe32(&out, static_cast<uint32_t>(layout.lengths.size()));
  for (size_t k = 0; k < layout.lengths.size(); ++k) {
    AppendLe32(&out, layout.lengths[k]);
    AppendLe32(&out, layout.lengths[k] != 0 ? layout.record_starts[k] : 0);
  }
  return out;
}

Result<LearnedLayout> DecodeLayout(std::span<const uint8_t> p) {
  if (p.size() < kLayoutHeader || p[0] != kLayoutVersion || (p[1] & ~1u) != 0 || p[2] != 0 ||
      p[3] != 0) {
    return CorruptError("cached xorb layout: bad header");
  }
  const uint32_t count = LoadLe32(p.data() + 4);
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
    layout.lengths[k] = LoadLe32(r);
    layout.record_starts[k] = LoadLe32(r + 4);
    if (layout.lengths[k] > 131072) return CorruptError("cached xorb layout: chunk too long");
  }
  return layout;
}

}  // namespace hubfs::fs
