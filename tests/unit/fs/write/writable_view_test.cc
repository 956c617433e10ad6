#include "fs/write/writable_view.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "chunkstore/hash.h"
#include "tests/unit/fs/fake_hub.h"

namespace hubfs::fs {
namespace {

using namespace ::hubfs::fs::testing;  // NOLINT: the fake Hub's helpers
using namespace std::chrono_literals;

std::string Sha256Hex(const std::vector<uint8_t>& data) {
  return chunkstore::HexLower(chunkstore::Sha256Digest(data));
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class WritableViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-wview-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::mt19937 rng(5);
    remote_bytes_.resize(200'000);
    for (auto& b : remote_bytes_) b = static_cast<uint8_t>(rng());
    remote_.size = remote_bytes_.size();
    remote_.git_oid = std::string(40, 'e');
    remote_.sha256 = Sha256Hex(remote_bytes_);
    remote_.xet_hash = std::string(64, '7');
    uploader_ = std::make_unique<RepoUploader>(hub_.hub_client(), hub_.commit_client(),
                                               hub_.cas_writer(), nullptr);
    hub_.on_commit = [this](int call, const json&) -> Result<HttpResponse> {
      if (hub_down_) return Json({{"error", "down"}}, 503);
      std::lock_guard<std::mutex> l(hub_.mu);
      hub_.head = std::string(39, 'c') + static_cast<char>('0' + call % 10);
      return Committed(hub_.head);
    };
  }
  void TearDown() override {
    view_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenView(std::chrono::milliseconds delay = 50ms, uint64_t stream_at = 10ull << 20,
                uint64_t stream_min_free = 0) {
    WritableViewOptions o;
    o.commit_delay = delay;
    o.sync_timeout = 10s;
    o.upload_while_writing_at = stream_at;
    o.upload_while_writing_min_free = stream_min_free;
    auto v = WritableView::Open(
        FileEnv::Default(), (dir_ / "journal").string(), (dir_ / "budget").string(),
        hub::RepoId{hub::RepoType::kModel, "me", "r"}, "main", uploader_.get(),
        [this](const std::string&, const RemoteFile& f) -> Result<BaseReader> {
          EXPECT_EQ(f, remote_);
          return BaseReader([this](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
            base_reads_ += out.size();
            size_t n = std::min<size_t>(out.size(), remote_bytes_.size() - off);
            std::copy(remote_bytes_.begin() + off, remote_bytes_.begin() + off + n, out.begin());
            return n;
          });
        },
        SystemClock::Default(), o);
    ASSERT_TRUE(v.ok()) << v.status();
    view_ = std::move(v).value();
    view_->Start();
  }

  // The sha256 the last commit named for `path`, from its NDJSON body.
  std::string CommittedOid(const std::string& path) {
    std::lock_guard<std::mutex> l(hub_.mu);
    size_t start = 0;
    const std::string& body = hub_.last_body;
    while (start < body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string::npos) end = body.size();
      json j = json::parse(body.substr(start, end - start));
      if (j["value"].value("path", "") == path) return j["value"].value("oid", std::string("inline"));
      start = end + 1;
    }
    return "";
  }

  // The last close of `path`: flushed, released, committed.
  void CloseAndCommit(const std::string& path, const std::shared_ptr<StagedFile>& f) {
    ASSERT_TRUE(view_->Flush(path, f).ok());
    view_->ReleaseWriter(path);
    ASSERT_TRUE(view_->SyncAll(10s).ok());
  }

  FakeHub hub_;
  std::atomic<bool> hub_down_{false};
  std::filesystem::path dir_;
  std::vector<uint8_t> remote_bytes_;
  RemoteFile remote_;
  std::atomic<uint64_t> base_reads_{0};
  std::unique_ptr<RepoUploader> uploader_;
  std::unique_ptr<WritableView> view_;
};

TEST_F(WritableViewTest, ANewFileIsVisibleAtOnceAndCommittedAfterClose) {
  OpenView();
  auto f = view_->OpenForWrite("dir/new.txt", std::nullopt, false, true);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(view_->Find("dir/new.txt")->kind, PendingChange::Kind::kStaged);
  EXPECT_EQ(view_->ChildrenOf("").added.count("dir"), 1u);
  ASSERT_TRUE((*f)->Write(0, Bytes("hello")).ok());
  EXPECT_EQ(*view_->LiveSize("dir/new.txt"), 5u);
  ASSERT_TRUE(view_->Flush("dir/new.txt", *f).ok());
  view_->ReleaseWriter("dir/new.txt");
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_FALSE(view_->Find("dir/new.txt").has_value());
  EXPECT_EQ(CommittedOid("dir/new.txt"), "inline");
  EXPECT_EQ(view_->stats().commits, 1u);
}

// Two descriptors share a file: one extends it while the other's close
// flushes (writes take no view lock). Whatever the interleaving, the last
// flush must journal the final size: a record of an older size with the
// newer generation made the next flush skip, and a reopen then cut the
// file back (found by fsx with a close and reopen per operation).
TEST_F(WritableViewTest, APendingFileKeepsItsSinceAndLocalMtimeUntilCommitted) {
  hub_down_ = true;  // nothing commits until the end
  OpenView();
  const int64_t before = SystemClock::Default()->UnixSeconds();
  auto f = view_->OpenForWrite("a.txt", std::nullopt, false, true);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->Write(0, Bytes("one")).ok());
  ASSERT_TRUE(view_->Flush("a.txt", *f).ok());
  const int64_t since = view_->Pending()["a.txt"].since;
  EXPECT_GE(since, before);
  view_->SetLocalMtime("a.txt", 1577934245);
  view_->SetLocalMtime("not-pending.txt", 1);  // not kept: nothing changed there
  EXPECT_FALSE(view_->LocalMtime("not-pending.txt").has_value());
  // Written again: the first time stays; a rename carries both.
  ASSERT_TRUE((*f)->Write(3, Bytes("two")).ok());
  ASSERT_TRUE(view_->Flush("a.txt", *f).ok());
  view_->ReleaseWriter("a.txt");
  ASSERT_TRUE(view_->Rename("a.txt", "b.txt", std::nullopt, false, false).ok());
  EXPECT_EQ(view_->Pending()["b.txt"].since, since);
  EXPECT_EQ(view_->LocalMtime("b.txt"), 1577934245);
  EXPECT_FALSE(view_->LocalMtime("a.txt").has_value());
  hub_down_ = false;
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_FALSE(view_->LocalMtime("b.txt").has_value());  // the commit's time from now on
}

TEST_F(WritableViewTest, AFlushRacingAWriteNeverLosesTheWritesExtension) {
  hub_down_ = true;  // nothing commits in this test
  OpenView();
  for (int round = 0; round < 5; ++round) {
    const std::string path = "race" + std::to_string(round) + ".bin";
    auto f = view_->OpenForWrite(path, std::nullopt, false, true);
    ASSERT_TRUE(f.ok());
    auto shared = view_->OpenForWrite(path, std::nullopt, false, false);
    ASSERT_TRUE(shared.ok());
    ASSERT_EQ(f->get(), shared->get());
    std::atomic<bool> done{false};
    std::thread flusher([&] {
      while (!done.load()) ASSERT_TRUE(view_->Flush(path, *shared).ok());
    });
    const std::string chunk(100, 'x');
    uint64_t end = 0;
    for (int i = 0; i < 20000; ++i) {
      ASSERT_TRUE((*f)->Write(end, Bytes(chunk)).ok());
      end += chunk.size();
    }
    done = true;
    flusher.join();
    ASSERT_TRUE(view_->Flush(path, *f).ok());
    view_->ReleaseWriter(path);
    view_->ReleaseWriter(path);
    EXPECT_EQ(view_->Pending()[path].size, end) << "round " << round;
  }
}

TEST_F(WritableViewTest, AnInPlaceEditReadsTheHubFileOnlyAtCommit) {
  OpenView(300ms);
  auto f = view_->OpenForWrite("w.bin", remote_, false, false);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<uint8_t> patch(1000, 0x42);
  ASSERT_TRUE((*f)->Write(100'000, patch).ok());
  ASSERT_TRUE(view_->Flush("w.bin", *f).ok());
  EXPECT_EQ(base_reads_.load(), 0u);  // nothing downloaded at open, write or close
  view_->ReleaseWriter("w.bin");
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  auto want = remote_bytes_;
  std::copy(patch.begin(), patch.end(), want.begin() + 100'000);
  EXPECT_EQ(CommittedOid("w.bin"), Sha256Hex(want));
  EXPECT_EQ(base_reads_.load(), remote_bytes_.size() - patch.size());
}

TEST_F(WritableViewTest, AReopenedPendingFileKeepsItsAcknowledgedVersionUntilFlushed) {
  hub_down_ = true;  // nothing commits in this test
  OpenView();
  {
    auto f = view_->OpenForWrite("a.txt", std::nullopt, false, true);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, Bytes("version one")).ok());
    ASSERT_TRUE(view_->Flush("a.txt", *f).ok());
    view_->ReleaseWriter("a.txt");
  }
  {
    auto f = view_->OpenForWrite("a.txt", std::nullopt, false, false);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(0, Bytes("VERSION TWO, never flushed")).ok());
    // The process dies here: no flush, no release.
    view_.reset();
  }
  hub_down_ = false;
  OpenView();
  auto pending = view_->Pending();
  ASSERT_EQ(pending.count("a.txt"), 1u);
  EXPECT_EQ(pending["a.txt"].size, 11u);
  auto r = view_->OpenStagedForRead("a.txt");
  ASSERT_TRUE(r.ok());
  std::vector<uint8_t> out(11);
  ASSERT_TRUE((*r)->Read(0, out).ok());
  EXPECT_EQ(std::string(out.begin(), out.end()), "version one");
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_EQ(view_->stats().commits, 1u);
}

TEST_F(WritableViewTest, WriteTempThenRenameOverCommitsOnlyTheFinalPath) {
  OpenView(200ms);
  auto f = view_->OpenForWrite(".a.txt.tmp", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, Bytes("new")).ok());
  ASSERT_TRUE(view_->Flush(".a.txt.tmp", *f).ok());
  view_->ReleaseWriter(".a.txt.tmp");
  ASSERT_TRUE(view_->Rename(".a.txt.tmp", "a.txt", std::nullopt, false, true).ok());
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_EQ(hub_.commit_posts, 1);
  EXPECT_EQ(CommittedOid("a.txt"), "inline");
  EXPECT_EQ(CommittedOid(".a.txt.tmp"), "");
}

TEST_F(WritableViewTest, AnUnlinkOfNothingPendingNorRemoteIsNotFound) {
  // The caller saw a pending file that a commit took meanwhile: it must
  // hear so (and look again at the Hub's file), not get a silent no-op
  // that leaves the file on the Hub.
  OpenView(200ms);
  EXPECT_EQ(view_->Unlink("gone.txt", false).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(view_->Pending().empty());
  ASSERT_TRUE(view_->Unlink("gone.txt", true).ok());  // the Hub's: a delete
  EXPECT_EQ(view_->Pending().size(), 1u);
}

TEST_F(WritableViewTest, AnUnlinkedOpenFileCommitsNothingAndKeepsWorking) {
  OpenView(200ms);
  auto f = view_->OpenForWrite("scratch", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(view_->Unlink("scratch", false).ok());
  ASSERT_TRUE((*f)->Write(0, Bytes("still writable")).ok());  // POSIX: the open file lives on
  std::vector<uint8_t> out(5);
  ASSERT_TRUE((*f)->Read(0, out).ok());
  ASSERT_TRUE(view_->Flush("scratch", *f).ok());
  view_->ReleaseWriter("scratch");
  EXPECT_TRUE(view_->Pending().empty());
  EXPECT_EQ(hub_.commit_posts, 0);
}

TEST_F(WritableViewTest, RenamingAHubFileReReferencesIt) {
  OpenView();
  ASSERT_TRUE(view_->Rename("w.bin", "moved/w.bin", remote_, true, false).ok());
  EXPECT_EQ(view_->Find("w.bin")->kind, PendingChange::Kind::kDeleted);
  EXPECT_EQ(view_->ChildrenOf("").deleted.count("w.bin"), 1u);
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_EQ(CommittedOid("moved/w.bin"), *remote_.sha256);
  EXPECT_EQ(hub_.xorb_posts, 0);
  EXPECT_EQ(base_reads_.load(), 0u);
}

TEST_F(WritableViewTest, FsyncWaitsForTheCommit) {
  OpenView(5s);  // a long delay: fsync must not wait for it
  auto f = view_->OpenForWrite("f.txt", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, Bytes("durable")).ok());
  const auto t0 = std::chrono::steady_clock::now();
  // fsync of an open file commits what it flushed, although the file is open.
  ASSERT_TRUE(view_->Fsync("f.txt", *f).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_FALSE(view_->Find("f.txt").has_value());
  EXPECT_EQ(CommittedOid("f.txt"), "inline");
  view_->ReleaseWriter("f.txt");
}

TEST_F(WritableViewTest, WritesAfterAnFsyncedCommitAreCommittedToo) {
  OpenView(100ms);
  auto f = view_->OpenForWrite("log.txt", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, Bytes("line 1\n")).ok());
  ASSERT_TRUE(view_->Fsync("log.txt", *f).ok());
  EXPECT_EQ(view_->stats().commits, 1u);
  ASSERT_TRUE((*f)->Write(7, Bytes("line 2\n")).ok());
  ASSERT_TRUE(view_->Flush("log.txt", *f).ok());
  view_->ReleaseWriter("log.txt");
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  EXPECT_EQ(view_->stats().commits, 2u);
  EXPECT_EQ(CommittedOid("log.txt"), "inline");
  EXPECT_TRUE(view_->Pending().empty());
}

TEST_F(WritableViewTest, ATruncateOfAClosedHubFileIsAnUpdate) {
  OpenView();
  ASSERT_TRUE(view_->Truncate("w.bin", remote_, 10).ok());
  EXPECT_EQ(*view_->LiveSize("w.bin"), 10u);
  ASSERT_TRUE(view_->SyncAll(10s).ok());
  std::vector<uint8_t> want(remote_bytes_.begin(), remote_bytes_.begin() + 10);
  EXPECT_EQ(CommittedOid("w.bin"), "inline");  // 10 bytes: regular
  EXPECT_EQ(base_reads_.load(), 10u);
}

TEST_F(WritableViewTest, ASecondViewOfTheSameJournalIsRefused) {
  OpenView();
  auto again = WritableView::Open(
      FileEnv::Default(), (dir_ / "journal").string(), (dir_ / "budget").string(),
      hub::RepoId{hub::RepoType::kModel, "me", "r"}, "main", uploader_.get(),
      [](const std::string&, const RemoteFile&) -> Result<BaseReader> {
        return UnimplementedError("x");
      },
      SystemClock::Default(), {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kFailedPrecondition);
}


// --- uploads while written (WriteStream)

std::vector<uint8_t> RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Writes `data` in order, 10 000 bytes at a time, from `from`.
void WriteInOrder(StagedFile* f, const std::vector<uint8_t>& data, size_t from = 0) {
  for (size_t at = from; at < data.size(); at += 10'000) {
    const size_t n = std::min<size_t>(10'000, data.size() - at);
    ASSERT_TRUE(f->Write(at, std::span<const uint8_t>(data.data() + at, n)).ok());
  }
}

TEST_F(WritableViewTest, ANewFileWrittenInOrderIsUploadedWhileWritten) {
  OpenView(50ms, 64 * 1024);
  const auto data = RandomBytes(300'000, 1);
  auto f = view_->OpenForWrite("big.bin", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  WriteInOrder(f->get(), data);
  CloseAndCommit("big.bin", *f);
  EXPECT_EQ(CommittedOid("big.bin"), Sha256Hex(data));
  EXPECT_EQ(view_->stats().uploaded_while_written, 1u);
  EXPECT_EQ(hub_.xorb_posts, 1);  // its one xorb, by the stream only
}

TEST_F(WritableViewTest, ANearlyFullStagingDiskUploadsAtCommitOnly) {
  OpenView(50ms, 64 * 1024, /*stream_min_free=*/1ull << 62);  // more than any disk has
  const auto data = RandomBytes(300'000, 6);
  auto f = view_->OpenForWrite("big.bin", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  WriteInOrder(f->get(), data);
  CloseAndCommit("big.bin", *f);
  EXPECT_EQ(CommittedOid("big.bin"), Sha256Hex(data));
  EXPECT_EQ(view_->stats().uploaded_while_written, 0u);
}

TEST_F(WritableViewTest, AWriteBelowTheEndIsHashedAtCommit) {
  OpenView(50ms, 64 * 1024);
  auto data = RandomBytes(300'000, 2);
  auto f = view_->OpenForWrite("big.bin", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  WriteInOrder(f->get(), data);
  ASSERT_TRUE((*f)->Write(100'000, Bytes("patched")).ok());
  std::copy_n("patched", 7, data.begin() + 100'000);
  CloseAndCommit("big.bin", *f);
  EXPECT_EQ(CommittedOid("big.bin"), Sha256Hex(data));
  EXPECT_EQ(view_->stats().uploaded_while_written, 0u);
}

// A stream whose upload fails leaves nothing behind: the commit hashes and
// uploads the file itself.
TEST_F(WritableViewTest, AFailedUploadWhileWrittenIsDoneAgainAtCommit) {
  OpenView(50ms, 64 * 1024);
  {
    std::lock_guard<std::mutex> l(hub_.mu);
    hub_.fail_xorb_posts = 1;  // the stream's only xorb
  }
  const auto data = RandomBytes(300'000, 5);
  auto f = view_->OpenForWrite("big.bin", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  WriteInOrder(f->get(), data);
  CloseAndCommit("big.bin", *f);
  EXPECT_EQ(CommittedOid("big.bin"), Sha256Hex(data));
  EXPECT_EQ(view_->stats().uploaded_while_written, 0u);
  std::lock_guard<std::mutex> l(hub_.mu);
  EXPECT_EQ(hub_.fail_xorb_posts, 0);  // the stream did try
  EXPECT_EQ(hub_.xorb_posts, 1);       // the commit's
}

// An fsync of an open file commits it without waiting for its stream (which
// waits for the writer); the version closed later comes from the stream.
TEST_F(WritableViewTest, AnFsyncWhileStreamingDoesNotWaitForTheStream) {
  OpenView(5s, 64 * 1024);
  const auto data = RandomBytes(300'000, 3);
  const std::vector<uint8_t> first(data.begin(), data.begin() + 200'000);
  auto f = view_->OpenForWrite("log.bin", std::nullopt, false, true);
  ASSERT_TRUE(f.ok());
  WriteInOrder(f->get(), first);
  ASSERT_TRUE(view_->Fsync("log.bin", *f).ok());
  EXPECT_EQ(CommittedOid("log.bin"), Sha256Hex(first));
  EXPECT_EQ(view_->stats().uploaded_while_written, 0u);
  WriteInOrder(f->get(), data, 200'000);
  CloseAndCommit("log.bin", *f);
  EXPECT_EQ(CommittedOid("log.bin"), Sha256Hex(data));
  EXPECT_EQ(view_->stats().uploaded_while_written, 1u);
}

// An unlinked file's stream is cancelled, and the view closes with a stream
// still waiting for its writer.
TEST_F(WritableViewTest, StreamsOfUnlinkedOrOpenFilesEndWithTheView) {
  OpenView(50ms, 64 * 1024);
  const auto data = RandomBytes(200'000, 4);
  auto gone = view_->OpenForWrite("gone.bin", std::nullopt, false, true);
  auto open = view_->OpenForWrite("open.bin", std::nullopt, false, true);
  ASSERT_TRUE(gone.ok() && open.ok());
  WriteInOrder(gone->get(), data);
  WriteInOrder(open->get(), data);
  ASSERT_TRUE(view_->Unlink("gone.bin", false).ok());
  view_->ReleaseWriter("gone.bin");
  const auto t0 = std::chrono::steady_clock::now();
  view_.reset();  // open.bin's writer never closed: its stream waits, and is cancelled
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(hub_.commit_posts, 0);
}

}  // namespace
}  // namespace hubfs::fs
