#include "hub/cas_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>

#include "hub/curl_transport.h"
#include "tests/unit/hub/test_server.h"

namespace hubfs::hub {
namespace {

using namespace std::chrono_literals;
using testing::TestReply;
using testing::TestRequest;
using testing::TestServer;

const std::string kHash = std::string(62, 'c') + "0f";

std::vector<ByteRange> ParseRangeHeader(const std::string& v) {
  std::vector<ByteRange> out;
  std::string s = v.substr(6);  // "bytes="
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t dash = item.find('-');
    out.push_back({std::stoull(item.substr(0, dash)), std::stoull(item.substr(dash + 1))});
  }
  return out;
}

std::string Part(const std::string& boundary, ByteRange r, const std::string& data,
                 uint64_t total) {
  return "--" + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
         std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + std::to_string(total) +
         "\r\n\r\n" + data + "\r\n";
}

// Serves `blob` with real Range semantics; some paths misbehave on purpose.
TestReply ServeBlob(const std::string& blob, const TestRequest& r) {
  auto range_header = r.Header("Range");
  if (!range_header) return TestReply{.body = blob};
  std::vector<ByteRange> ranges = ParseRangeHeader(*range_header);
  const uint64_t total = blob.size();
  auto slice = [&](ByteRange x) { return blob.substr(x.first, x.size()); };
  if (ranges.size() == 1) {
    ByteRange x = ranges[0];
    if (r.path == "/shifted") x = {x.first + 1, x.last + 1};
    std::string body = slice(x);
    if (r.path == "/short206") body.pop_back();
    return TestReply{
        .status = 206,
        .headers = {{"Content-Range", "bytes " + std::to_string(x.first) + "-" +
                                          std::to_string(x.last) + "/" + std::to_string(total)}},
        .body = body};
  }
  const std::string b = "BOUNDARY42";
  std::string body;
  std::vector<ByteRange> order = ranges;
  if (r.path == "/reversed") std::reverse(order.begin(), order.end());
  if (r.path == "/missing") order.pop_back();
  for (ByteRange x : order) {
    std::string data = slice(x);
    ByteRange label = x;
    if (r.path == "/wronglabel") label = {x.first, x.last - 1};
    if (r.path == "/longpart") data += "X";
    body += Part(b, label, data, total);
  }
  body += "--" + b + "--\r\n";
  return TestReply{.status = 206,
                   .headers = {{"Content-Type", "multipart/byteranges; boundary=" + b}},
                   .body = body};
}

class CasClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { global_ = CurlGlobal::Init().value().release(); }
  static void TearDownTestSuite() {
    delete global_;
    global_ = nullptr;
  }
  void SetUp() override {
    CurlTransportOptions o;
    o.stall_timeout = 500ms;
    curl_ = std::move(CurlTransport::Create(o)).value();
    for (int i = 0; i < 5000; ++i) blob_.push_back(static_cast<char>(i * 7 + i / 256));
  }
  static CurlGlobal* global_;
  std::unique_ptr<CurlTransport> curl_;
  std::string blob_;
};
CurlGlobal* CasClientTest::global_ = nullptr;

TEST_F(CasClientTest, ReconstructionV2WithRangeAndCasTokenOnly) {
  TestServer cas([](const TestRequest& r) {
    if (r.path == "/v2/reconstructions/" + kHash) {
      return TestReply{.body = R"({"terms":[],"xorbs":{}})"};
    }
    return TestReply{.status = 404};
  });
  CasClient client(curl_.get());
  std::atomic<int> supplied{0};
  XetTokenSupplier tokens = [&](bool) -> Result<XetToken> {
    ++supplied;
    return XetToken{"xet_abc", 0, cas.base_url()};
  };
  auto answer = client.GetReconstruction(tokens, kHash, ByteRange{10, 99});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->version, 2);
  EXPECT_EQ(answer->json, R"({"terms":[],"xorbs":{}})");
  auto reqs = cas.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("Authorization").value_or(""), "Bearer xet_abc");
  EXPECT_EQ(reqs[0].Header("Range").value_or(""), "bytes=10-99");
  EXPECT_EQ(supplied.load(), 1);
  EXPECT_EQ(client.GetReconstruction(tokens, "not-a-hash", std::nullopt).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(CasClientTest, FallsBackToV1On404Or501) {
  TestServer cas([](const TestRequest& r) {
    if (r.path.starts_with("/v2/")) return TestReply{.status = r.Header("Range") ? 404 : 501};
    return TestReply{.body = R"({"terms":[],"fetch_info":{}})"};
  });
  CasClient client(curl_.get());
  XetTokenSupplier tokens = [&](bool) -> Result<XetToken> {
    return XetToken{"xet_abc", 0, cas.base_url()};
  };
  auto answer = client.GetReconstruction(tokens, kHash, std::nullopt);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->version, 1);
  auto ranged = client.GetReconstruction(tokens, kHash, ByteRange{0, 9});
  ASSERT_TRUE(ranged.ok()) << ranged.status();
  EXPECT_EQ(ranged->version, 1);
  auto reqs = cas.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[1].path, "/v1/reconstructions/" + kHash);
  EXPECT_EQ(reqs[3].Header("Range").value_or(""), "bytes=0-9");
}

TEST_F(CasClientTest, RefreshesTokenOnceOn401) {
  TestServer cas([](const TestRequest& r) {
    if (r.Header("Authorization").value_or("") == "Bearer xet_new") {
      return TestReply{.body = "{}"};
    }
    return TestReply{.status = 401};
  });
  CasClient client(curl_.get());
  std::vector<bool> calls;
  XetTokenSupplier tokens = [&](bool force) -> Result<XetToken> {
    calls.push_back(force);
    return XetToken{force ? "xet_new" : "xet_old", 0, cas.base_url()};
  };
  auto answer = client.GetReconstruction(tokens, kHash, std::nullopt);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(calls, (std::vector<bool>{false, true}));

  // Still 401 after the refresh: a clear error, no loop.
  calls.clear();
  XetTokenSupplier stale = [&](bool force) -> Result<XetToken> {
    calls.push_back(force);
    return XetToken{"xet_old", 0, cas.base_url()};
  };
  auto failed = client.GetReconstruction(stale, kHash, std::nullopt);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(calls.size(), 2u);
}

TEST_F(CasClientTest, RangePastEndIsOutOfRange) {
  TestServer cas([](const TestRequest&) { return TestReply{.status = 416}; });
  CasClient client(curl_.get());
  XetTokenSupplier tokens = [&](bool) -> Result<XetToken> {
    return XetToken{"xet_abc", 0, cas.base_url()};
  };
  EXPECT_EQ(client.GetReconstruction(tokens, kHash, ByteRange{100, 200}).status().code(),
            ErrorCode::kOutOfRange);
}

TEST_F(CasClientTest, SingleRangeFetchIsExactAndUnauthenticated) {
  TestServer data([&](const TestRequest& r) { return ServeBlob(blob_, r); });
  CasClient client(curl_.get());
  auto got = client.FetchRanges(data.base_url() + "/ok?X-Xet-Signed-Range=1", {{100, 1099}});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0], blob_.substr(100, 1000));
  auto r = data.requests().at(0);
  EXPECT_FALSE(r.Header("Authorization").has_value());
  EXPECT_EQ(r.Header("Range").value_or(""), "bytes=100-1099");
  EXPECT_EQ(r.Header("Accept-Encoding").value_or(""), "identity");

  for (std::string bad : {"/shifted", "/short206"}) {
    auto wrong = client.FetchRanges(data.base_url() + bad, {{100, 1099}});
    ASSERT_FALSE(wrong.ok()) << bad;
    EXPECT_EQ(wrong.status().code(), ErrorCode::kCorrupt) << wrong.status();
  }
}

TEST_F(CasClientTest, MultiRangeFetchChecksEveryPart) {
  TestServer data([&](const TestRequest& r) { return ServeBlob(blob_, r); });
  CasClient client(curl_.get());
  std::vector<ByteRange> ranges = {{0, 9}, {100, 355}, {4990, 4999}};
  for (std::string path : {"/ok", "/reversed"}) {
    auto got = client.FetchRanges(data.base_url() + path, ranges);
    ASSERT_TRUE(got.ok()) << path << ": " << got.status();
    ASSERT_EQ(got->size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ((*got)[i], blob_.substr(ranges[i].first, ranges[i].size())) << path << i;
    }
  }
  for (std::string bad : {"/missing", "/wronglabel", "/longpart"}) {
    auto got = client.FetchRanges(data.base_url() + bad, ranges);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), ErrorCode::kCorrupt) << bad << ": " << got.status();
  }
}

TEST_F(CasClientTest, ExpiredUrlMissingDataAndIgnoredRangeAreErrors) {
  TestServer data([&](const TestRequest& r) {
    if (r.path == "/expired") return TestReply{.status = 403};
    if (r.path == "/missing") return TestReply{.status = 404};
    return TestReply{.body = blob_};  // ignores Range
  });
  CasClient client(curl_.get());
  auto expired = client.FetchRanges(data.base_url() + "/expired", {{0, 9}});
  EXPECT_EQ(expired.status().code(), ErrorCode::kPermissionDenied);
  // A data URL without data: the xorb is missing, not the file (never ENOENT).
  auto missing = client.FetchRanges(data.base_url() + "/missing", {{0, 9}});
  EXPECT_EQ(missing.status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(missing.status().http_status(), 404);
  EXPECT_EQ(client.FetchRangeTo(data.base_url() + "/missing", {0, 9}, [](std::string_view) {
                    return Status::Ok();
                  }).code(),
            ErrorCode::kCorrupt);
  auto ignored = client.FetchRanges(data.base_url() + "/whole", {{0, 9}, {20, 29}});
  ASSERT_FALSE(ignored.ok());
  auto ignored_single = client.FetchRanges(data.base_url() + "/whole", {{10, 19}});
  ASSERT_FALSE(ignored_single.ok());
  EXPECT_EQ(client.FetchRanges(data.base_url() + "/x", {{5, 9}, {0, 3}}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.FetchRanges(data.base_url() + "/x", {}).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(CasClientTest, StreamedRangeFetch) {
  TestServer data([&](const TestRequest& r) { return ServeBlob(blob_, r); });
  CasClient client(curl_.get());
  std::string got;
  Status st = client.FetchRangeTo(data.base_url() + "/ok", {7, 4006}, [&](std::string_view p) {
    got.append(p);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(got, blob_.substr(7, 4000));
  Status shifted = client.FetchRangeTo(data.base_url() + "/shifted", {7, 4006},
                                       [](std::string_view) { return Status::Ok(); });
  EXPECT_EQ(shifted.code(), ErrorCode::kCorrupt);
}

TEST(ContentRangeTest, Parse) {
  EXPECT_EQ(ParseContentRange("bytes 0-9/100").value_or(ByteRange{}), (ByteRange{0, 9}));
  EXPECT_EQ(ParseContentRange("bytes 5-5/*").value_or(ByteRange{}), (ByteRange{5, 5}));
  for (std::string bad : {"bytes */100", "bytes 9-0/100", "bytes 0-100/100", "items 0-1/2",
                          "bytes 0-1", "bytes a-b/c"}) {
    EXPECT_FALSE(ParseContentRange(bad).ok()) << bad;
  }
}

TEST(MultipartTest, RejectsMalformedBodies) {
  std::vector<ByteRange> ranges = {{0, 2}, {10, 12}};
  std::string ct = "multipart/byteranges; boundary=\"b\"";
  std::string good = Part("b", {0, 2}, "abc", 20) + Part("b", {10, 12}, "klm", 20) + "--b--\r\n";
  auto ok = ParseMultipartByteranges(ct, good, ranges);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)[1], "klm");
  EXPECT_FALSE(ParseMultipartByteranges("text/plain", good, ranges).ok());
  EXPECT_FALSE(ParseMultipartByteranges(ct, good.substr(0, good.size() - 12), ranges).ok());
  std::string dup = Part("b", {0, 2}, "abc", 20) + Part("b", {0, 2}, "abc", 20) + "--b--\r\n";
  EXPECT_FALSE(ParseMultipartByteranges(ct, dup, ranges).ok());
  std::string no_cr = "--b\r\nContent-Type: x\r\n\r\nabc\r\n--b--\r\n";
  EXPECT_FALSE(ParseMultipartByteranges(ct, no_cr, ranges).ok());
  std::string huge_claim = "--b\r\nContent-Range: bytes 0-99999999/100000000\r\n\r\nabc\r\n--b--";
  EXPECT_FALSE(ParseMultipartByteranges(ct, huge_claim, {{0, 99999999}}).ok());
}

}  // namespace
}  // namespace hubfs::hub
