// File reconstructions (spec/xet.md §5.1–§5.3) as pure functions.
//
// One type, Reconstruction, holds a v1 or a v2 answer of
// GET /v{1,2}/reconstructions/{file_hash}. Around it:
//   client side  — ParseReconstructionJson (hostile input), ValidateReconstruction,
//                  NeededFetchRanges (what to download), AssembleRange/AssembleInto
//                  (decoded chunks → exactly the requested bytes);
//   server side  — ParseRangeHeader, ResolveRange, BuildReconstruction (the
//                  trimming algorithm of §5.1, used by hubsim), and the JSON
//                  serializers ReconstructionToJsonV1/V2.
//
// Everything here is a pure function of its arguments; nothing is thread-hostile
// (no shared state), and no function does I/O.
#ifndef HUBFS_CHUNKSTORE_RECONSTRUCTION_H_
#define HUBFS_CHUNKSTORE_RECONSTRUCTION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"
#include "common/status.h"

namespace hubfs::chunkstore {

// Chunk indices [start, end) inside one xorb. Valid ranges have start < end.
struct ChunkRange {
  uint32_t start = 0;
  uint32_t end = 0;

  uint32_t size() const { return end - start; }
  bool Contains(const ChunkRange& o) const { return start <= o.start && o.end <= end; }
  friend bool operator==(const ChunkRange&, const ChunkRange&) = default;
};

// Byte range [start, end] with BOTH ends inclusive (HTTP Range / url_range form).
struct ByteRangeInclusive {
  uint64_t start = 0;
  uint64_t end = 0;

  friend bool operator==(const ByteRangeInclusive&, const ByteRangeInclusive&) = default;
};

// One term of the plan: chunks `range` of `xorb`, which decompress to
// `unpacked_length` bytes. Terms concatenate, in order, to the answer's data.
struct ReconTerm {
  Hash xorb;
  ChunkRange range;
  uint64_t unpacked_length = 0;

  friend bool operator==(const ReconTerm&, const ReconTerm&) = default;
};

// A run of chunk records that can be downloaded: chunks `chunks` of a xorb
// occupy body bytes `bytes` (§3.5).
struct FetchRange {
  ChunkRange chunks;
  ByteRangeInclusive bytes;

  friend bool operator==(const FetchRange&, const FetchRange&) = default;
};

// One (presigned) URL and the ranges it may be asked for. A v1 entry holds
// exactly one range; a v2 entry holds one or more, sorted by chunks.start.
struct FetchEntry {
  std::string url;
  std::vector<FetchRange> ranges;

  friend bool operator==(const FetchEntry&, const FetchEntry&) = default;
};

// The fetch information of one xorb (v1 `fetch_info[xorb]`, v2 `xorbs[xorb]`).
struct XorbFetch {
  Hash xorb;
  std::vector<FetchEntry> entries;

  friend bool operator==(const XorbFetch&, const XorbFetch&) = default;
};

// A v1 or v2 reconstruction answer.
struct Reconstruction {
  // Bytes to drop from the start of the first term's decompressed data.
  uint64_t offset_into_first_range = 0;
  std::vector<ReconTerm> terms;
  // One element per xorb, each xorb at most once; order as received (parser)
  // or of first use by a term (BuildReconstruction).
  std::vector<XorbFetch> fetch;

  // The fetch information of `xorb`, or nullptr. Linear in fetch.size().
  const XorbFetch* FindFetch(const Hash& xorb) const;

  friend bool operator==(const Reconstruction&, const Reconstruction&) = default;
};

// ---------------------------------------------------------------------------
// Client side

struct ReconstructionParseLimits {
  // Bodies longer than this are refused (kResourceExhausted) before parsing.
  size_t max_body_bytes = 64u << 20;
  // Maximum JSON nesting depth (the known shape needs 7); deeper → kCorrupt.
  int max_depth = 32;
  // Maximum length of one URL string.
  size_t max_url_bytes = 64u << 10;
};

// Parses a reconstruction answer of API `version` (1: `fetch_info`, 2: `xorbs`).
// The body is untrusted: sizes, counts, nesting, integer ranges (no negatives,
// no floats, no overflow), hash strings, chunk ranges (start < end), each
// term's unpacked_length (1 .. 128 KiB per chunk), byte ranges (start <= end,
// 9 .. 8+256 KiB bytes per chunk), v2 ranges sorted by chunk start,
// every term covered by a fetch range of its xorb, offset_into_first_range <
// first term's unpacked_length (0 without terms) are all checked. Unknown
// fields are ignored; duplicate known fields and duplicate xorb keys are errors.
// Errors: kInvalidArgument (bad version), kResourceExhausted (body too large),
// kCorrupt (everything else).
Result<Reconstruction> ParseReconstructionJson(std::string_view body, int version,
                                               const ReconstructionParseLimits& limits = {});

// Checks the structural invariants listed above (ParseReconstructionJson
// applies them; BuildReconstruction produces them) and, when
// `requested_length` is set, that the terms hold at least that many bytes past
// offset_into_first_range. v1-ness (one range per entry) is not required.
// Errors: kCorrupt.
Status ValidateReconstruction(const Reconstruction& recon,
                              std::optional<uint64_t> requested_length = std::nullopt);

// A fetch range that some needed term reads from. Pointers point into the
// Reconstruction passed to NeededFetchRanges and stay valid while it lives
// unmodified.
struct NeededFetch {
  const XorbFetch* xorb = nullptr;
  const FetchEntry* entry = nullptr;
  const FetchRange* range = nullptr;
};

// The distinct fetch ranges that cover the terms needed to produce `length`
// bytes (terms past the first `length` bytes after offset_into_first_range are
// not needed), each listed once, in order of first use. When several ranges
// cover a term, the one reaching furthest among those starting at or before
// the term is chosen (deterministic, O(log n) per term); assembly does not
// care which range delivered a chunk.
// Errors: kCorrupt (a needed term has no covering range, or the terms hold
// fewer than `length` bytes).
Result<std::vector<NeededFetch>> NeededFetchRanges(const Reconstruction& recon, uint64_t length);

// Where assembly gets decoded (uncompressed) chunk bytes from.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // The decoded bytes of chunk `index` of `xorb`, or nullopt when that chunk
  // is not available. The span need only stay valid until the next call on
  // this source (assembly copies it at once), so an implementation may decode
  // into one scratch buffer. May be called several times for the same chunk.
  virtual std::optional<std::span<const uint8_t>> Chunk(const Hash& xorb, uint32_t index) const = 0;
};

// A ChunkSource holding decoded runs (what one fetched FetchRange decodes to:
// chunk i of the run is chunk run.start + i of the xorb). Not thread-safe for
// writers; concurrent const use is fine.
class DecodedRuns final : public ChunkSource {
 public:
  // Adds the decoded chunks of run `run` of `xorb`, taking ownership.
  // A chunk already present keeps its first bytes.
  // Errors: kCorrupt when chunks.size() != run.size() or run is empty.
  Status Add(const Hash& xorb, ChunkRange run, std::vector<std::vector<uint8_t>> chunks);
  std::optional<std::span<const uint8_t>> Chunk(const Hash& xorb, uint32_t index) const override;
  size_t chunk_count() const { return chunks_.size(); }

 private:
  std::map<std::pair<Hash, uint32_t>, std::vector<uint8_t>> chunks_;
};

// Produces exactly `out.size()` bytes: the terms' chunks concatenated, minus
// offset_into_first_range, truncated (§5.3). Every term that contributes is
// checked in full (its chunks' lengths must sum to unpacked_length).
// Errors: kCorrupt (missing chunk, length mismatch, too little data).
Status AssembleInto(const Reconstruction& recon, const ChunkSource& source, std::span<uint8_t> out);

// Same, into a new buffer of `length` bytes. `length` is the caller's request
// (E − S), not a value from the answer; it is checked against the terms'
// total before anything is allocated.
Result<std::vector<uint8_t>> AssembleRange(const Reconstruction& recon, uint64_t length,
                                           const ChunkSource& source);

// ---------------------------------------------------------------------------
// Server side (hubsim)

// A parsed `Range:` header value: `bytes=S-E`, `bytes=S-` or `bytes=-N`.
struct RangeSpec {
  uint64_t start = 0;                     // S (unused for the suffix form)
  std::optional<uint64_t> end;            // E, inclusive; nullopt for `bytes=S-`
  std::optional<uint64_t> suffix_length;  // N for `bytes=-N`

  friend bool operator==(const RangeSpec&, const RangeSpec&) = default;
};

// Parses one Range header value. The unit is matched case-insensitively;
// spaces/tabs are allowed only before and after the whole value.
// Errors: kInvalidArgument for anything else — other units, several ranges
// ("a-b,c-d"), E < S, signs or other non-digits, numbers past 2^64−1,
// "bytes=-".
Result<RangeSpec> ParseRangeHeader(std::string_view value);

// [S, E) of a file of `size` bytes that a request asks for (no range: the
// whole file). S = start, E = min(end + 1, size); suffix: the last
// min(N, size) bytes. Errors: kOutOfRange (HTTP 416) when S >= size — except a
// 0-byte file with S = 0 (or no range), which yields [0, 0). A suffix of 0
// bytes is also kOutOfRange.
Result<std::pair<uint64_t, uint64_t>> ResolveRange(const std::optional<RangeSpec>& range,
                                                   uint64_t size);

// What the server knows about a stored xorb.
struct XorbLayout {
  std::vector<uint32_t> chunk_lengths;  // uncompressed length of chunk k
  std::vector<uint64_t> record_ends;    // end_k of §3.5: offset just past record k
};

// The layout of a parsed xorb (ParseXorb / XorbBuilder). `info.lengths_known`
// must be true (a legacy v0 footer has no chunk lengths).
XorbLayout XorbLayoutFromInfo(const XorbInfo& info);

// One term of a stored file (the shard's FileDataSequenceEntry).
struct FileTerm {
  Hash xorb;
  ChunkRange range;
};

// Returns the URL for one fetch entry: `ranges` are the ranges the URL may be
// asked for (one for v1; v2: all of the entry's ranges). URLs should differ
// between entries: the official JS client keys its downloads by URL.
using SignUrlFn = std::function<std::string(const Hash& xorb, std::span<const FetchRange> ranges)>;
// Returns the layout of a xorb, or nullptr if unknown.
using XorbLayoutFn = std::function<const XorbLayout*(const Hash& xorb)>;

struct BuildOptions {
  int version = 2;  // 1: one entry per merged range; 2: one entry per xorb
  // v2: at most this many ranges per entry; further ranges go to more entries.
  size_t max_ranges_per_entry = 256;
};

// The server's answer for a stored file (§5.1 algorithm, exactly): trims the
// terms to [S, E) of ResolveRange, computes offset_into_first_range, and
// builds per-xorb fetch entries from the sorted, merged (overlapping or
// touching) chunk ranges with byte ranges from the record ends.
// Errors: kOutOfRange (416) as ResolveRange; kCorrupt when the stored data is
// inconsistent (unknown xorb, chunk range out of bounds or empty, layout
// vectors of different lengths, record ends not increasing, a zero-length
// chunk, terms not summing to `file_size`); kInvalidArgument for a bad version
// or max_ranges_per_entry 0. `layouts` is called once per distinct xorb; the
// layouts it returns must stay valid during the call.
Result<Reconstruction> BuildReconstruction(std::span<const FileTerm> terms,
                                           const XorbLayoutFn& layouts, uint64_t file_size,
                                           const std::optional<RangeSpec>& range,
                                           const SignUrlFn& sign_url,
                                           const BuildOptions& options = {});

// The JSON body of a v1 answer: one `fetch_info` element per range (a
// multi-range entry is written as several elements sharing its URL).
std::string ReconstructionToJsonV1(const Reconstruction& recon);
// The JSON body of a v2 answer.
std::string ReconstructionToJsonV2(const Reconstruction& recon);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_RECONSTRUCTION_H_
