#include "tests/hubsim/http_util.h"

#include <charconv>

namespace hubfs::hubsim {

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJsonType);
}

void SendError(httplib::Response& res, int status, std::string_view code,
               std::string_view message) {
  res.headers.erase("Location");
  if (!code.empty()) res.set_header("X-Error-Code", std::string(code));
  std::string clean;
  for (char c : message) clean += (c == '\r' || c == '\n') ? ' ' : c;
  res.set_header("X-Error-Message", clean);
  SendJson(res, status, nlohmann::json{{"error", message}});
}

int HttpStatusOf(const Status& st) {
  if (st.http_status() != 0) return st.http_status();
  switch (st.code()) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kFailedPrecondition:
      return 412;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kOutOfRange:
      return 416;
    case ErrorCode::kCorrupt:
      return 400;
    case ErrorCode::kResourceExhausted:
      return 413;
    case ErrorCode::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

void SendStatus(httplib::Response& res, const Status& st) {
  SendError(res, HttpStatusOf(st), st.hub_error_code(), st.message());
}

std::string BearerToken(const httplib::Request& req) {
  const std::string& h = req.get_header_value("Authorization");
  if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) {
    std::string t = h.substr(7);
    while (!t.empty() && t.back() == ' ') t.pop_back();
    return t;
  }
  return {};
}

std::optional<std::string> TakeRange(const httplib::Request& req) {
  // cpp-httplib 0.11 slices any response whose request carried a Range header
  // (and never answers 416 for provider bodies). The Request object it passes
  // us is its own non-const local, so clearing its parsed ranges is defined.
  const_cast<httplib::Request&>(req).ranges.clear();
  if (!req.has_header("Range")) return std::nullopt;
  return req.get_header_value("Range");
}

std::string OriginFor(const httplib::Request& req, int port, const std::string& fallback_host) {
  std::string host = req.get_header_value("Host");
  // Strip the port; keep [v6] brackets.
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    host = close == std::string::npos ? std::string() : host.substr(0, close + 1);
  } else {
    size_t colon = host.find(':');
    if (colon != std::string::npos) host = host.substr(0, colon);
  }
  bool ok = !host.empty() && host.size() < 256;
  for (char c : host) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
    if (!allowed) ok = false;
  }
  if (!ok) host = fallback_host;
  return "http://" + host + ":" + std::to_string(port);
}

std::vector<std::string> RawSegments(const httplib::Request& req) {
  std::string_view t = req.target;
  size_t q = t.find('?');
  if (q != std::string_view::npos) t = t.substr(0, q);
  std::vector<std::string> out;
  if (!t.empty() && t[0] == '/') t.remove_prefix(1);
  size_t start = 0;
  for (;;) {
    size_t p = t.find('/', start);
    if (p == std::string_view::npos) {
      out.emplace_back(t.substr(start));
      break;
    }
    out.emplace_back(t.substr(start, p - start));
    start = p + 1;
  }
  return out;
}

namespace {
bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

std::optional<std::vector<ByteRange>> ParseByteRanges(std::string_view value, uint64_t size,
                                                      bool* unsatisfiable, size_t max_ranges) {
  *unsatisfiable = false;
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.rfind("bytes=", 0) != 0) return std::nullopt;
  value.remove_prefix(6);
  std::vector<ByteRange> out;
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    std::string_view part = value.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    size_t dash = part.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string_view a = part.substr(0, dash), b = part.substr(dash + 1);
    ByteRange r;
    if (a.empty()) {
      uint64_t n;
      if (!ParseU64(b, &n) || n == 0) return std::nullopt;
      if (size == 0) {
        *unsatisfiable = true;
        return std::vector<ByteRange>{};
      }
      r.first = n >= size ? 0 : size - n;
      r.last = size - 1;
    } else {
      if (!ParseU64(a, &r.first)) return std::nullopt;
      if (b.empty()) {
        r.last = size == 0 ? 0 : size - 1;
      } else {
        if (!ParseU64(b, &r.last) || r.last < r.first) return std::nullopt;
        if (size > 0 && r.last >= size) r.last = size - 1;
      }
      if (r.first >= size) *unsatisfiable = true;
    }
    out.push_back(r);
    if (out.size() > max_ranges) return std::nullopt;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<nlohmann::json> ParseJsonBody(std::string_view body) {
  int depth = 0, max_depth = 0;
  bool in_str = false, esc = false;
  for (char c : body) {  // bound nesting before the recursive parser sees it
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '[' || c == '{')
      max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  if (max_depth > 64) return std::nullopt;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool QueryFlag(const httplib::Request& req, const std::string& name) {
  if (!req.has_param(name)) return false;
  std::string v = req.get_param_value(name);
  return v == "1" || v == "true" || v == "True" || v == "TRUE" || v == "yes";
}

}  // namespace hubfs::hubsim
