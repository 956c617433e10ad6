// FolderReadahead (I/O-free): when a handle becomes a copier, what happens
// when it stops early, the fair split of the lead, the next files; and
// VfsCore asking its source to read them ahead (a recording fake source).
#include "fs/vfs/folder_readahead.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fs/vfs/vfs_core.h"

namespace hubfs::fs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

FolderReadaheadOptions Opts() {
  FolderReadaheadOptions o;
  o.max_files = 2;
  o.lead_bytes = 64 * kMiB;
  o.trigger_bytes = 4 * kMiB;
  o.slack = 1 * kMiB;
  return o;
}

// A read of file "m" in directory "d", after "a" of the same directory was
// read whole (a copy in listing order).
bool Read(FolderReadahead& f, uint64_t fh, uint64_t offset, uint64_t len, uint64_t size) {
  return f.OnRead(fh, "d", "m", offset, len, size);
}
FolderReadahead& AfterAWholeFile(FolderReadahead& f) {
  f.OnRead(1000, "d", "a", 0, 10, 10);
  f.OnRelease(1000);
  return f;
}

TEST(FolderReadaheadTest, AnInOrderReaderBecomesACopierOnceAtTheTrigger) {
  FolderReadahead f(Opts());
  AfterAWholeFile(f);
  const uint64_t size = 100 * kMiB;
  for (uint64_t off = 0; off + 128 * 1024 < 4 * kMiB; off += 128 * 1024) {
    EXPECT_FALSE(Read(f, 1, off, 128 * 1024, size)) << off;
  }
  EXPECT_TRUE(Read(f, 1, 4 * kMiB - 128 * 1024, 128 * 1024, size));
  EXPECT_FALSE(Read(f, 1, 4 * kMiB, 128 * 1024, size));  // once only
}

TEST(FolderReadaheadTest, ASmallFileReadWholeMakesACopier) {
  FolderReadahead f(Opts());
  AfterAWholeFile(f);
  EXPECT_TRUE(Read(f, 1, 0, 700, 700));
}

TEST(FolderReadaheadTest, OnlyAReaderThatFollowsAWholeFileOfItsDirectoryIsACopier) {
  FolderReadahead f(Opts());
  // The first file read whole: no copy of the folder seen yet.
  EXPECT_FALSE(f.OnRead(1, "d", "b", 0, 700, 700));
  // One before it by name: not listing order.
  EXPECT_FALSE(f.OnRead(2, "d", "a", 0, 700, 700));
  // Another directory: nothing read whole there yet.
  EXPECT_FALSE(f.OnRead(3, "e", "c", 0, 700, 700));
  // After "a" (the last read whole in "d"): a copier.
  EXPECT_TRUE(f.OnRead(4, "d", "c", 0, 700, 700));
  // A file read only in part does not count as read whole.
  EXPECT_FALSE(f.OnRead(5, "x", "a", 0, 4 * kMiB, 100 * kMiB));
  EXPECT_FALSE(f.OnRead(6, "x", "b", 0, 700, 700));
}

TEST(FolderReadaheadTest, PiecesSlightlyOutOfOrderStillCount) {
  FolderReadahead f(Opts());
  AfterAWholeFile(f);
  const uint64_t size = 100 * kMiB;
  EXPECT_FALSE(Read(f, 1, 512 * 1024, 512 * 1024, size));  // the kernel's second piece first
  EXPECT_FALSE(Read(f, 1, 0, 512 * 1024, size));
  EXPECT_FALSE(Read(f, 1, 1 * kMiB, 2 * kMiB, size));
  EXPECT_TRUE(Read(f, 1, 3 * kMiB, 1 * kMiB, size));
}

TEST(FolderReadaheadTest, ASeekOrAReadFarFromTheStartNeverTriggers) {
  FolderReadahead f(Opts());
  AfterAWholeFile(f);
  const uint64_t size = 100 * kMiB;
  EXPECT_FALSE(Read(f, 1, 50 * kMiB, 8 * kMiB, size));  // starts in the middle
  EXPECT_FALSE(Read(f, 1, 0, 8 * kMiB, size));          // too late: not a copy
  EXPECT_FALSE(Read(f, 2, 0, 1 * kMiB, size));
  EXPECT_FALSE(Read(f, 2, 30 * kMiB, 8 * kMiB, size));  // a seek forward
  EXPECT_FALSE(Read(f, 2, 1 * kMiB, 8 * kMiB, size));
}

TEST(FolderReadaheadTest, ReleaseBeforeTheEndOfACopierIsAnEarlyStop) {
  FolderReadahead f(Opts());
  AfterAWholeFile(f);
  const uint64_t size = 10 * kMiB;
  ASSERT_TRUE(Read(f, 1, 0, 5 * kMiB, size));
  EXPECT_TRUE(f.OnRelease(1));   // a copier that stopped at 5 of 10 MiB
  EXPECT_FALSE(f.OnRelease(1));  // forgotten
  ASSERT_TRUE(Read(f, 2, 0, 5 * kMiB, size));
  EXPECT_FALSE(Read(f, 2, 5 * kMiB, 5 * kMiB, size));
  EXPECT_FALSE(f.OnRelease(2));  // read to the end
  EXPECT_FALSE(Read(f, 3, 0, 1 * kMiB, size));
  EXPECT_FALSE(f.OnRelease(3));  // never a copier: nothing was asked for
  EXPECT_EQ(f.handles(), 0u);
}

TEST(FolderReadaheadTest, DisabledNeverTriggers) {
  FolderReadaheadOptions o = Opts();
  o.enabled = false;
  FolderReadahead f(o);
  AfterAWholeFile(f);
  EXPECT_FALSE(Read(f, 1, 0, 700, 700));
  EXPECT_FALSE(f.OnRelease(1));
}

TEST(FolderReadaheadTest, HandlesFollowedAreBounded) {
  FolderReadaheadOptions o = Opts();
  o.max_handles = 3;
  FolderReadahead f(o);
  for (uint64_t fh = 1; fh <= 10; ++fh) Read(f, fh, 0, 1, 100 * kMiB);
  EXPECT_EQ(f.handles(), 3u);
}

TEST(FolderReadaheadTest, TheLeadIsSplitMaxMinFairly) {
  FolderReadahead f(Opts());  // 64 MiB, 2 files
  const std::vector<uint64_t> two_big{1000 * kMiB, 1000 * kMiB};
  EXPECT_EQ(f.Split(two_big), (std::vector<uint64_t>{32 * kMiB, 32 * kMiB}));
  // A small file takes what it needs; the big one gets the rest.
  const std::vector<uint64_t> small_first{1 * kMiB, 1000 * kMiB};
  EXPECT_EQ(f.Split(small_first), (std::vector<uint64_t>{1 * kMiB, 63 * kMiB}));
  const std::vector<uint64_t> small_second{1000 * kMiB, 10 * kMiB};
  EXPECT_EQ(f.Split(small_second), (std::vector<uint64_t>{54 * kMiB, 10 * kMiB}));
  // Beyond max_files: nothing.
  const std::vector<uint64_t> three{8 * kMiB, 8 * kMiB, 8 * kMiB};
  EXPECT_EQ(f.Split(three), (std::vector<uint64_t>{8 * kMiB, 8 * kMiB, 0}));
  uint64_t total = 0;
  for (uint64_t b : f.Split(two_big)) total += b;
  EXPECT_LE(total, Opts().lead_bytes);
}

std::shared_ptr<const NodeMeta> Meta(uint64_t size, bool xet, bool dir = false) {
  auto m = std::make_shared<NodeMeta>();
  m->size = size;
  m->is_dir = dir;
  m->oid = "oid";
  if (xet) m->xet_hash = std::string(64, 'a');
  return m;
}

TEST(FolderReadaheadTest, NextFilesAreTheXetFilesAfterItInListingOrder) {
  Listing l;
  l.children = {{"a.bin", Meta(50 * kMiB, true), nullptr},
                {"b.json", Meta(100, false), nullptr},
                {"c", Meta(0, false, true), nullptr},
                {"d.bin", Meta(0, true), nullptr},
                {"e.bin", Meta(100 * kMiB, true), nullptr},
                {"f.bin", Meta(100 * kMiB, true), nullptr},
                {"g.bin", Meta(100 * kMiB, true), nullptr}};
  FolderReadahead f(Opts());
  FileContent file;
  file.repo = hub::RepoId{hub::RepoType::kModel, "org", "m"};
  file.commit = std::string(40, '1');
  file.path = "sub/a.bin";
  auto next = f.NextFiles(l, file);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].first.path, "sub/e.bin");  // not the regular, the dir, the empty file
  EXPECT_EQ(next[1].first.path, "sub/f.bin");
  EXPECT_EQ(next[0].first.commit, file.commit);
  EXPECT_EQ(next[0].first.size, 100 * kMiB);
  EXPECT_EQ(next[0].second, 32 * kMiB);
  EXPECT_EQ(next[1].second, 32 * kMiB);
  file.path = "sub/g.bin";
  EXPECT_TRUE(f.NextFiles(l, file).empty());  // the last one
}

// A one-directory repo whose reads are served from memory and whose
// read-ahead hints are recorded.
class RecordingSource final : public RepoSource {
 public:
  static constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
  void Add(const std::string& name, uint64_t size, bool xet) {
    hub::TreeEntry e;
    e.path = name;
    e.oid = "oid-" + name;
    e.size = size;
    if (xet) e.xet_hash = std::string(64, 'a');
    entries_.push_back(e);
  }
  Result<RevisionInfo> ResolveRevision(const hub::RepoId&, std::string_view) override {
    return RevisionInfo{kCommit, 1700000000};
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId&, std::string_view,
                                              std::string_view dir) override {
    if (!dir.empty()) return NotFoundError("no such dir");
    return entries_;
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    if (offset >= file.size) return size_t{0};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset));
    std::fill_n(out.data(), n, uint8_t{7});
    return n;
  }
  void Speculate(const FileContent& file, uint64_t bytes, uint64_t group) override {
    speculated.push_back({file.path, bytes, group});
  }
  void CancelSpeculation(uint64_t group) override { cancelled.push_back(group); }
  void Opened(const FileContent& file) override { ++open[file.path]; }
  void Closed(const FileContent& file) override { --open[file.path]; }

  struct Hint {
    std::string path;
    uint64_t bytes;
    uint64_t group;
  };
  std::vector<Hint> speculated;
  std::vector<uint64_t> cancelled;
  std::map<std::string, int> open;  // Opened less Closed, per path

 private:
  std::vector<hub::TreeEntry> entries_;
};

class VfsFolderReadaheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_.Add("config.json", 300, false);
    source_.Add("model-1.bin", 20 * kMiB, true);
    source_.Add("model-2.bin", 20 * kMiB, true);
    source_.Add("model-3.bin", 20 * kMiB, true);
  }
  std::unique_ptr<VfsCore> MakeCore(bool enabled) {
    ViewSpec v;
    v.repo = hub::RepoId{hub::RepoType::kModel, "org", "model"};
    v.revision = RecordingSource::kCommit;
    v.resolved = RevisionInfo{RecordingSource::kCommit, 1700000000};
    v.immutable = true;
    VfsOptions o;
    o.folder_readahead = Opts();
    o.folder_readahead.enabled = enabled;
    return std::make_unique<VfsCore>(&source_, v, o);
  }
  // Opens `name` and reads [0, upto) in 1 MiB reads; returns the handle.
  uint64_t OpenAndRead(VfsCore& core, const std::string& name, uint64_t upto) {
    auto e = core.Lookup(VfsCore::kRootIno, name, true);
    EXPECT_TRUE(e.ok());
    auto f = core.Open(e->attr.ino, false);
    EXPECT_TRUE(f.ok());
    std::vector<uint8_t> buf(kMiB);
    for (uint64_t off = 0; off < upto; off += kMiB) {
      auto n = core.Read(f->fh, off, buf);
      EXPECT_TRUE(n.ok());
    }
    return f->fh;
  }
  RecordingSource source_;
};

TEST_F(VfsFolderReadaheadTest, ACopierAsksForTheNextXetFiles) {
  auto core = MakeCore(true);
  // The first file read whole: not yet a copy of the folder.
  core->Release(OpenAndRead(*core, "config.json", 300));
  EXPECT_TRUE(source_.speculated.empty());
  // The next one read in order: the two Xet files after it are asked for.
  const uint64_t fh = OpenAndRead(*core, "model-1.bin", 20 * kMiB);
  ASSERT_EQ(source_.speculated.size(), 2u);
  EXPECT_EQ(source_.speculated[0].path, "model-2.bin");
  EXPECT_EQ(source_.speculated[1].path, "model-3.bin");
  EXPECT_EQ(source_.speculated[0].bytes, 20 * kMiB);  // smaller than half the lead
  EXPECT_EQ(source_.speculated[1].bytes, 20 * kMiB);
  EXPECT_EQ(source_.speculated[0].group, fh);
  core->Release(fh);
  EXPECT_TRUE(source_.cancelled.empty());  // read to its end

  const uint64_t fh2 = OpenAndRead(*core, "model-2.bin", 5 * kMiB);
  ASSERT_EQ(source_.speculated.size(), 3u);
  EXPECT_EQ(source_.speculated[2].path, "model-3.bin");
  core->Release(fh2);
  EXPECT_EQ(source_.cancelled, std::vector<uint64_t>{fh2});  // stopped at 5 of 20 MiB
}

TEST_F(VfsFolderReadaheadTest, ALoaderThatPicksFilesOutOfOrderAsksForNothing) {
  auto core = MakeCore(true);
  core->Release(OpenAndRead(*core, "model-3.bin", 20 * kMiB));
  core->Release(OpenAndRead(*core, "config.json", 300));  // before it by name
  core->Release(OpenAndRead(*core, "model-1.bin", 1 * kMiB));  // a header, then it stops
  EXPECT_TRUE(source_.speculated.empty());
}

TEST_F(VfsFolderReadaheadTest, AReaderThatStopsBeforeTheTriggerAsksForNothing) {
  auto core = MakeCore(true);
  core->Release(OpenAndRead(*core, "model-1.bin", 2 * kMiB));
  EXPECT_TRUE(source_.speculated.empty());
  EXPECT_TRUE(source_.cancelled.empty());
}

TEST_F(VfsFolderReadaheadTest, OffAsksForNothing) {
  auto core = MakeCore(false);
  core->Release(OpenAndRead(*core, "config.json", 300));
  core->Release(OpenAndRead(*core, "model-1.bin", 20 * kMiB));
  EXPECT_TRUE(source_.speculated.empty());
}


// Every open of a file is told to the source, and its release too (a
// tensor file's sweep stops when its last handle goes).
TEST_F(VfsFolderReadaheadTest, EachOpenAndReleaseIsToldToTheSource) {
  auto core = MakeCore(true);
  const uint64_t a = OpenAndRead(*core, "model-1.bin", kMiB);
  const uint64_t b = OpenAndRead(*core, "model-1.bin", 0);
  const uint64_t c = OpenAndRead(*core, "config.json", 300);
  EXPECT_EQ(source_.open["model-1.bin"], 2);
  EXPECT_EQ(source_.open["config.json"], 1);
  core->Release(a);
  EXPECT_EQ(source_.open["model-1.bin"], 1);
  core->Release(b);
  core->Release(c);
  core->Release(c);  // an unknown handle: nothing
  EXPECT_EQ(source_.open["model-1.bin"], 0);
  EXPECT_EQ(source_.open["config.json"], 0);
}

}  // namespace
}  // namespace hubfs::fs
