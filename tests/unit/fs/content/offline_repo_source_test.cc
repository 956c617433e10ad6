// OfflineRepoSource over the fake: revisions recorded and answered possibly
// stale, HF_HUB_OFFLINE sending nothing, fail-fast (commands) against
// keep-trying (mounts), and answers of a reachable Hub passing through. The
// last test stacks the cache on top, as cli/services.h does.
#include "fs/content/offline_repo_source.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "chunkstore/cache.h"
#include "fs/content/caching_repo_source.h"
#include "fs/content/revision_store.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/fs/content/counting_repo_source.h"
#include "tests/unit/fs/content/fake_repo_source.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;

constexpr char kEndpoint[] = "http://hub.test";

class OfflineRepoSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.files["README.md"] = "# a model\n";
    fixture_.files["sub/a.txt"] = "alpha";
    fake_ = std::make_unique<FakeRepoSource>(fixture_);
    counting_ = std::make_unique<CountingRepoSource>(fake_.get());
    revisions_ = std::make_unique<RevisionStore>(dir_.Sub("refs"));
  }

  std::unique_ptr<OfflineRepoSource> New(bool offline, bool fail_fast, bool with_store = true) {
    return std::make_unique<OfflineRepoSource>(
        counting_.get(),
        OfflineOptions{offline, fail_fast, with_store ? revisions_.get() : nullptr, kEndpoint});
  }

  FileContent File(const std::string& path) {
    return FileContent{fixture_.repo, fixture_.commit, path, "", fixture_.files.at(path).size(),
                       std::nullopt, std::nullopt};
  }

  RepoFixture fixture_;
  TempDir dir_;
  std::unique_ptr<FakeRepoSource> fake_;
  std::unique_ptr<CountingRepoSource> counting_;
  std::unique_ptr<RevisionStore> revisions_;
};

TEST_F(OfflineRepoSourceTest, ABranchIsRecordedAndAnsweredPossiblyStaleWhenUnreachable) {
  auto online = New(false, true);
  auto r = online->ResolveRevision(fixture_.repo, "main");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->possibly_stale);
  EXPECT_EQ(r->commit_time, fixture_.commit_time);
  EXPECT_EQ(revisions_->Load(fixture_.repo, "main"), std::optional<std::string>(fixture_.commit));
  // A sha is not recorded: it never moves.
  ASSERT_TRUE(online->ResolveRevision(fixture_.repo, fixture_.commit).ok());
  EXPECT_EQ(revisions_->Load(fixture_.repo, fixture_.commit), std::nullopt);

  counting_->set_down(true);
  auto later = New(false, true);
  auto stale = later->ResolveRevision(fixture_.repo, "main");
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->commit, fixture_.commit);
  EXPECT_TRUE(stale->possibly_stale);
  EXPECT_EQ(stale->commit_time, 0);  // unknown: the Hub was not asked
  EXPECT_TRUE(later->offline());
  auto unknown = later->ResolveRevision(fixture_.repo, "v2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(unknown.status().message().find("http://hub.test is unreachable"), std::string::npos)
      << unknown.status();
}

TEST_F(OfflineRepoSourceTest, FailFastStopsAskingAfterTheFirstUnreachableAnswer) {
  auto command = New(false, true);
  counting_->set_down(true);
  ASSERT_FALSE(command->ListDir(fixture_.repo, fixture_.commit, "").ok());
  EXPECT_EQ(counting_->lists, 1);
  EXPECT_TRUE(command->offline());
  counting_->set_down(false);  // too late for this command
  auto l = command->ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(l.status().message().find("not in the cache"), std::string::npos) << l.status();
  EXPECT_FALSE(command->Read(File("README.md"), 0, std::span<uint8_t>()).ok());
  EXPECT_FALSE(command->CheckOnline("CAS token").ok());
  EXPECT_EQ(counting_->lists, 1);
  EXPECT_EQ(counting_->reads, 0);
}

TEST_F(OfflineRepoSourceTest, AMountKeepsTryingAndComesBackWithTheServer) {
  auto mount = New(false, false, /*with_store=*/false);
  counting_->set_down(true);
  for (int i = 0; i < 2; ++i) {
    auto l = mount->ListDir(fixture_.repo, fixture_.commit, "");
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.status().message(), "fake: connection refused");  // the failure itself
    // Without a RevisionStore the failure is the answer, not a stale commit.
    auto r = mount->ResolveRevision(fixture_.repo, "main");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "fake: connection refused");
  }
  EXPECT_EQ(counting_->lists, 2);
  EXPECT_EQ(counting_->resolves, 2);
  EXPECT_FALSE(mount->offline());
  EXPECT_TRUE(mount->CheckOnline("CAS token").ok());
  counting_->set_down(false);
  EXPECT_TRUE(mount->ListDir(fixture_.repo, fixture_.commit, "").ok());
  EXPECT_EQ(counting_->lists, 3);
}

TEST_F(OfflineRepoSourceTest, OfflineModeSendsNothingButXetReads) {
  ASSERT_TRUE(revisions_->Save(fixture_.repo, "main", fixture_.commit).ok());
  auto offline = New(true, true);
  auto r = offline->ResolveRevision(fixture_.repo, "main");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->possibly_stale);
  for (const Status& st :
       {offline->ListDir(fixture_.repo, fixture_.commit, "").status(),
        offline->ListRecursive(fixture_.repo, fixture_.commit, "").status(),
        offline->ListRefs(fixture_.repo).status(),
        offline->Read(File("README.md"), 0, std::span<uint8_t>()).status(),
        offline->CheckOnline("CAS token")}) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), ErrorCode::kUnavailable);
    EXPECT_NE(st.message().find("HF_HUB_OFFLINE"), std::string::npos) << st;
  }
  EXPECT_EQ(counting_->calls(), 0);
  // A Xet read may be served by the chunk cache alone: it goes down, and
  // its CAS token source asks CheckOnline before any request.
  FileContent x = File("sub/a.txt");
  x.xet_hash = std::string(64, 'a');
  std::string buf(5, '\0');
  auto n = offline->Read(x, 0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), 5));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf, "alpha");
  EXPECT_EQ(counting_->reads, 1);
}

TEST_F(OfflineRepoSourceTest, AnswersOfAReachableHubAreNotMistakenForOffline) {
  auto command = New(false, true);
  const hub::RepoId missing{hub::RepoType::kModel, "org", "missing"};
  ASSERT_TRUE(revisions_->Save(missing, "main", fixture_.commit).ok());
  auto r = command->ResolveRevision(missing, "main");
  ASSERT_FALSE(r.ok());  // not the recorded commit: the Hub said no
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.status().hub_error_code(), "RepoNotFound");
  EXPECT_FALSE(command->ListDir(fixture_.repo, fixture_.commit, "nope").ok());
  EXPECT_FALSE(command->offline());
  EXPECT_TRUE(command->ListDir(fixture_.repo, fixture_.commit, "").ok());
}

// The stack of a command: what an online run cached is answered by an
// offline one; what it did not cache fails at once, naming the reason.
TEST_F(OfflineRepoSourceTest, UnderTheCacheOfflineAnswersComeFromTheCache) {
  chunkstore::CacheOptions o;
  o.dir = dir_.Sub("cache");
  o.durable = false;
  o.max_bytes = 64 << 20;
  auto cache = chunkstore::ChunkCache::Open(o);
  ASSERT_TRUE(cache.ok()) << cache.status();
  const std::string oid = chunkstore::GitBlobId(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>("alpha"), 5));
  FileContent a = File("sub/a.txt");
  a.oid = oid;
  std::string buf(5, '\0');
  auto out = std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), 5);
  {
    auto policy = New(false, true);
    CachingRepoSource online(policy.get(), cache->get());
    ASSERT_TRUE(online.ListDir(fixture_.repo, fixture_.commit, "").ok());
    ASSERT_TRUE(online.Read(a, 0, out).ok());
  }
  const int before = counting_->calls();
  auto policy = New(true, true);
  CachingRepoSource offline(policy.get(), cache->get());
  auto root = offline.ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->size(), 2u);
  buf.assign(5, '\0');
  auto n = offline.Read(a, 0, out);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf, "alpha");
  auto sub = offline.ListDir(fixture_.repo, fixture_.commit, "sub");
  ASSERT_FALSE(sub.ok());
  EXPECT_NE(sub.status().message().find("HF_HUB_OFFLINE"), std::string::npos) << sub.status();
  EXPECT_EQ(counting_->calls(), before);
}

}  // namespace
}  // namespace hubfs::fs
