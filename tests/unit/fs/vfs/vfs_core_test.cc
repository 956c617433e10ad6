#include "fs/vfs/vfs_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

namespace hubfs::fs {
namespace {

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kXet[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kSha[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// An in-memory repo: one commit, files with contents, directories implied.
class FakeSource final : public RepoSource {
 public:
  void AddFile(const std::string& path, std::string content, bool xet = false) {
    files_[path] = content;
    hub::TreeEntry e;
    e.path = path;
    e.oid = "oid-" + path;
    e.size = content.size();
    if (xet) {
      e.xet_hash = kXet;
      e.lfs = hub::LfsInfo{kSha, content.size(), 130};
    }
    entries_.push_back(e);
    for (size_t p = path.rfind('/'); p != std::string::npos; p = path.rfind('/', p - 1)) {
      std::string dir = path.substr(0, p);
      if (std::none_of(entries_.begin(), entries_.end(),
                       [&](const hub::TreeEntry& x) { return x.path == dir; })) {
        hub::TreeEntry d;
        d.type = hub::TreeEntry::Type::kDirectory;
        d.path = dir;
        d.oid = "tree-" + dir;
        entries_.push_back(d);
      }
      if (p == 0) break;
    }
  }
  void AddRaw(hub::TreeEntry e) { entries_.push_back(std::move(e)); }

  Result<RevisionInfo> ResolveRevision(const hub::RepoId&, std::string_view) override {
    return RevisionInfo{kCommit, 1700000000};
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId&, std::string_view commit,
                                              std::string_view dir) override {
    ++list_calls;
    if (commit != kCommit) return NotFoundError("no such commit");
    if (fail_list) return UnavailableError("server down");
    bool dir_exists = dir.empty();
    std::vector<hub::TreeEntry> out;
    std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
    for (const auto& e : entries_) {
      if (e.path == dir && e.type == hub::TreeEntry::Type::kDirectory) dir_exists = true;
      if (e.path.compare(0, prefix.size(), prefix) != 0 || e.path.size() == prefix.size())
        continue;
      if (e.path.find('/', prefix.size()) != std::string::npos && !raw_nested) continue;
      out.push_back(e);
    }
    if (!dir_exists) return NotFoundError("no such dir");
    return out;
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    ++read_calls;
    if (fail_read) return UnavailableError("server down");
    auto it = files_.find(file.path);
    if (it == files_.end() || file.commit != kCommit) return NotFoundError("gone");
    const std::string& c = it->second;
    if (offset >= c.size()) return size_t{0};
    // Serve at most 3 bytes per call, to exercise the core's loop.
    size_t n = std::min<size_t>({out.size(), c.size() - offset, 3});
    std::copy_n(c.data() + offset, n, out.data());
    return n;
  }

  Result<size_t> ReadHeld(const FileContent& file, uint64_t offset, size_t len, HeldBytes* out,
                          bool pages_kept) override {
    last_pages_kept = pages_kept;
    return RepoSource::ReadHeld(file, offset, len, out, pages_kept);
  }

  std::atomic<int> list_calls{0};
  std::atomic<int> read_calls{0};
  std::optional<bool> last_pages_kept;  // of the last ReadHeld
  bool fail_list = false;
  bool fail_read = false;
  bool raw_nested = false;

 private:
  std::map<std::string, std::string> files_;
  std::vector<hub::TreeEntry> entries_;
};

ViewSpec CommitView(std::string subdir = "") {
  ViewSpec v;
  v.repo = hub::RepoId{hub::RepoType::kModel, "org", "model"};
  v.revision = kCommit;
  v.resolved = RevisionInfo{kCommit, 1700000000};
  v.subdir = std::move(subdir);
  v.immutable = true;
  return v;
}

class VfsCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.AddFile("README.md", "hello world\n");
    source_.AddFile("weights/model.bin", "0123456789abcdefghij", /*xet=*/true);
    source_.AddFile("weights/sub/deep.txt", "deep");
  }
  VfsCore MakeCore(VfsOptions opts = {}, ViewSpec view = CommitView()) {
    return VfsCore(&source_, std::move(view), opts);
  }
  FakeSource source_;
};

TEST_F(VfsCoreTest, LookupFileAndDirAttributes) {
  VfsOptions opts;
  opts.uid = 1234;
  opts.gid = 5678;
  VfsCore core = MakeCore(opts);
  auto e = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->attr.is_dir);
  EXPECT_EQ(e->attr.mode, 0444u);
  EXPECT_EQ(e->attr.size, 12u);
  EXPECT_EQ(e->attr.blocks, 1u);
  EXPECT_EQ(e->attr.uid, 1234u);
  EXPECT_EQ(e->attr.gid, 5678u);
  EXPECT_EQ(e->attr.mtime, 1700000000);
  EXPECT_GT(e->entry_timeout, 3600.0);
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->attr.is_dir);
  EXPECT_EQ(d->attr.mode, 0555u);
  EXPECT_NE(d->attr.ino, e->attr.ino);
  auto f = core.Lookup(d->attr.ino, "model.bin", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->attr.size, 20u);
}

TEST_F(VfsCoreTest, BranchViewUsesMetadataTtl) {
  ViewSpec v = CommitView();
  v.revision = "main";
  v.immutable = false;
  VfsOptions opts;
  opts.metadata_ttl_seconds = 7;
  VfsCore core = MakeCore(opts, v);
  auto e = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->entry_timeout, 7.0);
  EXPECT_EQ(core.AttrTimeout(e->attr.ino), 7.0);
  EXPECT_EQ(core.NegativeTimeout(VfsCore::kRootIno), 7.0);
}

TEST_F(VfsCoreTest, OneListingPerDirectoryAndNegativeEntriesCached) {
  VfsCore core = MakeCore();
  ASSERT_TRUE(core.Lookup(VfsCore::kRootIno, "README.md", true).ok());
  EXPECT_EQ(source_.list_calls, 1);
  auto missing = core.Lookup(VfsCore::kRootIno, "nope", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, VfsErrc::kNoEntry);
  ASSERT_FALSE(core.Lookup(VfsCore::kRootIno, "nope", false).ok());
  EXPECT_EQ(core.Lookup(VfsCore::kRootIno, "nope", false).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(source_.list_calls, 1);
}

TEST_F(VfsCoreTest, WouldBlockWithoutCachedListing) {
  VfsCore core = MakeCore();
  auto e = core.Lookup(VfsCore::kRootIno, "README.md", false);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, VfsErrc::kWouldBlock);
  EXPECT_EQ(source_.list_calls, 0);
  auto dh = core.OpenDir(VfsCore::kRootIno, false);
  ASSERT_FALSE(dh.ok());
  EXPECT_EQ(dh.error().code, VfsErrc::kWouldBlock);
}

TEST_F(VfsCoreTest, LookupCountsFollowForget) {
  VfsCore core = MakeCore();
  auto a = core.Lookup(VfsCore::kRootIno, "README.md", true);
  auto b = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->attr.ino, b->attr.ino);
  EXPECT_EQ(core.inode_count(), 2u);
  core.Forget(a->attr.ino, 1);
  EXPECT_TRUE(core.GetAttr(a->attr.ino).ok());
  core.Forget(a->attr.ino, 1);
  EXPECT_EQ(core.GetAttr(a->attr.ino).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(core.inode_count(), 1u);
  core.Forget(VfsCore::kRootIno, 100);  // the root is pinned
  EXPECT_TRUE(core.GetAttr(VfsCore::kRootIno).ok());
  core.Forget(999, 1);  // unknown: ignored
}

TEST_F(VfsCoreTest, InodeTableIsBounded) {
  VfsOptions opts;
  opts.max_inodes = 2;  // the root and one more
  VfsCore core = MakeCore(opts);
  auto a = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(a.ok());
  auto b = core.Lookup(VfsCore::kRootIno, "weights", true);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, VfsErrc::kNoSpace);
  core.Forget(a->attr.ino, 1);
  EXPECT_TRUE(core.Lookup(VfsCore::kRootIno, "weights", true).ok());
}

TEST_F(VfsCoreTest, LookupErrors) {
  VfsCore core = MakeCore();
  auto f = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(core.Lookup(f->attr.ino, "x", true).error().code, VfsErrc::kNotDir);
  EXPECT_EQ(core.Lookup(4242, "x", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(core.Lookup(VfsCore::kRootIno, "..", true).error().code, VfsErrc::kNoEntry);
  EXPECT_EQ(core.Lookup(VfsCore::kRootIno, "a/b", true).error().code, VfsErrc::kNoEntry);
  source_.fail_list = true;
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);  // root listing cached
  ASSERT_TRUE(d.ok());
  auto g = core.Lookup(d->attr.ino, "model.bin", true);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, VfsErrc::kIo);
  EXPECT_EQ(g.error().cause.code(), ErrorCode::kUnavailable);
}

TEST_F(VfsCoreTest, UntrustedListingEntriesAreFiltered) {
  hub::TreeEntry bad;
  bad.path = "elsewhere/x";
  bad.oid = "1";
  source_.AddRaw(bad);
  source_.raw_nested = true;  // the fake answers nested paths too
  VfsCore core = MakeCore();
  auto dh = core.OpenDir(VfsCore::kRootIno, true);
  ASSERT_TRUE(dh.ok());
  std::vector<std::string> names;
  for (size_t i = 0;; ++i) {
    auto e = core.DirEntryAt(*dh, i);
    ASSERT_TRUE(e.ok());
    if (!e->has_value()) break;
    names.push_back((*e)->name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"README.md", "weights"}));
  core.ReleaseDir(*dh);
}

TEST_F(VfsCoreTest, ReadDirPlusTakesLookupReferences) {
  VfsCore core = MakeCore();
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);
  ASSERT_TRUE(d.ok());
  auto dh = core.OpenDir(d->attr.ino, true);
  ASSERT_TRUE(dh.ok());
  auto e0 = core.DirEntryAt(*dh, 0);
  ASSERT_TRUE(e0.ok() && e0->has_value());
  EXPECT_EQ((*e0)->name, "model.bin");
  EXPECT_FALSE((*e0)->is_dir);
  auto e1 = core.DirEntryAt(*dh, 1);
  ASSERT_TRUE(e1.ok() && e1->has_value());
  EXPECT_EQ((*e1)->name, "sub");
  EXPECT_TRUE((*e1)->is_dir);
  EXPECT_FALSE(core.DirEntryAt(*dh, 2)->has_value());
  auto plus = core.LookupDirEntryAt(*dh, 0);
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->attr.size, 20u);
  auto again = core.Lookup(d->attr.ino, "model.bin", true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->attr.ino, plus->attr.ino);
  core.Forget(plus->attr.ino, 2);
  EXPECT_FALSE(core.GetAttr(plus->attr.ino).ok());
  core.ReleaseDir(*dh);
  EXPECT_EQ(core.DirEntryAt(*dh, 0).error().code, VfsErrc::kBadHandle);
  EXPECT_EQ(core.OpenDir(plus->attr.ino, true).error().code, VfsErrc::kNoEntry);
}

TEST_F(VfsCoreTest, OpenReadRelease) {
  VfsCore core = MakeCore();
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);
  auto f = core.Lookup(d->attr.ino, "model.bin", true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(core.Open(f->attr.ino, true).error().code, VfsErrc::kReadOnly);
  EXPECT_EQ(core.Open(d->attr.ino, false).error().code, VfsErrc::kIsDir);
  auto h = core.Open(f->attr.ino, false);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->keep_cache);
  std::vector<uint8_t> buf(8);
  auto n = core.Read(h->fh, 5, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 8u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "56789abc");
  n = core.Read(h->fh, 16, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 4), "ghij");
  n = core.Read(h->fh, 20, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  // The same through ReadHeld (the FUSE adapter's way).
  auto text = [](const HeldBytes& held) {
    std::string out;
    for (std::span<const uint8_t> p : held.pieces()) out.append(p.begin(), p.end());
    return out;
  };
  HeldBytes held;
  n = core.ReadHeld(h->fh, 5, 8, &held);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 8u);
  EXPECT_EQ(text(held), "56789abc");
  n = core.ReadHeld(h->fh, 16, 8, &held);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(text(held), "ghij");
  n = core.ReadHeld(h->fh, 20, 8, &held);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(held.size(), 0u);
  source_.fail_read = true;
  auto err = core.Read(h->fh, 0, buf);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, VfsErrc::kIo);
  err = core.ReadHeld(h->fh, 0, 8, &held);
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code, VfsErrc::kIo);
  core.Release(h->fh);
  EXPECT_EQ(core.Read(h->fh, 0, buf).error().code, VfsErrc::kBadHandle);
}

// A handle opened O_DIRECT keeps no pages of what it reads (`hubfs
// prefetch`), nor does a read made after fcntl set O_DIRECT: the source is
// told so, and caches all of it.
TEST_F(VfsCoreTest, ADirectHandleReadsWithoutKeepingPages) {
  VfsCore core = MakeCore();
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);
  auto f = core.Lookup(d->attr.ino, "model.bin", true);
  ASSERT_TRUE(f.ok());
  for (const bool direct : {false, true}) {
    auto h = core.Open(f->attr.ino, false, direct);
    ASSERT_TRUE(h.ok());
    source_.last_pages_kept.reset();
    HeldBytes held;
    auto n = core.ReadHeld(h->fh, 0, 8, &held);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 8u);
    ASSERT_TRUE(source_.last_pages_kept.has_value());
    EXPECT_EQ(*source_.last_pages_kept, !direct) << "direct " << direct;
    // O_DIRECT set after the open (fcntl): that read keeps no page either.
    source_.last_pages_kept.reset();
    n = core.ReadHeld(h->fh, 8, 8, &held, /*direct=*/true);
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(source_.last_pages_kept.has_value());
    EXPECT_FALSE(*source_.last_pages_kept) << "direct " << direct;
    core.Release(h->fh);
  }
}

TEST_F(VfsCoreTest, OpenHandlePinsContentAfterForget) {
  VfsCore core = MakeCore();
  auto f = core.Lookup(VfsCore::kRootIno, "README.md", true);
  auto h = core.Open(f->attr.ino, false);
  ASSERT_TRUE(h.ok());
  core.Forget(f->attr.ino, 1);
  std::vector<uint8_t> buf(5);
  auto n = core.Read(h->fh, 0, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "hello");
}

TEST_F(VfsCoreTest, Xattrs) {
  VfsCore core = MakeCore();
  auto d = core.Lookup(VfsCore::kRootIno, "weights", true);
  auto x = core.Lookup(d->attr.ino, "model.bin", true);
  auto r = core.Lookup(VfsCore::kRootIno, "README.md", true);
  ASSERT_TRUE(x.ok() && r.ok());
  EXPECT_EQ(*core.GetXattr(x->attr.ino, "user.hf.xet_hash"), kXet);
  EXPECT_EQ(*core.GetXattr(x->attr.ino, "user.hf.etag"), kSha);
  EXPECT_EQ(*core.GetXattr(x->attr.ino, "user.hf.commit"), kCommit);
  EXPECT_EQ(*core.GetXattr(x->attr.ino, "user.hf.lfs"), "1");
  EXPECT_EQ(*core.GetXattr(r->attr.ino, "user.hf.etag"), "oid-README.md");
  EXPECT_EQ(core.GetXattr(r->attr.ino, "user.hf.xet_hash").error().code, VfsErrc::kNoAttr);
  EXPECT_EQ(core.GetXattr(r->attr.ino, "security.selinux").error().code, VfsErrc::kNoAttr);
  EXPECT_EQ(*core.ListXattr(x->attr.ino),
            (std::vector<std::string>{"user.hf.commit", "user.hf.etag", "user.hf.xet_hash",
                                      "user.hf.lfs"}));
  EXPECT_EQ(*core.ListXattr(r->attr.ino),
            (std::vector<std::string>{"user.hf.commit", "user.hf.etag"}));
  EXPECT_EQ(*core.ListXattr(VfsCore::kRootIno), (std::vector<std::string>{"user.hf.commit"}));
  EXPECT_EQ(core.GetXattr(VfsCore::kRootIno, "user.hf.etag").error().code, VfsErrc::kNoAttr);
}

TEST_F(VfsCoreTest, SubfolderView) {
  VfsCore core = MakeCore({}, CommitView("weights"));
  ASSERT_TRUE(core.CheckRoot().ok());
  auto f = core.Lookup(VfsCore::kRootIno, "model.bin", true);
  ASSERT_TRUE(f.ok());
  auto h = core.Open(f->attr.ino, false);
  std::vector<uint8_t> buf(4);
  ASSERT_TRUE(core.Read(h->fh, 0, buf).ok());
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "0123");
  VfsCore missing = MakeCore({}, CommitView("nope"));
  auto st = missing.CheckRoot();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, VfsErrc::kNoEntry);
}

TEST_F(VfsCoreTest, StatFsCountsInodes) {
  VfsCore core = MakeCore();
  ASSERT_TRUE(core.Lookup(VfsCore::kRootIno, "README.md", true).ok());
  VfsStatFs s = core.StatFs();
  EXPECT_EQ(s.files, 2u);
  EXPECT_EQ(s.name_max, 255u);
  EXPECT_GT(s.block_size, 0u);
}

}  // namespace
}  // namespace hubfs::fs
