#include "chunkstore/reconstruction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chunkstore/chunker.h"
#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {

// gtest prints a Reconstruction as its v2 JSON.
void PrintTo(const Reconstruction& r, std::ostream* os) { *os << ReconstructionToJsonV2(r); }

namespace {

using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::Vectors;
using json = nlohmann::json;

constexpr char kUrlPrefix[] = "http://127.0.0.1:8080/xorb-data/default/";

std::string VectorUrl(const Hash& xorb, std::span<const FetchRange>) {
  return kUrlPrefix + xorb.ToString();
}

Hash H(std::string_view canonical) {
  Result<Hash> h = Hash::Parse(canonical);
  EXPECT_TRUE(h.ok()) << canonical;
  return h.value_or(Hash{});
}

// The upload_example of the vectors: the 1 MiB SplitMix64 input, chunks 0-6
// in xorb 0 and 7-16 in xorb 1, stored with scheme None.
class UploadExample {
 public:
  UploadExample() {
    const json& ex = Vectors()["upload_example"];
    input_ = SplitMix64Bytes(ex["input"]["seed"], ex["input"]["length"]);
    std::vector<size_t> lengths = ChunkLengths(input_);
    size_t chunk = 0;
    size_t offset = 0;
    for (const json& x : ex["xorbs"]) {
      Hash xorb = H(x["xorb_hash"].get<std::string>());
      XorbLayout& layout = layouts_[xorb];
      for (uint64_t end : x["chunk_boundary_offsets_scheme_none"]) {
        const size_t len = lengths.at(chunk++);
        const uint32_t index = static_cast<uint32_t>(layout.chunk_lengths.size());
        layout.chunk_lengths.push_back(static_cast<uint32_t>(len));
        layout.record_ends.push_back(end);
        chunks_[{xorb, index}].assign(input_.begin() + static_cast<ptrdiff_t>(offset),
                                      input_.begin() + static_cast<ptrdiff_t>(offset + len));
        offset += len;
      }
      xorbs_.push_back(xorb);
    }
    for (const json& t : ex["file_terms"]) {
      terms_.push_back(FileTerm{H(t["xorb_hash"].get<std::string>()),
                                ChunkRange{t["chunk_index_start"], t["chunk_index_end"]}});
    }
  }

  const std::vector<uint8_t>& input() const { return input_; }
  const std::vector<FileTerm>& terms() const { return terms_; }
  const std::vector<Hash>& xorbs() const { return xorbs_; }
  XorbLayoutFn layouts() const {
    return [this](const Hash& h) -> const XorbLayout* {
      auto it = layouts_.find(h);
      return it == layouts_.end() ? nullptr : &it->second;
    };
  }
  const XorbLayout& layout(const Hash& h) const { return layouts_.at(h); }
  const std::vector<uint8_t>& chunk(const Hash& h, uint32_t i) const { return chunks_.at({h, i}); }

  // A chunk source holding exactly the runs NeededFetchRanges lists.
  DecodedRuns RunsFor(const Reconstruction& recon, uint64_t length) const {
    DecodedRuns runs;
    Result<std::vector<NeededFetch>> needed = NeededFetchRanges(recon, length);
    EXPECT_TRUE(needed.ok()) << needed.status();
    if (!needed.ok()) return runs;
    for (const NeededFetch& f : *needed) {
      std::vector<std::vector<uint8_t>> decoded;
      for (uint32_t i = f.range->chunks.start; i < f.range->chunks.end; ++i) {
        decoded.push_back(chunk(f.xorb->xorb, i));
      }
      EXPECT_TRUE(runs.Add(f.xorb->xorb, f.range->chunks, std::move(decoded)).ok());
    }
    return runs;
  }

 private:
  std::vector<uint8_t> input_;
  std::map<Hash, XorbLayout> layouts_;
  std::map<std::pair<Hash, uint32_t>, std::vector<uint8_t>> chunks_;
  std::vector<Hash> xorbs_;
  std::vector<FileTerm> terms_;
};

const UploadExample& Example() {
  static const UploadExample* const ex = new UploadExample();
  return *ex;
}

// The same plan with the xorbs' fetch information in hash order (JSON object
// key order carries no meaning).
Reconstruction Normalized(Reconstruction r) {
  std::sort(r.fetch.begin(), r.fetch.end(),
            [](const XorbFetch& a, const XorbFetch& b) { return a.xorb < b.xorb; });
  return r;
}

std::optional<RangeSpec> RangeFromVector(const json& c) {
  if (c["request_range_header"].is_null()) return std::nullopt;
  Result<RangeSpec> r = ParseRangeHeader(c["request_range_header"].get<std::string>());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.value_or(RangeSpec{});
}

std::vector<uint8_t> Slice(const std::vector<uint8_t>& v, uint64_t s, uint64_t e) {
  return std::vector<uint8_t>(v.begin() + static_cast<ptrdiff_t>(s),
                              v.begin() + static_cast<ptrdiff_t>(e));
}

// --- Server side against the vectors ------------------------------------------

TEST(ReconstructionVectors, LayoutMatchesChunker) {
  const UploadExample& ex = Example();
  ASSERT_EQ(ex.xorbs().size(), 2u);
  size_t total = 0;
  for (const Hash& x : ex.xorbs()) {
    const XorbLayout& l = ex.layout(x);
    uint64_t prev = 0;
    for (size_t k = 0; k < l.chunk_lengths.size(); ++k) {
      EXPECT_EQ(l.record_ends[k] - prev, l.chunk_lengths[k] + 8u) << "scheme None record " << k;
      prev = l.record_ends[k];
      total += l.chunk_lengths[k];
    }
  }
  EXPECT_EQ(total, ex.input().size());
}

TEST(ReconstructionVectors, BuildMatchesV1AndV2) {
  const UploadExample& ex = Example();
  const json& cases = Vectors()["upload_example"]["reconstructions"];
  ASSERT_EQ(cases.size(), 5u);
  int compared = 0;
  for (const json& c : cases) {
    SCOPED_TRACE(c.dump().substr(0, 60));
    std::optional<RangeSpec> range = RangeFromVector(c);
    for (int version : {1, 2}) {
      BuildOptions opt;
      opt.version = version;
      Result<Reconstruction> built = BuildReconstruction(ex.terms(), ex.layouts(),
                                                         ex.input().size(), range, VectorUrl, opt);
      if (c.contains("status")) {
        ASSERT_EQ(c["status"], 416);
        ASSERT_FALSE(built.ok());
        EXPECT_EQ(built.status().code(), ErrorCode::kOutOfRange);
        continue;
      }
      ASSERT_TRUE(built.ok()) << built.status();
      const json& want = c[version == 1 ? "v1_response" : "v2_response"];
      const std::string text =
          version == 1 ? ReconstructionToJsonV1(*built) : ReconstructionToJsonV2(*built);
      EXPECT_EQ(json::parse(text), want) << text;
      // The vector's own text parses to the same plan.
      Result<Reconstruction> parsed = ParseReconstructionJson(want.dump(), version);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(Normalized(*parsed), Normalized(*built));
      ++compared;
    }
  }
  EXPECT_EQ(compared, 8);
}

TEST(ReconstructionVectors, AssembleVectorRanges) {
  const UploadExample& ex = Example();
  for (const json& c : Vectors()["upload_example"]["reconstructions"]) {
    if (c.contains("status")) continue;
    for (int version : {1, 2}) {
      const json& want = c[version == 1 ? "v1_response" : "v2_response"];
      Result<Reconstruction> recon = ParseReconstructionJson(want.dump(), version);
      ASSERT_TRUE(recon.ok()) << recon.status();
      auto window = ResolveRange(RangeFromVector(c), ex.input().size());
      ASSERT_TRUE(window.ok());
      const auto [s, e] = *window;
      DecodedRuns runs = ex.RunsFor(*recon, e - s);
      Result<std::vector<uint8_t>> bytes = AssembleRange(*recon, e - s, runs);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_TRUE(*bytes == Slice(ex.input(), s, e)) << s << "-" << e;
    }
  }
}

// Builds, serializes, parses and assembles [s, e) of a stored file.
void CheckRoundTrip(const UploadExample& ex, std::span<const FileTerm> terms,
                    const std::vector<uint8_t>& content, uint64_t s, uint64_t e, int version) {
  std::string trace = "v";  // appended: g++ 12 -Wrestrict misfires on "v" + std::string
  trace += std::to_string(version) + " bytes=" + std::to_string(s) + "-" + std::to_string(e - 1);
  SCOPED_TRACE(trace);
  RangeSpec range{s, e - 1, std::nullopt};
  BuildOptions opt;
  opt.version = version;
  opt.max_ranges_per_entry = 2;
  Result<Reconstruction> built =
      BuildReconstruction(terms, ex.layouts(), content.size(), range, VectorUrl, opt);
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_TRUE(ValidateReconstruction(*built, e - s).ok());
  const std::string text =
      version == 1 ? ReconstructionToJsonV1(*built) : ReconstructionToJsonV2(*built);
  Result<Reconstruction> parsed = ParseReconstructionJson(text, version);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  // The trimmed first chunk starts at or before s; every kept term is needed.
  ASSERT_FALSE(parsed->terms.empty());
  EXPECT_LT(parsed->offset_into_first_range,
            ex.layout(parsed->terms[0].xorb).chunk_lengths[parsed->terms[0].range.start]);
  // ... and the last kept chunk is needed: without it the terms end before e.
  uint64_t held = 0;
  for (const ReconTerm& t : parsed->terms) held += t.unpacked_length;
  const ReconTerm& last = parsed->terms.back();
  EXPECT_LT(held - ex.layout(last.xorb).chunk_lengths[last.range.end - 1],
            parsed->offset_into_first_range + (e - s));
  DecodedRuns runs = ex.RunsFor(*parsed, e - s);
  Result<std::vector<uint8_t>> bytes = AssembleRange(*parsed, e - s, runs);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == Slice(content, s, e));
}

TEST(ReconstructionAssembly, RandomRanges) {
  const UploadExample& ex = Example();
  const uint64_t n = ex.input().size();
  std::mt19937_64 rng(20261128);
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, 1}, {n - 1, n}, {0, n}, {56711, 56713}, {415136, 415138}, {415137, 415138},
      {100, 200}, {300000, 900000}};
  for (int i = 0; i < 300; ++i) {
    uint64_t s = rng() % n;
    uint64_t len = 1 + rng() % (i % 3 == 0 ? 100 : n - s);
    ranges.emplace_back(s, std::min(n, s + len));
  }
  for (const auto& [s, e] : ranges) {
    for (int version : {1, 2}) CheckRoundTrip(ex, ex.terms(), ex.input(), s, e, version);
  }
}

TEST(ReconstructionAssembly, RepeatedChunksAndScatteredTerms) {
  const UploadExample& ex = Example();
  const Hash x0 = ex.xorbs()[0];
  const Hash x1 = ex.xorbs()[1];
  // Chunk 1 of xorb 0 appears three times; xorb 1 ranges are disjoint.
  const std::vector<FileTerm> terms = {
      {x0, {0, 3}}, {x0, {1, 2}}, {x1, {0, 1}}, {x0, {5, 7}}, {x1, {4, 6}},
      {x0, {1, 2}}, {x1, {8, 10}}, {x0, {3, 4}}};
  std::vector<uint8_t> content;
  for (const FileTerm& t : terms) {
    for (uint32_t i = t.range.start; i < t.range.end; ++i) {
      const auto& c = ex.chunk(t.xorb, i);
      content.insert(content.end(), c.begin(), c.end());
    }
  }
  // Whole file: xorb 0 ranges [0,3)+[1,2)+[3,4) merge into [0,4), [5,7) stays.
  BuildOptions v2;
  v2.max_ranges_per_entry = 2;
  std::vector<size_t> signed_sizes;
  auto sign = [&](const Hash& xorb, std::span<const FetchRange> r) {
    signed_sizes.push_back(r.size());
    return kUrlPrefix + xorb.ToString() + "/" + std::to_string(r.front().chunks.start);
  };
  Result<Reconstruction> whole =
      BuildReconstruction(terms, ex.layouts(), content.size(), std::nullopt, sign, v2);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->fetch.size(), 2u);
  const XorbFetch& f0 = whole->fetch[0];
  EXPECT_EQ(f0.xorb, x0);
  ASSERT_EQ(f0.entries.size(), 1u);
  ASSERT_EQ(f0.entries[0].ranges.size(), 2u);
  EXPECT_EQ(f0.entries[0].ranges[0].chunks, (ChunkRange{0, 4}));
  EXPECT_EQ(f0.entries[0].ranges[0].bytes, (ByteRangeInclusive{0, 135324}));
  EXPECT_EQ(f0.entries[0].ranges[1].chunks, (ChunkRange{5, 7}));
  EXPECT_EQ(f0.entries[0].ranges[1].bytes, (ByteRangeInclusive{266405, 415192}));
  // xorb 1 has three disjoint ranges: split 2 + 1 at max_ranges_per_entry = 2.
  const XorbFetch& f1 = whole->fetch[1];
  ASSERT_EQ(f1.entries.size(), 2u);
  EXPECT_EQ(f1.entries[0].ranges.size(), 2u);
  EXPECT_EQ(f1.entries[1].ranges.size(), 1u);
  EXPECT_NE(f1.entries[0].url, f1.entries[1].url);
  EXPECT_EQ(signed_sizes, (std::vector<size_t>{2, 2, 1}));
  // v1: one entry per merged range.
  BuildOptions v1;
  v1.version = 1;
  Result<Reconstruction> whole1 =
      BuildReconstruction(terms, ex.layouts(), content.size(), std::nullopt, VectorUrl, v1);
  ASSERT_TRUE(whole1.ok());
  EXPECT_EQ(whole1->fetch[0].entries.size(), 2u);
  EXPECT_EQ(whole1->fetch[1].entries.size(), 3u);

  const uint64_t n = content.size();
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, n}, {0, 1}, {n - 1, n}};
  for (int i = 0; i < 100; ++i) {
    uint64_t s = rng() % n;
    ranges.emplace_back(s, std::min(n, s + 1 + rng() % (n - s)));
  }
  for (const auto& [s, e] : ranges) {
    for (int version : {1, 2}) CheckRoundTrip(ex, terms, content, s, e, version);
  }
}

TEST(ReconstructionAssembly, OffsetSpanningSeveralChunks) {
  const UploadExample& ex = Example();
  const Hash x0 = ex.xorbs()[0];
  // Not what our server emits, but allowed: the offset skips chunks 0-2.
  Reconstruction recon;
  recon.offset_into_first_range = 200000;
  recon.terms = {ReconTerm{x0, {0, 7}, 415137}};
  recon.fetch = {XorbFetch{x0, {FetchEntry{"u", {FetchRange{{0, 7}, {0, 415192}}}}}}};
  Result<Reconstruction> parsed = ParseReconstructionJson(ReconstructionToJsonV2(recon), 2);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, recon);
  DecodedRuns runs = ex.RunsFor(recon, 215137);
  Result<std::vector<uint8_t>> bytes = AssembleRange(recon, 215137, runs);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == Slice(ex.input(), 200000, 415137));
  // One byte more than the terms hold.
  EXPECT_EQ(AssembleRange(recon, 215138, runs).status().code(), ErrorCode::kCorrupt);
}

TEST(ReconstructionAssembly, FailsOnMissingOrWrongChunks) {
  const UploadExample& ex = Example();
  const Hash x0 = ex.xorbs()[0];
  Reconstruction recon;
  recon.terms = {ReconTerm{x0, {0, 2}, 56712 + 17916}};
  recon.fetch = {XorbFetch{x0, {FetchEntry{"u", {FetchRange{{0, 2}, {0, 74643}}}}}}};
  ASSERT_TRUE(ValidateReconstruction(recon, 74628).ok());

  DecodedRuns missing;  // only chunk 0
  ASSERT_TRUE(missing.Add(x0, {0, 1}, {ex.chunk(x0, 0)}).ok());
  EXPECT_EQ(AssembleRange(recon, 100, missing).status().code(), ErrorCode::kCorrupt);

  DecodedRuns short_chunk;
  std::vector<uint8_t> c1 = ex.chunk(x0, 1);
  c1.pop_back();
  ASSERT_TRUE(short_chunk.Add(x0, {0, 2}, {ex.chunk(x0, 0), c1}).ok());
  EXPECT_EQ(AssembleRange(recon, 10, short_chunk).status().code(), ErrorCode::kCorrupt);

  DecodedRuns long_chunk;
  std::vector<uint8_t> c0 = ex.chunk(x0, 0);
  c0.push_back(0);
  ASSERT_TRUE(long_chunk.Add(x0, {0, 2}, {c0, ex.chunk(x0, 1)}).ok());
  EXPECT_EQ(AssembleRange(recon, 10, long_chunk).status().code(), ErrorCode::kCorrupt);

  DecodedRuns good;
  ASSERT_TRUE(good.Add(x0, {0, 2}, {ex.chunk(x0, 0), ex.chunk(x0, 1)}).ok());
  EXPECT_TRUE(AssembleRange(recon, 74628, good).ok());
  std::vector<uint8_t> buf(74629);
  EXPECT_EQ(AssembleInto(recon, good, buf).code(), ErrorCode::kCorrupt);

  DecodedRuns bad_count;
  EXPECT_EQ(bad_count.Add(x0, {0, 2}, {ex.chunk(x0, 0)}).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(bad_count.Add(x0, {2, 2}, {}).code(), ErrorCode::kCorrupt);
}

TEST(ReconstructionAssembly, NeededFetchRangesSkipsUnneededTerms) {
  const UploadExample& ex = Example();
  Result<Reconstruction> whole = BuildReconstruction(ex.terms(), ex.layouts(), ex.input().size(),
                                                     std::nullopt, VectorUrl);
  ASSERT_TRUE(whole.ok());
  auto first_only = NeededFetchRanges(*whole, 1000);
  ASSERT_TRUE(first_only.ok());
  ASSERT_EQ(first_only->size(), 1u);
  EXPECT_EQ((*first_only)[0].xorb->xorb, ex.xorbs()[0]);
  auto both = NeededFetchRanges(*whole, 415138);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->size(), 2u);
  EXPECT_TRUE(NeededFetchRanges(*whole, 0)->empty());
  EXPECT_EQ(NeededFetchRanges(*whole, ex.input().size() + 1).status().code(), ErrorCode::kCorrupt);
}

// --- Server-side helpers -------------------------------------------------------

TEST(ReconstructionRange, ParseRangeHeader) {
  auto ok = [](std::string_view v) {
    Result<RangeSpec> r = ParseRangeHeader(v);
    EXPECT_TRUE(r.ok()) << v << ": " << r.status();
    return r.value_or(RangeSpec{999, 999, 999});
  };
  EXPECT_EQ(ok("bytes=0-0"), (RangeSpec{0, 0, std::nullopt}));
  EXPECT_EQ(ok("bytes=100000-700000"), (RangeSpec{100000, 700000, std::nullopt}));
  EXPECT_EQ(ok(" Bytes=5- "), (RangeSpec{5, std::nullopt, std::nullopt}));
  EXPECT_EQ(ok("bytes=-10"), (RangeSpec{0, std::nullopt, 10}));
  EXPECT_EQ(ok("bytes=18446744073709551615-18446744073709551615"),
            (RangeSpec{UINT64_MAX, UINT64_MAX, std::nullopt}));
  for (std::string_view bad :
       {"", "bytes=", "bytes=-", "bytes=1-2,4-5", "bytes=5-4", "items=1-2", "bytes=1", "bytes=a-2",
        "bytes=1-2-3", "bytes= 1-2", "bytes=1 -2", "bytes=18446744073709551616-", "bytes=+1-2",
        "bytes=-1-2"}) {
    Result<RangeSpec> r = ParseRangeHeader(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ReconstructionRange, ResolveRange) {
  using P = std::pair<uint64_t, uint64_t>;
  auto get = [](std::optional<RangeSpec> r, uint64_t size) {
    auto w = ResolveRange(r, size);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.value_or(P{999, 999});
  };
  EXPECT_EQ(get(std::nullopt, 10), (P{0, 10}));
  EXPECT_EQ(get(RangeSpec{2, 5, std::nullopt}, 10), (P{2, 6}));
  EXPECT_EQ(get(RangeSpec{2, UINT64_MAX, std::nullopt}, 10), (P{2, 10}));
  EXPECT_EQ(get(RangeSpec{9, std::nullopt, std::nullopt}, 10), (P{9, 10}));
  EXPECT_EQ(get(RangeSpec{0, std::nullopt, 3}, 10), (P{7, 10}));
  EXPECT_EQ(get(RangeSpec{0, std::nullopt, 30}, 10), (P{0, 10}));
  EXPECT_EQ(get(std::nullopt, 0), (P{0, 0}));
  EXPECT_EQ(get(RangeSpec{0, 0, std::nullopt}, 0), (P{0, 0}));
  EXPECT_EQ(ResolveRange(RangeSpec{10, 20, std::nullopt}, 10).status().code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(ResolveRange(RangeSpec{1, 1, std::nullopt}, 0).status().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(ResolveRange(RangeSpec{0, std::nullopt, 0}, 10).status().code(),
            ErrorCode::kOutOfRange);
}

TEST(ReconstructionBuild, EmptyFile) {
  for (std::optional<RangeSpec> r :
       {std::optional<RangeSpec>{}, std::optional<RangeSpec>{RangeSpec{0, 0, std::nullopt}}}) {
    Result<Reconstruction> recon = BuildReconstruction({}, nullptr, 0, r, VectorUrl);
    ASSERT_TRUE(recon.ok()) << recon.status();
    EXPECT_TRUE(recon->terms.empty());
    EXPECT_TRUE(recon->fetch.empty());
    EXPECT_EQ(recon->offset_into_first_range, 0u);
    for (int v : {1, 2}) {
      std::string text = v == 1 ? ReconstructionToJsonV1(*recon) : ReconstructionToJsonV2(*recon);
      Result<Reconstruction> back = ParseReconstructionJson(text, v);
      ASSERT_TRUE(back.ok()) << back.status() << text;
      EXPECT_EQ(*back, *recon);
    }
  }
  EXPECT_EQ(BuildReconstruction({}, nullptr, 0, RangeSpec{1, 1, std::nullopt}, VectorUrl)
                .status()
                .code(),
            ErrorCode::kOutOfRange);
}

TEST(ReconstructionBuild, RejectsInconsistentStore) {
  const UploadExample& ex = Example();
  const Hash x0 = ex.xorbs()[0];
  const uint64_t n = ex.input().size();
  auto code = [&](std::vector<FileTerm> terms, uint64_t size, XorbLayoutFn layouts,
                  BuildOptions opt = {}) {
    return BuildReconstruction(terms, layouts, size, std::nullopt, VectorUrl, opt).status().code();
  };
  EXPECT_EQ(code(ex.terms(), n - 1, ex.layouts()), ErrorCode::kCorrupt);
  EXPECT_EQ(code({{Hash{}, {0, 1}}}, 1, ex.layouts()), ErrorCode::kCorrupt);
  EXPECT_EQ(code({{x0, {0, 8}}}, 1, ex.layouts()), ErrorCode::kCorrupt);
  EXPECT_EQ(code({{x0, {3, 3}}}, 0, ex.layouts()), ErrorCode::kCorrupt);
  XorbLayout broken = ex.layout(x0);
  broken.record_ends[3] = broken.record_ends[2];
  EXPECT_EQ(code({{x0, {0, 1}}}, 56712, [&](const Hash&) { return &broken; }),
            ErrorCode::kCorrupt);
  broken = ex.layout(x0);
  broken.record_ends.pop_back();
  EXPECT_EQ(code({{x0, {0, 1}}}, 56712, [&](const Hash&) { return &broken; }),
            ErrorCode::kCorrupt);
  BuildOptions bad_version;
  bad_version.version = 3;
  EXPECT_EQ(code(ex.terms(), n, ex.layouts(), bad_version), ErrorCode::kInvalidArgument);
  BuildOptions zero_ranges;
  zero_ranges.max_ranges_per_entry = 0;
  EXPECT_EQ(code(ex.terms(), n, ex.layouts(), zero_ranges), ErrorCode::kInvalidArgument);
}

// --- The whole §5.3 path with real chunk records --------------------------------

// A compressible file packed into LZ4/BG4 xorbs: build plans, serialize,
// parse, fetch exactly the listed byte ranges of the xorb bodies, decode them
// with ChunkDecoder and assemble.
TEST(ReconstructionEndToEnd, CompressedXorbsThroughDecoder) {
  std::vector<uint8_t> raw = SplitMix64Bytes(99, 700000);
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<uint8_t>((raw[i] & 0x0F) + (i % 4 == 0 ? 0x40 : 0));
  }
  const std::vector<size_t> lengths = ChunkLengths(raw);
  ASSERT_GT(lengths.size(), 6u);
  // Three chunks per xorb; one term per xorb.
  std::map<Hash, XorbBuilder::Xorb> xorbs;
  std::map<Hash, XorbLayout> layouts;
  std::vector<FileTerm> terms;
  XorbBuilder builder(CompressionPolicy::kBest);
  size_t offset = 0;
  auto finish = [&] {
    XorbBuilder::Xorb x = builder.Finish();
    const Hash h = x.info.hash;
    terms.push_back(FileTerm{h, {0, static_cast<uint32_t>(x.info.chunks.size())}});
    layouts[h] = XorbLayoutFromInfo(x.info);
    xorbs[h] = std::move(x);
  };
  for (size_t k = 0; k < lengths.size(); ++k) {
    std::span<const uint8_t> chunk(raw.data() + offset, lengths[k]);
    offset += lengths[k];
    ASSERT_TRUE(builder.Add(ChunkHash(chunk), chunk).ok());
    if (builder.num_chunks() == 3) finish();
  }
  if (builder.num_chunks() > 0) finish();
  // The file is the data followed by a repeat of the first xorb's middle chunk.
  const FileTerm repeat{terms[0].xorb, {1, 2}};
  terms.push_back(repeat);
  std::vector<uint8_t> content = raw;
  const size_t c0 = lengths[0];
  content.insert(content.end(), raw.begin() + static_cast<ptrdiff_t>(c0),
                 raw.begin() + static_cast<ptrdiff_t>(c0 + lengths[1]));
  uint64_t compressed = 0;
  for (const auto& [h, x] : xorbs) compressed += x.body.size();
  EXPECT_LT(compressed, raw.size()) << "the input should compress";

  XorbLayoutFn lookup = [&](const Hash& h) -> const XorbLayout* {
    auto it = layouts.find(h);
    return it == layouts.end() ? nullptr : &it->second;
  };
  ChunkDecoder decoder;
  std::mt19937_64 rng(5);
  const uint64_t n = content.size();
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, n}, {n - 1, n}, {n - 10, n}};
  for (int i = 0; i < 60; ++i) {
    const uint64_t s = rng() % n;
    ranges.emplace_back(s, std::min(n, s + 1 + rng() % 300000));
  }
  for (const auto& [s, e] : ranges) {
    for (int version : {1, 2}) {
      BuildOptions opt;
      opt.version = version;
      Result<Reconstruction> built = BuildReconstruction(
          terms, lookup, n, RangeSpec{s, e - 1, std::nullopt}, VectorUrl, opt);
      ASSERT_TRUE(built.ok()) << built.status();
      const std::string text =
          version == 1 ? ReconstructionToJsonV1(*built) : ReconstructionToJsonV2(*built);
      Result<Reconstruction> plan = ParseReconstructionJson(text, version);
      ASSERT_TRUE(plan.ok()) << plan.status();
      Result<std::vector<NeededFetch>> needed = NeededFetchRanges(*plan, e - s);
      ASSERT_TRUE(needed.ok()) << needed.status();
      DecodedRuns runs;
      for (const NeededFetch& f : *needed) {
        const std::vector<uint8_t>& body = xorbs.at(f.xorb->xorb).body;
        ASSERT_LT(f.range->bytes.end, body.size());
        std::span<const uint8_t> fetched(body.data() + f.range->bytes.start,
                                         f.range->bytes.end - f.range->bytes.start + 1);
        std::vector<std::vector<uint8_t>> chunks;
        ASSERT_TRUE(decoder.DecodeRun(fetched, f.range->chunks.size(), &chunks).ok());
        ASSERT_TRUE(runs.Add(f.xorb->xorb, f.range->chunks, std::move(chunks)).ok());
      }
      Result<std::vector<uint8_t>> bytes = AssembleRange(*plan, e - s, runs);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_TRUE(*bytes == Slice(content, s, e)) << "v" << version << " " << s << "-" << e;
    }
  }
}

}  // namespace
}  // namespace hubfs::chunkstore
