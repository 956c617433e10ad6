#include "hub/retry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "hub/curl_transport.h"
#include "tests/unit/hub/test_clock.h"
#include "tests/unit/hub/test_server.h"

namespace hubfs::hub {
namespace {

using namespace std::chrono_literals;
using testing::SteppingClock;

// Replays scripted outcomes, one per Send.
class ScriptedTransport final : public HttpTransport {
 public:
  void Push(Result<HttpResponse> r) { script_.push_back(std::move(r)); }
  void PushStatus(int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    for (auto& [n, v] : headers) r.headers.Add(n, v);
    Push(std::move(r));
  }
  Result<HttpResponse> Send(const HttpRequest& request) override {
    ++calls;
    if (script_.empty()) return InternalError("script exhausted");
    Result<HttpResponse> r = std::move(script_.front());
    script_.pop_front();
    if (r.ok() && request.body_sink && r->status == 200 && !r->body.empty()) {
      Status st = request.body_sink(r->body);
      if (!st.ok()) return st;
    }
    return r;
  }
  int calls = 0;

 private:
  std::deque<Result<HttpResponse>> script_;
};

RetryPolicy TestPolicy() {
  RetryPolicy p;
  p.max_attempts = 4;
  p.initial_backoff = 100ms;
  p.max_backoff = 400ms;
  p.jitter = 0.5;
  p.max_server_wait = 30s;
  return p;
}

TEST(RetryTest, RetriesServerErrorsWithGrowingJitteredBackoff) {
  ScriptedTransport inner;
  inner.PushStatus(503);
  inner.PushStatus(500);
  inner.PushStatus(502);
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  auto r = t.Send(HttpRequest{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(inner.calls, 4);
  auto s = clock.sleeps();
  ASSERT_EQ(s.size(), 3u);
  const std::chrono::milliseconds caps[] = {100ms, 200ms, 400ms};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GE(s[i], caps[i] / 2) << i;
    EXPECT_LE(s[i], caps[i]) << i;
  }
}

TEST(RetryTest, GivesUpAfterMaxAttemptsWithLastResponse) {
  ScriptedTransport inner;
  for (int i = 0; i < 10; ++i) inner.PushStatus(504);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  auto r = t.Send(HttpRequest{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(inner.calls, 4);
  EXPECT_EQ(clock.sleeps().size(), 3u);
}

TEST(RetryTest, DoesNotRetryClientErrorsOrNonIdempotentRequests) {
  ScriptedTransport inner;
  inner.PushStatus(404);
  inner.PushStatus(503);
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  EXPECT_EQ(t.Send(HttpRequest{})->status, 404);
  HttpRequest commit;
  commit.method = "POST";
  commit.idempotent = false;
  EXPECT_EQ(t.Send(commit)->status, 503);
  EXPECT_EQ(inner.calls, 2);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(RetryTest, HonoursRetryAfterSecondsAndDate) {
  ScriptedTransport inner;
  inner.PushStatus(429, {{"Retry-After", "3"}});
  inner.PushStatus(503, {{"Retry-After", "Fri, 15 Jan 2027 08:00:10 GMT"}});
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  auto r = t.Send(HttpRequest{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  auto s = clock.sleeps();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], 3000ms);
  // 1'800'000'000 + 3 s is 2027-01-15T08:00:03Z, so the date is 7 s later.
  EXPECT_EQ(s[1], 7000ms);
}

TEST(RetryTest, HonoursRateLimitReset) {
  ScriptedTransport inner;
  inner.PushStatus(429, {{"RateLimit", "\"api\";r=0;t=11"}});
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  ASSERT_EQ(t.Send(HttpRequest{})->status, 200);
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_EQ(clock.sleeps()[0], 12000ms);
}

TEST(RetryTest, ServerWaitBeyondBoundIsNotRetried) {
  ScriptedTransport inner;
  inner.PushStatus(429, {{"Retry-After", "3600"}});
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  EXPECT_EQ(t.Send(HttpRequest{})->status, 429);
  EXPECT_EQ(inner.calls, 1);
}

TEST(RetryTest, RetriesNetworkErrorsButNotOthers) {
  ScriptedTransport inner;
  inner.Push(UnavailableError("connection reset"));
  inner.Push(Status(ErrorCode::kTimeout, "stalled"));
  inner.PushStatus(200);
  inner.Push(ResourceExhaustedError("body too large"));
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  EXPECT_EQ(t.Send(HttpRequest{})->status, 200);
  EXPECT_EQ(inner.calls, 3);
  auto r = t.Send(HttpRequest{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(inner.calls, 4);
}

TEST(RetryTest, StreamedRequestIsNotRetriedAfterBytesReachedTheSink) {
  ScriptedTransport inner;
  HttpResponse partial;
  partial.status = 200;
  partial.body = "abc";
  inner.Push(partial);  // delivers "abc" to the sink, then we fail the sink
  inner.PushStatus(200);
  SteppingClock clock;
  RetryingTransport t(&inner, &clock, TestPolicy());
  HttpRequest req;
  req.body_sink = [](std::string_view) { return UnavailableError("downstream hiccup"); };
  auto r = t.Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(inner.calls, 1);
}

TEST(RetryTest, ParsesHeaders) {
  EXPECT_EQ(ParseRetryAfter("120", 0), 120);
  EXPECT_EQ(ParseRetryAfter(" 5 ", 0), 5);
  EXPECT_EQ(ParseRetryAfter("-1", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 1970 00:01:40 GMT", 40), 60);
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Jan 1970 00:01:40 GMT", 400), 0);
  EXPECT_EQ(ParseRetryAfter("Thu, 01 Foo 1970 00:01:40 GMT", 0), std::nullopt);
  EXPECT_EQ(ParseRateLimitWait("\"api\";r=0;t=55"), 55);
  EXPECT_EQ(ParseRateLimitWait("\"api\";r=3;t=55"), std::nullopt);
  EXPECT_EQ(ParseRateLimitWait("\"api\";r=2;t=5, \"resolvers\";r=0;t=9"), 9);
  EXPECT_EQ(ParseRateLimitWait("garbage"), std::nullopt);
}

// The real transport behind the retry layer: a reset connection, then success.
TEST(RetryTest, ConnectionResetThenSuccessOverCurl) {
  auto global = CurlGlobal::Init();
  ASSERT_TRUE(global.ok());
  std::atomic<int> n{0};
  testing::TestServer server([&](const testing::TestRequest&) {
    if (n++ == 0) return testing::TestReply{.reset = true};
    return testing::TestReply{.body = "fine"};
  });
  CurlTransportOptions o;
  o.stall_timeout = 500ms;
  auto curl = CurlTransport::Create(o);
  ASSERT_TRUE(curl.ok());
  SteppingClock clock;
  RetryingTransport t(curl->get(), &clock, TestPolicy());
  HttpRequest req;
  req.url = server.base_url() + "/x";
  auto r = t.Send(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "fine");
  EXPECT_EQ(n.load(), 2);
  EXPECT_EQ(clock.sleeps().size(), 1u);
}

// Many threads through the real transport and the retry layer while the
// server resets every third connection: every request ends with the right body.
TEST(RetryTest, ConcurrentRequestsSurviveResets) {
  auto global = CurlGlobal::Init();
  ASSERT_TRUE(global.ok());
  std::atomic<int> n{0};
  testing::TestServer server([&](const testing::TestRequest& r) {
    if (++n % 3 == 0) return testing::TestReply{.reset = true};
    return testing::TestReply{.body = r.path};
  });
  CurlTransportOptions o;
  o.max_in_flight = 4;
  o.stall_timeout = 1000ms;
  auto curl = CurlTransport::Create(o);
  ASSERT_TRUE(curl.ok());
  SteppingClock clock;
  RetryPolicy policy = TestPolicy();
  policy.max_attempts = 8;
  RetryingTransport t(curl->get(), &clock, policy);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 10; ++k) {
        HttpRequest req;
        req.url = server.base_url() + "/t" + std::to_string(i) + "_" + std::to_string(k);
        auto r = t.Send(req);
        if (r.ok() && r->status == 200 &&
            r->body == "/t" + std::to_string(i) + "_" + std::to_string(k)) {
          ++good;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 60);
  EXPECT_GT(clock.sleeps().size(), 0u);
}

// The real transport tells a dead origin (reset before any answer) from a
// live one whose body was cut short, which is what the circuit counts.
TEST(RetryTest, CurlTellsWhetherTheOriginAnswered) {
  auto global = CurlGlobal::Init();
  ASSERT_TRUE(global.ok());
  testing::TestServer server([&](const testing::TestRequest& r) {
    if (r.path == "/reset") return testing::TestReply{.reset = true};
    return testing::TestReply{.body = "half", .content_length = 100};
  });
  auto curl = CurlTransport::Create(CurlTransportOptions{});
  ASSERT_TRUE(curl.ok());
  HttpRequest req;
  req.url = server.base_url() + "/reset";
  TransferInfo info;
  EXPECT_FALSE((*curl)->SendAndObserve(req, &info).ok());
  EXPECT_FALSE(info.answered);
  req.url = server.base_url() + "/cut";
  auto cut = (*curl)->SendAndObserve(req, &info);
  EXPECT_FALSE(cut.ok());
  EXPECT_TRUE(info.answered);
}

}  // namespace
}  // namespace hubfs::hub
