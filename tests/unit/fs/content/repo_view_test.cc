#include "fs/content/repo_view.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>

#include "chunkstore/cache.h"
#include "common/clock.h"
#include "fs/content/repo_source_hub.h"
#include "hub/hub_client.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;

constexpr char kEndpoint[] = "http://hub.test";
constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kXet[] = "aa00000000000000000000000000000000000000000000000000000000000001";

// Answers the few Hub routes a RepoView uses, from canned bodies.
class FakeHub final : public hub::HttpTransport {
 public:
  Result<hub::HttpResponse> Send(const hub::HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (down_) return UnavailableError("fake: connection refused");
    urls_.push_back(req.url);
    hub::HttpResponse r;
    r.status = 200;
    const std::string base = std::string(kEndpoint) + "/api/models/org/repo";
    if (req.url == base + "/revision/main?expand=sha&expand=lastModified") {
      r.body = std::string("{\"sha\":\"") + kCommit + "\"}";
    } else if (req.url.rfind(std::string(kEndpoint) + "/api/models/org/missing", 0) == 0) {
      r.status = 404;
      r.headers.Add("X-Error-Code", "RepoNotFound");
      r.body = "{\"error\":\"Repository not found\"}";
    } else if (req.url == base + "/tree/" + kCommit) {
      r.body = std::string("[{\"type\":\"file\",\"oid\":\"95d09f2b10159347eece71399a7e2e907ea3df4f\","
                           "\"size\":11,\"path\":\"hello.txt\"},"
                           "{\"type\":\"file\",\"oid\":\"95d09f2b10159347eece71399a7e2e907ea3df4f\","
                           "\"size\":11,\"path\":\"liar.txt\"},"
                           "{\"type\":\"directory\",\"oid\":\"2222222222222222222222222222222222222222\","
                           "\"size\":0,\"path\":\"sub\"},"
                           "{\"type\":\"file\",\"oid\":\"3333333333333333333333333333333333333333\","
                           "\"size\":5000,\"path\":\"big.bin\",\"lfs\":{\"oid\":"
                           "\"4444444444444444444444444444444444444444444444444444444444444444\","
                           "\"size\":5000,\"pointerSize\":134},\"xetHash\":\"") +
               kXet + "\"}]";
    } else if (req.url == std::string(kEndpoint) + "/org/repo/resolve/" + kCommit + "/hello.txt") {
      const std::string content = "hello world";
      if (req.ranges.size() != 1) return InvalidArgumentError("fake: expected a Range");
      r.status = 206;
      r.body = content.substr(req.ranges[0].first, req.ranges[0].size());
      auth_seen_ = req.auth.has_value() ? req.auth->token : "";
    } else if (req.url == std::string(kEndpoint) + "/org/repo/resolve/" + kCommit + "/liar.txt") {
      // Listed with the blob id of "hello world", serves other bytes.
      const std::string content = liar_fixed_ ? "hello world" : "hello WORLD";
      r.status = 206;
      r.body = content.substr(req.ranges[0].first, req.ranges[0].size());
    } else {
      r.status = 404;
      r.headers.Add("X-Error-Code", "EntryNotFound");
      r.body = "{\"error\":\"Entry not found\"}";
    }
    return r;
  }
  void set_liar_fixed(bool f) {
    std::lock_guard<std::mutex> lock(mu_);
    liar_fixed_ = f;
  }
  void set_down(bool d) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = d;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::string auth_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return auth_seen_;
  }

 private:
  std::mutex mu_;
  bool down_ = false;
  bool liar_fixed_ = false;
  int calls_ = 0;
  std::vector<std::string> urls_;
  std::string auth_seen_;
};

class RepoViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.durable = false;
    o.max_bytes = 64 << 20;
    cache_ = std::move(*chunkstore::ChunkCache::Open(o));
    revisions_ = std::make_unique<RevisionStore>(dir_.Sub("refs"));
  }

  // A command's stack (as cli/services.h builds it): cache over offline
  // policy (fail fast, RevisionStore) over the Hub.
  std::unique_ptr<RepoView> NewView(bool offline = false) {
    hub::HubClientOptions ho;
    ho.endpoint = kEndpoint;
    ho.offline = offline;
    hubs_.push_back(std::make_unique<hub::HubClient>(&fake_, &clock_, &tokens_, ho));
    sources_.push_back(
        std::make_unique<HubRepoSource>(hubs_.back().get(), &fake_, &tokens_, nullptr));
    RepoSource* hub = sources_.back().get();
    auto policy = std::make_unique<OfflineRepoSource>(
        hub, OfflineOptions{offline, /*fail_fast=*/true, revisions_.get(), kEndpoint});
    OfflineRepoSource* offline_layer = policy.get();
    sources_.push_back(std::move(policy));
    sources_.push_back(std::make_unique<CachingRepoSource>(offline_layer, cache_.get()));
    return std::make_unique<RepoView>(sources_.back().get(), offline_layer, hubs_.back().get());
  }

  const hub::RepoId repo_{hub::RepoType::kModel, "org", "repo"};
  TempDir dir_;
  FakeHub fake_;
  FakeClock clock_;
  hub::StaticTokenProvider tokens_{std::string("hf_secret")};
  std::vector<std::unique_ptr<hub::HubClient>> hubs_;
  std::vector<std::unique_ptr<RepoSource>> sources_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
  std::unique_ptr<RevisionStore> revisions_;
};

TEST_F(RepoViewTest, ResolvesAndRemembersTheBranch) {
  auto v = NewView();
  auto r = v->Resolve(repo_, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commit, kCommit);
  EXPECT_FALSE(r->possibly_stale);
  EXPECT_EQ(revisions_->Load(repo_, "main"), std::optional<std::string>(kCommit));

  fake_.set_down(true);
  auto v2 = NewView();
  auto stale = v2->Resolve(repo_, std::string("main"));
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->commit, kCommit);
  EXPECT_TRUE(stale->possibly_stale);
  EXPECT_TRUE(v2->offline());

  // A revision never seen fails clearly.
  auto unknown = v2->Resolve(repo_, std::string("v9"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(unknown.status().message().find("unreachable"), std::string::npos);
}

TEST_F(RepoViewTest, OfflineModeSendsNothing) {
  {
    auto v = NewView();
    ASSERT_TRUE(v->Resolve(repo_, std::nullopt).ok());
  }
  const int before = fake_.calls();
  auto v = NewView(/*offline=*/true);
  auto r = v->Resolve(repo_, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->possibly_stale);
  auto l = v->List(repo_, kCommit, "", false);
  EXPECT_EQ(l.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(l.status().message().find("HF_HUB_OFFLINE"), std::string::npos);
  EXPECT_EQ(fake_.calls(), before);
}

TEST_F(RepoViewTest, CommitShaNeedsNoRequest) {
  auto v = NewView();
  auto r = v->Resolve(repo_, std::string(kCommit));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->commit, kCommit);
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(RepoViewTest, MissingRepoIsNotMistakenForOffline) {
  auto v = NewView();
  hub::RepoId missing{hub::RepoType::kModel, "org", "missing"};
  auto r = v->Resolve(missing, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.status().hub_error_code(), "RepoNotFound");
  EXPECT_FALSE(v->offline());
}

TEST_F(RepoViewTest, ListingsAreCachedPerCommitAndServedOffline) {
  auto v = NewView();
  auto l = v->List(repo_, kCommit, "", false);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->size(), 4u);
  EXPECT_EQ((*l)[0].path, "big.bin");  // sorted
  EXPECT_EQ(KindOf((*l)[0]), ContentKind::kXet);
  ASSERT_TRUE(cache_->Flush().ok());

  fake_.set_down(true);
  auto v2 = NewView();
  auto again = v2->List(repo_, kCommit, "", false);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 4u);
  EXPECT_EQ((*again)[0].xet_hash, std::optional<std::string>(kXet));
  ASSERT_TRUE((*again)[0].lfs.has_value());
  EXPECT_EQ((*again)[0].lfs->size, 5000u);
  auto st = v2->Stat(repo_, kCommit, "hello.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 11u);
}

TEST_F(RepoViewTest, StatOfAMissingPath) {
  auto v = NewView();
  auto st = v->Stat(repo_, kCommit, "nope.txt");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(st.status().hub_error_code(), "EntryNotFound");
  auto deep = v->Stat(repo_, kCommit, "nodir/x.txt");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().hub_error_code(), "EntryNotFound");
}

TEST_F(RepoViewTest, RegularFilesAreFetchedOnceAndCachedByOid) {
  auto v = NewView();
  auto e = v->Stat(repo_, kCommit, "hello.txt");
  ASSERT_TRUE(e.ok());
  std::vector<uint8_t> out(5);
  auto n = v->ReadRegular(repo_, kCommit, *e, 6, out);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(out.begin(), out.end()), "world");
  EXPECT_EQ(fake_.auth_seen(), "hf_secret");  // same origin as the endpoint

  fake_.set_down(true);
  std::vector<uint8_t> all(100);
  n = v->ReadRegular(repo_, kCommit, *e, 0, all);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 11u);
  EXPECT_EQ(std::string(all.begin(), all.begin() + 11), "hello world");
}

TEST_F(RepoViewTest, RegularFileNotMatchingItsGitBlobIdIsRefusedAndNotCached) {
  auto v = NewView();
  auto e = v->Stat(repo_, kCommit, "liar.txt");
  ASSERT_TRUE(e.ok());
  std::vector<uint8_t> out(11);
  auto n = v->ReadRegular(repo_, kCommit, *e, 0, out);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(n.status().message().find("git blob id"), std::string::npos) << n.status();
  // Nothing was cached: once the server serves the right bytes they are read.
  fake_.set_liar_fixed(true);
  n = v->ReadRegular(repo_, kCommit, *e, 0, out);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello world");
}

TEST(ListingCodecTest, RejectsGarbage) {
  std::string bad = "[{\"t\":\"f\",\"p\":\"../x\",\"o\":\"1\",\"s\":1}]";
  EXPECT_FALSE(DecodeListing(std::vector<uint8_t>(bad.begin(), bad.end())).ok());
  std::string not_json = "[{";
  EXPECT_FALSE(DecodeListing(std::vector<uint8_t>(not_json.begin(), not_json.end())).ok());
}

}  // namespace
}  // namespace hubfs::fs
