#include "hub/retry.h"

#include <charconv>
#include <ctime>
#include <string>

#include "common/log.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  s = TrimWs(s);
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<int64_t> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  s = TrimWs(s);
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") return std::nullopt;
  auto num = [&](size_t pos, size_t len) { return ParseInt(s.substr(pos, len)); };
  auto day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  if (!day || !year || !hh || !mm || !ss || s[19] != ':' || s[22] != ':') return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i;
  }
  if (month < 0 || *day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = static_cast<int>(*year) - 1900;
  tm.tm_mon = month;
  tm.tm_mday = static_cast<int>(*day);
  tm.tm_hour = static_cast<int>(*hh);
  tm.tm_min = static_cast<int>(*mm);
  tm.tm_sec = static_cast<int>(*ss);
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_unix) {
  if (auto secs = ParseInt(value)) return secs;
  if (auto when = ParseHttpDate(value)) return *when > now_unix ? *when - now_unix : 0;
  return std::nullopt;
}

std::optional<int64_t> ParseRateLimitWait(std::string_view value) {
  std::optional<int64_t> wait;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string_view item =
        value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
    std::optional<int64_t> r, t;
    size_t p = 0;
    while (p <= item.size()) {
      size_t semi = item.find(';', p);
      std::string_view param =
          TrimWs(item.substr(p, semi == std::string_view::npos ? item.npos : semi - p));
      if (param.substr(0, 2) == "r=") r = ParseInt(param.substr(2));
      if (param.substr(0, 2) == "t=") t = ParseInt(param.substr(2));
      if (semi == std::string_view::npos) break;
      p = semi + 1;
    }
    if (r && *r == 0 && t) wait = std::max(wait.value_or(0), *t);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return wait;
}

bool IsRetryableError(const Status& status) {
  return status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kTimeout;
}

RetryingTransport::RetryingTransport(HttpTransport* inner, Clock* clock, RetryPolicy policy)
    : inner_(inner), clock_(clock), policy_(policy), rng_(policy.seed) {}

std::chrono::milliseconds RetryingTransport::Backoff(int retry_index) {
  int64_t base = policy_.initial_backoff.count();
  for (int i = 0; i < retry_index && base < policy_.max_backoff.count(); ++i) base *= 2;
  base = std::min<int64_t>(base, policy_.max_backoff.count());
  double factor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::uniform_real_distribution<double> dist(1.0 - policy_.jitter, 1.0);
    factor = dist(rng_);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base) * factor));
}

Result<HttpResponse> RetryingTransport::Send(const HttpRequest& request) {
  // Wraps the sink to learn whether bytes were delivered. Only then is the
  // request copied (a streamed GET has no body; an upload's may be 64 MiB).
  std::optional<HttpRequest> wrapped;
  bool delivered = false;
  if (request.body_sink) {
    wrapped = request;
    wrapped->body_sink = [&delivered, &request](std::string_view piece) {
      delivered = true;
      return request.body_sink(piece);
    };
  }
  const HttpRequest& attempt_request = wrapped ? *wrapped : request;
  const int attempts = std::max(1, policy_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Result<HttpResponse> result = inner_->Send(attempt_request);
    bool retryable;
    std::chrono::milliseconds wait{0};
    std::optional<int64_t> server_wait_s;
    if (result.ok()) {
      retryable = IsRetryableHttpStatus(result->status);
      if (retryable) {
        if (auto rl = result->headers.Get("RateLimit")) {
          if (auto w = ParseRateLimitWait(*rl)) server_wait_s = *w + 1;
        }
        if (auto ra = result->headers.Get("Retry-After")) {
          if (auto w = ParseRetryAfter(*ra, clock_->UnixSeconds())) {
            server_wait_s = std::max(server_wait_s.value_or(0), *w);
          }
        }
      }
    } else {
      retryable = IsRetryableError(result.status());
    }
    if (!retryable || !request.idempotent || delivered || attempt >= attempts) return result;
    wait = Backoff(attempt - 1);
    if (server_wait_s) {
      std::chrono::milliseconds server_wait = std::chrono::seconds(*server_wait_s);
      if (server_wait > policy_.max_server_wait) return result;
      wait = std::max(wait, server_wait);
    }
    HUBFS_LOG(kInfo) << (result.ok() ? request.method + " " + UrlForLog(request.url) + ": HTTP " +
                                           std::to_string(result->status)
                                     : result.status().message())
                     << "; retry " << attempt << "/" << (attempts - 1) << " in " << wait.count()
                     << " ms";
    clock_->SleepFor(wait);
  }
}

}  // namespace hubfs::hub
