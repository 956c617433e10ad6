// RepoUploader against a scripted Hub and CAS (FakeHttpTransport): the
// decisions that keep someone else's change safe (412 → rebase only when the
// touched paths did not change upstream), a lost commit answer checked
// against the branch head, local files changing while read, no-op uploads.
#include "fs/upload/repo_uploader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "chunkstore/cache.h"
#include "chunkstore/file_digest.h"
#include "chunkstore/file_hasher.h"
#include "chunkstore/hash.h"
#include "common/clock.h"
#include "hub/fake_transport.h"
#include "tests/unit/fs/fake_hub.h"

namespace hubfs::fs {
namespace {

using hub::HttpResponse;
using hub::RecordedRequest;
using nlohmann::json;

using namespace ::hubfs::fs::testing;  // NOLINT: the fake Hub's helpers

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
    p.files = {{"w.bin", (dir_ / "w.bin").string(), nullptr},
               {"a.txt", (dir_ / "a.txt").string(), nullptr}};
    return p;
  }

  std::string Sha256Of(const std::string& s) {
    return chunkstore::HexLower(chunkstore::Sha256Digest(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size())));
  }

  std::filesystem::path dir_;
};

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

TEST_F(RepoUploaderTest, AConflictGoesToAPullRequestBasedOnTheOriginalParent) {
  FakeHub hub;
  hub.trees[kH1]["a.txt"] = RegularEntry("a.txt", std::string(40, 'f'), 3);
  hub.trees[kH2]["a.txt"] = RegularEntry("a.txt", std::string(40, '9'), 4);  // their edit
  hub.on_commit = [&](int, const json&) -> Result<HttpResponse> {
    hub.head = kH2;
    return Json({{"error", "The branch was updated"}}, 412);
  };
  UploadPlan p = Plan();
  p.conflict_to_pr = true;
  auto r = hub.Upload(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->conflict_pr, 4u);
  EXPECT_EQ(hub.commit_posts, 1);
  EXPECT_EQ(hub.pr_posts, 1);
  ASSERT_EQ(hub.headers.size(), 2u);
  EXPECT_EQ(hub.headers[1]["parentCommit"], kH1);  // the PR's base: what the change was made on
}

TEST_F(RepoUploaderTest, CopiesReReferenceByShaWithoutUploading) {
  FakeHub hub;
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
  UploadPlan p;
  p.repo = hub::RepoId{hub::RepoType::kModel, "me", "r"};
  p.copies.push_back({"new/w.bin", std::string(64, 'd')});
  p.deletes.push_back("w.bin");
  auto r = hub.Upload(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->copied_files, 1u);
  EXPECT_EQ(hub.xorb_posts, 0);
  EXPECT_NE(hub.last_body.find("\"lfsFile\""), std::string::npos);
  EXPECT_EQ(hub.last_body.find("\"size\""), std::string::npos);  // by oid only
  EXPECT_NE(hub.last_body.find("\"deletedFile\""), std::string::npos);
}

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

TEST_F(RepoUploaderTest, AChangeTheBranchAlreadyHoldsIsNotCommittedAgain) {
  // Our commit landed earlier, but the journal never recorded it (a full
  // disk, a kill): the retry is made against the old parent. The head holds
  // exactly this change: no second commit, and no pull request of it.
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
    return Json({{"error", "The branch was updated"}}, 412);
  };
  UploadPlan p = Plan();
  p.conflict_to_pr = true;
  auto r = hub.Upload(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->commit.commit_oid, kH3);
  EXPECT_FALSE(r->conflict_pr.has_value());
  EXPECT_EQ(hub.commit_posts, 1);
  EXPECT_EQ(hub.pr_posts, 0);
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

// An in-memory file presented as an edit of `base` (a Hub file).
class EditedSource final : public UploadSource {
 public:
  EditedSource(std::string content, EditedFrom from)
      : name_("edited.bin"), content_(std::move(content)), from_(std::move(from)) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return content_.size(); }
  Result<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = Copy(pos_, buf);
    pos_ += n;
    return n;
  }
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    lowest_read = std::min<uint64_t>(lowest_read, offset);
    return Copy(offset, buf);
  }
  Status Rewind() override {
    pos_ = 0;
    return Status::Ok();
  }
  Status CheckUnchanged(uint64_t bytes_read) const override {
    if (bytes_read != content_.size()) return Status(ErrorCode::kFailedPrecondition, "changed while read");
    return Status::Ok();
  }
  std::optional<EditedFrom> edited_from() const override { return from_; }

  uint64_t lowest_read = UINT64_MAX;  // of the positional reads

 private:
  size_t Copy(uint64_t offset, std::span<uint8_t> buf) const {
    if (offset >= content_.size()) return 0;
    const size_t n = std::min<uint64_t>(buf.size(), content_.size() - offset);
    std::memcpy(buf.data(), content_.data() + offset, n);
    return n;
  }

  const std::string name_;
  const std::string content_;
  const EditedFrom from_;
  uint64_t pos_ = 0;
};

TEST_F(RepoUploaderTest, AnEditOfAFileItUploadedHashesFromItsChunkListAndABadListIsIgnored) {
  auto cache = chunkstore::ChunkCache::Open({.dir = (dir_ / "cache").string()});
  ASSERT_TRUE(cache.ok()) << cache.status();
  RepoUploaderOptions options;
  options.min_chunk_list_bytes = 0;
  options.engine.midstate_interval = 64 << 10;
  FakeHub hub;
  hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
  std::string base(3 << 20, '\0');
  for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<char>((i * 2654435761u) >> 13);
  Write("base.bin", base);
  UploadPlan plan;
  plan.repo = hub::RepoId{hub::RepoType::kModel, "me", "r"};
  plan.files = {{"edited.bin", (dir_ / "base.bin").string(), nullptr}};
  auto first = hub.Upload(plan, cache->get(), options);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->edited_files, 0u);
  // The base's Xet hash, as the Hub would list it.
  chunkstore::FileHasher hasher(true);
  hasher.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(base.data()), base.size()));
  hasher.Finish();
  ASSERT_TRUE((*cache)->Flush().ok());
  auto stored = (*cache)->GetChunkList(hasher.file_hash());
  ASSERT_TRUE(stored.ok() && stored->has_value());

  std::string edited = base;
  edited.replace(2 << 20, 3, "new");
  EditedFrom from{hasher.file_hash().ToString(), Sha256Of(base), base.size(), 2 << 20, (2 << 20) + 3};
  auto src = std::make_shared<EditedSource>(edited, from);
  plan.files = {{"edited.bin", "", src}};
  auto r = hub.Upload(plan, cache->get(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->edited_files, 1u);
  EXPECT_NE(hub.last_body.find(Sha256Of(edited)), std::string::npos) << hub.last_body;
  EXPECT_GE(src->lowest_read, (2u << 20) - chunkstore::kMaxChunkSize - (64u << 10));

  // A list that does not give the base's hash (or is not a list) is not
  // used: the file is hashed whole, with the same result.
  for (const std::vector<uint8_t>& bad :
       {std::vector<uint8_t>{1, 2, 3}, [&] {
          auto d = chunkstore::DecodeFileDigest(**stored);
          EXPECT_TRUE(d.ok());
          std::swap(d->chunks[0], d->chunks[1]);
          return chunkstore::EncodeFileDigest(*d);
        }()}) {
    (*cache)->PutChunkList(hasher.file_hash(), bad);
    ASSERT_TRUE((*cache)->Flush().ok());
    src = std::make_shared<EditedSource>(edited, from);
    plan.files = {{"edited.bin", "", src}};
    hub.last_body.clear();
    r = hub.Upload(plan, cache->get(), options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->edited_files, 0u);
    EXPECT_EQ(src->lowest_read, UINT64_MAX);  // read whole from the start, not by offset
    EXPECT_NE(hub.last_body.find(Sha256Of(edited)), std::string::npos);
  }
}

// Uploaded chunks go into the chunk cache only while its disk keeps the
// free reserve; their places (the dedup index) always do.
TEST_F(RepoUploaderTest, UploadedChunksAreCachedOnlyWhileTheDiskKeepsItsReserve) {
  std::string content(300'000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>((i * 2654435761u) >> 11);
  Write("f.bin", content);
  for (const bool room : {true, false}) {
    const std::string cache_dir = (dir_ / (room ? "cache-room" : "cache-full")).string();
    auto cache = chunkstore::ChunkCache::Open({.dir = cache_dir});
    ASSERT_TRUE(cache.ok()) << cache.status();
    RepoUploaderOptions options;
    // No disk has that much free: as if the disk were nearly full.
    options.cache_upload_free_reserve = room ? 0 : (1ull << 62);
    FakeHub hub;
    hub.on_commit = [](int, const json&) -> Result<HttpResponse> { return Committed(kH2); };
    UploadPlan plan;
    plan.repo = hub::RepoId{hub::RepoType::kModel, "me", "r"};
    plan.files = {{"f.bin", (dir_ / "f.bin").string(), nullptr}};
    auto r = hub.Upload(plan, cache->get(), options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE((*cache)->Flush().ok());
    auto chunks = (*cache)->List(chunkstore::CacheKind::kChunk, 1000);
    auto places = (*cache)->List(chunkstore::CacheKind::kChunkLocation, 1000);
    ASSERT_TRUE(chunks.ok() && places.ok());
    EXPECT_EQ(chunks->empty(), !room) << "room " << room;
    EXPECT_FALSE(places->empty()) << "room " << room;
  }
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
