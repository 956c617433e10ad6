#include "hub/cas_client.h"

#include <algorithm>
#include <charconv>

#include "hub/repo_id.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

constexpr size_t kMultipartOverheadPerPart = 1024;
constexpr size_t kMaxPartHeaderBytes = 8192;
constexpr int kDataRedirects = 3;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerString(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(Lower(c));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The boundary parameter of a multipart Content-Type; empty when absent.
std::string BoundaryOf(std::string_view content_type) {
  std::string lower = LowerString(content_type);
  if (lower.rfind("multipart/byteranges", 0) != 0) return {};
  size_t p = lower.find("boundary=");
  if (p == std::string::npos) return {};
  std::string_view b = content_type.substr(p + 9);
  b = b.substr(0, b.find(';'));
  b = Trim(b);
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
  if (b.empty() || b.size() > 200) return {};
  return std::string(b);
}

Status CheckRanges(const std::vector<ByteRange>& ranges, size_t max_ranges, uint64_t max_bytes,
                   uint64_t* total) {
  if (ranges.empty()) return InvalidArgumentError("no byte ranges to fetch");
  if (ranges.size() > max_ranges)
    return InvalidArgumentError("too many byte ranges in one request");
  *total = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].last < ranges[i].first) return InvalidArgumentError("inverted byte range");
    if (i > 0 && ranges[i].first <= ranges[i - 1].last) {
      return InvalidArgumentError("byte ranges overlap or are out of order");
    }
    *total += ranges[i].size();
  }
  if (*total > max_bytes) {
    return InvalidArgumentError("byte ranges total " + std::to_string(*total) +
                                " bytes, over the limit of " + std::to_string(max_bytes));
  }
  return Status::Ok();
}

// The error of a data URL's answer. A 404 there means the CAS lacks bytes
// that a reconstruction named: the file exists (kNotFound would become
// ENOENT for an open file), its data is broken.
Status DataStatus(const HttpResponse& resp, const std::string& context) {
  Status st = StatusFromResponse(resp, context);
  if (st.code() != ErrorCode::kNotFound) return st;
  return Status(ErrorCode::kCorrupt, st.message() + " (data named by the reconstruction is missing)")
      .WithHttp(st.http_status(), st.hub_error_code());
}

std::string RangeText(ByteRange r) {
  return std::to_string(r.first) + "-" + std::to_string(r.last);
}

}  // namespace

Result<std::vector<std::string>> ParseMultipartByteranges(std::string_view content_type,
                                                          std::string_view body,
                                                          const std::vector<ByteRange>& ranges) {
  std::string boundary = BoundaryOf(content_type);
  if (boundary.empty()) {
    return CorruptError("expected multipart/byteranges with a boundary, got '" +
                        std::string(content_type.substr(0, 100)) + "'");
  }
  const std::string delim = "--" + boundary;
  std::vector<std::string> out(ranges.size());
  std::vector<bool> filled(ranges.size(), false);
  size_t parts = 0;
  size_t p = body.find(delim);
  if (p == std::string_view::npos) return CorruptError("multipart body has no boundary");
  while (true) {
    p += delim.size();
    if (body.substr(p, 2) == "--") break;  // closing delimiter
    if (body.substr(p, 2) != "\r\n") return CorruptError("malformed multipart delimiter line");
    p += 2;
    size_t head_end = body.find("\r\n\r\n", p);
    if (head_end == std::string_view::npos || head_end - p > kMaxPartHeaderBytes) {
      return CorruptError("malformed multipart part headers");
    }
    std::string_view head = body.substr(p, head_end - p);
    std::optional<ByteRange> part_range;
    size_t h = 0;
    while (h <= head.size()) {
      size_t e = head.find("\r\n", h);
      std::string_view line = head.substr(h, e == std::string_view::npos ? head.npos : e - h);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos &&
          LowerString(Trim(line.substr(0, colon))) == "content-range") {
        HUBFS_ASSIGN_OR_RETURN(ByteRange r, ParseContentRange(line.substr(colon + 1)));
        part_range = r;
      }
      if (e == std::string_view::npos) break;
      h = e + 2;
    }
    if (!part_range) return CorruptError("multipart part without Content-Range");
    if (++parts > ranges.size()) return CorruptError("more multipart parts than ranges asked for");
    auto it = std::find(ranges.begin(), ranges.end(), *part_range);
    if (it == ranges.end()) {
      return CorruptError("multipart part for bytes " + RangeText(*part_range) +
                          ", which were not asked for");
    }
    size_t idx = static_cast<size_t>(it - ranges.begin());
    if (filled[idx]) return CorruptError("multipart part repeated for " + RangeText(*part_range));
    size_t data = head_end + 4;
    uint64_t len = part_range->size();
    if (len > body.size() - data) return CorruptError("multipart part is truncated");
    out[idx] = std::string(body.substr(data, len));
    filled[idx] = true;
    p = data + len;
    if (body.substr(p, 2) != "\r\n") return CorruptError("multipart part longer than its range");
    p += 2;
    if (body.substr(p, delim.size()) != delim) {
      return CorruptError("multipart part not followed by the boundary");
    }
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (!filled[i]) return CorruptError("multipart answer lacks bytes " + RangeText(ranges[i]));
  }
  return out;
}

CasClient::CasClient(HttpTransport* transport, CasClientOptions options)
    : transport_(transport), options_(options) {}

Result<ReconstructionAnswer> CasClient::GetReconstruction(const XetTokenSupplier& tokens,
                                                          std::string_view file_hash,
                                                          std::optional<ByteRange> range) {
  std::string context = "reconstruction of " + std::string(file_hash.substr(0, 64));
  if (!IsHex64(file_hash)) return InvalidArgumentError(context + ": not a 64-hex Xet hash");
  if (range && range->last < range->first) return InvalidArgumentError(context + ": bad range");
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<XetToken> token = tokens(/*force_refresh=*/attempt > 0);
    if (!token.ok()) return token.status().WithContext(context);
    bool refresh = false;
    for (int version : {2, 1}) {
      HttpRequest req;
      req.url = token->cas_url + "/v" + std::to_string(version) + "/reconstructions/" +
                std::string(file_hash);
      req.auth = BearerAuth{OriginOf(token->cas_url), token->access_token};
      req.max_body_bytes = options_.max_reconstruction_bytes;
      if (range) req.headers.Add("Range", "bytes=" + RangeText(*range));
      Result<HttpResponse> resp = transport_->Send(req);
      if (!resp.ok()) return resp.status().WithContext(context);
      if (resp->status == 401 && attempt == 0) {
        refresh = true;
        break;
      }
      if (version == 2 && (resp->status == 404 || resp->status == 501)) continue;
      HUBFS_RETURN_IF_ERROR(StatusFromResponse(*resp, context));
      return ReconstructionAnswer{version, std::move(resp->body)};
    }
    if (!refresh) break;
  }
  return InternalError(context + ": unreachable");
}

Result<std::vector<std::string>> CasClient::FetchRanges(const std::string& url,
                                                        const std::vector<ByteRange>& ranges) {
  std::string context = "fetch " + std::to_string(ranges.size()) + " range(s) of " + UrlForLog(url);
  uint64_t total = 0;
  HUBFS_RETURN_IF_ERROR(
      CheckRanges(ranges, options_.max_ranges_per_request, options_.max_fetch_bytes, &total)
          .WithContext(context));
  HttpRequest req;
  req.url = url;  // presigned: no Authorization
  req.ranges = ranges;
  req.max_redirects = kDataRedirects;
  req.max_body_bytes =
      ranges.size() == 1 ? total : total + kMultipartOverheadPerPart * (ranges.size() + 1);
  Result<HttpResponse> resp = transport_->Send(req);
  if (!resp.ok()) return resp.status().WithContext(context);
  HUBFS_RETURN_IF_ERROR(DataStatus(*resp, context));
  if (ranges.size() == 1) {
    if (resp->status == 206) {
      if (auto cr = resp->headers.Get("Content-Range")) {
        Result<ByteRange> got = ParseContentRange(*cr);
        if (!got.ok()) return got.status().WithContext(context);
        if (!(*got == ranges[0])) {
          return CorruptError(context + ": server sent bytes " + RangeText(*got) + " for bytes " +
                              RangeText(ranges[0]));
        }
      }
    } else if (resp->status != 200) {
      return CorruptError(context + ": unexpected HTTP " + std::to_string(resp->status));
    }
    if (resp->body.size() != total) {
      return CorruptError(context + ": got " + std::to_string(resp->body.size()) +
                          " bytes for a range of " + std::to_string(total));
    }
    std::vector<std::string> out;
    out.push_back(std::move(resp->body));
    return out;
  }
  if (resp->status != 206) {
    return CorruptError(context + ": multi-range request answered with HTTP " +
                        std::to_string(resp->status));
  }
  Result<std::vector<std::string>> parts =
      ParseMultipartByteranges(resp->headers.Get("Content-Type").value_or(""), resp->body, ranges);
  if (!parts.ok()) return parts.status().WithContext(context);
  return parts;
}

Status CasClient::FetchRangeTo(const std::string& url, ByteRange range, const BodySink& sink) {
  std::string context = "fetch bytes " + RangeText(range) + " of " + UrlForLog(url);
  uint64_t total = 0;
  HUBFS_RETURN_IF_ERROR(
      CheckRanges({range}, 1, options_.max_fetch_bytes, &total).WithContext(context));
  HttpRequest req;
  req.url = url;
  req.ranges = {range};
  req.max_redirects = kDataRedirects;
  req.max_body_bytes = total;
  req.body_sink = sink;
  Result<HttpResponse> resp = transport_->Send(req);
  if (!resp.ok()) return resp.status().WithContext(context);
  HUBFS_RETURN_IF_ERROR(DataStatus(*resp, context));
  if (resp->status == 206) {
    if (auto cr = resp->headers.Get("Content-Range")) {
      Result<ByteRange> got = ParseContentRange(*cr);
      if (!got.ok()) return got.status().WithContext(context);
      if (!(*got == range)) {
        return CorruptError(context + ": server sent bytes " + RangeText(*got));
      }
    }
  } else if (resp->status != 200) {
    return CorruptError(context + ": unexpected HTTP " + std::to_string(resp->status));
  }
  if (resp->body_bytes != total) {
    return CorruptError(context + ": got " + std::to_string(resp->body_bytes) +
                        " bytes for a range of " + std::to_string(total));
  }
  return Status::Ok();
}

}  // namespace hubfs::hub
