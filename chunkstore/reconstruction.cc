#include "chunkstore/reconstruction.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "chunkstore/xorb.h"

namespace hubfs::chunkstore {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// a + b, or nullopt on overflow.
std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  if (b > kU64Max - a) return std::nullopt;
  return a + b;
}

std::string RangeText(const ChunkRange& r) {
  // Built by appending: g++ 12 warns falsely (-Wrestrict) on "[" + std::string.
  std::string out = "[";
  out += std::to_string(r.start);
  out += ',';
  out += std::to_string(r.end);
  out += ')';
  return out;
}

// Answers "which fetch range of xorb X contains chunk range R?" in O(log n):
// per xorb, all ranges sorted by chunk start, with the running maximum of
// their ends (and which range reaches it).
class CoverageIndex {
 public:
  explicit CoverageIndex(const Reconstruction& recon) {
    for (const XorbFetch& xf : recon.fetch) {
      std::vector<Item>& items = by_xorb_[xf.xorb];
      for (const FetchEntry& e : xf.entries) {
        for (const FetchRange& r : e.ranges) items.push_back(Item{&xf, &e, &r, 0});
      }
    }
    for (auto& [xorb, items] : by_xorb_) {
      std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
        return a.range->chunks.start < b.range->chunks.start;
      });
      size_t best = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].range->chunks.end > items[best].range->chunks.end) best = i;
        items[i].best_so_far = best;
      }
    }
  }

  // A range of `xorb` containing `want`, or a NeededFetch of nullptrs.
  NeededFetch Find(const Hash& xorb, const ChunkRange& want) const {
    auto it = by_xorb_.find(xorb);
    if (it == by_xorb_.end()) return {};
    const std::vector<Item>& items = it->second;
    // Last item whose start <= want.start.
    auto pos = std::upper_bound(items.begin(), items.end(), want.start,
                                [](uint32_t s, const Item& item) { return s < item.range->chunks.start; });
    if (pos == items.begin()) return {};
    const Item& best = items[(pos - 1)->best_so_far];
    if (best.range->chunks.end < want.end) return {};
    return NeededFetch{best.xorb, best.entry, best.range};
  }

 private:
  struct Item {
    const XorbFetch* xorb;
    const FetchEntry* entry;
    const FetchRange* range;
    size_t best_so_far;  // index of the item with the largest end among [0, this]
  };
  std::map<Hash, std::vector<Item>> by_xorb_;
};

Status ValidateFetch(const Reconstruction& recon) {
  std::set<Hash> seen;
  for (const XorbFetch& xf : recon.fetch) {
    const std::string name = xf.xorb.ToString();  // once per xorb, not per range
    if (!seen.insert(xf.xorb).second) return CorruptError("xorb listed twice: " + name);
    for (const FetchEntry& e : xf.entries) {
      if (e.url.empty()) return CorruptError("empty url for xorb " + name);
      if (e.ranges.empty()) return CorruptError("fetch entry without ranges for xorb " + name);
      uint32_t prev_start = 0;
      for (const FetchRange& r : e.ranges) {
        if (r.chunks.start >= r.chunks.end) {
          return CorruptError("empty fetch chunk range " + RangeText(r.chunks) + " of " + name);
        }
        if (r.chunks.start < prev_start) return CorruptError("fetch ranges not sorted for " + name);
        prev_start = r.chunks.start;
        if (r.bytes.start > r.bytes.end) {
          return CorruptError("fetch byte range start > end for " + name);
        }
        // Each record is 9 .. 8+262144 bytes (§3.2), so the byte length is
        // bounded by the chunk count both ways (span = length - 1, no overflow).
        const uint64_t n = r.chunks.size();
        const uint64_t span = r.bytes.end - r.bytes.start;
        if (span < n * (uint64_t{kChunkRecordHeaderSize} + 1) - 1 ||
            span > n * (uint64_t{kChunkRecordHeaderSize} + kMaxChunkCompressedSize) - 1) {
          return CorruptError("fetch byte range implausible for " + std::to_string(n) +
                              " chunks of " + name);
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const XorbFetch* Reconstruction::FindFetch(const Hash& xorb) const {
  for (const XorbFetch& xf : fetch) {
    if (xf.xorb == xorb) return &xf;
  }
  return nullptr;
}

Status ValidateReconstruction(const Reconstruction& recon, std::optional<uint64_t> requested_length) {
  HUBFS_RETURN_IF_ERROR(ValidateFetch(recon));
  CoverageIndex coverage(recon);
  uint64_t total = 0;  // saturates at 2^64-1
  for (size_t i = 0; i < recon.terms.size(); ++i) {
    const ReconTerm& t = recon.terms[i];
    auto where = [&] {  // built only on error
      return "term " + std::to_string(i) + " (" + t.xorb.ToString() + " " + RangeText(t.range) +
             ")";
    };
    if (t.range.start >= t.range.end) return CorruptError(where() + ": empty chunk range");
    const uint64_t n = t.range.size();
    if (t.unpacked_length < n || t.unpacked_length > n * kMaxChunkUncompressedSize) {
      return CorruptError(where() + ": unpacked_length " + std::to_string(t.unpacked_length) +
                          " impossible for " + std::to_string(n) + " chunks");
    }
    if (coverage.Find(t.xorb, t.range).range == nullptr) {
      return CorruptError(where() + ": not covered by any fetch range");
    }
    total = CheckedAdd(total, t.unpacked_length).value_or(kU64Max);
  }
  if (recon.terms.empty() ? recon.offset_into_first_range != 0
                          : recon.offset_into_first_range >= recon.terms[0].unpacked_length) {
    return CorruptError("offset_into_first_range " + std::to_string(recon.offset_into_first_range) +
                        " outside the first term");
  }
  if (requested_length && total - recon.offset_into_first_range < *requested_length) {
    return CorruptError("terms hold " + std::to_string(total - recon.offset_into_first_range) +
                        " bytes, " + std::to_string(*requested_length) + " requested");
  }
  return Status::Ok();
}

Result<std::vector<NeededFetch>> NeededFetchRanges(const Reconstruction& recon, uint64_t length) {
  std::vector<NeededFetch> out;
  if (length == 0) return out;
  std::optional<uint64_t> need = CheckedAdd(recon.offset_into_first_range, length);
  if (!need) return CorruptError("offset_into_first_range + length overflows");
  CoverageIndex coverage(recon);
  std::set<const FetchRange*> listed;
  uint64_t have = 0;
  for (const ReconTerm& t : recon.terms) {
    if (have >= *need) break;
    NeededFetch f = coverage.Find(t.xorb, t.range);
    if (f.range == nullptr) {
      return CorruptError("term " + t.xorb.ToString() + " " + RangeText(t.range) +
                          " not covered by any fetch range");
    }
    if (listed.insert(f.range).second) out.push_back(f);
    have = CheckedAdd(have, t.unpacked_length).value_or(kU64Max);
  }
  if (have < *need) {
    return CorruptError("terms hold fewer bytes than the " + std::to_string(length) + " requested");
  }
  return out;
}

Status DecodedRuns::Add(const Hash& xorb, ChunkRange run, std::vector<std::vector<uint8_t>> chunks) {
  if (run.start >= run.end) return CorruptError("empty run " + RangeText(run));
  if (chunks.size() != run.size()) {
    return CorruptError("run " + RangeText(run) + " of " + xorb.ToString() + " decoded to " +
                        std::to_string(chunks.size()) + " chunks");
  }
  for (uint32_t i = 0; i < run.size(); ++i) {
    chunks_.try_emplace(std::make_pair(xorb, run.start + i), std::move(chunks[i]));
  }
  return Status::Ok();
}

std::optional<std::span<const uint8_t>> DecodedRuns::Chunk(const Hash& xorb, uint32_t index) const {
  auto it = chunks_.find(std::make_pair(xorb, index));
  if (it == chunks_.end()) return std::nullopt;
  return std::span<const uint8_t>(it->second);
}

Status AssembleInto(const Reconstruction& recon, const ChunkSource& source, std::span<uint8_t> out) {
  uint64_t skip = recon.offset_into_first_range;
  size_t pos = 0;
  for (const ReconTerm& t : recon.terms) {
    if (pos >= out.size()) break;
    uint64_t term_bytes = 0;
    for (uint32_t idx = t.range.start; idx < t.range.end; ++idx) {
      std::optional<std::span<const uint8_t>> chunk = source.Chunk(t.xorb, idx);
      if (!chunk) {
        return CorruptError("chunk " + std::to_string(idx) + " of xorb " + t.xorb.ToString() +
                            " missing");
      }
      term_bytes += chunk->size();  // bounded: checked against unpacked_length below
      if (term_bytes > t.unpacked_length) break;
      std::span<const uint8_t> data = *chunk;
      if (skip > 0) {
        const size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, data.size()));
        skip -= drop;
        data = data.subspan(drop);
      }
      const size_t n = std::min(data.size(), out.size() - pos);
      if (n > 0) std::memcpy(out.data() + pos, data.data(), n);
      pos += n;
    }
    if (term_bytes != t.unpacked_length) {
      return CorruptError("term " + t.xorb.ToString() + " " + RangeText(t.range) + " decoded to " +
                          (term_bytes > t.unpacked_length ? "more than " : "") +
                          std::to_string(term_bytes) + " bytes, expected " +
                          std::to_string(t.unpacked_length));
    }
  }
  if (pos < out.size()) {
    return CorruptError("reconstruction produced " + std::to_string(pos) + " of " +
                        std::to_string(out.size()) + " bytes");
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> AssembleRange(const Reconstruction& recon, uint64_t length,
                                           const ChunkSource& source) {
  uint64_t total = 0;
  for (const ReconTerm& t : recon.terms) total = CheckedAdd(total, t.unpacked_length).value_or(kU64Max);
  if (total < recon.offset_into_first_range || total - recon.offset_into_first_range < length) {
    return CorruptError("reconstruction holds fewer than the " + std::to_string(length) +
                        " bytes requested");
  }
  if (length > std::numeric_limits<size_t>::max()) return ResourceExhaustedError("range too large");
  std::vector<uint8_t> out(static_cast<size_t>(length));
  HUBFS_RETURN_IF_ERROR(AssembleInto(recon, source, out));
  return out;
}

// --- Server side --------------------------------------------------------------

namespace {

// Decimal digits only, non-empty, no overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (kU64Max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<RangeSpec> ParseRangeHeader(std::string_view value) {
  while (!value.empty() && IsSpace(value.front())) value.remove_prefix(1);
  while (!value.empty() && IsSpace(value.back())) value.remove_suffix(1);
  const std::string shown(value.substr(0, 100));
  constexpr std::string_view kUnit = "bytes=";
  if (value.size() < kUnit.size()) return InvalidArgumentError("bad Range: " + shown);
  for (size_t i = 0; i < kUnit.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // the unit is case-insensitive
    if (c != kUnit[i]) return InvalidArgumentError("Range unit is not bytes: " + shown);
  }
  std::string_view spec = value.substr(kUnit.size());
  if (spec.find(',') != std::string_view::npos) {
    return InvalidArgumentError("multiple ranges not supported: " + shown);
  }
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find('-', dash + 1) != std::string_view::npos) {
    return InvalidArgumentError("bad Range: " + shown);
  }
  std::string_view first = spec.substr(0, dash);
  std::string_view last = spec.substr(dash + 1);
  RangeSpec out;
  if (first.empty()) {
    std::optional<uint64_t> n = ParseDecimal(last);
    if (!n) return InvalidArgumentError("bad suffix Range: " + shown);
    out.suffix_length = *n;
    return out;
  }
  std::optional<uint64_t> s = ParseDecimal(first);
  if (!s) return InvalidArgumentError("bad Range start: " + shown);
  out.start = *s;
  if (last.empty()) return out;
  std::optional<uint64_t> e = ParseDecimal(last);
  if (!e) return InvalidArgumentError("bad Range end: " + shown);
  if (*e < *s) return InvalidArgumentError("Range end before start: " + shown);
  out.end = *e;
  return out;
}

Result<std::pair<uint64_t, uint64_t>> ResolveRange(const std::optional<RangeSpec>& range,
                                                   uint64_t size) {
  uint64_t s = 0;
  uint64_t e = size;
  if (range) {
    if (range->suffix_length) {
      if (*range->suffix_length == 0) return OutOfRangeError("empty suffix range");
      s = size - std::min(*range->suffix_length, size);
    } else {
      s = range->start;
      if (range->end && size > 0) e = std::min(*range->end, size - 1) + 1;
    }
  }
  if (size == 0 && s == 0) return std::make_pair(uint64_t{0}, uint64_t{0});
  if (s >= size) {
    return OutOfRangeError("range start " + std::to_string(s) + " >= file size " +
                           std::to_string(size));
  }
  return std::make_pair(s, e);
}

namespace {

Status CheckLayout(const Hash& xorb, const XorbLayout& layout) {
  const std::string name = xorb.ToString();
  if (layout.chunk_lengths.empty()) return CorruptError("xorb " + name + " has no chunks");
  if (layout.chunk_lengths.size() != layout.record_ends.size()) {
    return CorruptError("xorb " + name + ": chunk lengths and record ends differ in count");
  }
  if (layout.chunk_lengths.size() > std::numeric_limits<uint32_t>::max()) {
    return CorruptError("xorb " + name + ": too many chunks");
  }
  uint64_t prev_end = 0;
  for (size_t k = 0; k < layout.chunk_lengths.size(); ++k) {
    if (layout.chunk_lengths[k] == 0) return CorruptError("xorb " + name + ": empty chunk");
    if (layout.record_ends[k] <= prev_end) {
      return CorruptError("xorb " + name + ": record ends not increasing");
    }
    prev_end = layout.record_ends[k];
  }
  return Status::Ok();
}

}  // namespace

XorbLayout XorbLayoutFromInfo(const XorbInfo& info) {
  XorbLayout layout;
  layout.chunk_lengths.reserve(info.chunks.size());
  layout.record_ends.reserve(info.chunks.size());
  for (const XorbChunkInfo& c : info.chunks) {
    layout.chunk_lengths.push_back(c.length);
    layout.record_ends.push_back(c.record_end);
  }
  return layout;
}

namespace {

struct TrimmedTerm {
  const XorbLayout* layout;
  ReconTerm term;
};

uint64_t SumLengths(const XorbLayout& layout, uint32_t a, uint32_t b) {
  uint64_t sum = 0;
  for (uint32_t k = a; k < b; ++k) sum += layout.chunk_lengths[k];
  return sum;
}

}  // namespace

Result<Reconstruction> BuildReconstruction(std::span<const FileTerm> terms,
                                           const XorbLayoutFn& layouts, uint64_t file_size,
                                           const std::optional<RangeSpec>& range,
                                           const SignUrlFn& sign_url, const BuildOptions& options) {
  if (options.version != 1 && options.version != 2) {
    return InvalidArgumentError("reconstruction version must be 1 or 2");
  }
  if (options.max_ranges_per_entry == 0) return InvalidArgumentError("max_ranges_per_entry is 0");

  // Resolve and check the stored description first.
  std::map<Hash, const XorbLayout*> checked;
  std::vector<const XorbLayout*> term_layouts;
  std::vector<uint64_t> term_lengths;
  term_layouts.reserve(terms.size());
  term_lengths.reserve(terms.size());
  uint64_t total = 0;
  for (const FileTerm& t : terms) {
    auto [it, inserted] = checked.try_emplace(t.xorb, nullptr);
    if (inserted) {
      const XorbLayout* layout = layouts ? layouts(t.xorb) : nullptr;
      if (layout == nullptr) return CorruptError("unknown xorb " + t.xorb.ToString());
      HUBFS_RETURN_IF_ERROR(CheckLayout(t.xorb, *layout));
      it->second = layout;
    }
    const XorbLayout& layout = *it->second;
    if (t.range.start >= t.range.end || t.range.end > layout.chunk_lengths.size()) {
      return CorruptError("term " + RangeText(t.range) + " out of bounds of xorb " +
                          t.xorb.ToString());
    }
    term_layouts.push_back(&layout);
    term_lengths.push_back(SumLengths(layout, t.range.start, t.range.end));
    std::optional<uint64_t> sum = CheckedAdd(total, term_lengths.back());
    if (!sum) return CorruptError("file terms overflow");
    total = *sum;
  }
  if (total != file_size) {
    return CorruptError("file terms hold " + std::to_string(total) + " bytes, size is " +
                        std::to_string(file_size));
  }
  HUBFS_ASSIGN_OR_RETURN(auto window, ResolveRange(range, file_size));
  const auto [s, e] = window;

  // Trim (§5.1): c is the file offset of the next byte not yet accounted for.
  Reconstruction recon;
  std::vector<TrimmedTerm> kept;
  uint64_t c = 0;
  for (size_t i = 0; i < terms.size() && c < e; ++i) {
    const FileTerm& t = terms[i];
    const XorbLayout& layout = *term_layouts[i];
    if (c + term_lengths[i] <= s) {
      c += term_lengths[i];
      continue;
    }
    uint32_t a = t.range.start;
    uint32_t b = t.range.end;
    if (kept.empty()) {
      while (c + layout.chunk_lengths[a] <= s) c += layout.chunk_lengths[a++];
      recon.offset_into_first_range = s - c;
    }
    uint64_t end = c + SumLengths(layout, a, b);
    while (b - 1 > a && end - layout.chunk_lengths[b - 1] >= e) end -= layout.chunk_lengths[--b];
    kept.push_back(TrimmedTerm{&layout, ReconTerm{t.xorb, ChunkRange{a, b}, end - c}});
    c = end;
  }

  // Fetch information: per xorb (in order of first use), the sorted, merged
  // chunk ranges of its kept terms.
  std::vector<std::pair<const TrimmedTerm*, std::vector<ChunkRange>>> per_xorb;
  std::map<Hash, size_t> slot;
  for (const TrimmedTerm& k : kept) {
    recon.terms.push_back(k.term);
    auto [it, inserted] = slot.try_emplace(k.term.xorb, per_xorb.size());
    if (inserted) per_xorb.emplace_back(&k, std::vector<ChunkRange>{});
    per_xorb[it->second].second.push_back(k.term.range);
  }
  for (auto& [first, ranges] : per_xorb) {
    const XorbLayout& layout = *first->layout;
    std::sort(ranges.begin(), ranges.end(),
              [](const ChunkRange& x, const ChunkRange& y) { return x.start < y.start; });
    std::vector<FetchRange> merged;
    for (const ChunkRange& r : ranges) {
      if (!merged.empty() && r.start <= merged.back().chunks.end) {
        merged.back().chunks.end = std::max(merged.back().chunks.end, r.end);
      } else {
        merged.push_back(FetchRange{r, {}});
      }
    }
    for (FetchRange& m : merged) {
      // §3.5: chunks [a, b) occupy body bytes [a == 0 ? 0 : end_{a-1}, end_{b-1}).
      m.bytes.start = m.chunks.start == 0 ? 0 : layout.record_ends[m.chunks.start - 1];
      m.bytes.end = layout.record_ends[m.chunks.end - 1] - 1;
    }
    XorbFetch xf{first->term.xorb, {}};
    const size_t per_entry = options.version == 1 ? 1 : options.max_ranges_per_entry;
    for (size_t i = 0; i < merged.size(); i += per_entry) {
      const size_t n = std::min(per_entry, merged.size() - i);
      FetchEntry entry;
      entry.ranges.assign(merged.begin() + static_cast<ptrdiff_t>(i),
                          merged.begin() + static_cast<ptrdiff_t>(i + n));
      entry.url = sign_url ? sign_url(xf.xorb, entry.ranges) : std::string();
      xf.entries.push_back(std::move(entry));
    }
    recon.fetch.push_back(std::move(xf));
  }
  return recon;
}

}  // namespace hubfs::chunkstore
