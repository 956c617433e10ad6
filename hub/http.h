// The HTTP interface of hub/: our own request/response types and the
// abstract transport that upper layers (Hub client, CAS client) talk to.
// CurlTransport (curl_transport.h) is the real one; RetryingTransport
// (retry.h) adds backoff; tests use fakes or a loopback server.
#ifndef HUBFS_HUB_HTTP_H_
#define HUBFS_HUB_HTTP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hubfs::hub {

// An ordered list of header fields with case-insensitive lookup. Values are
// kept as received (leading/trailing whitespace trimmed).
class Headers {
 public:
  // Appends a field; a repeated name keeps every value.
  void Add(std::string name, std::string value);
  // Replaces every field named `name` by one with `value`.
  void Set(std::string_view name, std::string value);
  void Remove(std::string_view name);
  // The first value of `name`, or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const;
  // Every value of `name`, in order.
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  void Clear() { fields_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Case-insensitive ASCII comparison of header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

// An inclusive byte range, as in "Range: bytes=first-last".
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive; REQUIRES: last >= first
  uint64_t size() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// A bearer token bound to the one origin ("scheme://host:port") it may be
// sent to. The transport attaches "Authorization: Bearer <token>" only to a
// request (or redirect hop) whose URL has exactly this origin.
struct BearerAuth {
  std::string origin;  // as produced by OriginOf()
  std::string token;
};

// Receives a successful response body piece by piece, in order. Called on a
// transport thread; must not block for long and must not call the transport.
// A non-OK return aborts the transfer and becomes the request's error.
using BodySink = std::function<Status(std::string_view piece)>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE
  std::string url;             // absolute http(s) URL
  // Extra request headers. "Authorization" is refused here: use `auth`.
  Headers headers;
  std::string body;  // sent for POST/PUT when non-empty (or always for POST)

  // When non-empty: "Range: bytes=a-b[,c-d...]" plus "Accept-Encoding: identity".
  std::vector<ByteRange> ranges;

  std::optional<BearerAuth> auth;

  // Redirects are not followed by default (the 3xx comes back to the caller).
  // When > 0, GET/HEAD redirects are followed up to this many hops, and the
  // token is attached to a hop only when it goes to the token's origin.
  int max_redirects = 0;

  // Safe to send again after a network error or a 408/429/5xx. Set false for
  // commits and other non-idempotent POSTs.
  bool idempotent = true;

  // Bound on the response body (buffered or streamed). A larger body fails
  // the request with kResourceExhausted.
  uint64_t max_body_bytes = 16u << 20;

  // Unset: the transport's defaults.
  std::optional<std::chrono::milliseconds> connect_timeout;
  // Abort when no byte moves for this long (headers included).
  std::optional<std::chrono::milliseconds> stall_timeout;
  // Upper bound on one attempt, end to end. Unset: none beyond the stall timeout.
  std::optional<std::chrono::milliseconds> total_timeout;
  // When the whole operation must be done, retries included (a point of the
  // retrying transport's clock). Unset: the calling thread's ScopedDeadline
  // (common/deadline.h), else the retry policy's default bound.
  std::optional<Clock::TimePoint> deadline;

  // When set, a 2xx body goes to the sink instead of HttpResponse::body.
  // Error bodies (non-2xx) are always buffered (up to 64 KiB) for messages.
  BodySink body_sink;
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;         // empty when streamed to a sink
  uint64_t body_bytes = 0;  // bytes received (buffered or streamed)
  std::string url;          // the URL that produced this response (last hop)
};

// What a transfer showed of the origin, beyond its result.
struct TransferInfo {
  // The origin sent a status line: it is alive, even if the transfer then
  // failed (a reset or a body cut short). The retry layer's circuit
  // (hub/circuit.h) counts only failures without any answer.
  bool answered = false;
};

// Sends HTTP requests. Implementations are thread-safe: many threads may call
// Send() at once, and the transport bounds how many transfers run together.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // As Send, also filling `info`. The default knows only what the result
  // says (answered when it is a response).
  virtual Result<HttpResponse> SendAndObserve(const HttpRequest& request, TransferInfo* info) {
    Result<HttpResponse> result = Send(request);
    info->answered = result.ok();
    return result;
  }
  // Performs `request` and returns the response for any HTTP status (3xx,
  // 4xx and 5xx included; use StatusFromResponse to turn them into errors).
  // Errors (no HTTP response): kInvalidArgument (bad URL or header),
  // kUnavailable (connect/DNS/TLS/reset), kTimeout (connect or stall
  // timeout), kResourceExhausted (body over max_body_bytes), or whatever the
  // sink returned. Blocks the calling thread until done.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

// Maps an HTTP status to our code: 400 invalid argument, 401 unauthenticated,
// 403 permission denied, 404/410 not found, 408 timeout, 409 conflict, 412
// failed precondition, 416 out of range, 429 resource exhausted, 5xx
// unavailable; other 4xx invalid argument; anything else unavailable.
ErrorCode ErrorCodeForHttpStatus(int status);

// For a 2xx response returns OK. Otherwise an error with the mapped code, the
// HTTP status and X-Error-Code attached, and a message
// "<context>: HTTP <status> [<X-Error-Code>]: <server message> (request id ...)",
// where the server message comes from the JSON body ("error",
// "error_description", "errors[].message") or X-Error-Message, bounded in size.
Status StatusFromResponse(const HttpResponse& response, std::string_view context);

// Checks what every transport refuses: an Authorization header (use `auth`),
// CR/LF or ':' in header names, CR/LF in values or the token, an empty auth
// origin, inverted ranges, a method other than GET/HEAD/POST/PUT/DELETE.
// Errors: kInvalidArgument.
Status ValidateRequest(const HttpRequest& request);

// 301, 302, 303, 307, 308.
bool IsRedirectStatus(int status);

// True for 408, 429 and 5xx except 501 (not implemented) and 505.
bool IsRetryableHttpStatus(int status);

// "bytes a-b/total" or "bytes a-b/*" -> {a, b}. Errors: kCorrupt.
Result<ByteRange> ParseContentRange(std::string_view value);

// "bytes=a-b,c-d". REQUIRES: !ranges.empty()
std::string RangeHeaderValue(const std::vector<ByteRange>& ranges);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HTTP_H_
