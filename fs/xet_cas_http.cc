#include <charconv>
#include <string_view>
#include <utility>

#include "common/log.h"
#include "fs/xet_cas.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

using chunkstore::ByteRangeInclusive;

// Parses "bytes a-b/total" (total may be "*"). nullopt when malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseContentRange(std::string_view v) {
  constexpr std::string_view kPrefix = "bytes ";
  if (v.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  v.remove_prefix(kPrefix.size());
  const size_t dash = v.find('-');
  const size_t slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return std::nullopt;
  }
  uint64_t a = 0;
  uint64_t b = 0;
  std::string_view sa = v.substr(0, dash);
  std::string_view sb = v.substr(dash + 1, slash - dash - 1);
  auto ra = std::from_chars(sa.data(), sa.data() + sa.size(), a);
  auto rb = std::from_chars(sb.data(), sb.data() + sb.size(), b);
  if (ra.ec != std::errc() || ra.ptr != sa.data() + sa.size() || rb.ec != std::errc() ||
      rb.ptr != sb.data() + sb.size() || b < a) {
    return std::nullopt;
  }
  return std::make_pair(a, b);
}

}  // namespace

HttpXetCas::HttpXetCas(hub::HttpTransport* transport, CasTokenSource tokens,
                       HttpXetCasOptions options)
    : transport_(transport), tokens_(std::move(tokens)), options_(options) {}

// GET {casUrl}/v{1,2}/reconstructions/{file_hash}, Range: bytes=S-(E-1).
Result<hub::HttpResponse> HttpXetCas::GetReconstructionOnce(const hub::XetToken& token,
                                                            int version,
                                                            const chunkstore::Hash& file_hash,
                                                            std::optional<FileByteRange> range) {
  hub::HttpRequest req;
  req.method = "GET";
  req.url = token.cas_url + "/v" + std::to_string(version) + "/reconstructions/" +
            file_hash.ToString();
  if (range.has_value()) req.ranges.push_back(hub::ByteRange{range->start, range->end - 1});
  req.auth = hub::BearerAuth{hub::OriginOf(token.cas_url), token.access_token};
  req.max_body_bytes = options_.max_reconstruction_bytes;
  return transport_->Send(req);
}

Result<chunkstore::Reconstruction> HttpXetCas::GetReconstruction(
    const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) {
  const std::string what = "reconstruction of " + file_hash.ToString();
  if (range.has_value() && range->end <= range->start) {
    return InvalidArgumentError(what + ": empty range");
  }
  bool refreshed = false;
  bool force_refresh = false;
  int version = v2_missing_.load(std::memory_order_relaxed) ? 1 : 2;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Result<hub::XetToken> token = tokens_(force_refresh);
    force_refresh = false;
    if (!token.ok()) return token.status().WithContext(what + ": CAS token");
    Result<hub::HttpResponse> resp = GetReconstructionOnce(*token, version, file_hash, range);
    if (!resp.ok()) return resp.status().WithContext(what);
    const int code = resp->status;
    if (code == 401 && !refreshed) {
      refreshed = true;
      force_refresh = true;
      continue;
    }
    if (version == 2 && (code == 404 || code == 501)) {
      if (code == 501) v2_missing_.store(true, std::memory_order_relaxed);
      version = 1;
      continue;
    }
    HUBFS_RETURN_IF_ERROR(hub::StatusFromResponse(*resp, what));
    if (version == 1 && code == 200) {
      // v2 answered 404 but v1 knows the file: the server has no v2.
      v2_missing_.store(true, std::memory_order_relaxed);
    }
    Result<chunkstore::Reconstruction> recon =
        chunkstore::ParseReconstructionJson(resp->body, version);
    if (!recon.ok()) return recon.status().WithContext(what);
    Status valid = chunkstore::ValidateReconstruction(*recon);
    if (!valid.ok()) return valid.WithContext(what);
    return recon;
  }
  return UnavailableError(what + ": CAS kept refusing the request");
}

Result<std::vector<uint8_t>> HttpXetCas::FetchData(const std::string& url,
                                                   const ByteRangeInclusive& range) {
  const std::string what = "fetch " + hub::UrlForLog(url) + " bytes " +
                           std::to_string(range.start) + "-" + std::to_string(range.end);
  if (range.end < range.start) return InvalidArgumentError(what + ": bad range");
  const uint64_t want = range.end - range.start + 1;
  if (want > options_.max_data_bytes) return ResourceExhaustedError(what + ": range too large");
  std::vector<uint8_t> out;
  out.reserve(want);
  hub::HttpRequest req;
  req.method = "GET";
  req.url = url;
  req.ranges.push_back(hub::ByteRange{range.start, range.end});
  req.max_body_bytes = want;
  req.body_sink = [&out, want](std::string_view piece) -> Status {
    if (piece.size() > want - out.size()) return CorruptError("data answer longer than the range");
    out.insert(out.end(), piece.begin(), piece.end());
    return Status::Ok();
  };
  Result<hub::HttpResponse> resp = transport_->Send(req);
  if (!resp.ok()) return resp.status().WithContext(what);
  HUBFS_RETURN_IF_ERROR(hub::StatusFromResponse(*resp, what));
  if (resp->status == 206) {
    std::optional<std::string_view> cr = resp->headers.Get("Content-Range");
    if (!cr.has_value()) return CorruptError(what + ": 206 without Content-Range");
    auto parsed = ParseContentRange(*cr);
    if (!parsed.has_value() || parsed->first != range.start || parsed->second != range.end) {
      return CorruptError(what + ": Content-Range '" + std::string(*cr) + "' does not match");
    }
  } else if (resp->status != 200 || range.start != 0) {
    // A 200 is the whole object: acceptable only when it is exactly the range.
    return CorruptError(what + ": HTTP " + std::to_string(resp->status) + " to a ranged GET");
  }
  if (out.size() != want) {
    return CorruptError(what + ": got " + std::to_string(out.size()) + " bytes, expected " +
                        std::to_string(want));
  }
  return out;
}

}  // namespace hubfs::fs
