// One contract, two transports: the fake must behave like the real one in
// everything the layers above rely on.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <mutex>

#include "hub/curl_transport.h"
#include "hub/fake_transport.h"
#include "hub/url.h"
#include "tests/unit/hub/test_server.h"

namespace hubfs::hub {
namespace {

using namespace std::chrono_literals;

struct SeenRequest {
  std::string method;
  std::string target;  // path + query
  Headers headers;
  std::string body;
};

struct SimpleReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
};

using SimpleHandler = std::function<SimpleReply(const SeenRequest&)>;

// Two origins, A and B, answering through handlers, and a transport.
class Harness {
 public:
  virtual ~Harness() = default;
  virtual void Start(SimpleHandler a, SimpleHandler b) = 0;
  virtual std::string url_a() const = 0;
  virtual std::string url_b() const = 0;
  virtual HttpTransport* transport() = 0;
  std::vector<SeenRequest> seen_a() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_a_;
  }
  std::vector<SeenRequest> seen_b() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_b_;
  }

 protected:
  void Record(bool a, SeenRequest r) {
    std::lock_guard<std::mutex> lock(mu_);
    (a ? seen_a_ : seen_b_).push_back(std::move(r));
  }

 private:
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_a_, seen_b_;
};

class CurlHarness final : public Harness {
 public:
  CurlHarness() {
    if (!global_) global_ = CurlGlobal::Init().value().release();  // kept for the process
    CurlTransportOptions o;
    o.stall_timeout = 1000ms;
    transport_ = std::move(CurlTransport::Create(o)).value();
  }
  void Start(SimpleHandler a, SimpleHandler b) override {
    a_ = std::make_unique<testing::TestServer>(Wrap(true, std::move(a)));
    b_ = std::make_unique<testing::TestServer>(Wrap(false, std::move(b)));
  }
  std::string url_a() const override { return a_->base_url(); }
  std::string url_b() const override { return b_->base_url(); }
  HttpTransport* transport() override { return transport_.get(); }

 private:
  testing::TestServer::Handler Wrap(bool is_a, SimpleHandler h) {
    return [this, is_a, h](const testing::TestRequest& r) {
      SeenRequest seen{r.method, r.target, {}, r.body};
      for (const auto& [n, v] : r.headers) seen.headers.Add(n, v);
      Record(is_a, seen);
      SimpleReply reply = h(seen);
      return testing::TestReply{
          .status = reply.status, .headers = reply.headers, .body = reply.body};
    };
  }
  static inline CurlGlobal* global_ = nullptr;
  std::unique_ptr<CurlTransport> transport_;
  std::unique_ptr<testing::TestServer> a_, b_;
};

class FakeHarness final : public Harness {
 public:
  void Start(SimpleHandler a, SimpleHandler b) override {
    transport_ = std::make_unique<FakeHttpTransport>(
        [this, a, b](const RecordedRequest& r) -> Result<HttpResponse> {
          bool is_a = OriginOf(r.url) == OriginOf(url_a());
          ParsedUrl p = ParseUrl(r.url).value();
          SeenRequest seen{r.method, p.target, r.headers, r.body};
          Record(is_a, seen);
          SimpleReply reply = (is_a ? a : b)(seen);
          HttpResponse resp;
          resp.status = reply.status;
          for (const auto& [n, v] : reply.headers) resp.headers.Add(n, v);
          resp.body = reply.body;
          return resp;
        });
  }
  std::string url_a() const override { return "http://a.test:8080"; }
  std::string url_b() const override { return "http://b.test:8080"; }
  HttpTransport* transport() override { return transport_.get(); }

 private:
  std::unique_ptr<FakeHttpTransport> transport_;
};

using HarnessFactory = std::function<std::unique_ptr<Harness>()>;

class TransportContractTest : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override { h_ = GetParam()(); }
  std::unique_ptr<Harness> h_;
};

TEST_P(TransportContractTest, TokenStaysOnItsOriginAcrossRedirects) {
  h_->Start(
      [this](const SeenRequest& r) {
        if (r.target == "/away") {
          return SimpleReply{.status = 302, .headers = {{"Location", h_->url_b() + "/data?s=1"}}};
        }
        return SimpleReply{.body = "a"};
      },
      [](const SeenRequest&) { return SimpleReply{.body = "b"}; });
  HttpRequest req;
  req.auth = BearerAuth{OriginOf(h_->url_a()), "hf_contract"};
  req.url = h_->url_a() + "/away";
  auto not_followed = h_->transport()->Send(req);
  ASSERT_TRUE(not_followed.ok()) << not_followed.status();
  EXPECT_EQ(not_followed->status, 302);
  EXPECT_TRUE(h_->seen_b().empty());

  req.max_redirects = 2;
  auto followed = h_->transport()->Send(req);
  ASSERT_TRUE(followed.ok()) << followed.status();
  EXPECT_EQ(followed->body, "b");
  req.url = h_->url_b() + "/direct";
  ASSERT_TRUE(h_->transport()->Send(req).ok());

  for (const auto& r : h_->seen_a()) {
    EXPECT_EQ(r.headers.Get("Authorization").value_or(""), "Bearer hf_contract");
  }
  ASSERT_EQ(h_->seen_b().size(), 2u);
  for (const auto& r : h_->seen_b()) EXPECT_FALSE(r.headers.Has("Authorization")) << r.target;
}

TEST_P(TransportContractTest, BodyLimitAndStreaming) {
  const std::string big(50000, 'z');
  h_->Start(
      [&](const SeenRequest& r) {
        if (r.target == "/missing") return SimpleReply{.status = 404, .body = "nope"};
        return SimpleReply{.body = big};
      },
      [](const SeenRequest&) { return SimpleReply{}; });
  HttpRequest req;
  req.url = h_->url_a() + "/big";
  req.max_body_bytes = big.size() - 1;
  auto over = h_->transport()->Send(req);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), ErrorCode::kResourceExhausted);

  req.max_body_bytes = big.size();
  std::string streamed;
  req.body_sink = [&](std::string_view p) {
    streamed.append(p);
    return Status::Ok();
  };
  auto ok = h_->transport()->Send(req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(streamed, big);
  EXPECT_TRUE(ok->body.empty());
  EXPECT_EQ(ok->body_bytes, big.size());

  streamed.clear();
  req.url = h_->url_a() + "/missing";
  auto missing = h_->transport()->Send(req);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "nope");
  EXPECT_TRUE(streamed.empty());
}

TEST_P(TransportContractTest, RangesHeadAndValidation) {
  h_->Start([](const SeenRequest&) { return SimpleReply{.status = 206, .body = "xy"}; },
            [](const SeenRequest&) { return SimpleReply{}; });
  HttpRequest req;
  req.url = h_->url_a() + "/r";
  req.ranges = {{4, 5}};
  auto ranged = h_->transport()->Send(req);
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(ranged->body, "xy");
  auto seen = h_->seen_a();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.Get("Range").value_or(""), "bytes=4-5");
  EXPECT_EQ(seen[0].headers.Get("Accept-Encoding").value_or(""), "identity");

  HttpRequest head;
  head.method = "HEAD";
  head.url = h_->url_a() + "/h";
  auto h = h_->transport()->Send(head);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->body.empty());

  HttpRequest bad;
  bad.url = h_->url_a() + "/x";
  bad.headers.Add("Authorization", "Bearer x");
  EXPECT_EQ(h_->transport()->Send(bad).status().code(), ErrorCode::kInvalidArgument);
  bad.headers.Clear();
  bad.headers.Add("X-Evil", "a\r\nHost: b");
  EXPECT_EQ(h_->transport()->Send(bad).status().code(), ErrorCode::kInvalidArgument);
  bad.headers.Clear();
  bad.method = "TRACE";
  EXPECT_EQ(h_->transport()->Send(bad).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(h_->seen_a().size(), 2u);  // none of the invalid ones went out
}

INSTANTIATE_TEST_SUITE_P(
    Transports, TransportContractTest,
    ::testing::Values(HarnessFactory([] { return std::unique_ptr<Harness>(new CurlHarness()); }),
                      HarnessFactory([] { return std::unique_ptr<Harness>(new FakeHarness()); })),
    [](const ::testing::TestParamInfo<HarnessFactory>& param) {
      return param.index == 0 ? std::string("Curl") : std::string("Fake");
    });

}  // namespace
}  // namespace hubfs::hub
