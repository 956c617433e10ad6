#include "hub/commit_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/clock.h"
#include "hub/cas_upload.h"
#include "hub/fake_transport.h"
#include "hub/retry.h"

namespace hubfs::hub {
namespace {

using nlohmann::json;

const std::string kEp = "https://hub.test";
const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

HttpResponse Json(json j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.Add("Content-Type", "application/json");
  r.body = j.dump();
  return r;
}

struct Fixture {
  explicit Fixture(FakeHttpTransport::Handler h)
      : transport(std::move(h)),
        tokens(std::string("hf_secret")),
        client(&transport, &clock, &tokens, Options()) {}
  static CommitClientOptions Options() {
    CommitClientOptions o;
    o.endpoint = kEp;
    return o;
  }
  FakeHttpTransport transport;
  FakeClock clock;
  StaticTokenProvider tokens;
  CommitClient client;
};

RepoId Repo() { return RepoId{RepoType::kDataset, "org", "data"}; }

TEST(CommitClientTest, CommitBodyHasTheHeaderFirstAndOneLinePerOperation) {
  CommitRequest req;
  req.summary = "Upload 2 files";
  req.description = "d";
  req.parent_commit = kSha;
  req.operations.push_back(CommitOperation::File("a/b.txt", std::string("hi\0x", 4)));
  req.operations.push_back(CommitOperation::LfsFile("w.bin", std::string(64, 'a'), 123));
  req.operations.push_back(CommitOperation::LfsFile("moved.bin", std::string(64, 'b'), std::nullopt));
  req.operations.push_back(CommitOperation::DeletedFile("old.txt"));
  req.operations.push_back(CommitOperation::DeletedFolder("ckpt"));
  std::string body = CommitClient::CommitBody(req);
  EXPECT_NE(body.back(), '\n');
  std::vector<json> lines;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    lines.push_back(json::parse(body.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], (json{{"key", "header"},
                            {"value", {{"summary", "Upload 2 files"}, {"description", "d"},
                                       {"parentCommit", kSha}}}}));
  EXPECT_EQ(lines[1]["key"], "file");
  EXPECT_EQ(lines[1]["value"]["encoding"], "base64");
  EXPECT_EQ(*Base64Decode(lines[1]["value"]["content"].get<std::string>()),
            std::string("hi\0x", 4));
  EXPECT_EQ(lines[2], (json{{"key", "lfsFile"},
                            {"value", {{"path", "w.bin"}, {"algo", "sha256"},
                                       {"oid", std::string(64, 'a')}, {"size", 123}}}}));
  EXPECT_FALSE(lines[3]["value"].contains("size"));  // re-referenced by oid
  EXPECT_EQ(lines[4], (json{{"key", "deletedFile"}, {"value", {{"path", "old.txt"}}}}));
  EXPECT_EQ(lines[5], (json{{"key", "deletedFolder"}, {"value", {{"path", "ckpt/"}}}}));
}

TEST(CommitClientTest, CommitReturnsThePrNumberAndIsNeverRetried) {
  std::atomic<int> posts{0};
  int status = 503;
  Fixture f([&](const RecordedRequest& r) -> Result<HttpResponse> {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, kEp + "/api/datasets/org/data/commit/refs%2Fpr%2F3");
    EXPECT_EQ(*r.headers.Get("Content-Type"), "application/x-ndjson");
    EXPECT_EQ(*r.headers.Get("Authorization"), "Bearer hf_secret");
    ++posts;
    if (status != 200) return Json({{"error", "busy"}}, status);
    return Json({{"success", true},
                 {"commitOid", kSha},
                 {"commitUrl", kEp + "/datasets/org/data/commit/" + kSha},
                 {"pullRequestUrl", kEp + "/datasets/org/data/discussions/3"}});
  });
  // Through a retrying transport: a 503 to a commit comes back at once.
  FakeClock clock;
  RetryPolicy policy;
  policy.initial_backoff = std::chrono::milliseconds(0);
  RetryingTransport retrying(&f.transport, &clock, policy);
  CommitClient client(&retrying, &clock, &f.tokens, Fixture::Options());
  CommitRequest req;
  req.summary = "s";
  req.operations.push_back(CommitOperation::DeletedFile("x"));
  auto r = client.Commit(Repo(), "refs/pr/3", req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(posts.load(), 1);
  status = 200;
  r = client.Commit(Repo(), "refs/pr/3", req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commit_oid, kSha);
  EXPECT_EQ(r->pr_number, 3u);
}

TEST(CommitClientTest, StaleParentAndConflictAreTypedErrors) {
  int status = 412;
  Fixture f([&](const RecordedRequest&) -> Result<HttpResponse> {
    return Json({{"error", "The branch was updated since you opened this page."}}, status);
  });
  CommitRequest req;
  req.summary = "s";
  req.parent_commit = kSha;
  req.operations.push_back(CommitOperation::DeletedFile("x"));
  auto r = f.client.Commit(Repo(), "main", req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.status().http_status(), 412);
  status = 409;
  r = f.client.Commit(Repo(), "main", req);
  EXPECT_EQ(r.status().code(), ErrorCode::kConflict);
}

TEST(CommitClientTest, AnEmptyCommitIsNeverSent) {
  Fixture f([&](const RecordedRequest&) -> Result<HttpResponse> { return Json({}); });
  CommitRequest req;
  req.summary = "s";
  auto r = f.client.Commit(Repo(), "main", req);
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(f.transport.requests().empty());
}

TEST(CommitClientTest, PreuploadBatchesOf256InOrderAndForcesEmptyFilesRegular) {
  Fixture f([&](const RecordedRequest& r) -> Result<HttpResponse> {
    json body = json::parse(r.body);
    json files = json::array();
    // Answer in reverse order: the client must match by path.
    for (auto it = body["files"].rbegin(); it != body["files"].rend(); ++it) {
      EXPECT_LE(Base64Decode((*it)["sample"].get<std::string>())->size(), 512u);
      files.push_back({{"path", (*it)["path"]}, {"uploadMode", "lfs"}, {"shouldIgnore", false}});
    }
    return Json({{"files", files}, {"commitOid", kSha}});
  });
  std::vector<PreuploadFile> in;
  for (int i = 0; i < 600; ++i) {
    std::string name = "f";
    name += std::to_string(i);
    in.push_back({name, static_cast<uint64_t>(i), std::string(i % 700, 'x')});
  }
  auto r = f.client.Preupload(Repo(), "main", in, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 600u);
  for (int i = 0; i < 600; ++i) EXPECT_EQ((*r)[i].path, in[i].path);
  EXPECT_FALSE((*r)[0].lfs);  // size 0
  EXPECT_TRUE((*r)[1].lfs);
  auto reqs = f.transport.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].url, kEp + "/api/datasets/org/data/preupload/main");
  EXPECT_EQ(json::parse(reqs[0].body)["files"].size(), 256u);
  EXPECT_EQ(json::parse(reqs[2].body)["files"].size(), 88u);
}

TEST(CommitClientTest, PreuploadAnswerMissingAFileIsCorrupt) {
  Fixture f([&](const RecordedRequest&) -> Result<HttpResponse> {
    return Json({{"files", json::array()}});
  });
  auto r = f.client.Preupload(Repo(), "main", {{"a", 1, "x"}}, false);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
}

TEST(CommitClientTest, WriteTokensAreCachedUntilNearExpiry) {
  std::atomic<int> calls{0};
  FakeClock* clock = nullptr;
  Fixture f([&](const RecordedRequest& r) -> Result<HttpResponse> {
    ++calls;
    EXPECT_EQ(r.url, kEp + "/api/datasets/org/data/xet-write-token/main?create_pr=1");
    return Json({{"accessToken", "xet_" + std::to_string(calls.load())},
                 {"exp", clock->UnixSeconds() + 300},
                 {"casUrl", "https://cas.test"}});
  });
  clock = &f.clock;
  auto a = f.client.XetWriteToken(Repo(), "main", true);
  auto b = f.client.XetWriteToken(Repo(), "main", true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->access_token, "xet_1");
  f.clock.Advance(std::chrono::seconds(250));  // within the 60 s margin
  auto c = f.client.XetWriteToken(Repo(), "main", true);
  EXPECT_EQ(c->access_token, "xet_2");
  auto d = f.client.XetWriteToken(Repo(), "main", true, /*force_refresh=*/true);
  EXPECT_EQ(d->access_token, "xet_3");
}

TEST(CommitClientTest, LfsBatchParsesActionsAndBasicUploadSendsNoHubToken) {
  Fixture f([&](const RecordedRequest& r) -> Result<HttpResponse> {
    if (r.url == kEp + "/datasets/org/data.git/info/lfs/objects/batch") {
      json body = json::parse(r.body);
      EXPECT_EQ(body["ref"]["name"], "main");
      EXPECT_EQ(body["objects"].size(), 2u);
      HttpResponse resp = Json(
          {{"transfer", "basic"},
           {"objects",
            {{{"oid", std::string(64, 'a')}, {"size", 3}},
             {{"oid", std::string(64, 'b')},
              {"size", 4},
              {"actions",
               {{"upload", {{"href", "https://storage.test/put?sig=1"}, {"header", {{"X-A", "1"}}}}},
                {"verify", {{"href", kEp + "/verify"}}}}}}}}});
      return resp;
    }
    if (r.url == "https://storage.test/put?sig=1") {
      EXPECT_FALSE(r.headers.Get("Authorization").has_value());
      EXPECT_EQ(*r.headers.Get("X-A"), "1");
      EXPECT_EQ(r.body, "data");
      return Json({});
    }
    if (r.url == kEp + "/verify") {
      EXPECT_EQ(*r.headers.Get("Authorization"), "Bearer hf_secret");
      return Json({});
    }
    return Json({{"error", "unexpected " + r.url}}, 500);
  });
  auto r = f.client.LfsBatch(Repo(), "main",
                             {{std::string(64, 'a'), 3}, {std::string(64, 'b'), 4}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->transfer, "basic");
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_FALSE(r->objects[0].needs_upload);
  EXPECT_TRUE(r->objects[1].needs_upload);
  ASSERT_TRUE(f.client.LfsBasicUpload(r->objects[1], "data").ok());
  EXPECT_EQ(f.transport.requests().size(), 3u);
}

TEST(CommitClientTest, PullRequestNumberNeedsTheDiscussionsSuffix) {
  EXPECT_EQ(PullRequestNumber("https://h/m/discussions/12"), 12u);
  EXPECT_FALSE(PullRequestNumber("https://h/m/discussions/12x").has_value());
  EXPECT_FALSE(PullRequestNumber("https://h/m/pull/12").has_value());
  EXPECT_FALSE(PullRequestNumber("https://h/m/discussions/").has_value());
}

TEST(CasWriterTest, XorbUploadRefreshesTheTokenOnceAfter401) {
  std::atomic<int> n{0};
  FakeHttpTransport t([&](const RecordedRequest& r) -> Result<HttpResponse> {
    EXPECT_EQ(r.url, "https://cas.test/v1/xorbs/default/" + std::string(64, 'c'));
    ++n;
    if (n == 1) return Json({{"error", "expired"}}, 401);
    EXPECT_EQ(*r.headers.Get("Authorization"), "Bearer tok2");
    return Json({{"was_inserted", false}});
  });
  int fetched = 0;
  XetTokenSupplier tokens = [&](bool force) -> Result<XetToken> {
    ++fetched;
    return XetToken{force ? "tok2" : "tok1", 0, "https://cas.test"};
  };
  CasWriter w(&t);
  auto r = w.UploadXorb(tokens, std::string(64, 'c'), "body");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_EQ(n.load(), 2);
  EXPECT_EQ(fetched, 2);
}

TEST(CasWriterTest, DedupQuery404IsNothingKnown) {
  FakeHttpTransport t([&](const RecordedRequest& r) -> Result<HttpResponse> {
    EXPECT_EQ(r.url, "https://cas.test/v1/chunks/default/" + std::string(64, 'd'));
    return Json({{"error", "nope"}}, 404);
  });
  XetTokenSupplier tokens = [](bool) -> Result<XetToken> {
    return XetToken{"t", 0, "https://cas.test"};
  };
  CasWriter w(&t);
  auto r = w.QueryChunk(tokens, std::string(64, 'd'));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(w.QueryChunk(tokens, "zz").status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hubfs::hub
