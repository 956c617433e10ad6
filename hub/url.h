// URL helpers for hub/: parsing just enough of an absolute http(s) URL to
// compare origins, resolving redirect targets, percent-encoding, and
// stripping query strings before a URL is logged.
#ifndef HUBFS_HUB_URL_H_
#define HUBFS_HUB_URL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::hub {

// The parts of an absolute http or https URL.
struct ParsedUrl {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // lowercase; IPv6 literals keep their brackets
  uint16_t port = 0;   // explicit or the scheme's default
  std::string target;  // path + query, starting with '/' ("/" when empty)
};

// Parses an absolute http(s) URL. Rejects other schemes, userinfo
// ("user@host"), fragments are dropped, control characters and spaces are
// refused. Errors: kInvalidArgument.
Result<ParsedUrl> ParseUrl(std::string_view url);

// "scheme://host:port" with the port always explicit, so that
// "https://h" and "https://h:443" compare equal. Empty on a malformed URL,
// which never equals a valid origin.
std::string OriginOf(std::string_view url);

// Resolves a Location header value against the URL it came from: absolute
// URLs are taken as they are, "//host/..." keeps the scheme, "/path" keeps
// the origin, anything else replaces the last path segment.
// Errors: kInvalidArgument when the result is not an http(s) URL.
Result<std::string> ResolveReference(std::string_view base, std::string_view location);

// The URL without its query string and fragment, for log lines: presigned
// data URLs carry signatures in the query.
std::string UrlForLog(std::string_view url);

// Percent-encodes everything except RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~), '/' included — encodeURIComponent minus its
// extra exceptions. Used for revisions and single path segments.
std::string PercentEncode(std::string_view s);

// Encodes each '/'-separated segment of a repo path with PercentEncode and
// keeps the slashes literal ("a b/c#d" -> "a%20b/c%23d").
std::string EncodePath(std::string_view path);

// Decodes %XX escapes. Errors: kInvalidArgument on a malformed escape.
Result<std::string> PercentDecode(std::string_view s);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_URL_H_
