// RepoUploader against a scripted Hub and CAS (FakeHttpTransport): the
// decisions that keep someone else's change safe (412 → rebase only when the
// touched paths did not change upstream), a lost commit answer checked
// against the branch head, local files changing while read, no-op uploads.
#include "fs/upload/repo_uploader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "chunkstore/hash.h"
#include "common/clock.h"
#include "hub/fake_transport.h"

namespace hubfs::fs {
namespace {

using hub::HttpResponse;
using hub::RecordedRequest;
using nlohmann::json;

const std::string kEp = "https://hub.test";
const std::string kCas = "https://cas.test";
const std::string kH1 = std::string(39, '1') + "a";
const std::string kH2 = std::string(39, '2') + "b";
const std::string kH3 = std::string(39, '3') + "c";

HttpResponse Json(json j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.Add("Content-Type", "application/json");
  r.body = j.dump();
  return r;
}

json LfsEntry(const std::string& path, const std::string& sha256, uint64_t size) {
  return {{"type", "file"}, {"path", path}, {"oid", std::string(40, 'e')}, {"size", size},
          {"lfs", {{"oid", sha256}, {"size", size}}}};
}

json RegularEntry(const std::string& path, const std::string& oid, uint64_t size) {
  return {{"type", "file"}, {"path", path}, {"oid", oid}, {"size", size}};
}

// A Hub and CAS just detailed enough for one upload. Files of 1000 bytes or
// more are LFS. Commits are answered by `on_commit`.
class FakeHub {
 public:
  FakeHub()
      : transport_([this](const RecordedRequest& r) { return Handle(r); }),
        tokens_(std::string("hf_t")),
        hub_(&transport_, &clock_, &tokens_, HubOptions()),
        commits_(&transport_, &clock_, &tokens_, CommitOptions()),
        cas_(&transport_) {}

  static hub::HubClientOptions HubOptions() {
    hub::HubClientOptions o;
    o.endpoint = kEp;
    return o;
  }
  static hub::CommitClientOptions CommitOptions() {
    hub::CommitClientOptions o;
    o.endpoint = kEp;
    return o;
  }

  Result<UploadReport> Upload(const UploadPlan& plan) {
    RepoUploader up(&hub_, &commits_, &cas_, nullptr);
    return up.Upload(plan);
  }

  std::mutex mu;
  std::string head = kH1;
  std::map<std::string, std::map<std::string, json>> trees;  // commit -> path -> entry
  std::function<Result<HttpResponse>(int call, const json& header)> on_commit;
  std::function<void()> on_preupload;
  std::map<std::string, std::string> remote_oid;  // preupload's "oid" per path
  int commit_posts = 0;
  bool answer_lies = false;
  int xorb_posts = 0;
  std::vector<json> headers;

 private:
  Result<HttpResponse> Handle(const RecordedRequest& r) {
    const std::string api = kEp + "/api/models/me/r";
    std::unique_lock<std::mutex> lock(mu);
    if (r.url.rfind(api + "/revision/main", 0) == 0) {
      return Json({{"sha", head}, {"lastModified", "2026-12-05T00:00:00.000Z"}});
    }
    if (r.url == api + "/preupload/main") {
      if (on_preupload) {
        lock.unlock();
        on_preupload();
        lock.lock();
      }
      json files = json::array();
      const json body = json::parse(r.body);  // (a loop over a temporary's member dangles)
      for (const auto& f : body["files"]) {
        json a{{"path", f["path"]},
               {"uploadMode", f["size"].get<uint64_t>() >= 1000 ? "lfs" : "regular"},
               {"shouldIgnore", false}};
        if (auto it = remote_oid.find(f["path"]); it != remote_oid.end()) a["oid"] = it->second;
        files.push_back(a);
      }
      return Json({{"files", files}});
    }
    if (r.url.rfind(api + "/xet-write-token/main", 0) == 0) {
      return Json({{"accessToken", "xet_w"}, {"exp", clock_.UnixSeconds() + 3600}, {"casUrl", kCas}});
    }
    if (r.url.rfind(kCas + "/v1/xorbs/default/", 0) == 0) {
      ++xorb_posts;
      return Json({{"was_inserted", true}});
    }
    if (r.url == kCas + "/v1/shards") return Json({{"result", 1}});
    if (r.url.rfind(kCas + "/v1/chunks/", 0) == 0) return Json({{"error", "none"}}, 404);
    if (r.url == kEp + "/me/r.git/info/lfs/objects/batch") {
      json objs = json::array();
      const json body = json::parse(r.body);
      for (const auto& o : body["objects"]) objs.push_back(o);
      return Json({{"transfer", "xet"}, {"objects", objs}});
    }
    if (r.url.rfind(api + "/paths-info/", 0) == 0) {
      std::string rev = r.url.substr((api + "/paths-info/").size());
      json out = json::array();
      const json body = json::parse(r.body);
      for (const auto& p : body["paths"]) {
        auto& tree = trees[rev];
        if (auto it = tree.find(p.get<std::string>()); it != tree.end()) out.push_back(it->second);
      }
      return Json(out);
    }
    if (r.url == api + "/commit/main") {
      json header;
      size_t nl = r.body.find('\n');
      header = json::parse(r.body.substr(0, nl))["value"];
      headers.push_back(header);
      const int call = commit_posts++;
      lock.unlock();
      Result<HttpResponse> answer = on_commit(call, header);
      // A commit the Hub made moves the branch (unless the answer lies:
      // `answer_lies` keeps the head where it was).
      if (answer.ok() && answer->status == 200 && !answer_lies) {
        lock.lock();
        const json body = json::parse(answer->body);
        if (body.contains("commitOid") && body["commitOid"].is_string()) {
          head = body["commitOid"].get<std::string>();
        }
      }
      return answer;
    }
    if (r.url.rfind(api + "/commits/main", 0) == 0) {
      return Json(json::array({{{"id", head}, {"title", "head"}}}));
    }
    return Json({{"error", "unexpected " + r.method + " " + r.url}}, 500);
  }

  hub::FakeHttpTransport transport_;
  FakeClock clock_;
  hub::StaticTokenProvider tokens_;
  hub::HubClient hub_;
  hub::CommitClient commits_;
  hub::CasWriter cas_;
};

HttpResponse Committed(const std::string& sha) {
  return Json({{"success", true},
               {"commitOid", sha},
               {"commitUrl", kEp + "/me/r/commit/" + sha}});
}

class RepoUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-uploader-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    Write("w.bin", std::string(5000, 'w'));
    Write("a.txt", "hello\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }

  UploadPlan Plan() {
    UploadPlan p;
    p.repo = hub::RepoId{hub::RepoType::kModel, "me", "r"};
    p.files = {{"w.bin", (dir_ / "w.bin").string()}, {"a.txt", (dir_ / "a.txt").string()}};
    return p;
  }

  std::string Sha256Of(const std::string& s) {
    return chunkstore::HexLower(chunkstore::Sha256Digest(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
  }

  std::filesystem::path dir_;
};

TEST_F(RepoUploaderTest, RefusesACommitAnswerThatIsNotOnTheBranch) {
  // The Hub answers with a commit of another branch: neither the head nor in
  // the branch's history. The upload fails instead of reporting it.
  FakeHub hub;
  hub.answer_lies = true;
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH3); };
  auto r = hub.Upload(Plan());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("not on the branch"), std::string::npos) << r.status();
  EXPECT_EQ(hub.commit_posts, 1);
}

TEST_F(RepoUploaderTest, CommitsAgainstTheHeadItStartedFrom) {
  FakeHub hub;
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->commit.commit_oid, kH2);
  EXPECT_EQ(r->lfs_files, 1u);
  EXPECT_EQ(r->inline_files, 1u);
  EXPECT_EQ(r->transfer, "xet");
  ASSERT_EQ(hub.headers.size(), 1u);
  EXPECT_EQ(hub.headers[0]["parentCommit"], kH1);
  EXPECT_EQ(hub.headers[0]["summary"], "Upload 2 files with hubfs");
  EXPECT_GE(hub.xorb_posts, 1);
}

TEST_F(RepoUploaderTest, RebasesWhenNoTouchedPathChangedUpstream) {
  FakeHub hub;
  // Someone committed other.txt meanwhile: our paths are the same at H1 and H2.
  hub.trees[kH1]["a.txt"] = RegularEntry("a.txt", std::string(40, 'f'), 3);
  hub.trees[kH2]["a.txt"] = RegularEntry("a.txt", std::string(40, 'f'), 3);
  hub.trees[kH2]["other.txt"] = RegularEntry("other.txt", std::string(40, 'd'), 3);
  hub.on_commit = [&](int call, const json&) -> Result<HttpResponse> {
    if (call == 0) {
      hub.head = kH2;
      return Json({{"error", "The branch was updated"}}, 412);
    }
    return Committed(kH3);
  };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rebases, 1);
  EXPECT_EQ(r->commit.commit_oid, kH3);
  ASSERT_EQ(hub.headers.size(), 2u);
  EXPECT_EQ(hub.headers[0]["parentCommit"], kH1);
  EXPECT_EQ(hub.headers[1]["parentCommit"], kH2);
}

TEST_F(RepoUploaderTest, RefusesWhenATouchedPathChangedUpstream) {
  FakeHub hub;
  hub.trees[kH1]["a.txt"] = RegularEntry("a.txt", std::string(40, 'f'), 3);
  hub.trees[kH2]["a.txt"] = RegularEntry("a.txt", std::string(40, '9'), 4);  // their edit
  hub.on_commit = [&](int, const json&) -> Result<HttpResponse> {
    hub.head = kH2;
    return Json({{"error", "The branch was updated"}}, 412);
  };
  auto r = hub.Upload(Plan());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("'a.txt' changed"), std::string::npos) << r.status();
  EXPECT_EQ(hub.commit_posts, 1);
}

TEST_F(RepoUploaderTest, ALostAnswerWhoseCommitLandedIsNotSentAgain) {
  FakeHub hub;
  const std::string w = std::string(5000, 'w');
  hub.on_commit = [&](int, const json&) -> Result<HttpResponse> {
    std::lock_guard<std::mutex> lock(hub.mu);
    hub.head = kH3;
    hub.trees[kH3]["w.bin"] = LfsEntry("w.bin", Sha256Of(w), w.size());
    hub.trees[kH3]["a.txt"] = RegularEntry(
        "a.txt", chunkstore::GitBlobId(std::span<const uint8_t>(
                     reinterpret_cast<const uint8_t*>("hello\n"), 6)),
        6);
    return UnavailableError("connection reset");
  };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->commit.commit_oid, kH3);
  EXPECT_EQ(hub.commit_posts, 1);
}

TEST_F(RepoUploaderTest, ALostAnswerWithAnUnmovedHeadIsSentOnceMore) {
  FakeHub hub;
  hub.on_commit = [&](int call, const json&) -> Result<HttpResponse> {
    if (call == 0) return UnavailableError("connection reset");
    return Committed(kH2);
  };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(hub.commit_posts, 2);
}

TEST_F(RepoUploaderTest, AResentCommitSeeingTheFirstLandLateReportsIt) {
  FakeHub hub;
  const std::string w = std::string(5000, 'w');
  hub.on_commit = [&](int call, const json&) -> Result<HttpResponse> {
    if (call == 0) return UnavailableError("connection reset");  // head not moved yet
    std::lock_guard<std::mutex> lock(hub.mu);
    hub.head = kH3;  // the first one landed meanwhile
    hub.trees[kH3]["w.bin"] = LfsEntry("w.bin", Sha256Of(w), w.size());
    hub.trees[kH3]["a.txt"] = RegularEntry(
        "a.txt", chunkstore::GitBlobId(std::span<const uint8_t>(
                     reinterpret_cast<const uint8_t*>("hello\n"), 6)),
        6);
    return Json({{"error", "The branch was updated"}}, 412);
  };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commit.commit_oid, kH3);
  EXPECT_EQ(hub.commit_posts, 2);
}

TEST_F(RepoUploaderTest, ALostAnswerWhileSomeoneElseCommittedIsAnError) {
  FakeHub hub;
  hub.on_commit = [&](int, const json&) -> Result<HttpResponse> {
    std::lock_guard<std::mutex> lock(hub.mu);
    hub.head = kH2;  // moved, but without our change
    return UnavailableError("connection reset");
  };
  auto r = hub.Upload(Plan());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(hub.commit_posts, 1);
}

TEST_F(RepoUploaderTest, AFileChangedWhileReadIsNotCommitted) {
  FakeHub hub;
  hub.on_preupload = [&] { Write("w.bin", std::string(6000, 'x')); };
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
  auto r = hub.Upload(Plan());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("changed while"), std::string::npos) << r.status();
  EXPECT_EQ(hub.commit_posts, 0);
}

TEST_F(RepoUploaderTest, FilesAlreadyOnTheHubMakeNoCommit) {
  FakeHub hub;
  hub.remote_oid["w.bin"] = Sha256Of(std::string(5000, 'w'));
  hub.remote_oid["a.txt"] =
      chunkstore::GitBlobId(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("hello\n"), 6));
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
  auto r = hub.Upload(Plan());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->committed);
  EXPECT_EQ(r->unchanged_files, 2u);
  EXPECT_EQ(r->commit.commit_oid, kH1);
  EXPECT_EQ(hub.commit_posts, 0);
}

TEST_F(RepoUploaderTest, PathsTheHubRefusesAreRefusedBeforeAnyRequest) {
  FakeHub hub;
  for (const char* bad : {".git/config", "a/.cache/x", "../up", "/abs", "a//b"}) {
    UploadPlan p = Plan();
    p.files[0].path_in_repo = bad;
    auto r = hub.Upload(p);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(hub.commit_posts, 0);
}

TEST(DefaultCommitSummaryTest, SaysWhatChanged) {
  EXPECT_EQ(DefaultCommitSummary({"a.bin"}, {}), "Upload a.bin with hubfs");
  EXPECT_EQ(DefaultCommitSummary({"a", "b", "c"}, {"d"}), "Upload 3 files and delete d with hubfs");
  EXPECT_EQ(DefaultCommitSummary({}, {"d", "e"}), "Delete 2 files with hubfs");
}

}  // namespace
}  // namespace hubfs::fs
