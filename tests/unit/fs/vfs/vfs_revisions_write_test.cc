// Writable revision directories (--revisions --rw, hub --rw) driven through
// VfsCore: which views take changes, alias directories sharing one branch's
// writer, renames between views, and a repo the token may not write. The
// writers never commit here (a long commit delay): commits are the write
// path's tests and the e2e test's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fs/vfs/vfs_core.h"
#include "fs/write/writer_set.h"
#include "tests/unit/fs/fake_hub.h"
#include "tests/unit/fs/vfs/multi_repo_fake.h"

namespace hubfs::fs {
namespace {

using namespace ::hubfs::fs::testing;  // NOLINT: the fakes' helpers
using namespace std::chrono_literals;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class VfsRevisionsWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-vrw-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    fake_.Commit("org/model", kC1, {{"a.txt", "one"}, {"sub/b.txt", "bee"}});
    fake_.Commit("org/model", kC2, {{"a.txt", "two!"}});
    fake_.Commit("org/model", kC3, {{"a.txt", "three"}});
    fake_.Commit("org/model", kC4, {{"a.txt", "four"}});
    fake_.SetRef("org/model", "branch", "main", kC1);
    fake_.SetRef("org/model", "branch", "feature/x", kC2);
    fake_.SetRef("org/model", "tag", "v1.0", kC3);
    fake_.SetRef("org/model", "pr", "3", kC4);
    fake_.SetRef("org/model", "convert", "parquet", kC2);
    fake_.Commit("org/other", kC1, {{"o.txt", "other"}});
    fake_.SetRef("org/other", "branch", "main", kC1);
    uploader_ = std::make_unique<RepoUploader>(hub_.hub_client(), hub_.commit_client(),
                                               hub_.cas_writer(), nullptr);
  }
  void TearDown() override {
    core_.reset();
    writers_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Make(VfsLayout::Kind kind) {
    VfsLayout layout;
    layout.kind = kind;
    layout.repo = hub::RepoId{hub::RepoType::kModel, "org", "model"};
    layout.mount_time = 1750000000;
    VfsOptions options;
    options.metadata_ttl_seconds = 10;
    core_ = std::make_unique<VfsCore>(&fake_, layout, options, &clock_);
    const std::string root = (dir_ / "write").string();
    WriterSetHooks hooks;
    hooks.journal_dir = [root](const hub::RepoId& repo, const std::string& branch) {
      std::string name = repo.name + "-" + branch;
      for (char& c : name) {
        if (c == '/') c = '_';
      }
      return root + "/" + name;
    };
    hooks.budget_path = [root](const hub::RepoId& repo) { return root + "/budget-" + repo.name; };
    hooks.check_access = [this](const hub::RepoId& repo, const std::string&) -> Status {
      ++access_checks_;
      if (repo.name == "other") return Status(ErrorCode::kPermissionDenied, "403");
      return Status::Ok();
    };
    hooks.base_readers = [this](const hub::RepoId& repo, const std::string& branch) {
      return core_->BaseReaders(repo, branch);
    };
    WritableViewOptions o;
    o.commit_delay = 3600s;
    writers_ = std::make_unique<WriterSet>(FileEnv::Default(), uploader_.get(),
                                           SystemClock::Default(), root, kEp, o,
                                           std::move(hooks));
    core_->EnableWrites(writers_.get());
  }

  uint64_t Walk(const std::string& path) {
    uint64_t ino = VfsCore::kRootIno;
    size_t start = 0;
    while (start < path.size()) {
      size_t slash = path.find('/', start);
      std::string name = path.substr(start, slash == std::string::npos ? slash : slash - start);
      auto e = core_->Lookup(ino, name, true);
      if (!e.ok()) return 0;
      ino = e->attr.ino;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return ino;
  }
  std::vector<std::string> List(uint64_t ino) {
    std::vector<std::string> names;
    auto dh = core_->OpenDir(ino, true);
    if (!dh.ok()) return names;
    for (size_t i = 0;; ++i) {
      auto e = core_->DirEntryAt(*dh, i);
      if (!e.ok() || !e->has_value()) break;
      names.push_back((*e)->name);
    }
    core_->ReleaseDir(*dh);
    return names;
  }
  std::string Read(uint64_t ino) {
    auto fh = core_->Open(ino, false);
    if (!fh.ok()) return "<open failed>";
    std::string out(64, '\0');
    auto n = core_->Read(fh->fh, 0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()),
                                                       out.size()));
    core_->Release(fh->fh);
    if (!n.ok()) return "<read failed>";
    out.resize(*n);
    return out;
  }
  // creat + write + close of `name` in directory `dir`.
  VfsStatus WriteFile(uint64_t dir, const std::string& name, const std::string& data) {
    auto created = core_->Create(dir, name, /*truncate=*/true);
    if (!created.ok()) return created.error();
    auto n = core_->Write(created->second.fh, 0, Bytes(data));
    if (!n.ok()) return n.error();
    auto st = core_->Flush(created->second.fh);
    core_->Release(created->second.fh);
    return st;
  }
  // The error of a failed call (kIo stands for "it succeeded").
  template <typename T>
  static VfsErrc Code(const VfsResult<T>& r) {
    return r.ok() ? VfsErrc::kIo : r.error().code;
  }
  static hub::RepoId layout_repo() { return hub::RepoId{hub::RepoType::kModel, "org", "model"}; }

  HubFake fake_;
  FakeClock clock_;
  FakeHub hub_;
  std::filesystem::path dir_;
  std::unique_ptr<RepoUploader> uploader_;
  std::unique_ptr<VfsCore> core_;
  std::unique_ptr<WriterSet> writers_;
  int access_checks_ = 0;
};

TEST_F(VfsRevisionsWriteTest, BranchAndPullRequestViewsAreWritableTagsShasAndTheRootAreNot) {
  Make(VfsLayout::Kind::kRevisions);
  // Creating a branch (a directory at the root) or anything in the refs tree.
  EXPECT_EQ(Code(core_->Mkdir(VfsCore::kRootIno, "new-branch")), VfsErrc::kReadOnly);
  EXPECT_EQ(Code(core_->Create(VfsCore::kRootIno, "f", true)), VfsErrc::kReadOnly);
  EXPECT_EQ(Code(core_->Mkdir(Walk("refs/heads"), "y")), VfsErrc::kReadOnly);
  for (const char* ro : {"v1.0", "refs/tags/v1.0", "refs/convert/parquet", kC1}) {
    SCOPED_TRACE(ro);
    const uint64_t dir = Walk(ro);
    ASSERT_NE(dir, 0u);
    EXPECT_EQ(Code(WriteFile(dir, "new.txt", "x")), VfsErrc::kReadOnly);
    EXPECT_EQ(Code(core_->Mkdir(dir, "d")), VfsErrc::kReadOnly);
    EXPECT_EQ(Code(core_->Unlink(dir, "a.txt")), VfsErrc::kReadOnly);
    const uint64_t file = Walk(std::string(ro) + "/a.txt");
    EXPECT_EQ(Code(core_->Open(file, /*write=*/true)), VfsErrc::kReadOnly);
    EXPECT_EQ(Code(core_->SetSize(file, 0, 0)), VfsErrc::kReadOnly);
    EXPECT_EQ(core_->GetAttr(file)->mode, 0444u);
  }
  EXPECT_TRUE(writers_->All().empty());  // nothing opened a writer
  EXPECT_EQ(access_checks_, 0);
  // Looking at a branch opens no writer either; its files show writable.
  EXPECT_EQ(core_->GetAttr(Walk("main/a.txt"))->mode, 0644u);
  EXPECT_EQ(List(Walk("main")), (std::vector<std::string>{"a.txt", "sub"}));
  EXPECT_TRUE(writers_->All().empty());

  ASSERT_TRUE(WriteFile(Walk("main"), "m.txt", "on main").ok());
  ASSERT_TRUE(WriteFile(Walk("feature/x"), "f.txt", "on feature").ok());
  ASSERT_TRUE(WriteFile(Walk("refs/pr/3"), "p.txt", "on the PR").ok());
  std::set<std::string> branches;
  for (const auto& e : writers_->All()) branches.insert(e.branch);
  EXPECT_EQ(branches, (std::set<std::string>{"main", "feature/x", "refs/pr/3"}));
  EXPECT_EQ(writers_->Find(layout_repo(), "main")->Pending().count("m.txt"), 1u);
  EXPECT_EQ(writers_->Find(layout_repo(), "feature/x")->Pending().count("f.txt"), 1u);
  EXPECT_EQ(writers_->Find(layout_repo(), "feature/x")->base_commit(), kC2);
  EXPECT_EQ(List(Walk("feature/x")), (std::vector<std::string>{"a.txt", "f.txt"}));
  EXPECT_EQ(List(Walk("main")), (std::vector<std::string>{"a.txt", "m.txt", "sub"}));
  // The tag at main's commit does not see main's change.
  EXPECT_EQ(List(Walk(kC1)), (std::vector<std::string>{"a.txt", "sub"}));
  // The kernel caches the entries of a tag's and a commit's directories,
  // never a writable view's (they change without a commit) or the refs tree's.
  auto caching = [&](const std::string& path) {
    const uint64_t dir = path.empty() ? VfsCore::kRootIno : Walk(path);
    auto dh = core_->OpenDir(dir, true);
    EXPECT_TRUE(dh.ok()) << path;
    if (!dh.ok()) return false;
    const bool cache = core_->DirCachingFor(dir, *dh).cache;
    core_->ReleaseDir(*dh);
    return cache;
  };
  EXPECT_TRUE(caching("v1.0"));
  EXPECT_TRUE(caching(kC1));
  EXPECT_FALSE(caching("main"));
  EXPECT_FALSE(caching("main/sub"));
  EXPECT_FALSE(caching("refs/heads"));
  EXPECT_FALSE(caching(""));
}

TEST_F(VfsRevisionsWriteTest, AliasDirectoriesShowOneBranchsChanges) {
  Make(VfsLayout::Kind::kRevisions);
  const uint64_t alias_root = Walk("refs/heads/main");
  ASSERT_NE(alias_root, 0u);
  (void)core_->TakeInvalidations();
  ASSERT_TRUE(WriteFile(Walk("main"), "new.txt", "staged").ok());
  // The kernel is told to forget what the alias directory knew of the name.
  bool told = false;
  for (const auto& inv : core_->TakeInvalidations()) {
    told |= inv.parent == alias_root && inv.name == "new.txt";
  }
  EXPECT_TRUE(told);
  EXPECT_EQ(List(alias_root), (std::vector<std::string>{"a.txt", "new.txt", "sub"}));
  EXPECT_EQ(Read(Walk("refs/heads/main/new.txt")), "staged");
  EXPECT_EQ(writers_->All().size(), 1u);
  // A change through the alias is one of main's too.
  ASSERT_TRUE(core_->Unlink(alias_root, "a.txt").ok());
  EXPECT_EQ(List(Walk("main")), (std::vector<std::string>{"new.txt", "sub"}));
  EXPECT_EQ(writers_->Find(layout_repo(), "main")->Pending().size(), 2u);
}

TEST_F(VfsRevisionsWriteTest, RenamesBetweenRevisionDirectoriesAreCrossDevice) {
  Make(VfsLayout::Kind::kRevisions);
  const uint64_t main = Walk("main");
  EXPECT_EQ(Code(core_->Rename(main, "a.txt", Walk("feature/x"), "a.txt", false)),
            VfsErrc::kCrossDevice);
  EXPECT_EQ(Code(core_->Rename(main, "a.txt", Walk("refs/heads/main"), "b.txt", false)),
            VfsErrc::kCrossDevice);
  EXPECT_EQ(Code(core_->Rename(main, "a.txt", Walk("v1.0"), "a.txt", false)),
            VfsErrc::kReadOnly);
  // Within a view, as in a single-branch mount.
  ASSERT_TRUE(core_->Rename(main, "a.txt", Walk("main/sub"), "moved.txt", false).ok());
  EXPECT_EQ(List(Walk("main/sub")), (std::vector<std::string>{"b.txt", "moved.txt"}));
  EXPECT_EQ(Read(Walk("main/sub/moved.txt")), "one");
}

TEST_F(VfsRevisionsWriteTest, ACommitLandedWithNoViewOfItsBranchShowsInViewsMadeLater) {
  // A journal resumed at mount commits before anything looked at its
  // branch, whose commit the refs list (cached for the TTL) still has.
  Make(VfsLayout::Kind::kRevisions);
  ASSERT_TRUE(core_->CheckRoot().ok());
  fake_.SetRef("org/model", "branch", "feature/x", kC4);
  core_->ShowCommit(layout_repo(), "feature/x", kC4, "feature/x");
  EXPECT_EQ(Read(Walk("feature/x/a.txt")), "four");
  EXPECT_EQ(Read(Walk("refs/heads/feature/x/a.txt")), "four");
}

TEST_F(VfsRevisionsWriteTest, ACommitWaitsOutAFlakyHubBeforeItsViewMovesOn) {
  // The overlay goes once ShowCommit returns: the view must show the commit
  // by then, also when the first refreshes after it fail.
  Make(VfsLayout::Kind::kRevisions);
  ASSERT_TRUE(core_->CheckRoot().ok());
  EXPECT_EQ(Read(Walk("feature/x/a.txt")), "two!");
  fake_.SetRef("org/model", "branch", "feature/x", kC4);
  fake_.fail_list_refs = 5;
  core_->ShowCommit(layout_repo(), "feature/x", kC4, "feature/x");
  EXPECT_EQ(fake_.fail_list_refs.load(), 0);
  EXPECT_EQ(Read(Walk("feature/x/a.txt")), "four");
}

TEST_F(VfsRevisionsWriteTest, AHubMountAnswersAccessForARepoItMayNotWrite) {
  Make(VfsLayout::Kind::kHub);
  const uint64_t other = Walk("models/org/other/main");
  ASSERT_NE(other, 0u);
  EXPECT_EQ(Code(WriteFile(other, "x.txt", "x")), VfsErrc::kAccess);
  EXPECT_EQ(Code(core_->Mkdir(other, "d")), VfsErrc::kAccess);
  EXPECT_EQ(access_checks_, 1);  // remembered
  // Still readable; another repo is writable.
  EXPECT_EQ(Read(Walk("models/org/other/main/o.txt")), "other");
  ASSERT_TRUE(WriteFile(Walk("models/org/model/main"), "y.txt", "y").ok());
  EXPECT_EQ(List(Walk("models/org/model/main")),
            (std::vector<std::string>{"a.txt", "sub", "y.txt"}));
  EXPECT_EQ(Code(WriteFile(Walk("models/org/model/v1.0"), "y.txt", "y")), VfsErrc::kReadOnly);
}

}  // namespace
}  // namespace hubfs::fs
