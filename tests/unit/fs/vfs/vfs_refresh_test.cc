// Branch views follow their head after metadata_ttl (FakeClock, a fake
// source whose branch moves between two commits).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fs/vfs/vfs_core.h"

namespace hubfs::fs {
namespace {

constexpr char kOld[] = "1111111111111111111111111111111111111111";
constexpr char kNew[] = "2222222222222222222222222222222222222222";

// Flat repos (root only), one per commit; the branch points at `head`.
class MovingSource final : public RepoSource {
 public:
  void Put(const std::string& commit, const std::string& path, const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[commit][path] = content;
  }
  void SetHead(const std::string& commit) {
    std::lock_guard<std::mutex> lock(mu_);
    head_ = commit;
  }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  int resolves() {
    std::lock_guard<std::mutex> lock(mu_);
    return resolves_;
  }

  Result<RevisionInfo> ResolveRevision(const hub::RepoId&, std::string_view) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++resolves_;
    if (down_) return UnavailableError("server down");
    return RevisionInfo{head_, head_ == kOld ? 1700000000 : 1700000100};
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId&, std::string_view commit,
                                              std::string_view dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) return UnavailableError("server down");
    auto it = repos_.find(std::string(commit));
    if (it == repos_.end() || !dir.empty()) return NotFoundError("no such dir");
    std::vector<hub::TreeEntry> out;
    for (const auto& [path, content] : it->second) {
      hub::TreeEntry e;
      e.path = path;
      e.oid = "oid-" + content;  // content-addressed, like git
      e.size = content.size();
      out.push_back(e);
    }
    return out;
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = repos_.find(file.commit);
    if (it == repos_.end()) return NotFoundError("no such commit");
    auto f = it->second.find(file.path);
    if (f == it->second.end()) return NotFoundError("gone");
    const std::string& c = f->second;
    if (offset >= c.size()) return size_t{0};
    size_t n = std::min<size_t>(out.size(), c.size() - offset);
    std::copy_n(c.data() + offset, n, out.data());
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> repos_;
  std::string head_ = kOld;
  bool down_ = false;
  int resolves_ = 0;
};

class VfsRefreshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.Put(kOld, "a.txt", "old a");
    source_.Put(kOld, "same.txt", "same");
    source_.Put(kOld, "gone.txt", "bye");
    source_.Put(kNew, "a.txt", "new a!");
    source_.Put(kNew, "same.txt", "same");
    source_.Put(kNew, "added.txt", "hello");
  }
  std::unique_ptr<VfsCore> Make(bool immutable) {
    ViewSpec view;
    view.repo = hub::RepoId{hub::RepoType::kModel, "org", "repo"};
    view.revision = immutable ? kOld : "main";
    view.resolved = RevisionInfo{kOld, 1700000000};
    view.immutable = immutable;
    VfsOptions options;
    options.metadata_ttl_seconds = 10;
    return std::make_unique<VfsCore>(&source_, view, options, &clock_);
  }
  std::string ReadAll(VfsCore& core, uint64_t fh) {
    std::vector<uint8_t> buf(64);
    auto n = core.Read(fh, 0, buf);
    EXPECT_TRUE(n.ok());
    return n.ok() ? std::string(buf.begin(), buf.begin() + *n) : "";
  }
  std::vector<std::string> List(VfsCore& core) {
    std::vector<std::string> names;
    auto dh = core.OpenDir(VfsCore::kRootIno, true);
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

  // The branch moves to kNew and the metadata TTL (10 s) passes.
  void MoveHeadPastTtl() {
    source_.SetHead(kNew);
    clock_.Advance(std::chrono::seconds(11));
  }

  FakeClock clock_;
  MovingSource source_;
};

TEST_F(VfsRefreshTest, BranchFollowsHeadAfterTtl) {
  auto core = Make(false);
  auto a = core->Lookup(VfsCore::kRootIno, "a.txt", true);
  ASSERT_TRUE(a.ok());
  auto gone = core->Lookup(VfsCore::kRootIno, "gone.txt", true);
  ASSERT_TRUE(gone.ok());
  auto same = core->Lookup(VfsCore::kRootIno, "same.txt", true);
  ASSERT_TRUE(same.ok());
  auto fh = core->Open(a->attr.ino, false);
  ASSERT_TRUE(fh.ok());

  source_.SetHead(kNew);
  // Before the TTL: still the old tree.
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_FALSE(core->RefreshDue());
  EXPECT_TRUE(core->Lookup(VfsCore::kRootIno, "gone.txt", true).ok());
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "added.txt", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(*core->GetXattr(VfsCore::kRootIno, "user.hf.commit"), kOld);

  // After it: a worker that may not block is sent to the I/O side.
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(core->RefreshDue());
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "a.txt", false).error().code, VfsErrc::kWouldBlock);
  auto a2 = core->Lookup(VfsCore::kRootIno, "a.txt", true);
  ASSERT_TRUE(a2.ok());
  EXPECT_FALSE(core->RefreshDue());
  EXPECT_NE(a2->attr.ino, a->attr.ino);  // changed content, new inode
  EXPECT_EQ(a2->attr.size, 6u);
  EXPECT_EQ(a2->attr.mtime, 1700000100);
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "gone.txt", true).error().code, VfsErrc::kNoEntry);
  EXPECT_TRUE(core->Lookup(VfsCore::kRootIno, "added.txt", true).ok());
  auto same2 = core->Lookup(VfsCore::kRootIno, "same.txt", true);
  ASSERT_TRUE(same2.ok());
  EXPECT_EQ(same2->attr.ino, same->attr.ino);  // unchanged content keeps its inode
  EXPECT_EQ(List(*core), (std::vector<std::string>{"a.txt", "added.txt", "same.txt"}));
  EXPECT_EQ(*core->GetXattr(VfsCore::kRootIno, "user.hf.commit"), kNew);

  // The handle opened before the move keeps reading what it opened.
  EXPECT_EQ(ReadAll(*core, fh->fh), "old a");
  auto fh2 = core->Open(a2->attr.ino, false);
  ASSERT_TRUE(fh2.ok());
  EXPECT_EQ(ReadAll(*core, fh2->fh), "new a!");

  // What the kernel must forget: the changed and the removed name, the new
  // one (it may hold a negative entry), and the root's attributes; the
  // unchanged name stays.
  auto inv = core->TakeInvalidations();
  std::vector<std::string> names;
  bool root_inode = false;
  for (const auto& i : inv) {
    if (i.name.empty()) {
      root_inode |= i.ino == VfsCore::kRootIno;
    } else {
      EXPECT_EQ(i.parent, VfsCore::kRootIno);
      names.push_back(i.name);
    }
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "added.txt", "gone.txt"}));
  EXPECT_TRUE(root_inode);
  EXPECT_TRUE(core->TakeInvalidations().empty());
}

// An inode looked up before a move and opened after it reads the version
// it stands for (its size and content), not the file of the new commit.
TEST_F(VfsRefreshTest, InodeOpenedAfterAMoveReadsItsOwnVersion) {
  auto core = Make(false);
  auto a = core->Lookup(VfsCore::kRootIno, "a.txt", true);
  ASSERT_TRUE(a.ok());
  MoveHeadPastTtl();
  ASSERT_TRUE(core->RefreshIfDue());
  auto fh = core->Open(a->attr.ino, false);
  ASSERT_TRUE(fh.ok());
  EXPECT_EQ(ReadAll(*core, fh->fh), "old a");
  core->Release(fh->fh);
}

TEST_F(VfsRefreshTest, ListenerIsCalledAfterAMove) {
  auto core = Make(false);
  ASSERT_TRUE(core->Lookup(VfsCore::kRootIno, "a.txt", true).ok());
  int calls = 0;
  core->SetInvalidationListener([&] { ++calls; });
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_FALSE(core->RefreshIfDue());  // head did not move
  EXPECT_EQ(calls, 0);
  source_.SetHead(kNew);
  EXPECT_FALSE(core->RefreshIfDue());  // not due again yet
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_TRUE(core->RefreshIfDue());
  EXPECT_EQ(calls, 1);
}

// The kernel may cache a branch view's directory entries (a warm find
// re-read every directory otherwise), and keeps what it holds only while it
// is the listing the new handle shows: the first open after a move drops it.
TEST_F(VfsRefreshTest, ABranchDirectoryIsCachedUntilTheViewMoves) {
  auto core = Make(false);
  auto open = [&] {
    auto dh = core->OpenDir(VfsCore::kRootIno, true);
    EXPECT_TRUE(dh.ok());
    return dh.ok() ? *dh : 0;
  };
  const uint64_t first = open();
  VfsCore::DirCaching c = core->DirCachingFor(VfsCore::kRootIno, first);
  EXPECT_TRUE(c.cache);
  EXPECT_FALSE(c.keep);  // the kernel holds nothing known yet
  core->ReleaseDir(first);
  const uint64_t second = open();
  c = core->DirCachingFor(VfsCore::kRootIno, second);
  EXPECT_TRUE(c.cache);
  EXPECT_TRUE(c.keep);
  core->ReleaseDir(second);
  EXPECT_TRUE(core->TakeInvalidations().empty());

  // Moved: the next open drops what the kernel held, the one after keeps.
  MoveHeadPastTtl();
  const uint64_t moved = open();
  c = core->DirCachingFor(VfsCore::kRootIno, moved);
  EXPECT_TRUE(c.cache);
  EXPECT_FALSE(c.keep);
  core->ReleaseDir(moved);
  const uint64_t again = open();
  EXPECT_TRUE(core->DirCachingFor(VfsCore::kRootIno, again).keep);
  core->ReleaseDir(again);

  // An open whose reply never reached the kernel: the next one drops.
  const uint64_t lost = open();
  EXPECT_TRUE(core->DirCachingFor(VfsCore::kRootIno, lost).keep);
  core->DirCachingUnknown(VfsCore::kRootIno, lost);
  core->ReleaseDir(lost);
  const uint64_t after_lost = open();
  EXPECT_FALSE(core->DirCachingFor(VfsCore::kRootIno, after_lost).keep);
  core->ReleaseDir(after_lost);
}

// A handle opened before a move may put its older entries into the
// kernel's cache after a newer open claimed it: its release drops them
// (an invalidation of the directory) and the next open starts afresh.
TEST_F(VfsRefreshTest, AHandleOpenedBeforeAMoveDropsTheCacheAtItsRelease) {
  auto core = Make(false);
  auto old_dh = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(old_dh.ok());
  EXPECT_TRUE(core->DirCachingFor(VfsCore::kRootIno, *old_dh).cache);
  MoveHeadPastTtl();
  auto new_dh = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(new_dh.ok());
  EXPECT_FALSE(core->DirCachingFor(VfsCore::kRootIno, *new_dh).keep);
  (void)core->TakeInvalidations();  // the move's own

  core->ReleaseDir(*old_dh);
  auto inv = core->TakeInvalidations();
  ASSERT_EQ(inv.size(), 1u);
  EXPECT_EQ(inv[0].ino, VfsCore::kRootIno);
  EXPECT_TRUE(inv[0].name.empty());
  auto next = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(core->DirCachingFor(VfsCore::kRootIno, *next).keep);
  // Handles of the current listing drop nothing.
  core->ReleaseDir(*new_dh);
  core->ReleaseDir(*next);
  EXPECT_TRUE(core->TakeInvalidations().empty());
}

// An open that listed the directory before the view moved and reaches the
// kernel after a newer open (one that waited on a slow fetch) gets no
// caching at all: its older entries stay out of the kernel's cache, what the
// newer open put there stays kept, and its release drops nothing.
TEST_F(VfsRefreshTest, AnOpenListedBeforeAMoveThatArrivesAfterItIsNotCached) {
  auto core = Make(false);
  auto late = core->OpenDir(VfsCore::kRootIno, true);  // not yet handed over
  ASSERT_TRUE(late.ok());
  MoveHeadPastTtl();
  auto current = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(core->DirCachingFor(VfsCore::kRootIno, *current).cache);
  (void)core->TakeInvalidations();  // the move's own

  const VfsCore::DirCaching c = core->DirCachingFor(VfsCore::kRootIno, *late);
  EXPECT_FALSE(c.cache);
  EXPECT_FALSE(c.keep);
  core->ReleaseDir(*late);
  EXPECT_TRUE(core->TakeInvalidations().empty());
  auto next = core->OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(core->DirCachingFor(VfsCore::kRootIno, *next).keep);
  core->ReleaseDir(*next);
  core->ReleaseDir(*current);
  EXPECT_TRUE(core->TakeInvalidations().empty());
}

TEST_F(VfsRefreshTest, ACommitDirectoryIsAlwaysCachedAndKept) {
  auto core = Make(true);
  for (int i = 0; i < 2; ++i) {
    auto dh = core->OpenDir(VfsCore::kRootIno, true);
    ASSERT_TRUE(dh.ok());
    VfsCore::DirCaching c = core->DirCachingFor(VfsCore::kRootIno, *dh);
    EXPECT_TRUE(c.cache);
    EXPECT_TRUE(c.keep);
    core->ReleaseDir(*dh);
  }
  EXPECT_TRUE(core->TakeInvalidations().empty());
}

TEST_F(VfsRefreshTest, FailedResolutionKeepsServingAndRetriesAfterTtl) {
  auto core = Make(false);
  ASSERT_TRUE(core->Lookup(VfsCore::kRootIno, "gone.txt", true).ok());
  MoveHeadPastTtl();
  source_.SetDown(true);
  int before = source_.resolves();
  // The listing of the old commit is cached: still served.
  EXPECT_TRUE(core->Lookup(VfsCore::kRootIno, "gone.txt", true).ok());
  EXPECT_EQ(source_.resolves(), before + 1);
  EXPECT_EQ(*core->GetXattr(VfsCore::kRootIno, "user.hf.commit"), kOld);
  // No new attempt before another TTL.
  source_.SetDown(false);
  EXPECT_TRUE(core->Lookup(VfsCore::kRootIno, "gone.txt", true).ok());
  EXPECT_EQ(source_.resolves(), before + 1);
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(core->Lookup(VfsCore::kRootIno, "gone.txt", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(source_.resolves(), before + 2);
  EXPECT_EQ(*core->GetXattr(VfsCore::kRootIno, "user.hf.commit"), kNew);
}

TEST_F(VfsRefreshTest, CommitViewNeverReresolves) {
  auto core = Make(true);
  source_.SetHead(kNew);
  clock_.Advance(std::chrono::hours(24 * 400));
  EXPECT_FALSE(core->RefreshDue());
  EXPECT_TRUE(core->Lookup(VfsCore::kRootIno, "gone.txt", false).ok() ||
              core->Lookup(VfsCore::kRootIno, "gone.txt", true).ok());
  EXPECT_FALSE(core->RefreshIfDue());
  EXPECT_EQ(source_.resolves(), 0);
  EXPECT_EQ(*core->GetXattr(VfsCore::kRootIno, "user.hf.commit"), kOld);
}

}  // namespace
}  // namespace hubfs::fs
