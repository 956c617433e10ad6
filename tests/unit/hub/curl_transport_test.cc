#include "hub/curl_transport.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "hub/url.h"
#include "tests/unit/hub/test_server.h"

namespace hubfs::hub {
namespace {

using testing::TestReply;
using testing::TestRequest;
using testing::TestServer;
using namespace std::chrono_literals;

class CurlTransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto g = CurlGlobal::Init();
    ASSERT_TRUE(g.ok());
    global_ = std::move(g).value().release();
  }
  static void TearDownTestSuite() {
    delete global_;
    global_ = nullptr;
  }

  std::unique_ptr<CurlTransport> MakeTransport(size_t max_in_flight = 8) {
    CurlTransportOptions o;
    o.max_in_flight = max_in_flight;
    o.connect_timeout = 2000ms;
    o.stall_timeout = 300ms;
    o.user_agent = "hubfs/test";
    auto t = CurlTransport::Create(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return std::move(t).value();
  }

  static CurlGlobal* global_;
};
CurlGlobal* CurlTransportTest::global_ = nullptr;

TEST_F(CurlTransportTest, BufferedGetReturnsStatusHeadersAndBody) {
  TestServer server([](const TestRequest& r) {
    TestReply reply;
    reply.headers = {{"X-Echo-Path", r.path}, {"Content-Type", "text/plain"}};
    reply.body = "hello " + r.Header("User-Agent").value_or("?");
    return reply;
  });
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = server.base_url() + "/a/b?x=1";
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "hello hubfs/test");
  EXPECT_EQ(resp->headers.Get("x-echo-path").value_or(""), "/a/b");
  EXPECT_EQ(resp->headers.Get("CONTENT-TYPE").value_or(""), "text/plain");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/a/b?x=1");
  EXPECT_FALSE(reqs[0].Header("Authorization").has_value());
  EXPECT_FALSE(reqs[0].Header("Range").has_value());
}

TEST_F(CurlTransportTest, ReusesConnections) {
  TestServer server([](const TestRequest&) { return TestReply{.body = "ok"}; });
  auto transport = MakeTransport();
  for (int i = 0; i < 5; ++i) {
    HttpRequest req;
    req.url = server.base_url() + "/x" + std::to_string(i);
    auto resp = transport->Send(req);
    ASSERT_TRUE(resp.ok()) << resp.status();
  }
  EXPECT_EQ(server.requests().size(), 5u);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(CurlTransportTest, PostSendsBodyAndMethod) {
  TestServer server([](const TestRequest& r) {
    return TestReply{.body = r.method + ":" + r.body + ":" + r.Header("Content-Type").value_or("")};
  });
  auto transport = MakeTransport();
  HttpRequest req;
  req.method = "POST";
  req.url = server.base_url() + "/p";
  req.headers.Add("Content-Type", "application/json");
  req.body = std::string(5000, 'j');
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->body, "POST:" + req.body + ":application/json");
  EXPECT_FALSE(server.requests()[0].Header("Expect").has_value());
}

TEST_F(CurlTransportTest, HeadHasNoBody) {
  TestServer server([](const TestRequest&) {
    return TestReply{.headers = {{"X-Linked-Size", "42"}}, .body = "0123456789"};
  });
  auto transport = MakeTransport();
  HttpRequest req;
  req.method = "HEAD";
  req.url = server.base_url() + "/h";
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(resp->body.empty());
  EXPECT_EQ(resp->headers.Get("x-linked-size").value_or(""), "42");
}

TEST_F(CurlTransportTest, RangedGetSendsRangeAndIdentityEncoding) {
  TestServer server([](const TestRequest&) { return TestReply{.status = 206, .body = "cd"}; });
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = server.base_url() + "/r";
  req.ranges = {{2, 3}, {10, 19}};
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 206);
  auto r = server.requests().at(0);
  EXPECT_EQ(r.Header("Range").value_or(""), "bytes=2-3,10-19");
  EXPECT_EQ(r.Header("Accept-Encoding").value_or(""), "identity");
}

TEST_F(CurlTransportTest, BodyOverLimitFails) {
  TestServer server([](const TestRequest& r) {
    TestReply reply{.body = std::string(10000, 'x')};
    if (r.path == "/noclen") reply.close_delimited = true;
    return reply;
  });
  auto transport = MakeTransport();
  for (std::string path : {"/clen", "/noclen"}) {
    HttpRequest req;
    req.url = server.base_url() + path;
    req.max_body_bytes = 4096;
    auto resp = transport->Send(req);
    ASSERT_FALSE(resp.ok()) << path;
    EXPECT_EQ(resp.status().code(), ErrorCode::kResourceExhausted) << resp.status();
    EXPECT_NE(resp.status().message().find("4096"), std::string::npos);
  }
  // Exactly at the limit is fine.
  HttpRequest req;
  req.url = server.base_url() + "/clen";
  req.max_body_bytes = 10000;
  EXPECT_TRUE(transport->Send(req).ok());
}

TEST_F(CurlTransportTest, StreamsBodyToSink) {
  std::string payload;
  for (int i = 0; i < 300000; ++i) payload.push_back(static_cast<char>('a' + i % 26));
  TestServer server([&](const TestRequest&) { return TestReply{.body = payload}; });
  auto transport = MakeTransport();
  std::string got;
  int pieces = 0;
  HttpRequest req;
  req.url = server.base_url() + "/big";
  req.max_body_bytes = payload.size();
  req.body_sink = [&](std::string_view p) {
    got.append(p);
    ++pieces;
    return Status::Ok();
  };
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_TRUE(resp->body.empty());
  EXPECT_EQ(resp->body_bytes, payload.size());
  EXPECT_EQ(got, payload);
  EXPECT_GT(pieces, 1);

  // A sink error aborts the transfer and is returned.
  req.body_sink = [](std::string_view) { return CorruptError("bad bytes"); };
  auto failed = transport->Send(req);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kCorrupt);
}

TEST_F(CurlTransportTest, ErrorBodiesAreNotStreamedAndAreBounded) {
  TestServer server([](const TestRequest& r) {
    if (r.path == "/huge") return TestReply{.status = 500, .body = std::string(200000, 'e')};
    return TestReply{
        .status = 404,
        .headers = {{"X-Error-Code", "EntryNotFound"}, {"Content-Type", "application/json"}},
        .body = R"({"error":"Entry not found"})"};
  });
  auto transport = MakeTransport();
  bool sink_called = false;
  HttpRequest req;
  req.url = server.base_url() + "/missing";
  req.body_sink = [&](std::string_view) {
    sink_called = true;
    return Status::Ok();
  };
  auto resp = transport->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 404);
  EXPECT_FALSE(sink_called);
  Status st = StatusFromResponse(*resp, "get x");
  EXPECT_EQ(st.code(), ErrorCode::kNotFound);
  EXPECT_EQ(st.http_status(), 404);
  EXPECT_EQ(st.hub_error_code(), "EntryNotFound");
  EXPECT_NE(st.message().find("Entry not found"), std::string::npos) << st;

  req.url = server.base_url() + "/huge";
  auto huge = transport->Send(req);
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->status, 500);
  EXPECT_LE(huge->body.size(), 64u << 10);
}

TEST_F(CurlTransportTest, StallTimesOutWithinBound) {
  TestServer server([](const TestRequest&) {
    return TestReply{.body = std::string(1000, 's'), .stall_after = 100};
  });
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = server.base_url() + "/stall";
  req.stall_timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  auto resp = transport->Send(req);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), ErrorCode::kTimeout) << resp.status();
  // Bounded: far below curl's whole-second backstop plus slack; a hang fails.
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(CurlTransportTest, StallBeforeHeadersTimesOut) {
  TestServer server([](const TestRequest&) { return TestReply{.delay = 700ms}; });
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = server.base_url() + "/slow";
  req.stall_timeout = 200ms;
  auto resp = transport->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), ErrorCode::kTimeout) << resp.status();
}

TEST_F(CurlTransportTest, ResetAndShortBodyAreUnavailable) {
  TestServer server([](const TestRequest& r) {
    if (r.path == "/reset") return TestReply{.reset = true};
    return TestReply{.body = "short", .content_length = 100};
  });
  auto transport = MakeTransport();
  for (std::string path : {"/reset", "/short"}) {
    HttpRequest req;
    req.url = server.base_url() + path;
    auto resp = transport->Send(req);
    ASSERT_FALSE(resp.ok()) << path;
    EXPECT_EQ(resp.status().code(), ErrorCode::kUnavailable) << resp.status();
  }
}

TEST_F(CurlTransportTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    TestServer server([](const TestRequest&) { return TestReply{}; });
    port = server.port();
  }
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  auto resp = transport->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), ErrorCode::kUnavailable) << resp.status();
}

// A listener that never accepts, with its backlog full: the kernel drops
// further SYNs, so a connect hangs until the connect timeout.
TEST_F(CurlTransportTest, ConnectTimeoutApplies) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    (void)::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(c);
  }
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
  req.connect_timeout = 300ms;
  req.stall_timeout = 100ms;  // must not fire before the connection exists
  auto start = std::chrono::steady_clock::now();
  auto resp = transport->Send(req);
  auto elapsed = std::chrono::steady_clock::now() - start;
  for (int c : fillers) ::close(c);
  ::close(lfd);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), ErrorCode::kTimeout) << resp.status();
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3000ms);
}

TEST_F(CurlTransportTest, DestructionCancelsTransfersInFlight) {
  TestServer server([](const TestRequest&) {
    return TestReply{.body = std::string(100, 'x'), .stall_after = 1};
  });
  auto transport = MakeTransport();
  Result<HttpResponse> result = InternalError("not run");
  std::atomic<bool> done{false};
  std::thread caller([&] {
    HttpRequest req;
    req.url = server.base_url() + "/stall";
    req.stall_timeout = 30000ms;
    result = transport->Send(req);
    done = true;
  });
  while (server.requests().empty()) std::this_thread::sleep_for(5ms);
  // The caller is blocked in Send(); tearing the transport down releases it.
  std::thread destroyer([&] { transport.reset(); });
  destroyer.join();
  caller.join();
  EXPECT_TRUE(done.load());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kCancelled) << result.status();
}

TEST_F(CurlTransportTest, BoundsTransfersInFlight) {
  TestServer server([](const TestRequest&) { return TestReply{.body = "x", .delay = 50ms}; });
  auto transport = MakeTransport(/*max_in_flight=*/3);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      HttpRequest req;
      req.url = server.base_url() + "/c" + std::to_string(i);
      auto resp = transport->Send(req);
      if (resp.ok() && resp->body == "x") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
  EXPECT_LE(server.max_concurrent(), 3);
  EXPECT_GE(server.max_concurrent(), 2);  // they did run in parallel
}

TEST_F(CurlTransportTest, RefusesAuthorizationInPlainHeaders) {
  auto transport = MakeTransport();
  HttpRequest req;
  req.url = "http://127.0.0.1:1/x";
  req.headers.Add("authorization", "Bearer hf_abc");
  auto resp = transport->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(CurlTransportTest, TokenOnlyGoesToItsOrigin) {
  TestServer other([](const TestRequest&) { return TestReply{.body = "other"}; });
  TestServer hub([&](const TestRequest& r) {
    if (r.path == "/redirect-away") {
      return TestReply{.status = 302, .headers = {{"Location", other.base_url() + "/data?sig=1"}}};
    }
    if (r.path == "/redirect-home") {
      return TestReply{.status = 302, .headers = {{"Location", "/home"}}};
    }
    return TestReply{.body = "hub"};
  });
  auto transport = MakeTransport();
  BearerAuth auth{OriginOf(hub.base_url()), "hf_secret"};

  HttpRequest req;
  req.url = hub.base_url() + "/api";
  req.auth = auth;
  ASSERT_TRUE(transport->Send(req).ok());

  req.url = other.base_url() + "/api";  // token bound to the hub origin
  ASSERT_TRUE(transport->Send(req).ok());

  req.url = hub.base_url() + "/redirect-away";
  auto not_followed = transport->Send(req);
  ASSERT_TRUE(not_followed.ok());
  EXPECT_EQ(not_followed->status, 302);

  req.max_redirects = 3;
  auto followed = transport->Send(req);
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ(followed->body, "other");

  req.url = hub.base_url() + "/redirect-home";
  auto home = transport->Send(req);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(home->body, "hub");

  for (const auto& r : other.requests()) {
    EXPECT_FALSE(r.Header("Authorization").has_value()) << r.target;
  }
  auto hub_reqs = hub.requests();
  ASSERT_EQ(hub_reqs.size(), 5u);
  for (const auto& r : hub_reqs) {
    EXPECT_EQ(r.Header("Authorization").value_or(""), "Bearer hf_secret") << r.target;
  }
}

TEST_F(CurlTransportTest, OriginIncludesPort) {
  EXPECT_EQ(OriginOf("https://Example.com/x"), "https://example.com:443");
  EXPECT_EQ(OriginOf("https://example.com:443/y?z"), "https://example.com:443");
  EXPECT_NE(OriginOf("http://example.com/x"), OriginOf("https://example.com/x"));
  EXPECT_NE(OriginOf("http://127.0.0.1:80/"), OriginOf("http://127.0.0.1:81/"));
  EXPECT_EQ(OriginOf("ftp://example.com/"), "");
  EXPECT_EQ(OriginOf("https://user@example.com/"), "");
}

TEST_F(CurlTransportTest, LogsNeitherTokensNorQueries) {
  std::mutex mu;
  std::vector<std::string> lines;
  log::SetSink([&](log::Level, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  log::Level old = log::MinLevel();
  log::SetMinLevel(log::Level::kDebug);
  {
    TestServer server([](const TestRequest&) { return TestReply{.status = 503}; });
    auto transport = MakeTransport();
    HttpRequest req;
    req.url = server.base_url() + "/data?X-Sig=s3cr3tsig&token=abc";
    req.auth = BearerAuth{OriginOf(server.base_url()), "tok_plain_1234"};
    ASSERT_TRUE(transport->Send(req).ok());
  }
  log::SetMinLevel(old);
  log::SetSink(nullptr);
  ASSERT_FALSE(lines.empty());
  for (const auto& l : lines) {
    EXPECT_EQ(l.find("s3cr3tsig"), std::string::npos) << l;
    EXPECT_EQ(l.find("tok_plain_1234"), std::string::npos) << l;
    EXPECT_EQ(l.find("Authorization"), std::string::npos) << l;
  }
}

TEST_F(CurlTransportTest, DefaultOptionsWork) {
  TestServer server([](const TestRequest&) { return TestReply{.body = "d"}; });
  auto transport = CurlTransport::Create({});
  ASSERT_TRUE(transport.ok());
  HttpRequest req;
  req.url = server.base_url() + "/";
  auto resp = (*transport)->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->body, "d");
}

TEST_F(CurlTransportTest, CustomCaBundleThatDoesNotExistFailsTls) {
  CurlTransportOptions o;
  o.ca_bundle = "/nonexistent/ca.pem";
  o.connect_timeout = 1000ms;
  auto transport = CurlTransport::Create(o);
  ASSERT_TRUE(transport.ok());
  // Plain http ignores the CA bundle; https to a plain server fails the handshake.
  TestServer server([](const TestRequest&) { return TestReply{}; });
  HttpRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  req.stall_timeout = 500ms;
  auto resp = (*transport)->Send(req);
  EXPECT_FALSE(resp.ok());
}

}  // namespace
}  // namespace hubfs::hub
