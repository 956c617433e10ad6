#include "fs/write/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/fault_file_env.h"

namespace hubfs::fs {
namespace {

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("hubfs-journal-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    dir_ = (root_ / "w").string();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<WriteJournal> OpenOk(FileEnv* env = FileEnv::Default(),
                                       JournalOpenInfo* info = nullptr) {
    auto j = WriteJournal::Open(env, dir_, info);
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? std::move(j).value() : nullptr;
  }

  std::filesystem::path root_;
  std::string dir_;
};

TEST_F(JournalTest, ChangesSurviveReopenAndTheDirIsPrivate) {
  {
    auto j = OpenOk();
    ASSERT_TRUE(j->SetBaseCommit(std::string(40, 'a')).ok());
    ASSERT_TRUE(j->SetPrNumber(7).ok());
    const uint64_t id = j->NewStagingId();
    std::ofstream(j->StagingPath(id)) << "data";
    ASSERT_TRUE(j->Append(j->table().Stage("a.txt", id, 4, std::nullopt, false)).ok());
    ASSERT_TRUE(j->Append(j->table().RemoveFile("old.bin", true)).ok());
    ASSERT_TRUE(j->Append(j->table().MakeDir("new")).ok());
  }
  JournalOpenInfo info;
  auto j = OpenOk(FileEnv::Default(), &info);
  EXPECT_FALSE(info.torn_tail);
  EXPECT_EQ(info.stale_staging_files, 0u);
  EXPECT_EQ(*j->base_commit(), std::string(40, 'a'));
  EXPECT_EQ(*j->pr_number(), 7u);
  ASSERT_EQ(j->table().entries().size(), 3u);
  EXPECT_EQ(j->table().Find("a.txt")->size, 4u);
  EXPECT_EQ(j->table().Find("old.bin")->kind, PendingChange::Kind::kDeleted);
  EXPECT_GE(j->table().last_seq(), 3u);
  EXPECT_GT(j->NewStagingId(), 1u);  // ids are never reused
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ + "/journal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(JournalTest, ASecondOwnerIsRefused) {
  auto j = OpenOk();
  auto again = WriteJournal::Open(FileEnv::Default(), dir_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), ErrorCode::kFailedPrecondition);
  j.reset();
  EXPECT_TRUE(WriteJournal::Open(FileEnv::Default(), dir_).ok());
}

TEST_F(JournalTest, ATornTailIsDroppedAndEverythingBeforeItKept) {
  {
    auto j = OpenOk();
    for (int i = 0; i < 5; ++i) {
      // (Not "f" + std::to_string(i): g++ 12 then warns -Wrestrict wrongly.)
      std::string name = std::to_string(i);
      name.insert(name.begin(), 'f');
      ASSERT_TRUE(j->Append(j->table().RemoveFile(name, true)).ok());
    }
  }
  // Cut the last record in half, as a crash mid-append would.
  const auto path = std::filesystem::path(dir_) / "journal";
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 10);
  JournalOpenInfo info;
  auto j = OpenOk(FileEnv::Default(), &info);
  EXPECT_TRUE(info.torn_tail);
  EXPECT_EQ(j->table().entries().size(), 4u);
  EXPECT_EQ(j->table().Find("f4"), nullptr);
  // Compacted at open: a further append is readable after the next open.
  ASSERT_TRUE(j->Append(j->table().RemoveFile("g", true)).ok());
  j.reset();
  JournalOpenInfo info2;
  auto k = OpenOk(FileEnv::Default(), &info2);
  EXPECT_FALSE(info2.torn_tail);
  EXPECT_EQ(k->table().entries().size(), 5u);
}

TEST_F(JournalTest, AReaderBesideTheOwnerSeesWhatIsJournaled) {
  EXPECT_EQ(WriteJournal::ReadSnapshot(FileEnv::Default(), dir_).status().code(),
            ErrorCode::kNotFound);  // no journal: nothing created by a reader
  EXPECT_FALSE(std::filesystem::exists(dir_));
  auto j = OpenOk();
  ASSERT_TRUE(j->SetBaseCommit(std::string(40, 'b')).ok());
  const uint64_t id = j->NewStagingId();
  auto records = j->table().Stage("a.txt", id, 4, std::nullopt, false);
  records.back().change->since = 1700000000;
  ASSERT_TRUE(j->Append(records).ok());
  ASSERT_TRUE(j->Append(j->table().RemoveFile("old.bin", true)).ok());
  // The owner holds the lock; the reader does not need it.
  auto snap = WriteJournal::ReadSnapshot(FileEnv::Default(), dir_);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->table.entries(), j->table().entries());
  EXPECT_EQ(snap->table.Find("a.txt")->since, 1700000000);
  EXPECT_EQ(*snap->base, std::string(40, 'b'));
  // An append under way (half a frame) is left out, not an error.
  std::ofstream(std::filesystem::path(dir_) / "journal", std::ios::app | std::ios::binary)
      << std::string("\x40\x00\x00\x00\x01\x02", 6);
  snap = WriteJournal::ReadSnapshot(FileEnv::Default(), dir_);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->table.entries().size(), 2u);
}

TEST_F(JournalTest, AFlippedBitIsATornTailNotAWrongRecord) {
  {
    auto j = OpenOk();
    ASSERT_TRUE(j->Append(j->table().RemoveFile("a", true)).ok());
    ASSERT_TRUE(j->Append(j->table().RemoveFile("b", true)).ok());
  }
  const auto path = std::filesystem::path(dir_) / "journal";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-3, std::ios::end);
  f.put('#');
  f.close();
  JournalOpenInfo info;
  auto j = OpenOk(FileEnv::Default(), &info);
  EXPECT_TRUE(info.torn_tail);
  EXPECT_NE(j->table().Find("a"), nullptr);
  EXPECT_EQ(j->table().Find("b"), nullptr);
}

TEST_F(JournalTest, DamageBeforeTheLastRecordRefusesToOpen) {
  {
    auto j = OpenOk();
    ASSERT_TRUE(j->Append(j->table().RemoveFile("a", true)).ok());
    ASSERT_TRUE(j->Append(j->table().RemoveFile("b", true)).ok());
  }
  // The compacted journal holds base-less frames: seq floor, then records.
  const auto path = std::filesystem::path(dir_) / "journal";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(12);  // inside the first frame's payload
  f.put('#');
  f.close();
  auto j = WriteJournal::Open(FileEnv::Default(), dir_);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), ErrorCode::kCorrupt);
}

TEST_F(JournalTest, StagingFilesNoChangeNamesAreRemoved) {
  uint64_t kept = 0;
  {
    auto j = OpenOk();
    kept = j->NewStagingId();
    const uint64_t orphan = j->NewStagingId();
    std::ofstream(j->StagingPath(kept)) << "x";
    std::ofstream(j->StagingPath(orphan)) << "y";  // never journaled: a crash before close
    ASSERT_TRUE(j->Append(j->table().Stage("k", kept, 1, std::nullopt, false)).ok());
  }
  JournalOpenInfo info;
  auto j = OpenOk(FileEnv::Default(), &info);
  EXPECT_EQ(info.stale_staging_files, 1u);
  EXPECT_TRUE(std::filesystem::exists(j->StagingPath(kept)));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/staging"),
                          std::filesystem::directory_iterator()),
            1);
}

FaultRule FullDisk(const std::string& path_contains) {
  FaultRule full;
  full.op = FileOp::kWrite;
  full.path_contains = path_contains;
  full.error = ENOSPC;
  full.short_write = true;
  full.count = 1;
  return full;
}

TEST_F(JournalTest, AFullDiskFailsTheAppendAndChangesNothing) {
  FaultFileEnv env(FileEnv::Default());
  auto j = OpenOk(&env);
  ASSERT_TRUE(j->Append(j->table().RemoveFile("a", true)).ok());
  env.AddRule(FullDisk("/journal"));
  // New content: it may not spend the reserve.
  Status st = j->Append(j->table().Stage("b", j->NewStagingId(), 10, std::nullopt, false));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(j->table().Find("b"), nullptr);  // not applied
  EXPECT_TRUE(j->has_reserve());
  EXPECT_EQ(env.injected(), 1u);
  // The next append compacts away the partial frame first.
  ASSERT_TRUE(j->Append(j->table().RemoveFile("c", true)).ok());
  j.reset();
  JournalOpenInfo info;
  auto k = OpenOk(FileEnv::Default(), &info);
  EXPECT_FALSE(info.torn_tail);
  EXPECT_NE(k->table().Find("a"), nullptr);
  EXPECT_EQ(k->table().Find("b"), nullptr);
  EXPECT_NE(k->table().Find("c"), nullptr);
}

TEST_F(JournalTest, AFailedSyncIsAnError) {
  FaultFileEnv env(FileEnv::Default());
  auto j = OpenOk(&env);
  FaultRule eio;
  eio.op = FileOp::kSync;
  eio.path_contains = "/journal";
  eio.error = EIO;
  eio.count = 1;
  env.AddRule(eio);
  Status st = j->Append(j->table().RemoveFile("a", true));
  EXPECT_EQ(st.code(), ErrorCode::kIo);
  EXPECT_EQ(j->table().Find("a"), nullptr);
}

TEST_F(JournalTest, OpenWritesASpaceReserve) {
  auto j = OpenOk();
  EXPECT_TRUE(j->has_reserve());
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/reserve"), kJournalReserveBytes);
  // Its blocks are taken (not a sparse file).
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/reserve").c_str(), &st), 0);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kJournalReserveBytes);
}

TEST_F(JournalTest, AnRmOnAFullDiskSpendsTheReserveAndItComesBackWithSpace) {
  FaultFileEnv env(FileEnv::Default());
  auto j = OpenOk(&env);
  const uint64_t id = j->NewStagingId();
  ASSERT_TRUE(j->Append(j->table().Stage("a", id, 100, std::nullopt, false)).ok());
  ASSERT_TRUE(j->Append(j->table().Stage("b", j->NewStagingId(), 5, std::nullopt, false)).ok());
  // The disk is full: the record's write fails (a torn prefix written), and
  // so does the first attempt to write the reserve again.
  env.AddRule(FullDisk("/journal"));
  env.AddRule(FullDisk("/reserve"));
  Status rm = j->Append(j->table().RemoveFile("a", false));
  ASSERT_TRUE(rm.ok()) << rm;
  EXPECT_EQ(env.injected(), 2u);
  EXPECT_EQ(j->table().Find("a"), nullptr);
  EXPECT_FALSE(j->has_reserve());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/reserve"));
  // With no reserve left, a full disk fails even a record that frees space.
  env.AddRule(FullDisk("/journal"));
  Status st = j->Append(j->table().RemoveFile("b", false));
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(j->table().Find("b"), nullptr);
  // Space is back: the next append makes the reserve again.
  ASSERT_TRUE(j->Append(j->table().RemoveFile("b", false)).ok());
  EXPECT_TRUE(j->has_reserve());
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/reserve"), kJournalReserveBytes);
  j.reset();
  // The retried record is whole: no torn tail, the state as acknowledged.
  JournalOpenInfo info;
  auto k = OpenOk(FileEnv::Default(), &info);
  EXPECT_FALSE(info.torn_tail);
  EXPECT_EQ(k->table().Find("a"), nullptr);
  EXPECT_EQ(k->table().Find("b"), nullptr);
}

TEST_F(JournalTest, OnlyRecordsThatNeedNoNewSpaceMaySpendTheReserve) {
  auto j = OpenOk();
  const uint64_t id = j->NewStagingId();
  ASSERT_TRUE(j->Append(j->table().Stage("d/a", id, 100, std::nullopt, false)).ok());
  ASSERT_TRUE(j->Append(j->table().MakeDir("e")).ok());
  EXPECT_TRUE(j->FreesSpace(j->table().RemoveFile("d/a", false)));
  EXPECT_TRUE(j->FreesSpace(j->table().RemoveFile("remote", true)));
  EXPECT_TRUE(j->FreesSpace(j->table().Resize("d/a", 50)));      // truncate smaller
  EXPECT_TRUE(j->FreesSpace(j->table().Resize("d/a", 100)));
  EXPECT_FALSE(j->FreesSpace(j->table().Resize("d/a", 101)));    // grows
  EXPECT_TRUE(j->FreesSpace(j->table().RenameFile("d/a", "d/b", std::nullopt, false, false)));
  EXPECT_TRUE(j->FreesSpace(j->table().RemoveDir("e")));
  EXPECT_FALSE(j->FreesSpace(j->table().MakeDir("f")));
  EXPECT_FALSE(j->FreesSpace(j->table().Stage("n", j->NewStagingId(), 1, std::nullopt, false)));
}

TEST_F(JournalTest, OpenOnAFullDiskSpendsTheReserveToCompact) {
  OpenOk().reset();  // leaves a journal and its reserve
  FaultFileEnv env(FileEnv::Default());
  env.AddRule(FullDisk("/journal.tmp"));
  auto j = OpenOk(&env);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(env.injected(), 1u);
  EXPECT_TRUE(j->has_reserve());  // made again: the disk is not really full
}

}  // namespace
}  // namespace hubfs::fs
