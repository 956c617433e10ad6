// CircuitBreaker: notices a dead origin so that callers fail at once instead
// of each retrying until its deadline. Per origin ("scheme://host:port"):
//
//   closed     requests go ahead. An attempt that got no answer at all (no
//              status line: refused, reset or timed out before one)
//              counts as a failure; any answer (whatever its status, also
//              one whose body was then cut) resets the count. After
//              `failures_to_open` failures in a row while the origin has not
//              answered for `quiet_window` (counted from the first attempt
//              when it never answered), the circuit opens.
//   open       every request fails at once with kUnavailable, for `cool_down`.
//   half-open  after the cool-down one request (the probe) goes ahead, the
//              others still fail at once; an answer closes the circuit, a
//              failure opens it for another cool-down.
//
// Only an origin that stopped answering trips it: a storm of 5xx, resets
// after the headers and cut bodies does not, and the quiet window keeps a
// burst of failures right after an answer (a dropped connection pool) from
// doing so.
// Thread-safe.
#ifndef HUBFS_HUB_CIRCUIT_H_
#define HUBFS_HUB_CIRCUIT_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace hubfs::hub {

struct CircuitOptions {
  // 0 disables the circuit.
  int failures_to_open = 3;
  std::chrono::milliseconds quiet_window{1'000};
  std::chrono::milliseconds cool_down{2'000};
};

class CircuitBreaker {
 public:
  // `clock` must outlive the object.
  CircuitBreaker(Clock* clock, CircuitOptions options);

  // What an admitted attempt must report back (exactly one of the three).
  struct Ticket {
    std::string origin;
    bool probe = false;
  };

  // OK: go ahead, then report through OnAnswer, OnFailure or OnOther.
  // Errors: kUnavailable when the circuit of `origin` is open (or half-open
  // with its probe in flight), naming the origin and the last failure.
  Result<Ticket> Admit(const std::string& origin) EXCLUDES(mu_);
  // The origin answered (any HTTP status, or body bytes arrived).
  void OnAnswer(const Ticket& ticket) EXCLUDES(mu_);
  // No answer: `why` is the failure, kept for the fail-fast message.
  void OnFailure(const Ticket& ticket, const Status& why) EXCLUDES(mu_);
  // An outcome that says nothing about the origin (e.g. the caller's sink
  // refused the body): frees the probe slot.
  void OnOther(const Ticket& ticket) EXCLUDES(mu_);

  // True while `origin`'s circuit is open or half-open. For tests and status.
  bool IsOpen(const std::string& origin) const EXCLUDES(mu_);

 private:
  struct State {
    int failures = 0;
    // The last answer, or the first attempt when none came yet (an origin
    // first contacted during an outage gets the same quiet window).
    Clock::TimePoint last_answer;
    std::optional<Clock::TimePoint> open_until;
    bool probe_in_flight = false;
    std::string last_error;
  };

  Clock* const clock_;
  const CircuitOptions options_;
  mutable Mutex mu_;
  std::map<std::string, State> origins_ GUARDED_BY(mu_);
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_CIRCUIT_H_
