// Fuzz target: reconstruction answers (chunkstore/reconstruction.h).
//
// The input is parsed as a v1 and as a v2 answer. When a parse succeeds:
//  - the plan validates, and re-serializing then re-parsing gives it back;
//  - assembling it from a fake chunk source (sizes taken from the terms)
//    equals the naive "concatenate every term, drop the offset, cut" result,
//    or fails with kCorrupt (terms that disagree about a chunk's size);
//  - the terms, used as a stored file, go through the server side
//    (BuildReconstruction for a range chosen from the input) and the answer
//    assembles to the same bytes as slicing the whole file.
// The input is also tried as a Range header value.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chunkstore/reconstruction.h"

namespace hubfs::chunkstore {
namespace {

// Caps that keep one run fast; larger plans are only parsed and validated.
constexpr uint64_t kMaxChunksToAssemble = 1 << 14;
constexpr uint64_t kMaxBytesToAssemble = 4 << 20;
constexpr uint32_t kMaxChunkIndexForServer = 4096;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

uint8_t PatternByte(const Hash& xorb, uint32_t index, size_t pos) {
  return static_cast<uint8_t>(xorb.bytes[0] + index * 31 + pos * 7);
}

// Chunk sizes implied by the terms: a term of n chunks and L bytes gets
// L / n per chunk, one more for the first L % n chunks (so no chunk exceeds
// the 128 KiB maximum that validation allows). The first term to name a chunk
// decides its size.
class FakeChunks final : public ChunkSource {
 public:
  explicit FakeChunks(const std::vector<ReconTerm>& terms) {
    for (const ReconTerm& t : terms) {
      const uint32_t n = t.range.size();
      const uint64_t each = t.unpacked_length / n;
      for (uint32_t i = 0; i < n; ++i) {
        uint64_t len = each + (i < t.unpacked_length % n ? 1 : 0);
        sizes_.try_emplace({t.xorb, t.range.start + i}, len);
      }
    }
    for (auto& [key, len] : sizes_) {
      std::vector<uint8_t>& data = data_[key];
      data.resize(len);
      for (size_t p = 0; p < len; ++p) data[p] = PatternByte(key.first, key.second, p);
    }
  }

  std::optional<std::span<const uint8_t>> Chunk(const Hash& xorb, uint32_t index) const override {
    auto it = data_.find({xorb, index});
    if (it == data_.end()) return std::nullopt;
    return std::span<const uint8_t>(it->second);
  }

  const std::map<std::pair<Hash, uint32_t>, uint64_t>& sizes() const { return sizes_; }

 private:
  std::map<std::pair<Hash, uint32_t>, uint64_t> sizes_;
  std::map<std::pair<Hash, uint32_t>, std::vector<uint8_t>> data_;
};

// Every term's chunks concatenated (nullopt if a chunk is missing or a term's
// total disagrees with its unpacked_length).
std::optional<std::vector<uint8_t>> Concatenate(const std::vector<ReconTerm>& terms,
                                                const ChunkSource& source) {
  std::vector<uint8_t> out;
  for (const ReconTerm& t : terms) {
    uint64_t term_bytes = 0;
    for (uint32_t i = t.range.start; i < t.range.end; ++i) {
      auto c = source.Chunk(t.xorb, i);
      if (!c) return std::nullopt;
      term_bytes += c->size();
      out.insert(out.end(), c->begin(), c->end());
    }
    if (term_bytes != t.unpacked_length) return std::nullopt;
  }
  return out;
}

void CheckServerSide(const Reconstruction& plan, const FakeChunks& chunks,
                     const std::vector<uint8_t>& whole_terms, std::string_view input) {
  // Per xorb layout from the fake chunk sizes; indices must be dense.
  std::map<Hash, XorbLayout> layouts;
  for (const auto& [key, len] : chunks.sizes()) {
    XorbLayout& l = layouts[key.first];
    if (key.second != l.chunk_lengths.size() || len == 0) return;  // gap or empty chunk
    if (key.second >= kMaxChunkIndexForServer) return;
    const uint64_t prev = l.record_ends.empty() ? 0 : l.record_ends.back();
    l.chunk_lengths.push_back(static_cast<uint32_t>(len));
    l.record_ends.push_back(prev + 8 + len);
  }
  std::vector<FileTerm> file;
  for (const ReconTerm& t : plan.terms) file.push_back(FileTerm{t.xorb, t.range});
  const uint64_t size = whole_terms.size();
  XorbLayoutFn lookup = [&](const Hash& h) -> const XorbLayout* {
    auto it = layouts.find(h);
    return it == layouts.end() ? nullptr : &it->second;
  };
  // A range from the input's length and first bytes.
  uint64_t seed = input.size();
  for (size_t i = 0; i < input.size() && i < 8; ++i) seed = seed * 131 + static_cast<uint8_t>(input[i]);
  std::optional<RangeSpec> range;
  if (size > 0 && seed % 4 != 0) {
    const uint64_t s = seed % size;
    range = RangeSpec{s, s + (seed / 7) % (size - s + 3), std::nullopt};
  }
  auto window = ResolveRange(range, size);
  Check(window.ok());
  const auto [s, e] = *window;
  for (int version : {1, 2}) {
    BuildOptions opt;
    opt.version = version;
    opt.max_ranges_per_entry = 1 + seed % 3;
    int signed_entries = 0;
    SignUrlFn sign = [&](const Hash& xorb, std::span<const FetchRange> ranges) {
      Check(!ranges.empty() && ranges.size() <= (version == 1 ? 1 : opt.max_ranges_per_entry));
      return std::string("u/") + xorb.ToString() + "/" + std::to_string(signed_entries++);
    };
    Result<Reconstruction> built = BuildReconstruction(file, lookup, size, range, sign, opt);
    Check(built.ok());
    Check(ValidateReconstruction(*built, e - s).ok());
    const std::string text =
        version == 1 ? ReconstructionToJsonV1(*built) : ReconstructionToJsonV2(*built);
    Result<Reconstruction> back = ParseReconstructionJson(text, version);
    Check(back.ok());
    Result<std::vector<uint8_t>> bytes = AssembleRange(*back, e - s, chunks);
    Check(bytes.ok());
    Check(std::equal(bytes->begin(), bytes->end(), whole_terms.begin() + static_cast<ptrdiff_t>(s)));
  }
}

void CheckPlan(const Reconstruction& plan, int version, std::string_view input) {
  Check(ValidateReconstruction(plan).ok());
  const std::string text =
      version == 1 ? ReconstructionToJsonV1(plan) : ReconstructionToJsonV2(plan);
  Result<Reconstruction> back = ParseReconstructionJson(text, version);
  Check(back.ok());
  Check(*back == plan);
  const std::string again =
      version == 1 ? ReconstructionToJsonV1(*back) : ReconstructionToJsonV2(*back);
  Check(again == text);

  uint64_t chunk_count = 0;
  uint64_t total = 0;
  for (const ReconTerm& t : plan.terms) {
    chunk_count += t.range.size();
    total += t.unpacked_length;  // bounded by validation: <= 2^32 * 2^17 per term
    if (chunk_count > kMaxChunksToAssemble || total > kMaxBytesToAssemble) return;
  }
  const uint64_t available = total - plan.offset_into_first_range;
  Result<std::vector<NeededFetch>> needed = NeededFetchRanges(plan, available);
  Check(needed.ok());
  Check(plan.terms.empty() || !needed->empty());
  Check(NeededFetchRanges(plan, available + 1).status().code() == ErrorCode::kCorrupt);

  FakeChunks chunks(plan.terms);
  std::optional<std::vector<uint8_t>> whole = Concatenate(plan.terms, chunks);
  const uint64_t length = available == 0 ? 0 : 1 + input.size() % available;
  Result<std::vector<uint8_t>> bytes = AssembleRange(plan, length, chunks);
  if (!whole) {
    // Terms disagree about some chunk's size: assembly may still succeed if
    // the disagreeing term lies beyond `length`, else it must say kCorrupt.
    Check(bytes.ok() || bytes.status().code() == ErrorCode::kCorrupt);
    return;
  }
  Check(bytes.ok());
  Check(bytes->size() == length);
  Check(std::equal(bytes->begin(), bytes->end(),
                   whole->begin() + static_cast<ptrdiff_t>(plan.offset_into_first_range)));
  CheckServerSide(plan, chunks, *whole, input);
}

}  // namespace
}  // namespace hubfs::chunkstore

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs::chunkstore;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReconstructionParseLimits limits;
  limits.max_body_bytes = 1 << 20;
  for (int version : {1, 2}) {
    hubfs::Result<Reconstruction> plan = ParseReconstructionJson(input, version, limits);
    if (plan.ok()) {
      CheckPlan(*plan, version, input);
    } else {
      Check(plan.status().code() == hubfs::ErrorCode::kCorrupt ||
            plan.status().code() == hubfs::ErrorCode::kResourceExhausted);
    }
  }
  if (size < 200) {
    hubfs::Result<RangeSpec> r = ParseRangeHeader(input);
    if (r.ok()) {
      for (uint64_t file_size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, ~uint64_t{0}}) {
        auto w = ResolveRange(*r, file_size);
        if (w.ok()) Check(w->first <= w->second && w->second <= file_size);
      }
    }
  }
  return 0;
}
