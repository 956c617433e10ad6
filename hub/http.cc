#include "hub/http.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "hub/retry.h"

namespace hubfs::hub {
namespace {

constexpr size_t kMaxErrorMessage = 512;

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Sanitize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= kMaxErrorMessage) {
      out += "...";
      break;
    }
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  }
  return out;
}

// Pulls a human message out of the Hub's error JSON shapes.
std::string MessageFromJson(std::string_view body) {
  if (body.empty() || body.size() > (64u << 10)) return {};
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return {};
  std::string msg;
  auto append = [&msg](std::string_view s) {
    if (s.empty()) return;
    if (!msg.empty()) msg += "; ";
    msg += s;
  };
  if (auto it = j.find("error"); it != j.end()) {
    if (it->is_string()) {
      append(it->get_ref<const std::string&>());
    } else if (it->is_array()) {
      for (const auto& e : *it) {
        if (e.is_string()) append(e.get_ref<const std::string&>());
      }
    }
  }
  if (auto it = j.find("error_description"); it != j.end() && it->is_string()) {
    append(it->get_ref<const std::string&>());
  }
  if (auto it = j.find("errors"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_object()) {
        auto m = e.find("message");
        if (m != e.end() && m->is_string()) append(m->get_ref<const std::string&>());
      }
    }
  }
  return msg;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string_view name, std::string value) {
  Remove(name);
  fields_.emplace_back(std::string(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return HeaderNameEquals(f.first, name); });
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (HeaderNameEquals(f.first, name)) return std::string_view(f.second);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (HeaderNameEquals(f.first, name)) out.emplace_back(f.second);
  }
  return out;
}

ErrorCode ErrorCodeForHttpStatus(int status) {
  if (status >= 200 && status < 300) return ErrorCode::kOk;
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
    case 410:
      return ErrorCode::kNotFound;
    case 408:
      return ErrorCode::kTimeout;
    case 409:
      return ErrorCode::kConflict;
    case 412:
      return ErrorCode::kFailedPrecondition;
    case 416:
      return ErrorCode::kOutOfRange;
    case 429:
      return ErrorCode::kResourceExhausted;
    default:
      break;
  }
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  return ErrorCode::kUnavailable;
}

Status StatusFromResponse(const HttpResponse& response, std::string_view context) {
  ErrorCode code = ErrorCodeForHttpStatus(response.status);
  if (code == ErrorCode::kOk) return Status::Ok();
  std::string hub_code = Sanitize(response.headers.Get("X-Error-Code").value_or(""));
  std::string msg(context);
  msg += ": HTTP " + std::to_string(response.status);
  if (!hub_code.empty()) msg += " " + hub_code;
  std::string server_msg = MessageFromJson(response.body);
  if (server_msg.empty()) server_msg = response.headers.Get("X-Error-Message").value_or("");
  if (!server_msg.empty()) msg += ": " + Sanitize(server_msg);
  if (auto id = response.headers.Get("X-Request-Id"); id && !id->empty()) {
    msg += " (request id " + Sanitize(id->substr(0, 128)) + ")";
  }
  Status st = Status(code, std::move(msg)).WithHttp(response.status, std::move(hub_code));
  // The server's wait travels with the error: a caller that does not retry
  // at once (a commit under the repo's budget) waits that long.
  if (response.status == 429 || response.status == 503) {
    std::optional<int64_t> wait;
    if (auto rl = response.headers.Get("RateLimit")) wait = ParseRateLimitWait(*rl);
    if (auto ra = response.headers.Get("Retry-After")) {
      if (auto w = ParseRetryAfter(*ra, static_cast<int64_t>(std::time(nullptr)))) {
        wait = std::max(wait.value_or(0), *w);
      }
    }
    if (wait) st = st.WithRetryAfter(std::chrono::seconds(*wait));
  }
  return st;
}

Status ValidateRequest(const HttpRequest& request) {
  auto has_crlf = [](std::string_view v) { return v.find_first_of("\r\n") != v.npos; };
  const std::string& m = request.method;
  if (m != "GET" && m != "HEAD" && m != "POST" && m != "PUT" && m != "DELETE") {
    return InvalidArgumentError("unsupported HTTP method '" + m.substr(0, 16) + "'");
  }
  if (request.headers.Has("Authorization")) {
    return InvalidArgumentError("Authorization must be given through HttpRequest::auth");
  }
  for (const auto& [name, value] : request.headers.fields()) {
    if (name.empty() || has_crlf(name) || has_crlf(value) || name.find(':') != std::string::npos) {
      return InvalidArgumentError("malformed request header");
    }
  }
  if (request.auth && (has_crlf(request.auth->token) || request.auth->origin.empty())) {
    return InvalidArgumentError("malformed bearer token or origin");
  }
  for (const ByteRange& r : request.ranges) {
    if (r.last < r.first) return InvalidArgumentError("inverted byte range");
  }
  return Status::Ok();
}

bool IsRedirectStatus(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool IsRetryableHttpStatus(int status) {
  if (status == 408 || status == 429) return true;
  return status >= 500 && status < 600 && status != 501 && status != 505;
}

Result<ByteRange> ParseContentRange(std::string_view value) {
  value = TrimSpaces(value);
  if (!HeaderNameEquals(value.substr(0, 6), "bytes ")) {
    return CorruptError("Content-Range does not start with 'bytes '");
  }
  value.remove_prefix(6);
  size_t dash = value.find('-');
  size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
    return CorruptError("malformed Content-Range");
  }
  auto first = ParseU64(TrimSpaces(value.substr(0, dash)));
  auto last = ParseU64(TrimSpaces(value.substr(dash + 1, slash - dash - 1)));
  std::string_view total = TrimSpaces(value.substr(slash + 1));
  if (!first || !last || *last < *first) return CorruptError("malformed Content-Range");
  if (total != "*") {
    auto t = ParseU64(total);
    if (!t || *last >= *t) return CorruptError("Content-Range beyond its total");
  }
  return ByteRange{*first, *last};
}

std::string RangeHeaderValue(const std::vector<ByteRange>& ranges) {
  std::string v = "bytes=";
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i) v += ",";
    v += std::to_string(ranges[i].first) + "-" + std::to_string(ranges[i].last);
  }
  return v;
}

}  // namespace hubfs::hub
