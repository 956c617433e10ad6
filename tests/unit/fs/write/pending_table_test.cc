#include "fs/write/pending_table.h"

#include <gtest/gtest.h>

namespace hubfs::fs {
namespace {

using Kind = PendingChange::Kind;

RemoteFile Lfs(uint64_t size) {
  RemoteFile f;
  f.size = size;
  f.git_oid = std::string(40, 'a');
  f.sha256 = std::string(64, 'b');
  f.xet_hash = std::string(64, 'c');
  return f;
}

// Replays every record into a fresh table: it must equal the original.
void ExpectReplayEquals(const PendingTable& t, const std::vector<PendingRecord>& log) {
  PendingTable replay;
  for (const auto& r : log) {
    auto decoded = DecodeRecord(EncodeRecord(r));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(*decoded, r);
    replay.Apply(*decoded);
  }
  EXPECT_EQ(replay.entries(), t.entries());
  EXPECT_EQ(replay.last_seq(), t.last_seq());
}

struct Recorder {
  PendingTable t;
  std::vector<PendingRecord> log;
  // Applies what a mutation planned, as the journal's owner does.
  void Add(std::vector<PendingRecord> rs) {
    for (auto& r : rs) {
      t.Apply(r);
      log.push_back(std::move(r));
    }
  }
};

TEST(PendingTableTest, ATempFileCreatedAndDeletedLeavesNothing) {
  Recorder r;
  r.Add(r.t.Stage("tmp.swp", 1, 10, std::nullopt, false));
  r.Add(r.t.RemoveFile("tmp.swp", false));
  EXPECT_TRUE(r.t.entries().empty());
  EXPECT_TRUE(r.t.TakeBatch(r.t.last_seq(), {}).empty());
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, WriteTempThenRenameOverCommitsOnlyTheFinalPath) {
  Recorder r;
  // rsync / gedit: write .x.tmp, rename it over x (which the Hub has).
  r.Add(r.t.Stage(".x.tmp", 7, 100, std::nullopt, false));
  r.Add(r.t.RenameFile(".x.tmp", "x", std::nullopt, false, true));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].path, "x");
  EXPECT_EQ(batch[0].change.kind, Kind::kStaged);
  EXPECT_EQ(batch[0].change.staging_id, 7u);
  EXPECT_TRUE(batch[0].change.was_remote);
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, VimBackupPatternCommitsTheNewContentOnly) {
  Recorder r;
  // vim: probe file 4913 created and removed; x renamed to x~; new x
  // written; x~ removed.
  r.Add(r.t.Stage("4913", 1, 0, std::nullopt, false));
  r.Add(r.t.RemoveFile("4913", false));
  r.Add(r.t.RenameFile("x", "x~", Lfs(5), true, false));
  r.Add(r.t.Stage("x", 2, 6, std::nullopt, true));
  r.Add(r.t.RemoveFile("x~", false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].path, "x");
  EXPECT_EQ(batch[0].change.staging_id, 2u);
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, RenamingAHubFileReReferencesItAndDeletesTheOld) {
  Recorder r;
  r.Add(r.t.RenameFile("w.bin", "ckpt/w.bin", Lfs(1 << 20), true, false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].path, "ckpt/w.bin");  // additions before deletions
  EXPECT_EQ(batch[0].change.kind, Kind::kCopy);
  EXPECT_EQ(batch[0].change.base, Lfs(1 << 20));
  EXPECT_EQ(batch[1].path, "w.bin");
  EXPECT_EQ(batch[1].change.kind, Kind::kDeleted);
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, GitattributesGoesFirstAndBusyFilesWait) {
  Recorder r;
  r.Add(r.t.Stage("a.bin", 1, 1, std::nullopt, false));
  r.Add(r.t.Stage(".gitattributes", 2, 1, std::nullopt, true));
  r.Add(r.t.RemoveFile("old", true));
  r.Add(r.t.Stage("b.bin", 3, 1, std::nullopt, false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {"b.bin"});
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].path, ".gitattributes");
  EXPECT_EQ(batch[1].path, "a.bin");
  EXPECT_EQ(batch[2].path, "old");
  // Only what was closed by the cut-off sequence.
  EXPECT_EQ(r.t.TakeBatch(1, {}).size(), 1u);
}

TEST(PendingTableTest, CommittedForgetsOnlyWhatDidNotChangeSince) {
  Recorder r;
  r.Add(r.t.MakeDir("new"));
  r.Add(r.t.Stage("new/a", 1, 1, std::nullopt, false));
  r.Add(r.t.Stage("b", 2, 1, std::nullopt, false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 2u);
  r.Add(r.t.Stage("b", 3, 2, std::nullopt, false));  // written again while committing
  r.Add(r.t.Committed(batch));
  ASSERT_EQ(r.t.entries().size(), 1u);
  EXPECT_EQ(r.t.Find("b")->staging_id, 3u);
  EXPECT_EQ(r.t.Find("new"), nullptr);  // holds a committed file now
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, AFileRemovedWhileItsCommitWasUnderWayIsDeletedNext) {
  Recorder r;
  // An editor's temp file is taken by a commit, then renamed over the real
  // name (and another one unlinked) before the commit lands: the Hub has
  // them then, so their deletions must follow.
  r.Add(r.t.Stage("cfg.tmp", 1, 10, std::nullopt, false));
  r.Add(r.t.Stage("scratch", 2, 5, std::nullopt, false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 2u);
  r.Add(r.t.RenameFile("cfg.tmp", "cfg", std::nullopt, false, false));
  r.Add(r.t.RemoveFile("scratch", false));
  EXPECT_EQ(r.t.Find("scratch"), nullptr);
  r.Add(r.t.Committed(batch));
  ASSERT_NE(r.t.Find("cfg.tmp"), nullptr);
  EXPECT_EQ(r.t.Find("cfg.tmp")->kind, Kind::kDeleted);
  ASSERT_NE(r.t.Find("scratch"), nullptr);
  EXPECT_EQ(r.t.Find("scratch")->kind, Kind::kDeleted);
  ASSERT_NE(r.t.Find("cfg"), nullptr);
  EXPECT_EQ(r.t.Find("cfg")->kind, Kind::kStaged);
  auto next = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(next.size(), 3u);  // cfg, then the two deletions
  EXPECT_EQ(next[0].path, "cfg");
  // Written again while committing, then unlinked: deleted on the Hub.
  Recorder q;
  q.Add(q.t.Stage("b", 1, 1, std::nullopt, false));
  auto b1 = q.t.TakeBatch(q.t.last_seq(), {});
  q.Add(q.t.Stage("b", 2, 2, std::nullopt, false));
  q.Add(q.t.Committed(b1));
  ASSERT_NE(q.t.Find("b"), nullptr);
  EXPECT_TRUE(q.t.Find("b")->was_remote);
  q.Add(q.t.RemoveFile("b", q.t.Find("b")->was_remote));
  EXPECT_EQ(q.t.Find("b")->kind, Kind::kDeleted);
  ExpectReplayEquals(r.t, r.log);
  ExpectReplayEquals(q.t, q.log);
}

TEST(PendingTableTest, ANewDirWhoseOnlyFileWasRemovedDuringItsCommitStays) {
  Recorder r;
  r.Add(r.t.MakeDir("d"));
  r.Add(r.t.Stage("d/f", 1, 0, std::nullopt, false));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 1u);
  r.Add(r.t.RemoveFile("d/f", false));  // unlinked while the commit went up
  r.Add(r.t.Committed(batch));
  ASSERT_NE(r.t.Find("d"), nullptr);
  EXPECT_EQ(r.t.Find("d")->kind, Kind::kNewDir);  // still a directory here
  ASSERT_NE(r.t.Find("d/f"), nullptr);
  EXPECT_EQ(r.t.Find("d/f")->kind, Kind::kDeleted);
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, AnEmptyNewDirStaysLocalAndRmdirForgetsIt) {
  Recorder r;
  r.Add(r.t.MakeDir("d"));
  EXPECT_TRUE(r.t.TakeBatch(r.t.last_seq(), {}).empty());
  EXPECT_EQ(r.t.Find("d")->kind, Kind::kNewDir);
  r.Add(r.t.RemoveDir("d"));
  EXPECT_TRUE(r.t.entries().empty());
  ExpectReplayEquals(r.t, r.log);
}

TEST(PendingTableTest, DeletingAndRecreatingAHubFileIsAnUpdate) {
  Recorder r;
  r.Add(r.t.RemoveFile("x", true));
  r.Add(r.t.Stage("x", 4, 3, std::nullopt, true));
  auto batch = r.t.TakeBatch(r.t.last_seq(), {});
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].change.kind, Kind::kStaged);
}

TEST(PendingTableTest, PlanningAloneChangesNothing) {
  PendingTable t;
  auto records = t.Stage("a", 1, 1, std::nullopt, false);
  EXPECT_TRUE(t.entries().empty());
  EXPECT_EQ(t.last_seq(), 0u);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seq, 1u);
  auto again = t.Stage("a", 2, 1, std::nullopt, false);  // the first was never applied
  EXPECT_EQ(again[0].seq, 1u);
}

TEST(PendingTableTest, ALazyFilesLocalRangesRoundTrip) {
  Recorder r;
  r.Add(r.t.Stage("w.bin", 9, 1 << 20, Lfs(1 << 20), true, {{0, 10}, {4096, 8192}}, 1 << 20));
  const PendingChange* c = r.t.Find("w.bin");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->local.size(), 2u);
  EXPECT_EQ(c->base_limit, 1u << 20);
  ExpectReplayEquals(r.t, r.log);
  auto bad = DecodeRecord(
      "{\"seq\":1,\"path\":\"a\",\"change\":{\"kind\":\"staged\",\"staging\":1,"
      "\"size\":10,\"was_remote\":true,\"base\":{\"size\":10,\"git_oid\":\"x\"},"
      "\"base_limit\":10,\"local\":[[5,20]]}}");
  EXPECT_FALSE(bad.ok());  // a range past the size
}

TEST(PendingTableTest, HostileRecordsAreRefused) {
  for (const char* bad : {"", "[]", "{\"seq\":1}", "{\"seq\":-1,\"path\":\"a\",\"change\":null}",
                          "{\"seq\":1,\"path\":\"\",\"change\":null}",
                          "{\"seq\":1,\"path\":\"a\",\"change\":{\"kind\":\"nope\"}}",
                          "{\"seq\":1,\"path\":\"a\",\"change\":{\"kind\":\"copy\",\"staging\":0,"
                          "\"size\":1,\"was_remote\":false}}"}) {
    EXPECT_FALSE(DecodeRecord(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hubfs::fs
