#include "hub/url.h"

#include <charconv>

namespace hubfs::hub {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<ParsedUrl> ParseUrl(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgumentError("URL contains a space or control character");
    }
  }
  ParsedUrl out;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return InvalidArgumentError("URL is not absolute");
  out.scheme = ToLower(url.substr(0, colon));
  uint16_t default_port;
  if (out.scheme == "http") {
    default_port = 80;
  } else if (out.scheme == "https") {
    default_port = 443;
  } else {
    return InvalidArgumentError("URL scheme is not http or https");
  }
  std::string_view rest = url.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (size_t hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgumentError("URL with credentials is refused");
  }
  if (authority.empty()) return InvalidArgumentError("URL has no host");
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgumentError("bad IPv6 host in URL");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgumentError("bad port in URL");
      port = after.substr(1);
    }
  } else if (size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.empty()) return InvalidArgumentError("URL has no host");
  out.host = ToLower(host);
  out.port = default_port;
  if (!port.empty()) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
      return InvalidArgumentError("bad port in URL");
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (tail.empty() || tail.front() == '?') {
    out.target.reserve(tail.size() + 1);
    out.target.push_back('/');
    out.target.append(tail);
  } else {
    out.target = std::string(tail);
  }
  return out;
}

std::string OriginOf(std::string_view url) {
  Result<ParsedUrl> p = ParseUrl(url);
  if (!p.ok()) return {};
  return p->scheme + "://" + p->host + ":" + std::to_string(p->port);
}

Result<std::string> ResolveReference(std::string_view base, std::string_view location) {
  if (location.empty()) return InvalidArgumentError("empty redirect location");
  std::string result;
  if (location.find("://") != std::string_view::npos &&
      location.find("://") < location.find_first_of("/?#")) {
    result = std::string(location);
  } else {
    HUBFS_ASSIGN_OR_RETURN(ParsedUrl b, ParseUrl(base));
    std::string origin = b.scheme + "://" + b.host + ":" + std::to_string(b.port);
    if (location.substr(0, 2) == "//") {
      result = b.scheme + ":" + std::string(location);
    } else if (location.front() == '/') {
      result = origin + std::string(location);
    } else {
      std::string path = b.target.substr(0, b.target.find('?'));
      path = path.substr(0, path.rfind('/') + 1);
      result = origin + path + std::string(location);
    }
  }
  HUBFS_ASSIGN_OR_RETURN(ParsedUrl checked, ParseUrl(result));
  (void)checked;
  return result;
}

std::string UrlForLog(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string EncodePath(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    out += PercentEncode(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return InvalidArgumentError("truncated percent escape");
    }
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("malformed percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace hubfs::hub
