#include "hub/fake_transport.h"

#include <algorithm>

#include "hub/url.h"

namespace hubfs::hub {
namespace {

constexpr size_t kMaxErrorBodyBytes = 64u << 10;
constexpr size_t kSinkPiece = 16u << 10;
constexpr int kMaxRedirectsHardCap = 10;

}  // namespace

Result<HttpResponse> FakeHttpTransport::Send(const HttpRequest& request) {
  HUBFS_RETURN_IF_ERROR(ValidateRequest(request));
  std::string url = request.url;
  const int hops = std::min(request.max_redirects, kMaxRedirectsHardCap);
  const bool may_follow = request.method == "GET" || request.method == "HEAD";
  for (int hop = 0;; ++hop) {
    HUBFS_ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
    (void)parsed;
    RecordedRequest rec;
    rec.method = request.method;
    rec.url = url;
    rec.headers = request.headers;
    rec.body = request.body;
    if (!request.ranges.empty()) {
      rec.headers.Add("Range", RangeHeaderValue(request.ranges));
      rec.headers.Add("Accept-Encoding", "identity");
    }
    if (request.auth && OriginOf(url) == request.auth->origin) {
      rec.headers.Add("Authorization", "Bearer " + request.auth->token);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(rec);
    }
    Result<HttpResponse> answer = handler_(rec);
    if (!answer.ok()) return answer.status().WithContext(request.method + " " + UrlForLog(url));
    HttpResponse resp = std::move(answer).value();
    resp.url = url;
    if (request.method == "HEAD") resp.body.clear();
    const bool success = resp.status >= 200 && resp.status < 300;
    if (!success) {
      if (resp.body.size() > kMaxErrorBodyBytes) resp.body.resize(kMaxErrorBodyBytes);
      resp.body_bytes = resp.body.size();
    } else {
      if (resp.body.size() > request.max_body_bytes) {
        return ResourceExhaustedError(request.method + " " + UrlForLog(url) +
                                      ": response body exceeds the limit of " +
                                      std::to_string(request.max_body_bytes) + " bytes");
      }
      resp.body_bytes = resp.body.size();
      if (request.body_sink) {
        std::string_view rest = resp.body;
        while (!rest.empty()) {
          std::string_view piece = rest.substr(0, kSinkPiece);
          rest.remove_prefix(piece.size());
          HUBFS_RETURN_IF_ERROR(
              request.body_sink(piece).WithContext(request.method + " " + UrlForLog(url)));
        }
        resp.body.clear();
      }
    }
    if (hop < hops && may_follow && IsRedirectStatus(resp.status)) {
      auto location = resp.headers.Get("Location");
      if (location && !location->empty()) {
        HUBFS_ASSIGN_OR_RETURN(url, ResolveReference(url, *location));
        continue;
      }
    }
    return resp;
  }
}

std::vector<RecordedRequest> FakeHttpTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

}  // namespace hubfs::hub
