#include "hub/circuit.h"

#include "common/log.h"

namespace hubfs::hub {
namespace {

int64_t Millis(Clock::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

CircuitBreaker::CircuitBreaker(Clock* clock, CircuitOptions options)
    : clock_(clock), options_(options) {}

Result<CircuitBreaker::Ticket> CircuitBreaker::Admit(const std::string& origin) {
  Ticket ticket{origin, false};
  if (options_.failures_to_open <= 0) return ticket;
  MutexLock lock(&mu_);
  auto it = origins_.find(origin);
  if (it == origins_.end()) {
    origins_[origin].last_answer = clock_->Now();
    return ticket;
  }
  if (!it->second.open_until) return ticket;
  State& s = it->second;
  const Clock::TimePoint now = clock_->Now();
  if (now >= *s.open_until && !s.probe_in_flight) {
    s.probe_in_flight = true;  // half-open: this caller finds out
    ticket.probe = true;
    return ticket;
  }
  std::string when = now < *s.open_until
                         ? "for another " + std::to_string(Millis(*s.open_until - now)) + " ms"
                         : "until a probe in flight answers";
  return UnavailableError(origin + " is not answering (" + std::to_string(s.failures) +
                          " attempts in a row failed; last: " + s.last_error +
                          "); failing fast " + when);
}

void CircuitBreaker::OnAnswer(const Ticket& ticket) {
  if (options_.failures_to_open <= 0) return;
  MutexLock lock(&mu_);
  State& s = origins_[ticket.origin];
  if (s.open_until) {
    HUBFS_LOG(kInfo) << ticket.origin << " answers again";
  }
  s.failures = 0;
  s.last_answer = clock_->Now();
  s.open_until.reset();
  s.probe_in_flight = false;
}

void CircuitBreaker::OnFailure(const Ticket& ticket, const Status& why) {
  if (options_.failures_to_open <= 0) return;
  MutexLock lock(&mu_);
  State& s = origins_[ticket.origin];
  const Clock::TimePoint now = clock_->Now();
  ++s.failures;
  s.last_error = why.message();
  if (ticket.probe) {
    s.probe_in_flight = false;
    s.open_until = now + options_.cool_down;
    return;
  }
  if (s.open_until || s.failures < options_.failures_to_open) return;
  if (now - s.last_answer < options_.quiet_window) return;
  s.open_until = now + options_.cool_down;
  HUBFS_LOG(kWarning) << ticket.origin << " is not answering (" << s.failures
                      << " attempts in a row failed; last: " << s.last_error
                      << "); requests to it fail at once for " << options_.cool_down.count()
                      << " ms, then one probe is let through";
}

void CircuitBreaker::OnOther(const Ticket& ticket) {
  if (options_.failures_to_open <= 0 || !ticket.probe) return;
  MutexLock lock(&mu_);
  origins_[ticket.origin].probe_in_flight = false;
}

bool CircuitBreaker::IsOpen(const std::string& origin) const {
  MutexLock lock(&mu_);
  auto it = origins_.find(origin);
  return it != origins_.end() && it->second.open_until.has_value();
}

}  // namespace hubfs::hub
