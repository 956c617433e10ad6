#include "hub/hub_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "hub/curl_transport.h"
#include "hub/hub_services.h"
#include "hub/retry.h"
#include "hub/url.h"
#include "tests/unit/hub/test_clock.h"
#include "tests/unit/hub/test_server.h"

namespace hubfs::hub {
namespace {

using namespace std::chrono_literals;
using testing::SteppingClock;
using testing::TestReply;
using testing::TestRequest;
using testing::TestServer;

const std::string kSha = "7c1e000000000000000000000000000000000abc";
const std::string kSha2 = "1111111111111111111111111111111111111111";
const std::string kXet = std::string(60, 'a') + "2d84";
const std::string kSha256 = std::string(60, 'b') + "0974";

TestReply Json(nlohmann::json j, int status = 200) {
  return TestReply{
      .status = status, .headers = {{"Content-Type", "application/json"}}, .body = j.dump()};
}

// "<url>; rel=\"rel\"" (built by appending: g++ 12 misreports "<" + string).
std::string Link(const std::string& url, std::string_view rel) {
  std::string s;
  s += '<';
  s += url;
  s += ">; rel=\"";
  s += rel;
  s += '"';
  return s;
}

TestReply HubError(int status, std::string code, std::string msg) {
  TestReply r = Json({{"error", msg}}, status);
  if (!code.empty()) r.headers.push_back({"X-Error-Code", code});
  return r;
}

class HubClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { global_ = CurlGlobal::Init().value().release(); }
  static void TearDownTestSuite() {
    delete global_;
    global_ = nullptr;
  }

  void SetUp() override {
    CurlTransportOptions o;
    o.connect_timeout = 2000ms;
    o.stall_timeout = 300ms;
    curl_ = std::move(CurlTransport::Create(o)).value();
  }

  std::unique_ptr<HubClient> MakeClient(TestServer& server, TokenProvider* tokens,
                                        HubClientOptions o = {}) {
    o.endpoint = server.base_url();
    return std::make_unique<HubClient>(curl_.get(), &clock_, tokens, o);
  }

  static CurlGlobal* global_;
  std::unique_ptr<CurlTransport> curl_;
  SteppingClock clock_;
  StaticTokenProvider token_{std::string("hf_testtoken")};
  StaticTokenProvider no_token_{std::nullopt};
};
CurlGlobal* HubClientTest::global_ = nullptr;

TEST_F(HubClientTest, ResolveRevisionEncodesRevisionAndSendsToken) {
  TestServer server([](const TestRequest& r) {
    if (r.path == "/api/models/org/model/revision/refs%2Fpr%2F1" ||
        r.path == "/api/datasets/org/data/revision/main") {
      return Json({{"_id", "x"}, {"id", "org/model"}, {"sha", kSha}, {"siblings", {}}});
    }
    return HubError(404, "RepoNotFound", "no route " + r.path);
  });
  auto client = MakeClient(server, &token_);
  RepoId model = ParseRepoId(RepoType::kModel, "org/model").value();
  auto sha = client->ResolveRevision(model, "refs/pr/1");
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, kSha);
  RepoId data = ParseRepoId(RepoType::kDataset, "org/data").value();
  EXPECT_EQ(client->ResolveRevision(data, "main").value_or(""), kSha);
  for (const auto& r : server.requests()) {
    EXPECT_EQ(r.Header("Authorization").value_or(""), "Bearer hf_testtoken");
    // Only the sha and date: never the file list of the whole revision.
    EXPECT_EQ(r.query, "expand=sha&expand=lastModified");
  }
}

TEST_F(HubClientTest, RevisionNotFoundCarriesHubErrorCode) {
  TestServer server(
      [](const TestRequest&) { return HubError(404, "RevisionNotFound", "Invalid rev id: nope"); });
  auto client = MakeClient(server, &token_);
  auto sha = client->ResolveRevision(ParseRepoId(RepoType::kModel, "org/m").value(), "nope");
  ASSERT_FALSE(sha.ok());
  EXPECT_EQ(sha.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(sha.status().http_status(), 404);
  EXPECT_EQ(sha.status().hub_error_code(), "RevisionNotFound");
  EXPECT_NE(sha.status().message().find("org/m@nope"), std::string::npos) << sha.status();
  EXPECT_NE(sha.status().message().find("Invalid rev id"), std::string::npos) << sha.status();
}

TEST_F(HubClientTest, PrivateRepoWithoutTokenIsUnauthenticated) {
  TestServer server([](const TestRequest& r) {
    if (!r.Header("Authorization")) {
      return HubError(401, "RepoNotFound", "Invalid username or password.");
    }
    return Json({{"sha", kSha}});
  });
  auto anon = MakeClient(server, &no_token_);
  RepoId repo = ParseRepoId(RepoType::kModel, "org/private").value();
  auto sha = anon->ResolveRevision(repo, "main");
  ASSERT_FALSE(sha.ok());
  EXPECT_EQ(sha.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(sha.status().hub_error_code(), "RepoNotFound");
  auto authed = MakeClient(server, &token_);
  EXPECT_TRUE(authed->ResolveRevision(repo, "main").ok());
}

TEST_F(HubClientTest, IsPrivateAsksOnlyForTheFlagAndRefusesAnAnswerWithout) {
  TestServer server([](const TestRequest& r) {
    if (r.path == "/api/models/org/secret") return Json({{"id", "org/secret"}, {"private", true}});
    if (r.path == "/api/datasets/org/open") return Json({{"id", "org/open"}, {"private", false}});
    if (r.path == "/api/models/org/vague") return Json({{"id", "org/vague"}, {"private", "yes"}});
    return HubError(404, "RepoNotFound", "no route " + r.path);
  });
  auto client = MakeClient(server, &token_);
  EXPECT_EQ(client->IsPrivate(ParseRepoId(RepoType::kModel, "org/secret").value()).value_or(false),
            true);
  EXPECT_EQ(client->IsPrivate(ParseRepoId(RepoType::kDataset, "org/open").value()).value_or(true),
            false);
  auto vague = client->IsPrivate(ParseRepoId(RepoType::kModel, "org/vague").value());
  ASSERT_FALSE(vague.ok());
  EXPECT_EQ(vague.status().code(), ErrorCode::kCorrupt);
  auto missing = client->IsPrivate(ParseRepoId(RepoType::kModel, "org/none").value());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  for (const auto& r : server.requests()) EXPECT_EQ(r.query, "expand=private");
}

TEST_F(HubClientTest, TreeListingFollowsThreePagesAcrossAbsoluteLinks) {
  std::string base;
  TestServer server([&](const TestRequest& r) {
    if (r.path != "/api/models/org/m/tree/main/a%20b/c%23d") return HubError(404, "", r.path);
    int page = r.query.find("cursor=2") != std::string::npos   ? 2
               : r.query.find("cursor=3") != std::string::npos ? 3
                                                               : 1;
    nlohmann::json entries = nlohmann::json::array();
    for (int i = 0; i < 3; ++i) {
      std::string p = "a b/c#d/p" + std::to_string(page) + "_" + std::to_string(i);
      entries.push_back({{"type", "file"}, {"oid", "fca7"}, {"size", 313}, {"path", p}});
    }
    if (page == 1) {
      entries.push_back(
          {{"type", "directory"}, {"oid", "aa53"}, {"size", 0}, {"path", "a b/c#d/sub"}});
      entries.push_back({{"type", "unknown"}, {"path", "a b/c#d/odd"}});
    }
    if (page == 3) {
      entries.push_back({{"type", "file"},
                         {"oid", "ba5d"},
                         {"size", 440473133},
                         {"path", "a b/c#d/model.bin"},
                         {"lfs", {{"oid", kSha256}, {"size", 440473133}, {"pointerSize", 134}}},
                         {"xetHash", kXet},
                         {"lastCommit", {{"id", kSha}, {"title", "init"}, {"date", "2024"}}}});
    }
    TestReply reply = Json(entries);
    if (page < 3) {
      reply.headers.push_back({"Link", Link(base + r.path + "?recursive=true&expand=true&cursor=" +
                                                std::to_string(page + 1),
                                            "next")});
    }
    return reply;
  });
  base = server.base_url();
  auto client = MakeClient(server, &token_);
  auto entries = client->ListTree(ParseRepoId(RepoType::kModel, "org/m").value(), "main", "a b/c#d",
                                  {.recursive = true, .expand = true});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 11u);
  EXPECT_EQ((*entries)[3].type, TreeEntry::Type::kDirectory);
  const TreeEntry& big = entries->back();
  EXPECT_EQ(big.path, "a b/c#d/model.bin");
  EXPECT_EQ(big.size, 440473133u);
  ASSERT_TRUE(big.lfs.has_value());
  EXPECT_EQ(big.lfs->sha256, kSha256);
  EXPECT_EQ(big.lfs->pointer_size, 134u);
  EXPECT_EQ(big.xet_hash, kXet);
  ASSERT_TRUE(big.last_commit.has_value());
  EXPECT_EQ(big.last_commit->id, kSha);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].query, "recursive=true&expand=true");
  for (const auto& r : reqs)
    EXPECT_EQ(r.Header("Authorization").value_or(""), "Bearer hf_testtoken");
}

TEST_F(HubClientTest, NextPageOnAnotherOriginGetsNoToken) {
  TestServer other([](const TestRequest&) {
    return Json(
        nlohmann::json::array({{{"type", "file"}, {"oid", "1"}, {"size", 1}, {"path", "z"}}}));
  });
  TestServer server([&](const TestRequest&) {
    TestReply r = Json(nlohmann::json::array());
    r.headers.push_back({"Link", Link(other.base_url() + "/page2", "next")});
    return r;
  });
  auto client = MakeClient(server, &token_);
  auto entries = client->ListTree(ParseRepoId(RepoType::kModel, "o/m").value(), "main", "", {});
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 1u);
  ASSERT_EQ(other.requests().size(), 1u);
  EXPECT_FALSE(other.requests()[0].Header("Authorization").has_value());
  EXPECT_TRUE(server.requests()[0].Header("Authorization").has_value());
}

TEST_F(HubClientTest, PaginationIsBounded) {
  std::atomic<int> n{0};
  std::string base;
  TestServer server([&](const TestRequest& r) {
    TestReply reply = Json(nlohmann::json::array());
    if (r.path == "/api/models/o/loop/tree/main") {
      reply.headers.push_back({"Link", Link(base + r.path, "next")});
    } else {
      reply.headers.push_back(
          {"Link", Link(base + r.path + "?cursor=" + std::to_string(++n), "next")});
    }
    return reply;
  });
  base = server.base_url();
  HubClientOptions o;
  o.max_pages = 5;
  auto client = MakeClient(server, &token_, o);
  auto endless = client->ListTree(ParseRepoId(RepoType::kModel, "o/m").value(), "main", "", {});
  ASSERT_FALSE(endless.ok());
  EXPECT_EQ(endless.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(n.load(), 5);
  auto loop = client->ListTree(ParseRepoId(RepoType::kModel, "o/loop").value(), "main", "", {});
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), ErrorCode::kCorrupt);
}

TEST_F(HubClientTest, MalformedEntriesAreRejected) {
  std::map<std::string, nlohmann::json> bodies = {
      {"/dotdot",
       nlohmann::json::array({{{"type", "file"}, {"oid", "1"}, {"size", 1}, {"path", "a/../x"}}})},
      {"/abs",
       nlohmann::json::array({{{"type", "file"}, {"oid", "1"}, {"size", 1}, {"path", "/etc"}}})},
      {"/neg",
       nlohmann::json::array({{{"type", "file"}, {"oid", "1"}, {"size", -1}, {"path", "x"}}})},
      {"/strsize",
       nlohmann::json::array({{{"type", "file"}, {"oid", "1"}, {"size", "9"}, {"path", "x"}}})},
      {"/xet",
       nlohmann::json::array(
           {{{"type", "file"}, {"oid", "1"}, {"size", 1}, {"path", "x"}, {"xetHash", "zz"}}})},
      {"/obj", nlohmann::json::object({{"error", "not a list"}})},
  };
  TestServer server([&](const TestRequest& r) {
    for (const auto& [k, v] : bodies) {
      if (r.path.ends_with(k)) return Json(v);
    }
    return TestReply{.body = "[not json"};
  });
  auto client = MakeClient(server, &token_);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  for (std::string dir : {"dotdot", "abs", "neg", "strsize", "xet", "obj", "garbage"}) {
    auto r = client->ListTree(repo, "main", dir, {});
    ASSERT_FALSE(r.ok()) << dir;
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << dir << ": " << r.status();
  }
}

TEST_F(HubClientTest, PathsInfoPostsJson) {
  TestServer server([](const TestRequest& r) {
    if (r.method != "POST" || r.path != "/api/spaces/o/app/paths-info/feature%2Fx") {
      return HubError(404, "", "bad route");
    }
    auto body = nlohmann::json::parse(r.body);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : body["paths"]) {
      if (p == "missing.txt") continue;
      out.push_back({{"type", "file"}, {"oid", "1"}, {"size", 5}, {"path", p}});
    }
    EXPECT_EQ(body["expand"], true);
    EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json");
    return Json(out);
  });
  auto client = MakeClient(server, &token_);
  auto entries = client->PathsInfo(ParseRepoId(RepoType::kSpace, "o/app").value(), "feature/x",
                                   {"a.txt", "missing.txt", "dir/b.txt"}, true);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].path, "dir/b.txt");
  // More than the Hub's 1000 per call: sent in batches, order kept.
  std::vector<std::string> many;
  for (int i = 0; i < 1001; ++i) many.push_back(std::string("f").append(std::to_string(i)));
  auto batched = client->PathsInfo(ParseRepoId(RepoType::kSpace, "o/app").value(), "feature/x",
                                   many, true);
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->size(), 1001u);
  EXPECT_EQ(batched->back().path, "f1000");
  EXPECT_EQ(server.requests().size(), 3u);
  auto none = client->PathsInfo(ParseRepoId(RepoType::kSpace, "o/app").value(), "main", {}, false);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(HubClientTest, ResolveXetFileDoesNotFollowAbsoluteRedirect) {
  TestServer cdn([](const TestRequest&) { return TestReply{.body = "data"}; });
  std::string ep;
  TestServer server([&](const TestRequest& r) {
    if (r.path == "/datasets/o/d/resolve/main/dir/w%20x.bin") {
      EXPECT_EQ(r.method, "HEAD");
      return TestReply{
          .status = 302,
          .headers = {
              {"Location", cdn.base_url() + "/signed?X-Sig=abc"},
              {"X-Linked-Size", "440473133"},
              {"X-Linked-Etag", "\"" + kSha256 + "\""},
              {"X-Repo-Commit", kSha},
              {"X-Xet-Hash", kXet},
              {"Link", Link(ep + "/api/datasets/o/d/xet-read-token/" + kSha, "xet-auth") + ", " +
                           Link("http://cas.local/v1/reconstructions/" + kXet,
                                "xet-reconstruction-info")}}};
    }
    if (r.path == "/o/renamed/resolve/main/config.json") {
      return TestReply{.status = 307, .headers = {{"Location", "/o/new/resolve/main/config.json"}}};
    }
    if (r.path == "/o/new/resolve/main/config.json") {
      return TestReply{.headers = {{"ETag", "W/\"fca7\""}, {"X-Repo-Commit", kSha2}},
                       .body = std::string(313, 'c')};
    }
    TestReply miss = HubError(404, "EntryNotFound", "Entry not found");
    miss.headers.push_back({"X-Repo-Commit", kSha});
    return miss;
  });
  ep = server.base_url();
  auto client = MakeClient(server, &token_);
  auto info =
      client->ResolveFile(ParseRepoId(RepoType::kDataset, "o/d").value(), "main", "dir/w x.bin");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->http_status, 302);
  EXPECT_EQ(info->commit, kSha);
  EXPECT_EQ(info->etag, kSha256);
  EXPECT_EQ(info->size, 440473133u);
  EXPECT_EQ(info->xet_hash, kXet);
  EXPECT_EQ(info->xet_auth_url, ep + "/api/datasets/o/d/xet-read-token/" + kSha);
  EXPECT_EQ(info->xet_reconstruction_url, "http://cas.local/v1/reconstructions/" + kXet);
  EXPECT_EQ(info->location, cdn.base_url() + "/signed?X-Sig=abc");
  EXPECT_TRUE(cdn.requests().empty());
  EXPECT_EQ(server.requests()[0].Header("Accept-Encoding").value_or(""), "identity");

  auto regular = client->ResolveFile(ParseRepoId(RepoType::kModel, "o/renamed").value(), "main",
                                     "config.json");
  ASSERT_TRUE(regular.ok()) << regular.status();
  EXPECT_EQ(regular->http_status, 200);
  EXPECT_EQ(regular->etag, "fca7");
  EXPECT_EQ(regular->commit, kSha2);
  EXPECT_EQ(regular->size, 313u);
  EXPECT_FALSE(regular->xet_hash.has_value());

  auto missing = client->ResolveFile(ParseRepoId(RepoType::kModel, "o/m").value(), "main", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().hub_error_code(), "EntryNotFound");
}

TEST_F(HubClientTest, XetTokenIsCachedUntilShortlyBeforeExpiryAndRefreshed) {
  std::atomic<int> fetches{0};
  SteppingClock* clock = &clock_;
  TestServer server([&](const TestRequest& r) {
    if (r.path != "/api/models/o/m/xet-read-token/main") return HubError(404, "", "bad");
    int n = ++fetches;
    return Json({{"accessToken", "xet_tok" + std::to_string(n)},
                 {"exp", clock->UnixSeconds() + 300},
                 {"casUrl", "http://cas.local:9000/"}});
  });
  auto client = MakeClient(server, &token_);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  auto t1 = client->XetReadToken(repo, "main");
  ASSERT_TRUE(t1.ok()) << t1.status();
  EXPECT_EQ(t1->access_token, "xet_tok1");
  EXPECT_EQ(t1->cas_url, "http://cas.local:9000");
  clock_.Advance(200s);  // 100 s left: still outside the 60 s margin
  EXPECT_EQ(client->XetReadToken(repo, "main")->access_token, "xet_tok1");
  EXPECT_EQ(fetches.load(), 1);
  clock_.Advance(50s);  // 50 s left: refresh
  EXPECT_EQ(client->XetReadToken(repo, "main")->access_token, "xet_tok2");
  EXPECT_EQ(fetches.load(), 2);
  // After a CAS 401 the caller forces a refresh.
  EXPECT_EQ(client->XetReadToken(repo, "main", /*force_refresh=*/true)->access_token, "xet_tok3");
  EXPECT_EQ(client->XetReadToken(repo, "main")->access_token, "xet_tok3");
  EXPECT_EQ(fetches.load(), 3);
}

TEST_F(HubClientTest, MalformedXetTokenIsCorrupt) {
  TestServer server([](const TestRequest&) {
    return Json({{"accessToken", "xet_a"}, {"exp", "soon"}, {"casUrl", "http://c"}});
  });
  auto client = MakeClient(server, &token_);
  auto t = client->XetReadToken(ParseRepoId(RepoType::kModel, "o/m").value(), "main");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kCorrupt);
}

TEST_F(HubClientTest, ListReposByAuthorIsPaged) {
  std::string base;
  TestServer server([&](const TestRequest& r) {
    if (r.path != "/api/datasets") return HubError(404, "", "bad");
    if (r.query == "author=org") {
      TestReply reply = Json({{{"id", "org/a"}, {"_id", "1"}, {"private", false}},
                              {{"id", "org/b"}, {"private", true}, {"lastModified", "2024"}}});
      reply.headers.push_back({"Link", Link(base + "/api/datasets?author=org&cursor=x", "next")});
      return reply;
    }
    return Json({{{"id", "org/c"}, {"sha", kSha}}});
  });
  base = server.base_url();
  auto client = MakeClient(server, &token_);
  auto repos = client->ListRepos(RepoType::kDataset, "org");
  ASSERT_TRUE(repos.ok()) << repos.status();
  ASSERT_EQ(repos->size(), 3u);
  EXPECT_TRUE((*repos)[1].is_private);
  EXPECT_EQ((*repos)[2].sha, kSha);
  EXPECT_FALSE(client->ListRepos(RepoType::kModel, "bad--ns").ok());
}

TEST_F(HubClientTest, RetryAfterIsHonouredThroughRetryingTransport) {
  std::atomic<int> n{0};
  TestServer server([&](const TestRequest&) {
    if (n++ == 0) {
      TestReply r = HubError(429, "", "slow down");
      r.headers.push_back({"Retry-After", "2"});
      return r;
    }
    return Json({{"sha", kSha}});
  });
  RetryPolicy policy;
  policy.initial_backoff = 10ms;
  RetryingTransport retrying(curl_.get(), &clock_, policy);
  HubClientOptions o;
  o.endpoint = server.base_url();
  HubClient client(&retrying, &clock_, &token_, o);
  auto sha = client.ResolveRevision(ParseRepoId(RepoType::kModel, "o/m").value(), "main");
  ASSERT_TRUE(sha.ok()) << sha.status();
  ASSERT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_EQ(clock_.sleeps()[0], 2000ms);
}

TEST_F(HubClientTest, OfflineSendsNothing) {
  TestServer server([](const TestRequest&) { return Json({{"sha", kSha}}); });
  HubClientOptions o;
  o.offline = true;
  auto client = MakeClient(server, &token_, o);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  auto sha = client->ResolveRevision(repo, "main");
  ASSERT_FALSE(sha.ok());
  EXPECT_EQ(sha.status().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(client->ResolveFile(repo, "main", "x").ok());
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HubClientTest, OversizedAnswerAndStallAreErrors) {
  TestServer server([](const TestRequest& r) {
    if (r.path.ends_with("/refs")) {
      return TestReply{.body = std::string(5000, ' '), .stall_after = 10};
    }
    return Json({{"sha", kSha}, {"pad", std::string(10000, 'p')}});
  });
  HubClientOptions o;
  o.max_json_bytes = 4096;
  auto client = MakeClient(server, &token_, o);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  auto big = client->ResolveRevision(repo, "main");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), ErrorCode::kResourceExhausted) << big.status();
  auto stalled = client->ListRefs(repo, false);
  ASSERT_FALSE(stalled.ok());
  EXPECT_EQ(stalled.status().code(), ErrorCode::kTimeout) << stalled.status();
}

TEST_F(HubClientTest, RefsParsed) {
  TestServer server([](const TestRequest& r) {
    EXPECT_EQ(r.query, "include_prs=1");
    return Json(
        {{"branches", {{{"name", "main"}, {"ref", "refs/heads/main"}, {"targetCommit", kSha}}}},
         {"tags", {{{"name", "v1.0"}, {"ref", "refs/tags/v1.0"}, {"targetCommit", kSha2}}}},
         {"converts", nlohmann::json::array()},
         {"pullRequests", {{{"name", "1"}, {"ref", "refs/pr/1"}, {"targetCommit", kSha}}}}});
  });
  auto client = MakeClient(server, &token_);
  auto refs = client->ListRefs(ParseRepoId(RepoType::kModel, "o/m").value(), true);
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->branches.size(), 1u);
  EXPECT_EQ(refs->tags[0].target_commit, kSha2);
  EXPECT_EQ(refs->pull_requests[0].ref, "refs/pr/1");
}

TEST_F(HubClientTest, RotatedTokenFileIsUsedOnTheNextCall) {
  std::string dir = (std::filesystem::temp_directory_path() / "hubfs-rotate-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  auto settings = LoadSettings({{"HF_HOME", dir}});
  ASSERT_TRUE(settings.ok());
  EnvOrFileTokenProvider tokens(*settings);
  TestServer server([](const TestRequest&) { return Json({{"sha", kSha}}); });
  auto client = MakeClient(server, &tokens);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  std::ofstream(dir + "/token") << "hf_first\n";
  ASSERT_TRUE(client->ResolveRevision(repo, "main").ok());
  std::ofstream(dir + "/token", std::ios::trunc) << "hf_second\n";
  ASSERT_TRUE(client->ResolveRevision(repo, "main").ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("Authorization").value_or(""), "Bearer hf_first");
  EXPECT_EQ(reqs[1].Header("Authorization").value_or(""), "Bearer hf_second");
  std::filesystem::remove_all(dir);
}

TEST_F(HubClientTest, ReadFileRangesAndRedirects) {
  const std::string content = "0123456789";
  TestServer cdn([&](const TestRequest&) { return TestReply{.body = content}; });  // no Range
  TestServer server([&](const TestRequest& r) {
    if (r.path == "/o/m/resolve/main/moved.txt") {
      return TestReply{.status = 302, .headers = {{"Location", cdn.base_url() + "/blob?sig=1"}}};
    }
    if (r.path == "/o/m/resolve/main/shifted.txt") {
      return TestReply{.status = 206, .headers = {{"Content-Range", "bytes 3-4/10"}}, .body = "34"};
    }
    auto range = r.Header("Range");
    if (!range) return TestReply{.body = content};
    size_t dash = range->find('-');
    uint64_t first = std::stoull(range->substr(6, dash - 6));
    uint64_t last = std::stoull(range->substr(dash + 1));
    if (first >= content.size()) {
      return TestReply{.status = 416, .headers = {{"Content-Range", "bytes */10"}}};
    }
    last = std::min<uint64_t>(last, content.size() - 1);
    return TestReply{.status = 206,
                     .headers = {{"Content-Range", "bytes " + std::to_string(first) + "-" +
                                                       std::to_string(last) + "/10"}},
                     .body = content.substr(first, last - first + 1)};
  });
  auto client = MakeClient(server, &token_);
  RepoId repo = ParseRepoId(RepoType::kModel, "o/m").value();
  EXPECT_EQ(client->ReadFile(repo, "main", "a.txt", std::nullopt, 100).value_or("?"), content);
  EXPECT_EQ(client->ReadFile(repo, "main", "a.txt", ByteRange{2, 5}, 100).value_or("?"), "2345");
  EXPECT_EQ(client->ReadFile(repo, "main", "a.txt", ByteRange{8, 20}, 100).value_or("?"), "89");
  EXPECT_EQ(client->ReadFile(repo, "main", "a.txt", ByteRange{10, 20}, 100).status().code(),
            ErrorCode::kOutOfRange);
  EXPECT_EQ(client->ReadFile(repo, "main", "shifted.txt", ByteRange{2, 3}, 100).status().code(),
            ErrorCode::kCorrupt);
  EXPECT_EQ(client->ReadFile(repo, "main", "a.txt", std::nullopt, 5).status().code(),
            ErrorCode::kResourceExhausted);
  // Redirected to another origin that ignores Range: sliced locally, no token there.
  EXPECT_EQ(client->ReadFile(repo, "main", "moved.txt", ByteRange{1, 3}, 100).value_or("?"), "123");
  ASSERT_EQ(cdn.requests().size(), 1u);
  EXPECT_FALSE(cdn.requests()[0].Header("Authorization").has_value());
  EXPECT_EQ(cdn.requests()[0].Header("Range").value_or(""), "bytes=1-3");
  EXPECT_EQ(server.requests()[0].Header("Accept-Encoding").value_or(""), "identity");
}

}  // namespace
}  // namespace hubfs::hub

namespace hubfs::hub {
namespace {

// The wiring main() uses: settings -> services -> a call with the file token.
TEST(HubServicesTest, WiredFromSettings) {
  auto global = CurlGlobal::Init();
  ASSERT_TRUE(global.ok());
  std::string dir = (std::filesystem::temp_directory_path() / "hubfs-services-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/token") << "hf_wired\n";
  testing::TestServer server([](const testing::TestRequest& r) {
    return testing::TestReply{.body = "{\"sha\":\"" + kSha + "\",\"ua\":\"" +
                                      r.Header("User-Agent").value_or("") + "\"}"};
  });
  auto settings = LoadSettings({{"HF_HOME", dir}, {"HF_ENDPOINT", server.base_url() + "/"}});
  ASSERT_TRUE(settings.ok()) << settings.status();
  SteppingClock clock;
  auto services = HubServices::Create(*settings, &clock);
  ASSERT_TRUE(services.ok()) << services.status();
  auto sha =
      (*services)->hub().ResolveRevision(ParseRepoId(RepoType::kModel, "o/m").value(), "main");
  ASSERT_TRUE(sha.ok()) << sha.status();
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("Authorization").value_or(""), "Bearer hf_wired");
  EXPECT_EQ(reqs[0].Header("User-Agent").value_or("").rfind("hubfs/", 0), 0u);
  services->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hubfs::hub
