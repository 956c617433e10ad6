#include "hub/retry.h"

#include <charconv>
#include <ctime>
#include <string>

#include "common/deadline.h"
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
    : inner_(inner),
      clock_(clock),
      policy_(policy),
      circuit_(clock, policy.circuit),
      rng_(policy.seed) {}

std::chrono::milliseconds RetryingTransport::Backoff(int retry_index) {
  int64_t base = policy_.initial_backoff.count();
  for (int i = 0; i < retry_index && base < policy_.max_backoff.count(); ++i) base *= 2;
  base = std::min<int64_t>(base, policy_.max_backoff.count());
  double factor;
  {
    MutexLock lock(&mu_);
    std::uniform_real_distribution<double> dist(1.0 - policy_.jitter, 1.0);
    factor = dist(rng_);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base) * factor));
}

Result<HttpResponse> RetryingTransport::Attempt(const HttpRequest& request,
                                                const CircuitBreaker::Ticket& ticket,
                                                const bool& delivered) {
  TransferInfo info;
  Result<HttpResponse> result = inner_->SendAndObserve(request, &info);
  if (result.ok() || delivered || info.answered) {
    circuit_.OnAnswer(ticket);
  } else if (IsRetryableError(result.status())) {
    circuit_.OnFailure(ticket, result.status());
  } else {
    circuit_.OnOther(ticket);
  }
  return result;
}

namespace {

// The server's requested wait of a retryable answer, in seconds.
std::optional<int64_t> ServerWait(const HttpResponse& response, int64_t now_unix) {
  std::optional<int64_t> wait;
  if (auto rl = response.headers.Get("RateLimit")) {
    if (auto w = ParseRateLimitWait(*rl)) wait = *w + 1;
  }
  if (auto ra = response.headers.Get("Retry-After")) {
    if (auto w = ParseRetryAfter(*ra, now_unix)) wait = std::max(wait.value_or(0), *w);
  }
  return wait;
}

int64_t MillisUntil(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace

Result<HttpResponse> RetryingTransport::Send(const HttpRequest& request) {
  using std::chrono::milliseconds;
  const Clock::TimePoint start = clock_->Now();
  std::optional<Clock::TimePoint> bound = request.deadline;
  if (auto scoped = ScopedDeadline::Current()) bound = std::min(bound.value_or(*scoped), *scoped);
  const Clock::TimePoint deadline = bound.value_or(start + policy_.default_deadline);
  const std::string what = request.method + " " + UrlForLog(request.url);
  if (bound && start >= deadline) {
    return Status(ErrorCode::kTimeout, what + ": the operation's deadline passed before it was sent");
  }
  // Wraps the sink to learn whether bytes were delivered. Only then, or to
  // bound the last attempt, is the request copied (a streamed GET has no
  // body; an upload's may be 64 MiB).
  std::optional<HttpRequest> copy;
  bool delivered = false;
  if (request.body_sink) {
    copy = request;
    copy->body_sink = [&delivered, &request](std::string_view piece) {
      delivered = true;
      return request.body_sink(piece);
    };
  }
  const std::string origin = OriginOf(request.url);
  for (int attempt = 1;; ++attempt) {
    Result<CircuitBreaker::Ticket> ticket = circuit_.Admit(origin);
    if (!ticket.ok()) return ticket.status().WithContext(what);
    const milliseconds left(MillisUntil(clock_->Now(), deadline));
    if (bound && left < policy_.attempt_timeout &&
        (!request.total_timeout || *request.total_timeout > left)) {
      if (!copy) copy = request;
      copy->total_timeout = std::max(left, milliseconds(1));
    }
    Result<HttpResponse> result = Attempt(copy ? *copy : request, *ticket, delivered);
    bool retryable;
    std::optional<int64_t> server_wait_s;
    if (result.ok()) {
      retryable = IsRetryableHttpStatus(result->status);
      if (retryable) server_wait_s = ServerWait(*result, clock_->UnixSeconds());
    } else {
      retryable = IsRetryableError(result.status());
    }
    if (!retryable || !request.idempotent || delivered) return result;
    if (policy_.max_attempts > 0 && attempt >= policy_.max_attempts) return result;
    milliseconds wait = Backoff(attempt - 1);
    if (server_wait_s) {
      const milliseconds server_wait = std::chrono::seconds(*server_wait_s);
      if (server_wait > policy_.max_server_wait) return result;
      wait = std::max(wait, server_wait);
    }
    const std::string outcome = result.ok() ? what + ": HTTP " + std::to_string(result->status)
                                            : result.status().message();
    const int64_t left_ms = MillisUntil(clock_->Now(), deadline);
    if (wait.count() >= left_ms) {
      HUBFS_LOG(kInfo) << outcome << "; no retry: a wait of " << wait.count()
                       << " ms would pass the deadline (" << left_ms << " ms left)";
      return result;
    }
    HUBFS_LOG(kInfo) << outcome << "; retry " << attempt << " in " << wait.count() << " ms ("
                     << left_ms << " ms to the deadline)";
    clock_->SleepFor(wait);
  }
}

}  // namespace hubfs::hub
