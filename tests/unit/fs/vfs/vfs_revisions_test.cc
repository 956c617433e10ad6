// Mounts with synthetic directories: a repo's revisions as directories
// (--revisions) and the whole hub (models/, datasets/, spaces/), driven
// through VfsCore with a fake multi-repo source and a FakeClock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "fs/vfs/vfs_core.h"
#include "fs/vfs/refs_tree.h"
#include "tests/unit/fs/vfs/multi_repo_fake.h"

namespace hubfs::fs {
namespace {

using namespace ::hubfs::fs::testing;  // NOLINT: the fake's constants

constexpr int64_t kMountTime = 1750000000;

class VfsRevisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.Commit("org/model", kC1, {{"a.txt", "one"}, {"sub/b.txt", "bee"}});
    fake_.Commit("org/model", kC2, {{"a.txt", "two!"}, {"sub/b.txt", "bee"}});
    fake_.Commit("org/model", kC3, {{"a.txt", "three"}});
    fake_.Commit("org/model", kC4, {{"a.txt", "four"}, {"sub/b.txt", "b4"}});
    fake_.SetRef("org/model", "branch", "main", kC1);
    fake_.SetRef("org/model", "branch", "feature/x", kC2);
    fake_.SetRef("org/model", "branch", "same", kC1);
    fake_.SetRef("org/model", "tag", "same", kC3);
    fake_.SetRef("org/model", "tag", "v1.0", kC3);
    fake_.SetRef("org/model", "pr", "3", kC4);
    fake_.SetRef("org/model", "convert", "parquet", kC2);
  }

  std::unique_ptr<VfsCore> MakeRevisions(std::string subdir = "", VfsOptions options = {}) {
    VfsLayout layout;
    layout.kind = VfsLayout::Kind::kRevisions;
    layout.repo = hub::RepoId{hub::RepoType::kModel, "org", "model"};
    layout.subdir = std::move(subdir);
    layout.mount_time = kMountTime;
    options.metadata_ttl_seconds = 10;
    return std::make_unique<VfsCore>(&fake_, layout, options, &clock_);
  }
  std::unique_ptr<VfsCore> MakeHub(VfsOptions options = {}) {
    VfsLayout layout;
    layout.kind = VfsLayout::Kind::kHub;
    layout.mount_time = kMountTime;
    options.metadata_ttl_seconds = 10;
    return std::make_unique<VfsCore>(&fake_, layout, options, &clock_);
  }

  static std::vector<std::string> List(VfsCore& core, uint64_t ino) {
    std::vector<std::string> names;
    auto dh = core.OpenDir(ino, true);
    EXPECT_TRUE(dh.ok());
    if (!dh.ok()) return names;
    for (size_t i = 0;; ++i) {
      auto e = core.DirEntryAt(*dh, i);
      if (!e.ok() || !e->has_value()) break;
      names.push_back((*e)->name);
    }
    core.ReleaseDir(*dh);
    return names;
  }
  // Looks up a '/'-separated path from the root; 0 when a step fails.
  static uint64_t Walk(VfsCore& core, const std::string& path) {
    uint64_t ino = VfsCore::kRootIno;
    size_t start = 0;
    while (start < path.size()) {
      size_t slash = path.find('/', start);
      std::string name = path.substr(start, slash == std::string::npos ? slash : slash - start);
      auto e = core.Lookup(ino, name, true);
      if (!e.ok()) return 0;
      ino = e->attr.ino;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return ino;
  }
  static std::string ReadFile(VfsCore& core, const std::string& path) {
    uint64_t ino = Walk(core, path);
    if (ino == 0) return "<missing>";
    auto fh = core.Open(ino, false);
    if (!fh.ok()) return "<open failed>";
    std::vector<uint8_t> buf(64);
    auto n = core.Read(fh->fh, 0, buf);
    core.Release(fh->fh);
    return n.ok() ? std::string(buf.begin(), buf.begin() + *n) : "<read failed>";
  }
  static std::string Commit(VfsCore& core, const std::string& path) {
    auto x = core.GetXattr(Walk(core, path), "user.hf.commit");
    return x.ok() ? *x : "<none>";
  }

  HubFake fake_;
  FakeClock clock_;
};

using Names = std::vector<std::string>;

TEST(RefsTreeTest, LayoutNestingAndPrecedence) {
  hub::Refs refs;
  refs.branches = {{"main", "", kC1}, {"feature/x", "", kC2}, {"same", "", kC1},
                   {"a", "", kC1},    {"refs/odd", "", kC1}, {"..", "", kC1}};
  refs.tags = {{"same", "", kC3}, {"a/b", "", kC3}, {"v1", "", kC3}};
  refs.pull_requests = {{"7", "", kC4}};
  refs.converts = {{"parquet", "", kC2}};
  RefsTree t = RefsTree::Build(refs);
  auto names = [&](const std::string& dir) {
    Names out;
    for (const auto& e : *t.Dir(dir)) out.push_back(e.name);
    return out;
  };
  EXPECT_EQ(names(""), (Names{"a", "feature", "main", "refs", "same", "v1"}));
  EXPECT_EQ(names("feature"), (Names{"x"}));
  EXPECT_EQ(names("refs"), (Names{"convert", "heads", "pr", "tags"}));
  EXPECT_EQ(names("refs/heads"), (Names{"a", "feature", "main", "refs", "same"}));
  EXPECT_EQ(names("refs/tags"), (Names{"a", "same", "v1"}));
  EXPECT_EQ(t.Find("", "same")->target->ref, "refs/heads/same");  // the branch wins
  EXPECT_EQ(t.Find("refs/tags", "same")->target->commit, kC3);
  EXPECT_EQ(t.Find("", "a")->target->ref, "refs/heads/a");  // tag a/b cannot nest under it
  EXPECT_EQ(t.Find("refs/tags/a", "b")->target->ref, "refs/tags/a/b");
  EXPECT_EQ(t.Find("refs/pr", "7")->target->commit, kC4);
  EXPECT_EQ(t.Find("refs/convert", "parquet")->target->commit, kC2);
  EXPECT_EQ(t.Find("feature", "x")->target->ref, "refs/heads/feature/x");
  EXPECT_EQ(t.Find("feature", "x")->target->commit, kC2);
  EXPECT_EQ(t.CommitOf("refs/heads/feature/x"), kC2);
  EXPECT_EQ(t.CommitOf("refs/heads/gone"), "");
  EXPECT_EQ(t.Dir("nope"), nullptr);
}

TEST_F(VfsRevisionsTest, ListsRevisionsWithNestedNamesAndRefs) {
  auto core = MakeRevisions();
  ASSERT_TRUE(core->CheckRoot().ok());
  EXPECT_EQ(List(*core, VfsCore::kRootIno), (Names{"feature", "main", "refs", "same", "v1.0"}));
  EXPECT_EQ(List(*core, Walk(*core, "feature")), (Names{"x"}));
  EXPECT_EQ(List(*core, Walk(*core, "refs")), (Names{"convert", "heads", "pr", "tags"}));
  EXPECT_EQ(List(*core, Walk(*core, "refs/heads")), (Names{"feature", "main", "same"}));
  EXPECT_EQ(List(*core, Walk(*core, "refs/tags")), (Names{"same", "v1.0"}));
  EXPECT_EQ(List(*core, Walk(*core, "refs/pr")), (Names{"3"}));
  EXPECT_EQ(List(*core, Walk(*core, "refs/convert")), (Names{"parquet"}));
  EXPECT_EQ(List(*core, Walk(*core, "main")), (Names{"a.txt", "sub"}));
  EXPECT_EQ(fake_.list_refs.load(), 1);  // one refs list for all of it
}

TEST_F(VfsRevisionsTest, EachRevisionDirShowsItsCommit) {
  auto core = MakeRevisions();
  EXPECT_EQ(ReadFile(*core, "main/a.txt"), "one");
  EXPECT_EQ(ReadFile(*core, "feature/x/a.txt"), "two!");
  EXPECT_EQ(ReadFile(*core, "v1.0/a.txt"), "three");
  EXPECT_EQ(ReadFile(*core, "refs/pr/3/sub/b.txt"), "b4");
  EXPECT_EQ(ReadFile(*core, "refs/convert/parquet/a.txt"), "two!");
  // A branch and a tag named alike: the branch at the top, both under refs/.
  EXPECT_EQ(ReadFile(*core, "same/a.txt"), "one");
  EXPECT_EQ(ReadFile(*core, "refs/heads/same/a.txt"), "one");
  EXPECT_EQ(ReadFile(*core, "refs/tags/same/a.txt"), "three");
  EXPECT_EQ(Commit(*core, "same"), kC1);
  EXPECT_EQ(Commit(*core, "refs/tags/same"), kC3);
  EXPECT_EQ(Commit(*core, "feature/x/sub/b.txt"), kC2);
  // Revision roots carry the commit date; synthetic dirs the mount time, 0555.
  auto main = core->GetAttr(Walk(*core, "main"));
  ASSERT_TRUE(main.ok());
  EXPECT_EQ(main->mtime, HubFake::DateOf(kC1));
  EXPECT_EQ(core->GetAttr(Walk(*core, "feature/x/a.txt"))->mtime, HubFake::DateOf(kC2));
  auto feature = core->GetAttr(Walk(*core, "feature"));
  EXPECT_TRUE(feature->is_dir);
  EXPECT_EQ(feature->mode, 0555u);
  EXPECT_EQ(feature->mtime, kMountTime);
  EXPECT_EQ(core->GetXattr(Walk(*core, "feature"), "user.hf.commit").error().code,
            VfsErrc::kNoAttr);
  EXPECT_EQ(core->Open(Walk(*core, "feature"), false).error().code, VfsErrc::kIsDir);
  EXPECT_EQ(core->Open(Walk(*core, "main/a.txt"), true).error().code, VfsErrc::kReadOnly);
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "nope", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(core->Lookup(Walk(*core, "feature"), "y", true).error().code, VfsErrc::kNoEntry);
  // A read-only branch view's directory is cached all the same (the first
  // open keeps nothing); the synthetic root is not.
  for (const uint64_t dir : {Walk(*core, "main"), VfsCore::kRootIno}) {
    auto dh = core->OpenDir(dir, true);
    ASSERT_TRUE(dh.ok());
    const VfsCore::DirCaching c = core->DirCachingFor(dir, *dh);
    EXPECT_EQ(c.cache, dir != VfsCore::kRootIno);
    EXPECT_FALSE(c.keep);
    core->ReleaseDir(*dh);
  }
  EXPECT_EQ(core->AttrTimeout(Walk(*core, "main")), 10.0);
}

TEST_F(VfsRevisionsTest, CommitShaResolvesByLookupOnly) {
  auto core = MakeRevisions();
  auto e = core->Lookup(VfsCore::kRootIno, kC2, /*may_block=*/false);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, VfsErrc::kWouldBlock);  // refs not fetched yet
  uint64_t sha = Walk(*core, kC2);
  ASSERT_NE(sha, 0u);
  // Immutable: the kernel keeps its cached entries from the first open on.
  {
    auto dh = core->OpenDir(sha, true);
    ASSERT_TRUE(dh.ok());
    EXPECT_TRUE(core->DirCachingFor(sha, *dh).keep);
    core->ReleaseDir(*dh);
  }
  EXPECT_EQ(core->AttrTimeout(sha), VfsOptions{}.immutable_ttl_seconds);
  EXPECT_EQ(core->GetAttr(sha)->mtime, HubFake::DateOf(kC2));
  EXPECT_EQ(ReadFile(*core, std::string(kC2) + "/a.txt"), "two!");
  EXPECT_EQ(Commit(*core, std::string(kC2) + "/a.txt"), kC2);
  Names root = List(*core, VfsCore::kRootIno);
  EXPECT_EQ(std::count(root.begin(), root.end(), kC2), 0);  // not listed
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, kUnknown, true).error().code, VfsErrc::kNoEntry);
  // Only at the top of a repo.
  EXPECT_EQ(core->Lookup(Walk(*core, "refs"), kC2, true).error().code, VfsErrc::kNoEntry);
  // Immutable: the sha view never asks again.
  int resolves = fake_.resolves.load();
  clock_.Advance(std::chrono::seconds(3600));
  EXPECT_EQ(ReadFile(*core, std::string(kC2) + "/sub/b.txt"), "bee");
  EXPECT_EQ(fake_.resolves.load(), resolves);
}

TEST_F(VfsRevisionsTest, RefsListRefreshesAfterTheTtl) {
  auto core = MakeRevisions();
  std::atomic<int> signals{0};
  core->SetInvalidationListener([&] { ++signals; });
  EXPECT_EQ(List(*core, VfsCore::kRootIno), (Names{"feature", "main", "refs", "same", "v1.0"}));
  uint64_t feature = Walk(*core, "feature");
  uint64_t main = Walk(*core, "main");
  EXPECT_EQ(ReadFile(*core, "main/a.txt"), "one");
  // Hold main/a.txt open across the move.
  auto held = core->Open(Walk(*core, "main/a.txt"), false);
  ASSERT_TRUE(held.ok());

  fake_.SetRef("org/model", "branch", "new", kC3);
  fake_.SetRef("org/model", "branch", "feature/x", "");  // deleted
  fake_.SetRef("org/model", "branch", "main", kC2);      // moved
  // Within the TTL nothing changes.
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "new", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(ReadFile(*core, "main/a.txt"), "one");
  EXPECT_EQ(fake_.list_refs.load(), 1);

  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "new", false).error().code, VfsErrc::kWouldBlock);
  EXPECT_EQ(List(*core, VfsCore::kRootIno), (Names{"main", "new", "refs", "same", "v1.0"}));
  EXPECT_EQ(fake_.list_refs.load(), 2);
  EXPECT_EQ(ReadFile(*core, "new/a.txt"), "three");
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "feature", true).error().code, VfsErrc::kNoEntry);
  // The kernel is told to drop the vanished name (and the root's listing).
  auto inv = core->TakeInvalidations();
  EXPECT_GT(signals.load(), 0);
  auto has = [&](uint64_t parent, const std::string& name, uint64_t ino) {
    return std::any_of(inv.begin(), inv.end(), [&](const VfsInvalidation& i) {
      return i.parent == parent && i.name == name && i.ino == ino;
    });
  };
  EXPECT_TRUE(has(VfsCore::kRootIno, "feature", 0));
  EXPECT_TRUE(has(0, "", VfsCore::kRootIno));
  EXPECT_FALSE(has(VfsCore::kRootIno, "main", 0));  // same ref: same inode, it moves inside
  EXPECT_TRUE(has(feature, "x", 0));
  // main follows its branch: new content, a new inode for the changed file,
  // the held handle keeps the old bytes, the revision root keeps its inode.
  EXPECT_EQ(Walk(*core, "main"), main);
  EXPECT_EQ(Commit(*core, "main"), kC2);
  EXPECT_EQ(ReadFile(*core, "main/a.txt"), "two!");
  EXPECT_EQ(core->GetAttr(main)->mtime, HubFake::DateOf(kC2));
  std::vector<uint8_t> buf(16);
  auto n = core->Read(held->fh, 0, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + *n), "one");
  core->Release(held->fh);
}

TEST_F(VfsRevisionsTest, SubfolderAppliesWithinEveryRevision) {
  auto core = MakeRevisions("sub");
  EXPECT_EQ(List(*core, Walk(*core, "main")), (Names{"b.txt"}));
  EXPECT_EQ(ReadFile(*core, "refs/pr/3/b.txt"), "b4");
  // v1.0 (kC3) has no sub/: not there in this mount.
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "v1.0", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(ReadFile(*core, std::string(kC1) + "/b.txt"), "bee");
}

TEST_F(VfsRevisionsTest, ReaddirplusCreatesViewsWithoutTheNetwork) {
  auto core = MakeRevisions();
  auto dh = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(dh.ok());
  int resolves = fake_.resolves.load();
  int refs = fake_.list_refs.load();
  std::map<std::string, uint64_t> inos;
  for (size_t i = 0;; ++i) {
    auto d = core->DirEntryAt(*dh, i);
    ASSERT_TRUE(d.ok());
    if (!d->has_value()) break;
    auto e = core->LookupDirEntryAt(*dh, i);
    ASSERT_TRUE(e.ok()) << (*d)->name;
    EXPECT_TRUE(e->attr.is_dir);
    inos[(*d)->name] = e->attr.ino;
  }
  core->ReleaseDir(*dh);
  EXPECT_EQ(fake_.resolves.load(), resolves);
  EXPECT_EQ(fake_.list_refs.load(), refs);
  EXPECT_EQ(core->view_count(), 3u);  // main, same, v1.0
  // The same inode as a lookup, which fetches the date first (on the I/O
  // side); otherwise the date follows with the first access inside.
  EXPECT_EQ(core->GetAttr(inos["main"])->mtime, kMountTime);
  EXPECT_TRUE(core->RefreshDue(inos["main"]));
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "main", false).error().code, VfsErrc::kWouldBlock);
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "main", true)->attr.ino, inos["main"]);
  EXPECT_FALSE(core->RefreshDue(inos["main"]));
  EXPECT_EQ(core->GetAttr(inos["main"])->mtime, HubFake::DateOf(kC1));
  EXPECT_EQ(core->GetAttr(inos["v1.0"])->mtime, kMountTime);
  EXPECT_EQ(core->OpenDir(inos["v1.0"], false).error().code, VfsErrc::kWouldBlock);
  EXPECT_EQ(List(*core, inos["v1.0"]), (Names{"a.txt"}));
  EXPECT_EQ(core->GetAttr(inos["v1.0"])->mtime, HubFake::DateOf(kC3));
}

TEST_F(VfsRevisionsTest, ViewsAreDroppedWhenForgotten) {
  auto core = MakeRevisions();
  auto main = core->Lookup(VfsCore::kRootIno, "main", true);
  ASSERT_TRUE(main.ok());
  auto file = core->Lookup(main->attr.ino, "a.txt", true);
  auto sha = core->Lookup(VfsCore::kRootIno, kC2, true);
  uint64_t prs = Walk(*core, "refs/pr");
  auto pr = core->Lookup(prs, "3", true);
  ASSERT_TRUE(file.ok() && sha.ok() && pr.ok());
  EXPECT_EQ(core->view_count(), 3u);
  auto fh = core->Open(file->attr.ino, false);
  ASSERT_TRUE(fh.ok());
  core->Forget(sha->attr.ino, 1);
  core->Forget(pr->attr.ino, 1);
  EXPECT_EQ(core->view_count(), 1u);
  // main lives while its file is referenced or open.
  core->Forget(main->attr.ino, 1);
  EXPECT_EQ(core->view_count(), 1u);
  core->Forget(file->attr.ino, 1);
  EXPECT_EQ(core->view_count(), 1u);  // the handle still reads it
  std::vector<uint8_t> buf(8);
  EXPECT_TRUE(core->Read(fh->fh, 0, buf).ok());
  core->Release(fh->fh);
  EXPECT_EQ(core->view_count(), 0u);
  // Looked up again: a fresh view.
  EXPECT_EQ(ReadFile(*core, "main/a.txt"), "one");
  EXPECT_EQ(core->view_count(), 1u);
}

TEST_F(VfsRevisionsTest, RevisionsOfAMissingRepoFailAtTheRoot) {
  VfsLayout layout;
  layout.repo = hub::RepoId{hub::RepoType::kModel, "org", "missing"};
  VfsCore core(&fake_, layout, VfsOptions{}, &clock_);
  EXPECT_EQ(core.CheckRoot().error().code, VfsErrc::kNoEntry);
}

TEST_F(VfsRevisionsTest, HubRootTypesNamespacesAndRepos) {
  fake_.Commit("org/other", kC1, {{"o.txt", "other"}});
  fake_.SetRef("org/other", "branch", "main", kC1);
  fake_.Commit("datasets/org/data", kC2, {{"d.csv", "x,y"}});
  fake_.SetRef("datasets/org/data", "branch", "main", kC2);
  auto core = MakeHub();
  ASSERT_TRUE(core->CheckRoot().ok());
  EXPECT_EQ(List(*core, VfsCore::kRootIno), (Names{"datasets", "models", "spaces"}));
  uint64_t models = Walk(*core, "models");
  EXPECT_EQ(List(*core, models), Names{});  // nothing looked up yet
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "nope", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(core->Lookup(models, "bad--ns", true).error().code, VfsErrc::kNoEntry);
  uint64_t org = Walk(*core, "models/org");
  ASSERT_NE(org, 0u);
  EXPECT_EQ(List(*core, models), (Names{"org"}));
  // The author's repos, listed without looking them up.
  int refs = fake_.list_refs.load();
  EXPECT_EQ(List(*core, org), (Names{"model", "other"}));
  EXPECT_EQ(fake_.list_refs.load(), refs);
  EXPECT_EQ(List(*core, Walk(*core, "models/org/model")),
            (Names{"feature", "main", "refs", "same", "v1.0"}));
  EXPECT_EQ(ReadFile(*core, "models/org/model/main/a.txt"), "one");
  EXPECT_EQ(ReadFile(*core, "models/org/model/feature/x/a.txt"), "two!");
  EXPECT_EQ(ReadFile(*core, std::string("models/org/model/") + kC4 + "/a.txt"), "four");
  EXPECT_EQ(ReadFile(*core, "models/org/other/main/o.txt"), "other");
  EXPECT_EQ(ReadFile(*core, "datasets/org/data/main/d.csv"), "x,y");
  EXPECT_EQ(Commit(*core, "models/org/model/refs/tags/same"), kC3);
  EXPECT_EQ(List(*core, Walk(*core, "datasets")), (Names{"org"}));
  EXPECT_EQ(List(*core, Walk(*core, "spaces")), Names{});
  // The same commit sha in two repos stays apart (listings are per repo).
  EXPECT_EQ(ReadFile(*core, "models/org/other/" + std::string(kC1) + "/o.txt"), "other");
  EXPECT_EQ(ReadFile(*core, "models/org/model/" + std::string(kC1) + "/a.txt"), "one");
}

TEST_F(VfsRevisionsTest, HubMissingRepoIsNegativeForTheTtlPrivateIsAccess) {
  fake_.Commit("org/secret", kC1, {{"s.txt", "s"}});
  fake_.SetRef("org/secret", "branch", "main", kC1);
  fake_.SetPrivate("org/secret");
  auto core = MakeHub();
  uint64_t org = Walk(*core, "models/org");
  EXPECT_EQ(core->Lookup(org, "missing", false).error().code, VfsErrc::kWouldBlock);
  EXPECT_EQ(core->Lookup(org, "missing", true).error().code, VfsErrc::kNoEntry);
  int refs = fake_.list_refs.load();
  EXPECT_EQ(core->Lookup(org, "missing", false).error().code, VfsErrc::kNoEntry);  // cached
  EXPECT_EQ(fake_.list_refs.load(), refs);
  EXPECT_EQ(core->NegativeTimeout(org), 10.0);
  EXPECT_EQ(core->Lookup(org, "secret", true).error().code, VfsErrc::kAccess);
  EXPECT_EQ(core->Lookup(org, "bad..name", true).error().code, VfsErrc::kNoEntry);
  // Private repos are not listed; the missing one was never found.
  EXPECT_EQ(List(*core, org), (Names{"model"}));
  // Created later: found once the negative entry expired.
  fake_.Commit("org/missing", kC1, {{"m.txt", "now here"}});
  fake_.SetRef("org/missing", "branch", "main", kC1);
  EXPECT_EQ(core->Lookup(org, "missing", true).error().code, VfsErrc::kNoEntry);
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(ReadFile(*core, "models/org/missing/main/m.txt"), "now here");
}

TEST_F(VfsRevisionsTest, HubRemembersABoundedNumberOfNames) {
  VfsOptions options;
  options.max_remembered_names = 2;
  options.max_cached_repos = 2;
  auto core = MakeHub(options);
  for (const char* ns : {"a1", "a2", "a3"}) ASSERT_NE(Walk(*core, std::string("models/") + ns), 0u);
  EXPECT_EQ(List(*core, Walk(*core, "models")), (Names{"a2", "a3"}));
  // Repos whose refs were evicted are fetched again, and still work.
  fake_.Commit("org/r2", kC1, {{"f", "2"}});
  fake_.SetRef("org/r2", "branch", "main", kC1);
  fake_.Commit("org/r3", kC1, {{"f", "3"}});
  fake_.SetRef("org/r3", "branch", "main", kC1);
  EXPECT_EQ(ReadFile(*core, "models/org/model/main/a.txt"), "one");
  EXPECT_EQ(ReadFile(*core, "models/org/r2/main/f"), "2");
  EXPECT_EQ(ReadFile(*core, "models/org/r3/main/f"), "3");
  EXPECT_EQ(ReadFile(*core, "models/org/model/v1.0/a.txt"), "three");
}

// A branch move fetches nothing but the directory the triggering lookup
// needs: unchanged subtrees (same tree oid) keep their listings and kernel
// entries; a changed directory is invalidated and fetched on next use.
TEST_F(VfsRevisionsTest, MoveFetchesOnlyWhatTheLookupNeeds) {
  const std::map<std::string, std::string> v1 = {
      {"top.txt", "top"}, {"a/x.txt", "x"}, {"a/deep/d.txt", "d"}, {"b/y.txt", "y1"},
      {"c/z.txt", "z"}};
  auto v2 = v1;
  v2["b/y.txt"] = "y2, changed";
  fake_.Commit("org/model", kC1, v1);
  fake_.Commit("org/model", kC2, v2);
  fake_.SetRef("org/model", "branch", "main", kC1);
  auto core = MakeRevisions();
  uint64_t main = Walk(*core, "main");
  for (const char* f : {"main/a/x.txt", "main/a/deep/d.txt", "main/b/y.txt", "main/c/z.txt"}) {
    ASSERT_NE(Walk(*core, f), 0u) << f;
  }
  uint64_t a = Walk(*core, "main/a");
  uint64_t b = Walk(*core, "main/b");
  uint64_t old_y = Walk(*core, "main/b/y.txt");
  uint64_t x = Walk(*core, "main/a/x.txt");
  core->TakeInvalidations();

  fake_.SetRef("org/model", "branch", "main", kC2);
  clock_.Advance(std::chrono::seconds(11));
  int lists = fake_.list_dirs.load();
  ASSERT_TRUE(core->Lookup(main, "top.txt", true).ok());
  EXPECT_EQ(fake_.list_dirs.load(), lists + 1);  // the root at the new commit, nothing else
  EXPECT_EQ(Commit(*core, "main"), kC2);
  auto inv = core->TakeInvalidations();
  auto has = [&](uint64_t parent, const std::string& name, uint64_t ino) {
    return std::any_of(inv.begin(), inv.end(), [&](const VfsInvalidation& i) {
      return i.parent == parent && i.name == name && i.ino == ino;
    });
  };
  // Exact diff of the root: b's tree changed, but b is still a directory
  // (the same inode): its entry stays, what it holds is invalidated.
  EXPECT_FALSE(has(main, "b", 0));
  EXPECT_FALSE(has(main, "a", 0));  // a and c did not change
  EXPECT_FALSE(has(main, "c", 0));
  EXPECT_TRUE(has(0, "", b));       // b: invalidated with the names under it
  EXPECT_TRUE(has(b, "y.txt", 0));
  EXPECT_FALSE(has(0, "", a));      // unchanged subtree: nothing
  EXPECT_FALSE(has(a, "x.txt", 0));
  // a/ (and a/deep/) serve the new commit from the old listings; b/ is
  // fetched when used and shows the new file under a new inode.
  EXPECT_EQ(Walk(*core, "main/a/x.txt"), x);
  EXPECT_EQ(ReadFile(*core, "main/a/deep/d.txt"), "d");
  EXPECT_EQ(fake_.list_dirs.load(), lists + 1);
  EXPECT_EQ(ReadFile(*core, "main/b/y.txt"), "y2, changed");
  EXPECT_NE(Walk(*core, "main/b/y.txt"), old_y);
  EXPECT_EQ(fake_.list_dirs.load(), lists + 2);
}

// Lookups, reads and forgets of revision views from several threads while
// the branch moves and the refs list expires: every answer is one of the
// two versions, and once everything is forgotten no view or inode is left.
TEST_F(VfsRevisionsTest, ConcurrentLookupsForgetsAndMoves) {
  auto core = MakeRevisions();
  std::atomic<bool> bad{false};
  std::mutex why_mu;
  std::string why;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(why_mu);
    if (!bad.exchange(true)) why = what;
  };
  auto worker = [&](int seed) {
    for (int i = 0; i < 300; ++i) {
      const char* rev = (i + seed) % 3 == 0 ? kC2 : ((i + seed) % 3 == 1 ? "main" : "same");
      auto root = core->Lookup(VfsCore::kRootIno, rev, true);
      if (!root.ok()) {
        fail(std::string("lookup ") + rev + ": " + VfsErrcName(root.error().code));
        continue;
      }
      auto file = core->Lookup(root->attr.ino, "a.txt", true);
      if (file.ok()) {
        auto fh = core->Open(file->attr.ino, false);
        if (fh.ok()) {
          std::vector<uint8_t> buf(16);
          auto n = core->Read(fh->fh, 0, buf);
          std::string got = n.ok() ? std::string(buf.begin(), buf.begin() + *n) : "";
          if (got != "one" && got != "two!") fail(std::string(rev) + "/a.txt read '" + got + "'");
          core->Release(fh->fh);
        }
        core->Forget(file->attr.ino, 1);
      } else {
        fail(std::string("lookup ") + rev + "/a.txt: " + VfsErrcName(file.error().code));
      }
      if (i % 7 == 0) {
        auto dh = core->OpenDir(VfsCore::kRootIno, true);
        if (dh.ok()) {
          for (size_t k = 0;; ++k) {
            auto d = core->DirEntryAt(*dh, k);
            if (!d.ok() || !d->has_value()) break;
            auto e = core->LookupDirEntryAt(*dh, k);
            if (e.ok()) core->Forget(e->attr.ino, 1);
          }
          core->ReleaseDir(*dh);
        }
      }
      core->Forget(root->attr.ino, 1);
    }
  };
  std::thread mover([&] {
    for (int i = 0; i < 30; ++i) {
      fake_.SetRef("org/model", "branch", "main", i % 2 == 0 ? kC2 : kC1);
      clock_.Advance(std::chrono::seconds(11));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  mover.join();
  EXPECT_FALSE(bad.load()) << why;
  EXPECT_EQ(core->view_count(), 0u);
  EXPECT_EQ(core->inode_count(), 1u);
}

}  // namespace
}  // namespace hubfs::fs
