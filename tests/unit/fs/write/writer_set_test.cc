#include "fs/write/writer_set.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/fs/fake_hub.h"

namespace hubfs::fs {
namespace {

using namespace ::hubfs::fs::testing;  // NOLINT: the fake Hub's helpers
using namespace std::chrono_literals;

const hub::RepoId kRepo{hub::RepoType::kModel, "me", "r"};
const hub::RepoId kOther{hub::RepoType::kDataset, "me", "d"};

class WriterSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-wset-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    uploader_ = std::make_unique<RepoUploader>(hub_.hub_client(), hub_.commit_client(),
                                               hub_.cas_writer(), nullptr);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Journals under dir_/write, one per (repo, branch) name; commits far off
  // (these tests look at the views, not at commits).
  std::unique_ptr<WriterSet> MakeSet(const std::string& endpoint = kEp, Clock* clock = nullptr) {
    const std::string root = (dir_ / "write").string();
    WriterSetHooks hooks;
    hooks.journal_dir = [root](const hub::RepoId& repo, const std::string& branch) {
      std::string name = std::string(hub::RepoTypeName(repo.type)) + "-" + repo.name + "-" + branch;
      for (char& c : name) {
        if (c == '/') c = '_';
      }
      return root + "/" + name;
    };
    hooks.budget_path = [this, root](const hub::RepoId& repo) {
      budgets_.insert(repo.name);
      return root + "/budget-" + repo.name;
    };
    hooks.check_access = [this](const hub::RepoId& repo, const std::string&) -> Status {
      ++access_checks_;
      if (denied_.count(repo.name) != 0) return Status(ErrorCode::kPermissionDenied, "403");
      return Status::Ok();
    };
    hooks.base_readers = [](const hub::RepoId&, const std::string&) -> BaseReaderFactory {
      return [](const std::string&, const RemoteFile&) -> Result<BaseReader> {
        return UnimplementedError("no Hub bytes here");
      };
    };
    hooks.on_open = [this](const hub::RepoId&, const std::string& branch, WritableView*) {
      opened_.push_back(branch);
    };
    WritableViewOptions o;
    o.commit_delay = 3600s;
    return std::make_unique<WriterSet>(FileEnv::Default(), uploader_.get(),
                                       clock != nullptr ? clock : SystemClock::Default(), root,
                                       endpoint, o, std::move(hooks));
  }

  FakeHub hub_;
  std::filesystem::path dir_;
  std::unique_ptr<RepoUploader> uploader_;
  std::set<std::string> budgets_;
  std::set<std::string> denied_;
  int access_checks_ = 0;
  std::vector<std::string> opened_;
};

TEST_F(WriterSetTest, OneViewPerBranchOpenedOnceWithItsTargetFile) {
  auto set = MakeSet();
  EXPECT_EQ(set->Find(kRepo, "main"), nullptr);
  auto main = set->Open(kRepo, "main", kH1, /*check_access=*/true);
  ASSERT_TRUE(main.ok()) << main.status();
  auto again = set->Open(kRepo, "main", kH2, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *main);
  EXPECT_EQ(set->Find(kRepo, "main"), *main);
  auto feature = set->Open(kRepo, "feature/x", kH1, true);
  auto pr = set->Open(kRepo, "refs/pr/3", kH1, true);
  ASSERT_TRUE(feature.ok() && pr.ok());
  EXPECT_NE(*feature, *main);
  EXPECT_NE((*feature)->journal_dir(), (*main)->journal_dir());
  EXPECT_EQ(access_checks_, 3);  // not again for an open view
  EXPECT_EQ(opened_, (std::vector<std::string>{"main", "feature/x", "refs/pr/3"}));
  EXPECT_EQ(budgets_, std::set<std::string>{"r"});  // one budget for the repo's views
  EXPECT_EQ((*main)->base_commit(), kH1);
  ASSERT_EQ(set->All().size(), 3u);

  auto target = WriterSet::ReadTarget(FileEnv::Default(), (*feature)->journal_dir());
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->endpoint, kEp);
  EXPECT_EQ(target->repo, kRepo);
  EXPECT_EQ(target->branch, "feature/x");
}

TEST_F(WriterSetTest, ARepoWithoutWriteAccessIsRefusedAndRememberedForAWhile) {
  FakeClock clock;
  auto set = MakeSet(kEp, &clock);
  denied_.insert("r");
  auto w = set->Open(kRepo, "main", kH1, true);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), ErrorCode::kPermissionDenied);
  // Another branch of the same repo: refused without asking again.
  w = set->Open(kRepo, "feature/x", kH1, true);
  EXPECT_EQ(w.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(access_checks_, 1);
  EXPECT_TRUE(set->All().empty());
  clock.Advance(WriterSet::kDeniedFor + 1s);
  w = set->Open(kRepo, "main", kH1, true);
  EXPECT_EQ(w.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(access_checks_, 2);
}

TEST_F(WriterSetTest, ASecondSetCannotOpenAJournalTheFirstHolds) {
  auto first = MakeSet();
  ASSERT_TRUE(first->Open(kRepo, "main", kH1, true).ok());
  auto second = MakeSet();
  auto w = second->Open(kRepo, "main", kH1, true);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), ErrorCode::kFailedPrecondition);
  // Another branch is free.
  EXPECT_TRUE(second->Open(kRepo, "feature/x", kH1, true).ok());
}

TEST_F(WriterSetTest, ResumeOpensTheJournalsWithPendingChangesOfThisEndpoint) {
  {
    auto set = MakeSet();
    auto main = set->Open(kRepo, "main", kH1, true);
    auto feature = set->Open(kRepo, "feature/x", kH1, true);
    auto other = set->Open(kOther, "main", kH1, true);
    ASSERT_TRUE(main.ok() && feature.ok() && other.ok());
    ASSERT_TRUE((*feature)->Mkdir("new-dir").ok());
    ASSERT_TRUE((*other)->Mkdir("elsewhere").ok());
    auto moved = set->Open(kRepo, "moved", kH1, true);
    ASSERT_TRUE(moved.ok());
    ASSERT_TRUE((*moved)->Mkdir("x").ok());
  }  // unmounted: the changes stay journaled
  {
    // Another endpoint's mount finds nothing of its own.
    auto set = MakeSet("https://elsewhere.test");
    EXPECT_EQ(set->Resume([](const hub::RepoId&) { return true; }), 0u);
  }
  auto set = MakeSet();
  opened_.clear();
  const size_t resumed = set->Resume([](const hub::RepoId& r) { return r == kRepo; });
  EXPECT_EQ(resumed, 2u);  // feature/x and moved; main has nothing pending
  EXPECT_EQ(access_checks_, 4);  // a resumed view is not checked again
  EXPECT_EQ(set->Find(kRepo, "main"), nullptr);
  EXPECT_EQ(set->Find(kOther, "main"), nullptr);
  WritableView* feature = set->Find(kRepo, "feature/x");
  ASSERT_NE(feature, nullptr);
  EXPECT_EQ(feature->Pending().count("new-dir"), 1u);
  EXPECT_NE(set->Find(kRepo, "moved"), nullptr);
  EXPECT_EQ(opened_.size(), 2u);  // the core's hook ran for each
  // The set's Shutdown leaves what cannot be committed (new empty
  // directories commit nothing) and reports it.
  EXPECT_EQ(set->Shutdown(100ms), 0u);
}

TEST_F(WriterSetTest, JournalsWithoutATargetFileAreResumedByBranchName) {
  std::string dir;
  {
    auto set = MakeSet();
    auto feature = set->Open(kRepo, "feature/x", kH1, true);
    ASSERT_TRUE(feature.ok());
    ASSERT_TRUE((*feature)->Mkdir("d").ok());
    dir = (*feature)->journal_dir();
  }
  std::filesystem::remove(dir + "/target");  // as an older mount left it
  auto set = MakeSet();
  EXPECT_EQ(set->Resume([](const hub::RepoId&) { return true; }), 0u);
  EXPECT_EQ(set->ResumeBranches(kRepo, {"main", "feature/x", "refs/pr/1"}), 1u);
  ASSERT_NE(set->Find(kRepo, "feature/x"), nullptr);
  EXPECT_TRUE(WriterSet::ReadTarget(FileEnv::Default(), dir).ok());  // written now
}

TEST_F(WriterSetTest, ADamagedTargetFileIsSkipped) {
  const std::string dir = (dir_ / "write" / "junk").string();
  std::filesystem::create_directories(dir);
  {
    auto f = FileEnv::Default()->Open(dir + "/target", OpenMode::kReadWrite);
    ASSERT_TRUE(f.ok());
    const std::string junk = "{\"endpoint\": 3, \"repo\": [";
    ASSERT_TRUE((*f)->Write(std::span<const uint8_t>(
                               reinterpret_cast<const uint8_t*>(junk.data()), junk.size()))
                    .ok());
  }
  EXPECT_FALSE(WriterSet::ReadTarget(FileEnv::Default(), dir).ok());
  auto set = MakeSet();
  EXPECT_EQ(set->Resume([](const hub::RepoId&) { return true; }), 0u);
}

}  // namespace
}  // namespace hubfs::fs
