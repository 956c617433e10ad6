// Retries bounded by a deadline, and the per-origin circuit: a dead server
// fails at the deadline (or at once once its circuit is open), a flaky one
// succeeds, a server's wait is honoured only when it fits.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "common/deadline.h"
#include "hub/circuit.h"
#include "hub/fake_transport.h"
#include "hub/retry.h"
#include "tests/unit/hub/test_clock.h"

namespace hubfs::hub {
namespace {

using namespace std::chrono_literals;
using testing::SteppingClock;

constexpr char kUrl[] = "http://hub.test:8080/api/x";
constexpr char kOrigin[] = "http://hub.test:8080";

HttpResponse Answer(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  for (auto& [n, v] : headers) r.headers.Add(n, v);
  return r;
}

RetryPolicy Policy(bool circuit) {
  RetryPolicy p;
  p.default_deadline = 60s;
  p.initial_backoff = 200ms;
  p.max_backoff = 2s;
  p.attempt_timeout = 3s;
  p.circuit.failures_to_open = circuit ? 3 : 0;
  p.circuit.quiet_window = 0s;  // CircuitTest covers the window
  p.circuit.cool_down = 5s;
  return p;
}

// Sees each attempt as sent (total_timeout included), which the fake
// transport's recording leaves out.
class Probe final : public HttpTransport {
 public:
  explicit Probe(HttpTransport* inner) : inner_(inner) {}
  Result<HttpResponse> Send(const HttpRequest& request) override {
    total_timeouts.push_back(request.total_timeout);
    return inner_->Send(request);
  }
  std::vector<std::optional<std::chrono::milliseconds>> total_timeouts;

 private:
  HttpTransport* inner_;
};

HttpRequest Get() {
  HttpRequest r;
  r.url = kUrl;
  return r;
}

TEST(RetryDeadlineTest, DeadServerFailsAtTheThreadsDeadline) {
  SteppingClock clock;
  FakeHttpTransport dead(
      [](const RecordedRequest&) -> Result<HttpResponse> { return UnavailableError("refused"); });
  RetryingTransport t(&dead, &clock, Policy(false));
  const Clock::TimePoint start = clock.Now();
  ScopedDeadline scope(start + 10s);
  auto r = t.Send(Get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
  const auto spent = clock.Now() - start;
  EXPECT_LE(spent, 10s);
  EXPECT_GE(spent, 10s - 2s);  // gave up only when the next wait did not fit
  EXPECT_GE(dead.requests().size(), 6u);
  for (auto s : clock.sleeps()) EXPECT_LE(s, 2000ms);
}

TEST(RetryDeadlineTest, WithoutADeadlineThePolicyDefaultBounds) {
  SteppingClock clock;
  FakeHttpTransport dead(
      [](const RecordedRequest&) -> Result<HttpResponse> { return Answer(503); });
  RetryPolicy p = Policy(false);
  p.default_deadline = 7s;
  RetryingTransport t(&dead, &clock, p);
  const Clock::TimePoint start = clock.Now();
  auto r = t.Send(Get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_LE(clock.Now() - start, 7s);
  EXPECT_GE(clock.Now() - start, 5s);
}

TEST(RetryDeadlineTest, FlakyServerSucceedsWithinTheDeadline) {
  SteppingClock clock;
  int n = 0;
  FakeHttpTransport flaky([&](const RecordedRequest&) -> Result<HttpResponse> {
    ++n;
    if (n > 12) return Answer(200);
    if (n % 2 == 0) return UnavailableError("Transferred a partial file");
    return Answer(n % 3 == 0 ? 429 : 500);
  });
  RetryingTransport t(&flaky, &clock, Policy(true));
  ScopedDeadline scope(clock.Now() + 30s);
  auto r = t.Send(Get());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(n, 13);  // far more than a fixed count of three would allow
  EXPECT_FALSE(t.circuit().IsOpen(kOrigin));
}

TEST(RetryDeadlineTest, TheLastAttemptEndsByTheDeadline) {
  SteppingClock clock;
  FakeHttpTransport stalled([&](const RecordedRequest&) -> Result<HttpResponse> {
    clock.Advance(3s);  // each attempt times out after its 3 s
    return Status(ErrorCode::kTimeout, "stalled");
  });
  Probe probe(&stalled);
  RetryingTransport t(&probe, &clock, Policy(false));
  HttpRequest req = Get();
  req.deadline = clock.Now() + 8s;
  auto r = t.Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
  ASSERT_GE(probe.total_timeouts.size(), 2u);
  EXPECT_FALSE(probe.total_timeouts[0].has_value());  // 8 s left: no cap
  ASSERT_TRUE(probe.total_timeouts.back().has_value());
  EXPECT_LT(*probe.total_timeouts.back(), 3s);
}

TEST(RetryDeadlineTest, APassedDeadlineSendsNothing) {
  SteppingClock clock;
  FakeHttpTransport ok([](const RecordedRequest&) -> Result<HttpResponse> { return Answer(200); });
  RetryingTransport t(&ok, &clock, Policy(false));
  clock.Advance(1s);
  ScopedDeadline scope(clock.Now() - 1ms);
  auto r = t.Send(Get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
  EXPECT_TRUE(ok.requests().empty());
}

TEST(RetryDeadlineTest, RetryAfterInsideTheDeadlineIsWaited) {
  SteppingClock clock;
  int n = 0;
  FakeHttpTransport limited([&](const RecordedRequest&) -> Result<HttpResponse> {
    return ++n == 1 ? Answer(429, {{"Retry-After", "4"}}) : Answer(200);
  });
  RetryingTransport t(&limited, &clock, Policy(true));
  ScopedDeadline scope(clock.Now() + 10s);
  auto r = t.Send(Get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(clock.sleeps()[0], 4000ms);
}

TEST(RetryDeadlineTest, RetryAfterBeyondTheDeadlineAnswersAtOnce) {
  SteppingClock clock;
  FakeHttpTransport limited([&](const RecordedRequest&) -> Result<HttpResponse> {
    return Answer(429, {{"Retry-After", "20"}});
  });
  RetryingTransport t(&limited, &clock, Policy(true));
  ScopedDeadline scope(clock.Now() + 10s);
  auto r = t.Send(Get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(limited.requests().size(), 1u);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(RetryDeadlineTest, CircuitOpensFailsFastHalfOpensAndCloses) {
  SteppingClock clock;
  bool up = false;
  FakeHttpTransport origin([&](const RecordedRequest&) -> Result<HttpResponse> {
    if (!up) return UnavailableError("Couldn't connect to server");
    return Answer(200);
  });
  RetryingTransport t(&origin, &clock, Policy(true));
  // Three attempts without an answer open the circuit; the first caller
  // learns it without waiting out its 30 s.
  {
    ScopedDeadline scope(clock.Now() + 30s);
    const Clock::TimePoint start = clock.Now();
    auto r = t.Send(Get());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
    EXPECT_NE(r.status().message().find("not answering"), std::string::npos) << r.status();
    EXPECT_EQ(origin.requests().size(), 3u);
    EXPECT_LT(clock.Now() - start, 2s);
  }
  EXPECT_TRUE(t.circuit().IsOpen(kOrigin));
  // Open: the next caller fails at once, sending nothing.
  size_t sleeps = clock.sleeps().size();
  auto fast = t.Send(Get());
  ASSERT_FALSE(fast.ok());
  EXPECT_EQ(fast.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(fast.status().message().find("Couldn't connect"), std::string::npos);
  EXPECT_EQ(origin.requests().size(), 3u);
  EXPECT_EQ(clock.sleeps().size(), sleeps);
  // After the cool-down one probe goes; it fails, so the circuit opens again.
  clock.Advance(5s);
  {
    ScopedDeadline scope(clock.Now() + 1s);
    EXPECT_FALSE(t.Send(Get()).ok());
  }
  EXPECT_EQ(origin.requests().size(), 4u);
  EXPECT_FALSE(t.Send(Get()).ok());
  EXPECT_EQ(origin.requests().size(), 4u);
  // The origin is back: the next probe's answer closes the circuit.
  up = true;
  clock.Advance(5s);
  auto probe = t.Send(Get());
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_FALSE(t.circuit().IsOpen(kOrigin));
  EXPECT_TRUE(t.Send(Get()).ok());
  EXPECT_EQ(origin.requests().size(), 6u);
}

TEST(RetryDeadlineTest, OtherOriginsAreNotAffected) {
  SteppingClock clock;
  FakeHttpTransport mixed([&](const RecordedRequest& r) -> Result<HttpResponse> {
    if (r.url.find("dead.test") != std::string::npos) return UnavailableError("refused");
    return Answer(200);
  });
  RetryingTransport t(&mixed, &clock, Policy(true));
  HttpRequest dead;
  dead.url = "http://dead.test/x";
  EXPECT_FALSE(t.Send(dead).ok());
  EXPECT_TRUE(t.circuit().IsOpen("http://dead.test:80"));
  auto r = t.Send(Get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

// A reset after the status line (or a body cut short) shows the origin is
// alive: however many in a row, the circuit stays closed.
class ResetAfterHeaders final : public HttpTransport {
 public:
  Result<HttpResponse> Send(const HttpRequest&) override {
    ++calls;
    return UnavailableError("Transferred a partial file");
  }
  Result<HttpResponse> SendAndObserve(const HttpRequest& request, TransferInfo* info) override {
    info->answered = true;
    return Send(request);
  }
  int calls = 0;
};

TEST(RetryDeadlineTest, FailuresAfterAnAnswerDoNotOpenTheCircuit) {
  SteppingClock clock;
  ResetAfterHeaders cut;
  RetryingTransport t(&cut, &clock, Policy(true));
  ScopedDeadline scope(clock.Now() + 20s);
  EXPECT_FALSE(t.Send(Get()).ok());
  EXPECT_GT(cut.calls, 5);  // retried to the deadline, not cut off by the circuit
  EXPECT_FALSE(t.circuit().IsOpen(kOrigin));
}

TEST(CircuitTest, OneProbeAtATimeWhenHalfOpen) {
  SteppingClock clock;
  CircuitBreaker c(&clock, {.failures_to_open = 2, .quiet_window = 0s, .cool_down = 5s});
  for (int i = 0; i < 2; ++i) {
    auto t = c.Admit(kOrigin);
    ASSERT_TRUE(t.ok());
    c.OnFailure(*t, UnavailableError("refused"));
  }
  EXPECT_FALSE(c.Admit(kOrigin).ok());
  clock.Advance(5s);
  auto probe = c.Admit(kOrigin);
  ASSERT_TRUE(probe.ok());
  EXPECT_TRUE(probe->probe);
  auto second = c.Admit(kOrigin);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("probe"), std::string::npos);
  // A probe whose outcome says nothing about the origin frees the slot.
  c.OnOther(*probe);
  auto again = c.Admit(kOrigin);
  ASSERT_TRUE(again.ok());
  c.OnAnswer(*again);
  auto closed = c.Admit(kOrigin);
  ASSERT_TRUE(closed.ok());
  EXPECT_FALSE(closed->probe);
}

// Failures among recent answers (a storm of resets) never open the circuit.
TEST(CircuitTest, AnOriginThatStillAnswersStaysClosed) {
  SteppingClock clock;
  CircuitBreaker c(&clock, {.failures_to_open = 3, .quiet_window = 5s, .cool_down = 5s});
  for (int round = 0; round < 20; ++round) {
    auto t = c.Admit(kOrigin);
    ASSERT_TRUE(t.ok()) << round;
    c.OnAnswer(*t);
    for (int i = 0; i < 6; ++i) {
      clock.Advance(500ms);
      auto f = c.Admit(kOrigin);
      ASSERT_TRUE(f.ok()) << round << " " << i;
      c.OnFailure(*f, UnavailableError("Connection reset by peer"));
    }
  }
  EXPECT_FALSE(c.IsOpen(kOrigin));
  // Once it has been quiet for the window, the failures open it.
  clock.Advance(5s);
  auto t = c.Admit(kOrigin);
  ASSERT_TRUE(t.ok());
  c.OnFailure(*t, UnavailableError("refused"));
  EXPECT_TRUE(c.IsOpen(kOrigin));
}

// An origin first contacted during an outage (or a restart) gets the quiet
// window from its first attempt before the circuit opens.
TEST(CircuitTest, ANewOriginGetsTheQuietWindowFromItsFirstAttempt) {
  SteppingClock clock;
  CircuitBreaker c(&clock, {.failures_to_open = 3, .quiet_window = 5s, .cool_down = 2s});
  for (int i = 0; i < 8; ++i) {
    auto t = c.Admit(kOrigin);
    ASSERT_TRUE(t.ok()) << i;
    c.OnFailure(*t, UnavailableError("refused"));
    clock.Advance(500ms);
  }
  EXPECT_FALSE(c.IsOpen(kOrigin));  // 4 s since the first attempt
  clock.Advance(1s);
  auto t = c.Admit(kOrigin);
  ASSERT_TRUE(t.ok());
  c.OnFailure(*t, UnavailableError("refused"));
  EXPECT_TRUE(c.IsOpen(kOrigin));
}

TEST(CircuitTest, DisabledNeverOpens) {
  SteppingClock clock;
  CircuitOptions off;
  off.failures_to_open = 0;
  CircuitBreaker c(&clock, off);
  for (int i = 0; i < 100; ++i) {
    auto t = c.Admit(kOrigin);
    ASSERT_TRUE(t.ok());
    c.OnFailure(*t, UnavailableError("refused"));
  }
  EXPECT_FALSE(c.IsOpen(kOrigin));
}

}  // namespace
}  // namespace hubfs::hub
