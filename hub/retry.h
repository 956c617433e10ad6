// RetryingTransport: an HttpTransport decorator that retries idempotent
// requests on 408/429/5xx and on network errors, with jittered exponential
// backoff, until the operation's deadline (HttpRequest::deadline, else the
// thread's ScopedDeadline, else the policy's default bound), honouring the
// server's Retry-After (seconds or HTTP date) and RateLimit
// ("...;r=0;t=<s>") headers when the wait fits before the deadline. A
// per-origin CircuitBreaker (circuit.h) makes requests to an origin that
// stopped answering fail at once. Waits go through the injected Clock.
#ifndef HUBFS_HUB_RETRY_H_
#define HUBFS_HUB_RETRY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "common/clock.h"
#include "common/mutex.h"
#include "hub/circuit.h"
#include "hub/http.h"

namespace hubfs::hub {

struct RetryPolicy {
  // The bound of an operation with no deadline of its own, from its first
  // attempt: commands, mount set-up, read-ahead, uploads.
  std::chrono::milliseconds default_deadline{60'000};
  // Attempts in total, the first included, on top of the deadline; 0 = no
  // bound but the deadline, 1 disables retries.
  int max_attempts = 0;
  // Wait before retry k (k = 0, 1, ...) is initial_backoff * 2^k capped at
  // max_backoff (the cap on a single wait), then scaled by a random factor
  // in [1 - jitter, 1]. A wait that would end past the deadline is not
  // waited: the last answer or error goes back at once.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{2000};
  double jitter = 0.5;
  // A server asking for a longer wait than this (Retry-After, RateLimit),
  // or for one that ends past the deadline, is not retried: the 429/503
  // goes back to the caller at once.
  std::chrono::milliseconds max_server_wait{60'000};
  // With a deadline from the request or the thread's scope, an attempt
  // started with less than this left gets the rest as its total timeout,
  // so that the last attempt ends by the deadline.
  std::chrono::milliseconds attempt_timeout{10'000};
  CircuitOptions circuit;
  uint64_t seed = 0x6875626673;  // "hubfs"
};

class RetryingTransport final : public HttpTransport {
 public:
  // `inner` and `clock` must outlive this object.
  RetryingTransport(HttpTransport* inner, Clock* clock, RetryPolicy policy);

  // Thread-safe. Retries only when request.idempotent; a streamed request is
  // not retried once its sink has received a byte (the caller resumes with a
  // Range). Returns the last response or error when the deadline (or
  // max_attempts) leaves no room for another attempt. Errors, besides the
  // inner transport's: kUnavailable at once while the origin's circuit is
  // open; kTimeout when the deadline passed before the first attempt.
  Result<HttpResponse> Send(const HttpRequest& request) override;

  CircuitBreaker& circuit() { return circuit_; }

 private:
  std::chrono::milliseconds Backoff(int retry_index) EXCLUDES(mu_);
  // Sends one attempt and tells the circuit what came of it.
  Result<HttpResponse> Attempt(const HttpRequest& request, const CircuitBreaker::Ticket& ticket,
                               const bool& delivered);

  HttpTransport* const inner_;
  Clock* const clock_;
  const RetryPolicy policy_;
  CircuitBreaker circuit_;
  Mutex mu_;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

// Seconds to wait from a Retry-After value: delta-seconds, or an HTTP date
// (IMF-fixdate, e.g. "Wed, 21 Oct 2026 07:28:00 GMT") relative to
// `now_unix`. nullopt when malformed. A date in the past gives 0.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_unix);

// From a RateLimit header ("\"api\";r=0;t=55", possibly several items):
// seconds until the window resets when some item has r=0, else nullopt.
std::optional<int64_t> ParseRateLimitWait(std::string_view value);

// True for errors worth another attempt: kUnavailable and kTimeout.
bool IsRetryableError(const Status& status);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_RETRY_H_
