// JSON side of reconstructions: a streaming (SAX) parser that builds the
// Reconstruction directly — no DOM, bounded depth, no allocation beyond what
// the body actually contains — and the v1/v2 serializers.
//
// Wire shapes (spec/xet.md §5.1, §5.2):
//   {"offset_into_first_range": u64,
//    "terms": [{"hash": H, "unpacked_length": u64, "range": {"start": u32, "end": u32}}],
//    v1: "fetch_info": {H: [{"range": {start,end}, "url": s, "url_range": {start,end}}]}
//    v2: "xorbs": {H: [{"url": s, "ranges": [{"chunks": {start,end}, "bytes": {start,end}}]}]}}
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "chunkstore/reconstruction.h"

namespace hubfs::chunkstore {
namespace {

using nlohmann::json;

// What a JSON container on the parse stack stands for.
enum class Kind : uint8_t {
  kRoot,       // the top-level object
  kTerms,      // "terms" array
  kTerm,       // one term object
  kPair,       // {"start": u64, "end": u64}
  kFetchMap,   // "fetch_info" / "xorbs" object keyed by xorb hash
  kFetchList,  // the array under one xorb key
  kV1Entry,    // {"range", "url", "url_range"}
  kV2Entry,    // {"url", "ranges"}
  kV2Ranges,   // "ranges" array
  kV2Range,    // {"chunks", "bytes"}
  kSkip,       // an ignored value (unknown field)
};

// Field bits, to detect missing and duplicate fields.
constexpr uint32_t kFieldA = 1, kFieldB = 2, kFieldC = 4;

struct Frame {
  Kind kind;
  std::string key;    // last key seen (object frames)
  uint32_t seen = 0;  // kField* bits of the fields already read
};

class ReconSax {
 public:
  ReconSax(int version, const ReconstructionParseLimits& limits)
      : version_(version), limits_(limits) {}

  Status status() const { return status_; }
  Reconstruction Take() { return std::move(recon_); }

  // --- nlohmann SAX interface -------------------------------------------
  bool null() { return Scalar(Value::kNull, 0, nullptr); }
  bool boolean(bool) { return Scalar(Value::kOther, 0, nullptr); }
  bool number_integer(json::number_integer_t v) {
    if (v < 0) return Scalar(Value::kNegative, 0, nullptr);
    return Scalar(Value::kUnsigned, static_cast<uint64_t>(v), nullptr);
  }
  bool number_unsigned(json::number_unsigned_t v) { return Scalar(Value::kUnsigned, v, nullptr); }
  bool number_float(json::number_float_t, const std::string&) {
    return Scalar(Value::kFloat, 0, nullptr);
  }
  bool string(std::string& s) { return Scalar(Value::kString, 0, &s); }
  bool binary(json::binary_t&) { return Scalar(Value::kOther, 0, nullptr); }

  bool start_object(std::size_t) { return StartContainer(/*is_object=*/true); }
  bool start_array(std::size_t) { return StartContainer(/*is_object=*/false); }
  bool end_object() { return EndContainer(); }
  bool end_array() { return EndContainer(); }

  bool key(std::string& k) {
    Frame& f = stack_.back();
    if (f.kind == Kind::kFetchMap) {
      // Keys of the fetch map are xorb hashes.
      Result<Hash> h = Hash::Parse(k);
      if (!h.ok()) return Fail("fetch key is not a hash: " + Truncated(k));
      if (!fetch_keys_.insert(*h).second) return Fail("duplicate xorb " + h->ToString());
      recon_.fetch.push_back(XorbFetch{*h, {}});
    }
    f.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    if (status_.ok()) status_ = CorruptError("JSON syntax error near byte " + std::to_string(position));
    return false;
  }

 private:
  enum class Value { kNull, kUnsigned, kNegative, kFloat, kString, kOther };

  static std::string Truncated(const std::string& s) {
    return s.size() <= 80 ? s : s.substr(0, 80) + "...";
  }

  bool Fail(std::string msg) {
    if (status_.ok()) status_ = CorruptError(std::move(msg));
    return false;
  }

  // Marks field `bit` of the top frame as read; false on a duplicate.
  bool MarkField(uint32_t bit) {
    Frame& f = stack_.back();
    if (f.seen & bit) return Fail("duplicate field \"" + f.key + "\"");
    f.seen |= bit;
    return true;
  }

  const char* FetchName() const { return version_ == 1 ? "fetch_info" : "xorbs"; }

  // The kind of a container that appears as the current value of the top
  // frame, or nullopt if a container is not allowed there.
  std::optional<Kind> ChildKind(bool is_object) {
    if (stack_.empty()) {
      if (!is_object) return std::nullopt;
      return Kind::kRoot;
    }
    Frame& f = stack_.back();
    const std::string& k = f.key;
    auto obj = [&](Kind kind, uint32_t bit) -> std::optional<Kind> {
      if (!is_object || !MarkField(bit)) return std::nullopt;
      return kind;
    };
    auto arr = [&](Kind kind, uint32_t bit) -> std::optional<Kind> {
      if (is_object || !MarkField(bit)) return std::nullopt;
      return kind;
    };
    switch (f.kind) {
      case Kind::kRoot:
        if (k == "terms") return arr(Kind::kTerms, kFieldB);
        if (k == FetchName()) return obj(Kind::kFetchMap, kFieldC);
        if (k == "offset_into_first_range") return std::nullopt;
        return Kind::kSkip;
      case Kind::kTerms:
        if (!is_object) return std::nullopt;
        recon_.terms.emplace_back();
        return Kind::kTerm;
      case Kind::kTerm:
        if (k == "range") return obj(Kind::kPair, kFieldC);
        if (k == "hash" || k == "unpacked_length") return std::nullopt;
        return Kind::kSkip;
      case Kind::kPair:
        if (k == "start" || k == "end") return std::nullopt;
        return Kind::kSkip;
      case Kind::kFetchMap:
        if (is_object) return std::nullopt;
        return Kind::kFetchList;
      case Kind::kFetchList:
        if (!is_object) return std::nullopt;
        recon_.fetch.back().entries.emplace_back();
        if (version_ == 1) {
          recon_.fetch.back().entries.back().ranges.emplace_back();
          return Kind::kV1Entry;
        }
        return Kind::kV2Entry;
      case Kind::kV1Entry:
        if (k == "range") return obj(Kind::kPair, kFieldA);
        if (k == "url_range") return obj(Kind::kPair, kFieldC);
        if (k == "url") return std::nullopt;
        return Kind::kSkip;
      case Kind::kV2Entry:
        if (k == "ranges") return arr(Kind::kV2Ranges, kFieldB);
        if (k == "url") return std::nullopt;
        return Kind::kSkip;
      case Kind::kV2Ranges:
        if (!is_object) return std::nullopt;
        recon_.fetch.back().entries.back().ranges.emplace_back();
        return Kind::kV2Range;
      case Kind::kV2Range:
        if (k == "chunks") return obj(Kind::kPair, kFieldA);
        if (k == "bytes") return obj(Kind::kPair, kFieldB);
        return Kind::kSkip;
      case Kind::kSkip:
        return Kind::kSkip;
    }
    return std::nullopt;
  }

  bool StartContainer(bool is_object) {
    if (!status_.ok()) return false;
    if (stack_.size() >= static_cast<size_t>(limits_.max_depth)) {
      return Fail("JSON nested deeper than " + std::to_string(limits_.max_depth));
    }
    std::optional<Kind> kind = ChildKind(is_object);
    if (!kind) {
      std::string where = " at top level";
      if (!stack_.empty()) {
        where = stack_.back().key.empty() ? " as array element"
                                          : " for \"" + stack_.back().key + "\"";
      }
      return Fail(std::string("unexpected ") + (is_object ? "object" : "array") + where);
    }
    if (!status_.ok()) return false;
    stack_.push_back(Frame{*kind, {}, 0});
    return true;
  }

  bool EndContainer() {
    if (!status_.ok() || stack_.empty()) return false;
    Frame done = std::move(stack_.back());
    stack_.pop_back();
    switch (done.kind) {
      case Kind::kRoot:
        if (!(done.seen & kFieldA)) return Fail("missing offset_into_first_range");
        if (!(done.seen & kFieldB)) return Fail("missing terms");
        return true;
      case Kind::kTerm:
        if (done.seen != (kFieldA | kFieldB | kFieldC)) return Fail("incomplete term");
        return true;
      case Kind::kPair:
        if (done.seen != (kFieldA | kFieldB)) return Fail("range without start and end");
        return DeliverPair();
      case Kind::kV1Entry:
        if (done.seen != (kFieldA | kFieldB | kFieldC)) return Fail("incomplete fetch_info entry");
        return true;
      case Kind::kV2Entry:
        if (done.seen != (kFieldA | kFieldB)) return Fail("incomplete xorbs entry");
        return true;
      case Kind::kV2Range:
        if (done.seen != (kFieldA | kFieldB)) return Fail("incomplete xorbs range");
        return true;
      case Kind::kTerms:
      case Kind::kFetchMap:
      case Kind::kFetchList:
      case Kind::kV2Ranges:
      case Kind::kSkip:
        return true;
    }
    return true;
  }

  // A finished {"start","end"} pair goes to the field of its parent that
  // opened it (the parent's current key).
  bool DeliverPair() {
    const Frame& parent = stack_.back();
    const std::string& k = parent.key;
    auto chunk_range = [&](ChunkRange* out) {
      constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
      if (pair_start_ > kMax || pair_end_ > kMax) return Fail("chunk index out of range");
      out->start = static_cast<uint32_t>(pair_start_);
      out->end = static_cast<uint32_t>(pair_end_);
      return true;
    };
    auto byte_range = [&](ByteRangeInclusive* out) {
      out->start = pair_start_;
      out->end = pair_end_;
      return true;
    };
    switch (parent.kind) {
      case Kind::kTerm:
        return chunk_range(&recon_.terms.back().range);
      case Kind::kV1Entry: {
        FetchRange& r = recon_.fetch.back().entries.back().ranges.back();
        return k == "range" ? chunk_range(&r.chunks) : byte_range(&r.bytes);
      }
      case Kind::kV2Range: {
        FetchRange& r = recon_.fetch.back().entries.back().ranges.back();
        return k == "chunks" ? chunk_range(&r.chunks) : byte_range(&r.bytes);
      }
      default:
        return Fail("internal: pair under unexpected parent");
    }
  }

  bool Scalar(Value type, uint64_t u, std::string* s) {
    if (!status_.ok()) return false;
    if (stack_.empty()) return Fail("top level is not an object");
    Frame& f = stack_.back();
    const std::string& k = f.key;
    auto want_u64 = [&](uint32_t bit, uint64_t* out) {
      if (type != Value::kUnsigned) {
        return Fail("\"" + k + "\" must be a non-negative integer below 2^64");
      }
      if (!MarkField(bit)) return false;
      *out = u;
      return true;
    };
    auto want_string = [&](uint32_t bit, std::string* out, size_t max) {
      if (type != Value::kString) return Fail("\"" + k + "\" must be a string");
      if (s->size() > max) return Fail("\"" + k + "\" too long");
      if (!MarkField(bit)) return false;
      *out = std::move(*s);
      return true;
    };
    switch (f.kind) {
      case Kind::kRoot:
        if (k == "offset_into_first_range") {
          return want_u64(kFieldA, &recon_.offset_into_first_range);
        }
        if (k == "terms" || k == FetchName()) return Fail("\"" + k + "\" has the wrong type");
        return true;
      case Kind::kTerm: {
        ReconTerm& t = recon_.terms.back();
        if (k == "hash") {
          std::string text;
          if (!want_string(kFieldA, &text, 64)) return false;
          Result<Hash> h = Hash::Parse(text);
          if (!h.ok()) return Fail("term hash is not a hash: " + text);
          t.xorb = *h;
          return true;
        }
        if (k == "unpacked_length") return want_u64(kFieldB, &t.unpacked_length);
        if (k == "range") return Fail("term range must be an object");
        return true;
      }
      case Kind::kPair:
        if (k == "start") return want_u64(kFieldA, &pair_start_);
        if (k == "end") return want_u64(kFieldB, &pair_end_);
        return true;
      case Kind::kV1Entry:
        if (k == "url") {
          return want_string(kFieldB, &recon_.fetch.back().entries.back().url,
                             limits_.max_url_bytes);
        }
        if (k == "range" || k == "url_range") return Fail("\"" + k + "\" must be an object");
        return true;
      case Kind::kV2Entry:
        if (k == "url") {
          return want_string(kFieldA, &recon_.fetch.back().entries.back().url,
                             limits_.max_url_bytes);
        }
        if (k == "ranges") return Fail("\"ranges\" must be an array");
        return true;
      case Kind::kV2Range:
        if (k == "chunks" || k == "bytes") return Fail("\"" + k + "\" must be an object");
        return true;
      case Kind::kSkip:
        return true;
      case Kind::kTerms:
        return Fail("a term must be an object");
      case Kind::kFetchMap:
        return Fail("fetch information of a xorb must be an array");
      case Kind::kFetchList:
        return Fail("a fetch entry must be an object");
      case Kind::kV2Ranges:
        return Fail("a fetch range must be an object");
    }
    return true;
  }

  int version_;
  ReconstructionParseLimits limits_;
  Status status_;
  std::vector<Frame> stack_;
  Reconstruction recon_;
  std::set<Hash> fetch_keys_;
  uint64_t pair_start_ = 0;
  uint64_t pair_end_ = 0;
};

}  // namespace

Result<Reconstruction> ParseReconstructionJson(std::string_view body, int version,
                                               const ReconstructionParseLimits& limits) {
  if (version != 1 && version != 2) {
    return InvalidArgumentError("reconstruction version must be 1 or 2");
  }
  if (body.size() > limits.max_body_bytes) {
    return ResourceExhaustedError("reconstruction body of " + std::to_string(body.size()) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits.max_body_bytes));
  }
  ReconSax sax(version, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(body.begin(), body.end(), &sax);
  } catch (const std::exception& e) {
    return CorruptError(std::string("reconstruction JSON: ") + e.what());
  }
  if (!sax.status().ok()) return sax.status().WithContext("reconstruction JSON");
  if (!ok) return CorruptError("reconstruction JSON: rejected");
  Reconstruction recon = sax.Take();
  HUBFS_RETURN_IF_ERROR(ValidateReconstruction(recon).WithContext("reconstruction"));
  return recon;
}

namespace {

using ojson = nlohmann::ordered_json;

ojson StartEnd(uint64_t start, uint64_t end) {
  ojson j = ojson::object();
  j["start"] = start;
  j["end"] = end;
  return j;
}

ojson HeaderJson(const Reconstruction& recon) {
  ojson j = ojson::object();
  j["offset_into_first_range"] = recon.offset_into_first_range;
  ojson terms = ojson::array();
  for (const ReconTerm& t : recon.terms) {
    ojson term = ojson::object();
    term["hash"] = t.xorb.ToString();
    term["unpacked_length"] = t.unpacked_length;
    term["range"] = StartEnd(t.range.start, t.range.end);
    terms.push_back(std::move(term));
  }
  j["terms"] = std::move(terms);
  return j;
}

}  // namespace

std::string ReconstructionToJsonV1(const Reconstruction& recon) {
  ojson j = HeaderJson(recon);
  ojson fetch = ojson::object();
  for (const XorbFetch& xf : recon.fetch) {
    ojson& list = fetch[xf.xorb.ToString()];
    if (list.is_null()) list = ojson::array();
    for (const FetchEntry& e : xf.entries) {
      for (const FetchRange& r : e.ranges) {
        ojson entry = ojson::object();
        entry["range"] = StartEnd(r.chunks.start, r.chunks.end);
        entry["url"] = e.url;
        entry["url_range"] = StartEnd(r.bytes.start, r.bytes.end);
        list.push_back(std::move(entry));
      }
    }
  }
  j["fetch_info"] = std::move(fetch);
  return j.dump();
}

std::string ReconstructionToJsonV2(const Reconstruction& recon) {
  ojson j = HeaderJson(recon);
  ojson xorbs = ojson::object();
  for (const XorbFetch& xf : recon.fetch) {
    ojson& list = xorbs[xf.xorb.ToString()];
    if (list.is_null()) list = ojson::array();
    for (const FetchEntry& e : xf.entries) {
      ojson entry = ojson::object();
      entry["url"] = e.url;
      ojson ranges = ojson::array();
      for (const FetchRange& r : e.ranges) {
        ojson range = ojson::object();
        range["chunks"] = StartEnd(r.chunks.start, r.chunks.end);
        range["bytes"] = StartEnd(r.bytes.start, r.bytes.end);
        ranges.push_back(std::move(range));
      }
      entry["ranges"] = std::move(ranges);
      list.push_back(std::move(entry));
    }
  }
  j["xorbs"] = std::move(xorbs);
  return j.dump();
}

}  // namespace hubfs::chunkstore
