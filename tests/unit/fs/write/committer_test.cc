#include "fs/write/committer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include "common/fault_file_env.h"
#include "tests/unit/fs/fake_hub.h"

namespace hubfs::fs {
namespace {

using namespace ::hubfs::fs::testing;  // NOLINT: the fake Hub's helpers
using namespace std::chrono_literals;

// Staged changes read from plain files named by their staging id.
class TestSources : public CommitSources {
 public:
  explicit TestSources(WriteJournal* j) : journal_(j) {}
  Result<std::shared_ptr<UploadSource>> OpenStaged(const std::string&,
                                                   const PendingChange& change) override {
    HUBFS_ASSIGN_OR_RETURN(auto src, OpenLocalSource(journal_->StagingPath(change.staging_id)));
    return std::shared_ptr<UploadSource>(std::move(src));
  }
  Result<std::shared_ptr<UploadSource>> OpenRemote(const std::string& path,
                                                   const RemoteFile&) override {
    return UnimplementedError("no remote files here: " + path);
  }
  void Landed(const std::string& commit, const std::string& target,
              const std::vector<BatchItem>&) override {
    std::lock_guard<std::mutex> l(mu);
    landed.push_back(commit);
    landed_targets.push_back(target);
  }
  std::set<std::string> BusyPaths() override {
    std::lock_guard<std::mutex> l(mu);
    return busy;
  }
  void OnCommitted(const std::string& commit, const std::vector<BatchItem>& batch,
                   std::optional<uint64_t> pr) override {
    std::lock_guard<std::mutex> l(mu);
    commits.push_back(commit);
    batches.push_back(batch.size());
    last_pr = pr;
  }
  std::mutex mu;
  std::set<std::string> busy;
  std::vector<std::string> commits;
  std::vector<std::string> landed;
  std::vector<std::string> landed_targets;
  std::vector<size_t> batches;
  std::optional<uint64_t> last_pr;

 private:
  WriteJournal* journal_;
};

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-committer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    journal_ = std::move(WriteJournal::Open(FileEnv::Default(), (dir_ / "j").string()).value());
    sources_ = std::make_unique<TestSources>(journal_.get());
    uploader_ = std::make_unique<RepoUploader>(hub_.hub_client(), hub_.commit_client(),
                                               hub_.cas_writer(), nullptr);
    hub_.on_commit = [this](int call, const json&) -> Result<HttpResponse> {
      std::lock_guard<std::mutex> l(hub_.mu);
      hub_.head = std::string(39, 'c') + static_cast<char>('0' + call % 10);
      return Committed(hub_.head);
    };
  }
  void TearDown() override {
    committer_.reset();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartCommitter(int per_hour = 128, std::chrono::milliseconds delay = 100ms,
                      FileEnv* budget_env = FileEnv::Default(), bool create_pr = false) {
    budget_ = std::make_unique<CommitBudget>(budget_env, (dir_ / "budget").string(), per_hour);
    CommitterOptions o;
    o.create_pr = create_pr;
    o.commit_delay = delay;
    o.retry_initial = 50ms;
    o.retry_max = 200ms;
    committer_ = std::make_unique<WriteCommitter>(
        journal_.get(), &journal_mu_, uploader_.get(), sources_.get(), budget_.get(),
        hub::RepoId{hub::RepoType::kModel, "me", "r"}, "main", SystemClock::Default(), o);
    committer_->Start();
  }

  // Writes a staged file and journals it, as a close would. Returns its seq.
  uint64_t Stage(const std::string& path, const std::string& content) {
    std::lock_guard<std::mutex> l(journal_mu_);
    const uint64_t id = journal_->NewStagingId();
    std::ofstream(journal_->StagingPath(id), std::ios::binary) << content;
    auto records = journal_->table().Stage(path, id, content.size(), std::nullopt, false);
    EXPECT_TRUE(journal_->Append(records).ok());
    return records.back().seq;
  }

  FakeHub hub_;
  std::filesystem::path dir_;
  std::mutex journal_mu_;
  std::unique_ptr<WriteJournal> journal_;
  std::unique_ptr<TestSources> sources_;
  std::unique_ptr<RepoUploader> uploader_;
  std::unique_ptr<CommitBudget> budget_;
  std::unique_ptr<WriteCommitter> committer_;
};

TEST_F(CommitterTest, ChangesClosedTogetherShareOneCommit) {
  StartCommitter();
  Stage("a.txt", "a");
  committer_->Notify();
  Stage("b.txt", "b");
  committer_->Notify();
  const uint64_t last = Stage("big.bin", std::string(5000, 'x'));
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("", last, 10s).ok());
  EXPECT_EQ(hub_.commit_posts, 1);
  ASSERT_EQ(sources_->batches.size(), 1u);
  EXPECT_EQ(sources_->batches[0], 3u);
  std::lock_guard<std::mutex> l(journal_mu_);
  EXPECT_TRUE(journal_->table().entries().empty());
  EXPECT_EQ(*journal_->base_commit(), sources_->commits[0]);
  EXPECT_EQ(sources_->landed, sources_->commits);
  EXPECT_EQ(sources_->landed_targets, std::vector<std::string>{"main"});
  EXPECT_EQ(hub_.headers[0]["summary"], "Upload 3 files with hubfs");
}

TEST_F(CommitterTest, FilesOpenForWritingWaitForTheirClose) {
  {
    std::lock_guard<std::mutex> l(sources_->mu);
    sources_->busy = {"b.txt"};
  }
  StartCommitter();
  const uint64_t a = Stage("a.txt", "a");
  const uint64_t b = Stage("b.txt", "b");
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", a, 10s).ok());
  EXPECT_FALSE(committer_->WaitCommitted("b.txt", b, 300ms).ok());
  {
    std::lock_guard<std::mutex> l(sources_->mu);
    sources_->busy.clear();
  }
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("b.txt", b, 10s).ok());
  EXPECT_EQ(hub_.commit_posts, 2);
}

TEST_F(CommitterTest, AFailingHubKeepsTheChangeJournaledAndRetries) {
  std::atomic<bool> down{true};
  hub_.on_commit = [&](int call, const json&) -> Result<HttpResponse> {
    if (down) return Json({{"error", "maintenance"}}, 503);
    return Committed(std::string(39, 'd') + static_cast<char>('0' + call % 10));
  };
  StartCommitter();
  const uint64_t s = Stage("a.txt", "a");
  committer_->Notify();
  Status st = committer_->WaitCommitted("a.txt", s, 500ms);
  EXPECT_EQ(st.code(), ErrorCode::kTimeout);
  EXPECT_NE(st.message().find("stays journaled"), std::string::npos);
  EXPECT_GE(committer_->stats().failures, 1u);
  {
    std::lock_guard<std::mutex> l(journal_mu_);
    EXPECT_NE(journal_->table().Find("a.txt"), nullptr);
  }
  down = false;
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", s, 10s).ok());
  EXPECT_EQ(committer_->stats().commits, 1u);
}

TEST_F(CommitterTest, TheCommitBudgetIsRespected) {
  StartCommitter(/*per_hour=*/1);
  const uint64_t a = Stage("a.txt", "a");
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", a, 10s).ok());
  const uint64_t b = Stage("b.txt", "b");
  committer_->Notify();
  Status st = committer_->WaitCommitted("b.txt", b, 500ms);
  EXPECT_EQ(st.code(), ErrorCode::kTimeout);
  EXPECT_NE(st.message().find("commit budget"), std::string::npos) << st;
  const CommitterStats stats = committer_->stats();
  EXPECT_NE(stats.pause_reason.find("budget"), std::string::npos);
  EXPECT_GT(stats.paused_until, SystemClock::Default()->UnixSeconds() + 3000);
  EXPECT_EQ(stats.failures, 0u);  // pacing is no failure
  EXPECT_EQ(hub_.commit_posts, 1);
  // A second process sharing the budget file is held too.
  CommitBudget other(FileEnv::Default(), (dir_ / "budget").string(), 1);
  auto wait = other.TryTake(SystemClock::Default()->UnixSeconds());
  ASSERT_TRUE(wait.ok());
  EXPECT_GT(wait->count(), 3000);
}

TEST_F(CommitterTest, ABudgetFileThatCannotBeWrittenDoesNotHoldCommitsBack) {
  // A full disk: the commit is what frees its staging space.
  FaultFileEnv env(FileEnv::Default());
  FaultRule full;
  full.op = FileOp::kWrite;
  full.path_contains = "/budget";
  full.error = ENOSPC;
  env.AddRule(full);
  StartCommitter(128, 100ms, &env);
  const uint64_t s = Stage("a.txt", "a");
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", s, 10s).ok());
  EXPECT_EQ(hub_.commit_posts, 1);
  EXPECT_EQ(committer_->stats().failures, 0u);
  EXPECT_GE(env.injected(), 1u);
}

TEST_F(CommitterTest, AFailedBudgetWriteKeepsTheCommitsRecordedBefore) {
  FaultFileEnv env(FileEnv::Default());
  CommitBudget budget(&env, (dir_ / "kept").string(), 8);
  const int64_t t0 = 1'000'000;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(budget.TryTake(t0).value().count(), 0);
  // The disk fills during the next update: its second write call fails
  // (truncating first and then writing would leave the file empty).
  FaultRule full;
  full.op = FileOp::kWrite;
  full.path_contains = "/kept";
  full.error = ENOSPC;
  full.skip = 1;
  full.count = 1;
  env.AddRule(full);
  EXPECT_FALSE(budget.TryTake(t0).ok());
  // The commits taken before are still on record: the burst (4 of 8) is
  // used up, so the next one waits. An emptied file would allow it at once.
  EXPECT_GT(budget.TryTake(t0).value().count(), 0);
}

TEST_F(CommitterTest, TheBudgetSpreadsItsSecondHalfOverTheHour) {
  // 8 an hour: 4 at once, then one every 900 s, never over 8 in any hour.
  CommitBudget budget(FileEnv::Default(), (dir_ / "paced").string(), 8);
  const int64_t t0 = 1'000'000;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(budget.TryTake(t0).value().count(), 0) << i;
  EXPECT_EQ(budget.TryTake(t0).value().count(), 900);
  EXPECT_EQ(budget.TryTake(t0 + 899).value().count(), 1);
  EXPECT_EQ(budget.TryTake(t0 + 900).value().count(), 0);
  EXPECT_EQ(budget.TryTake(t0 + 1000).value().count(), 800);
  // A steady writer asking every second gets one commit per 900 s, and the
  // hour's count never passes the budget.
  std::vector<int64_t> taken;
  for (int64_t t = t0 + 1000; t < t0 + 4 * 3600; ++t) {
    if (budget.TryTake(t).value().count() == 0) taken.push_back(t);
  }
  for (size_t i = 0; i < taken.size(); ++i) {
    const auto in_hour = std::count_if(taken.begin(), taken.end(), [&](int64_t t) {
      return t > taken[i] - 3600 && t <= taken[i];
    });
    EXPECT_LE(in_hour, 8);
  }
  for (size_t i = 1; i < taken.size(); ++i) EXPECT_GE(taken[i] - taken[i - 1], 900);
  EXPECT_GE(taken.size(), 14u);  // ~4 an hour after the first hour's burst
}

TEST_F(CommitterTest, TheHubs429IsWaitedOutAsItsRetryAfterSays) {
  std::atomic<int> refused{0};
  std::vector<std::chrono::steady_clock::time_point> posts;
  hub_.on_commit = [&](int call, const json&) -> Result<HttpResponse> {
    posts.push_back(std::chrono::steady_clock::now());
    if (refused < 1) {
      ++refused;
      HttpResponse r = Json({{"error", "You have exceeded the rate limit for commits"}}, 429);
      r.headers.Add("Retry-After", "1");
      return r;
    }
    return Committed(std::string(39, 'e') + static_cast<char>('0' + call % 10));
  };
  StartCommitter();
  const uint64_t s = Stage("a.txt", "a");
  committer_->Notify();
  // Paused, and it says so; the change stays journaled.
  ASSERT_EQ(committer_->WaitCommitted("a.txt", s, 700ms).code(), ErrorCode::kTimeout);
  CommitterStats stats = committer_->stats();
  EXPECT_GT(stats.paused_until, 0);
  EXPECT_NE(stats.pause_reason.find("429"), std::string::npos) << stats.pause_reason;
  {
    std::lock_guard<std::mutex> l(journal_mu_);
    EXPECT_NE(journal_->table().Find("a.txt"), nullptr);
  }
  // Another mount of the repo from this cache holds off as long.
  CommitBudget other(FileEnv::Default(), (dir_ / "budget").string(), 128);
  auto other_wait = other.TryTake(SystemClock::Default()->UnixSeconds());
  ASSERT_TRUE(other_wait.ok());
  EXPECT_GE(other_wait->count(), 1);
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", s, 10s).ok());
  ASSERT_EQ(posts.size(), 2u);
  // Retry-After 1 s (+1 s), not the 50 ms backoff of a failure.
  EXPECT_GE(posts[1] - posts[0], 1900ms);
  stats = committer_->stats();
  EXPECT_EQ(stats.commits, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.paused_until, 0);
}

TEST_F(CommitterTest, AConflictGoesToAPullRequestAndFsyncSaysSo) {
  std::lock_guard<std::mutex> hl(hub_.mu);
  hub_.trees[kH1]["a.txt"] = RegularEntry("a.txt", std::string(40, 'f'), 3);
  hub_.trees[kH2]["a.txt"] = RegularEntry("a.txt", std::string(40, '9'), 4);
  hub_.on_commit = [this](int, const json&) -> Result<HttpResponse> {
    hub_.head = kH2;
    return Json({{"error", "The branch was updated"}}, 412);
  };
  hub_.mu.unlock();
  StartCommitter();
  const uint64_t s = Stage("a.txt", "mine");
  committer_->Notify();
  Status st = committer_->WaitCommitted("a.txt", s, 10s);
  EXPECT_EQ(st.code(), ErrorCode::kConflict) << st;
  EXPECT_NE(st.message().find("pull request #4"), std::string::npos);
  EXPECT_EQ(committer_->stats().conflict_prs, 1u);
  EXPECT_EQ(sources_->last_pr, 4u);
  {
    std::lock_guard<std::mutex> l(journal_mu_);
    EXPECT_TRUE(journal_->table().entries().empty());
    EXPECT_FALSE(journal_->base_commit().has_value());  // no commit landed on the branch
  }
  hub_.mu.lock();
}

// --create-pr: the first commit opens the pull request, whose number the
// journal keeps, and the view is told to show it (not the branch).
TEST_F(CommitterTest, CreatePrLandsOnThePullRequestAndTheViewFollowsIt) {
  StartCommitter(128, 100ms, FileEnv::Default(), /*create_pr=*/true);
  const uint64_t s = Stage("a.txt", "for review");
  committer_->Notify();
  ASSERT_TRUE(committer_->WaitCommitted("a.txt", s, 10s).ok());
  EXPECT_EQ(hub_.pr_posts, 1);
  EXPECT_EQ(hub_.commit_posts, 0);
  EXPECT_EQ(sources_->landed_targets, std::vector<std::string>{"refs/pr/4"});
  EXPECT_EQ(committer_->target(), "refs/pr/4");
  std::lock_guard<std::mutex> l(journal_mu_);
  EXPECT_EQ(journal_->pr_number(), std::optional<uint64_t>(4));
  EXPECT_FALSE(journal_->base_commit().has_value());  // the branch did not move
}

TEST_F(CommitterTest, ChangesLeftByAnEarlierRunAreCommittedAtStart) {
  Stage("left.txt", "from before a crash");
  StartCommitter();
  ASSERT_TRUE(committer_->WaitCommitted("", UINT64_MAX, 10s).ok());
  EXPECT_EQ(hub_.commit_posts, 1);
  EXPECT_EQ(committer_->Shutdown(1s), 0u);
}

}  // namespace
}  // namespace hubfs::fs
