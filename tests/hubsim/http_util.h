// HTTP plumbing shared by the three listeners: JSON and error responses with
// X-Error-Code, Status → HTTP mapping, bearer tokens, origins built from the
// Host header, raw-path splitting, and taking Range handling away from
// cpp-httplib (which would otherwise slice bodies itself).
#ifndef HUBFS_TESTS_HUBSIM_HTTP_UTIL_H_
#define HUBFS_TESTS_HUBSIM_HTTP_UTIL_H_

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubfs::hubsim {

// "application/json; charset=utf-8": JS parses error JSON only when the type
// starts with application/json; the parameter keeps cpp-httplib from gzipping.
inline constexpr const char* kJsonType = "application/json; charset=utf-8";

void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": message} with X-Error-Code (when non-empty) and X-Error-Message.
void SendError(httplib::Response& res, int status, std::string_view code, std::string_view message);
// Maps a Status to its HTTP status (st.http_status() when set) and error code.
void SendStatus(httplib::Response& res, const Status& st);
int HttpStatusOf(const Status& st);

// The bearer token of the request, or empty.
std::string BearerToken(const httplib::Request& req);

// The Range header value, if present, and stops cpp-httplib from applying
// ranges to the response: every handler that honours Range does so itself.
std::optional<std::string> TakeRange(const httplib::Request& req);

// "http://HOST:PORT" for the listener on `port`, HOST taken from the request's
// Host header when it is a plain host name or address, else `fallback_host`.
std::string OriginFor(const httplib::Request& req, int port, const std::string& fallback_host);

// The request target's path split on literal '/' (not decoded), without the
// leading empty segment; the query is dropped.
std::vector<std::string> RawSegments(const httplib::Request& req);

// A parsed byte range list: inclusive [first, last] pairs, or a suffix.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};
// Parses "bytes=a-b[,c-d...]" against a resource of `size` bytes (a-, -n
// forms allowed). Returns nullopt when malformed; sets *unsatisfiable when a
// range starts at or past `size`. At most `max_ranges` ranges.
std::optional<std::vector<ByteRange>> ParseByteRanges(std::string_view value, uint64_t size,
                                                      bool* unsatisfiable, size_t max_ranges = 64);

// Parses a JSON body (no exceptions). nullopt when malformed or too deep.
std::optional<nlohmann::json> ParseJsonBody(std::string_view body);

// Boolean query flag: "1", "true", "True", "yes".
bool QueryFlag(const httplib::Request& req, const std::string& name);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_HTTP_UTIL_H_
