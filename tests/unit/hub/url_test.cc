#include "hub/url.h"

#include <gtest/gtest.h>

#include "hub/http.h"
#include "hub/link_header.h"

namespace hubfs::hub {
namespace {

TEST(UrlTest, ParseUrl) {
  auto u = ParseUrl("HTTPS://Hub.Example:8443/a/b?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "hub.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?x=1");
  EXPECT_EQ(ParseUrl("http://h")->target, "/");
  EXPECT_EQ(ParseUrl("http://h?q")->target, "/?q");
  EXPECT_EQ(ParseUrl("http://[::1]:81/x")->host, "[::1]");
  for (std::string bad : {"h/x", "file:///etc/passwd", "http://", "http://u:p@h/", "http://h:0/",
                          "http://h:99999/", "http://h/a b", "http://h:x/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

TEST(UrlTest, ResolveReference) {
  EXPECT_EQ(ResolveReference("http://a:1/x/y?q", "/z").value_or(""), "http://a:1/z");
  EXPECT_EQ(ResolveReference("http://a:1/x/y?q", "z?k").value_or(""), "http://a:1/x/z?k");
  EXPECT_EQ(ResolveReference("https://a/x", "//b/c").value_or(""), "https://b/c");
  EXPECT_EQ(ResolveReference("https://a/x", "http://c/d").value_or(""), "http://c/d");
  EXPECT_FALSE(ResolveReference("https://a/x", "ftp://c/d").ok());
  EXPECT_FALSE(ResolveReference("https://a/x", "").ok());
}

TEST(UrlTest, Encoding) {
  EXPECT_EQ(PercentEncode("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(PercentEncode("a b#?%+@:~._-"), "a%20b%23%3F%25%2B%40%3A~._-");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(EncodePath("dir/a b/c#d.txt"), "dir/a%20b/c%23d.txt");
  EXPECT_EQ(PercentDecode("feature%2fx%2F").value_or(""), "feature/x/");
  EXPECT_FALSE(PercentDecode("%2").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
  EXPECT_EQ(UrlForLog("https://cas/x?sig=1#f"), "https://cas/x");
}

TEST(LinkHeaderTest, ParsesRelsAndSkipsJunk) {
  std::string v =
      "<https://h/api/x?cursor=a,b>; rel=\"next\", <https://c/v1/r/1>; "
      "rel=\"xet-reconstruction-info\"; title=\"a;b,c\", junk, <https://h/t>; rel=xet-auth";
  auto links = ParseLinkHeader(v);
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].url, "https://h/api/x?cursor=a,b");
  EXPECT_EQ(links[0].rel, "next");
  EXPECT_EQ(links[1].rel, "xet-reconstruction-info");
  EXPECT_EQ(links[2].rel, "xet-auth");
  EXPECT_EQ(FindLink({v}, "xet-auth"), "https://h/t");
  EXPECT_EQ(FindLink({v}, "NEXT"), "https://h/api/x?cursor=a,b");
  EXPECT_EQ(FindLink({"<https://x>; rel=\"prev next\""}, "next"), "https://x");
  EXPECT_EQ(FindLink({v}, "prev"), std::nullopt);
  EXPECT_TRUE(ParseLinkHeader("<unterminated").empty());
}

TEST(HttpStatusTest, Mapping) {
  EXPECT_EQ(ErrorCodeForHttpStatus(200), ErrorCode::kOk);
  EXPECT_EQ(ErrorCodeForHttpStatus(401), ErrorCode::kUnauthenticated);
  EXPECT_EQ(ErrorCodeForHttpStatus(403), ErrorCode::kPermissionDenied);
  EXPECT_EQ(ErrorCodeForHttpStatus(404), ErrorCode::kNotFound);
  EXPECT_EQ(ErrorCodeForHttpStatus(409), ErrorCode::kConflict);
  EXPECT_EQ(ErrorCodeForHttpStatus(412), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCodeForHttpStatus(416), ErrorCode::kOutOfRange);
  EXPECT_EQ(ErrorCodeForHttpStatus(429), ErrorCode::kResourceExhausted);
  EXPECT_EQ(ErrorCodeForHttpStatus(503), ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorCodeForHttpStatus(418), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(IsRetryableHttpStatus(408));
  EXPECT_TRUE(IsRetryableHttpStatus(502));
  EXPECT_FALSE(IsRetryableHttpStatus(501));
  EXPECT_FALSE(IsRetryableHttpStatus(404));
}

TEST(HttpStatusTest, A429CarriesTheServersWait) {
  HttpResponse r;
  r.status = 429;
  r.body = R"({"error":"You have exceeded the rate limit for repository commits"})";
  EXPECT_FALSE(StatusFromResponse(r, "ctx").retry_after().has_value());
  r.headers.Add("Retry-After", "17");
  Status st = StatusFromResponse(r, "commit");
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted);
  ASSERT_TRUE(st.retry_after().has_value());
  EXPECT_EQ(st.retry_after()->count(), 17);
  // Context added on the way up keeps it; the larger of RateLimit's and
  // Retry-After's waits wins.
  EXPECT_EQ(st.WithContext("upload").retry_after()->count(), 17);
  r.headers.Add("RateLimit", "\"commits\";r=0;t=30");
  EXPECT_EQ(StatusFromResponse(r, "ctx").retry_after()->count(), 30);
  // Not on other statuses.
  r.status = 500;
  EXPECT_FALSE(StatusFromResponse(r, "ctx").retry_after().has_value());
}

TEST(HttpStatusTest, ErrorMessageShapes) {
  HttpResponse r;
  r.status = 400;
  r.body = R"({"error":["a","b"],"error_description":"c"})";
  EXPECT_NE(StatusFromResponse(r, "ctx").message().find("a; b; c"), std::string::npos);
  r.body = R"({"errors":[{"message":"m1"}]})";
  EXPECT_NE(StatusFromResponse(r, "ctx").message().find("m1"), std::string::npos);
  r.body = "<html>";
  r.headers.Add("X-Error-Message", "Access to this resource is disabled.");
  r.headers.Add("X-Request-Id", "req-1");
  r.status = 403;
  Status st = StatusFromResponse(r, "ctx");
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(st.message().find("disabled"), std::string::npos);
  EXPECT_NE(st.message().find("req-1"), std::string::npos);
  EXPECT_EQ(st.message().rfind("ctx: HTTP 403", 0), 0u) << st;
}

}  // namespace
}  // namespace hubfs::hub
