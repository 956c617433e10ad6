// RetryingTransport: an HttpTransport decorator that retries idempotent
// requests on 408/429/5xx and on network errors, with exponential backoff and
// jitter, honouring the server's Retry-After (seconds or HTTP date) and
// RateLimit ("...;r=0;t=<s>") headers. Waits go through the injected Clock.
#ifndef HUBFS_HUB_RETRY_H_
#define HUBFS_HUB_RETRY_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include "common/clock.h"
#include "hub/http.h"

namespace hubfs::hub {

struct RetryPolicy {
  // Attempts in total, the first included. 1 disables retries.
  int max_attempts = 5;
  // Wait before retry k (k = 0, 1, ...) is initial_backoff * 2^k capped at
  // max_backoff, then scaled by a random factor in [1 - jitter, 1].
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{8000};
  double jitter = 0.5;
  // A server asking for a longer wait than this (Retry-After, RateLimit)
  // is not retried: the 429/503 goes back to the caller at once.
  std::chrono::milliseconds max_server_wait{60'000};
  uint64_t seed = 0x6875626673;  // "hubfs"
};

class RetryingTransport final : public HttpTransport {
 public:
  // `inner` and `clock` must outlive this object.
  RetryingTransport(HttpTransport* inner, Clock* clock, RetryPolicy policy);

  // Thread-safe. Retries only when request.idempotent; a streamed request is
  // not retried once its sink has received a byte (the caller resumes with a
  // Range). Returns the last response or error when attempts run out.
  Result<HttpResponse> Send(const HttpRequest& request) override;

 private:
  std::chrono::milliseconds Backoff(int retry_index);

  HttpTransport* const inner_;
  Clock* const clock_;
  const RetryPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 rng_;  // GUARDED_BY(mu_)
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
