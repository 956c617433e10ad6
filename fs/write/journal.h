// WriteJournal: the durable state of a writable view (design §5, "Pending
// table + journal"; SEMANTICS.md, "Writes"): the pending-changes table, the
// commit it is based on, the pull request a --create-pr mount commits to,
// and the staging files that hold changed contents.
//
// One directory per (endpoint, repo, branch) under the cache dir, owned by
// one process at a time (an flock on `lock`: a second owner is refused):
//   lock              held while the journal is open
//   journal           framed records, appended and fdatasync'ed
//   staging/<id>      contents of staged files
//   reserve           kJournalReserveBytes of zeros, written at Open: space
//                     held back for records that free space (below)
// Frame: u32 payload length | u32 CRC-32C of the payload | payload (JSON):
// a PendingRecord (pending_table.h), {"base":"<sha>"}, {"pr":N} or
// {"seq":N}. Reading stops at a last frame that is short or fails its
// checksum (a torn tail from a crash: it was never acknowledged); a bad
// frame with records after it is damage, and Open refuses (kCorrupt);
// Open then rewrites the journal as a snapshot (compaction), so the tail is
// gone before anything new is appended. Staging files the table does not
// name are removed at Open.
//
// A full disk: a record is written where the staged files are, so on a full
// disk an `rm` (whose record must be written before it is acknowledged)
// would fail with ENOSPC, and space could not be freed through the mount.
// Records that free space or need none more (deletions, renames, shrinking
// a staged file, what a commit drops, the base commit and pull request a
// commit moves to) and compactions may therefore spend the reserve: when
// their write fails with ENOSPC the reserve file is removed and the write
// retried once at the same offset (over whatever prefix the failed write
// left). Records that may grow the staged data (new content, a new
// directory) never spend it. The reserve is written again, best effort,
// after a later append once the disk has room for it twice over.
//
// Thread-safety: none; the owner (the writable view) serialises calls.
#ifndef HUBFS_FS_WRITE_JOURNAL_H_
#define HUBFS_FS_WRITE_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/file_env.h"
#include "common/status.h"
#include "fs/write/pending_table.h"

namespace hubfs::fs {

struct JournalOpenInfo {
  uint64_t records_read = 0;
  bool torn_tail = false;           // a partial or corrupt record was dropped
  uint64_t stale_staging_files = 0;  // removed: no change names them
};

// The journal's state as read from its file.
struct JournalSnapshot {
  PendingTable table;
  std::optional<std::string> base;
  std::optional<uint64_t> pr;
};

// The space a journal keeps for records that free space (see above).
inline constexpr uint64_t kJournalReserveBytes = 1u << 20;

class WriteJournal {
 public:
  // Reads the journal in `dir` without taking its lock, for a reader beside
  // the owner (`hubfs pending`): a record being appended at this moment is
  // left out, like a torn tail. Errors: kNotFound (no journal), kCorrupt,
  // FileEnv errors.
  static Result<JournalSnapshot> ReadSnapshot(FileEnv* env, const std::string& dir);

  // Opens `dir` (created 0700 if missing; its parent must exist), takes the
  // lock, replays and compacts. Errors: kFailedPrecondition (another
  // process holds the lock), kCorrupt (a record that frames correctly but
  // does not decode: refusing beats guessing), FileEnv errors.
  static Result<std::unique_ptr<WriteJournal>> Open(FileEnv* env, const std::string& dir,
                                                    JournalOpenInfo* info = nullptr);
  ~WriteJournal();
  WriteJournal(const WriteJournal&) = delete;
  WriteJournal& operator=(const WriteJournal&) = delete;

  // The table as journaled. Plan mutations on it, then Append the records.
  PendingTable& table() { return table_; }
  const PendingTable& table() const { return table_; }
  const std::optional<std::string>& base_commit() const { return base_; }
  const std::optional<uint64_t>& pr_number() const { return pr_; }

  // Writes `records` (one write, then fdatasync) and applies them to the
  // table. On error nothing is applied (the bytes written, if any, are a torn
  // tail that the next Open drops; the journal refuses further appends until
  // Compact succeeds). Records that free space spend the reserve rather
  // than fail on a full disk (see above). Errors: kResourceExhausted (disk
  // full), kIo.
  Status Append(const std::vector<PendingRecord>& records);
  Status SetBaseCommit(const std::string& commit);
  Status SetPrNumber(uint64_t number);

  // Rewrites the journal as a snapshot of the current state (temp file,
  // fsync, rename, fsync of the directory).
  Status Compact();
  uint64_t bytes() const { return bytes_; }
  // Whether the reserve file is in place (see above).
  bool has_reserve() const { return reserve_held_; }
  // Whether `records` free space or need none beyond their own bytes: no
  // new staged content or larger staged file, no new directory.
  bool FreesSpace(const std::vector<PendingRecord>& records) const;

  // A new, unused staging id; its file is StagingPath(id) (not created).
  uint64_t NewStagingId() { return next_staging_++; }
  std::string StagingPath(uint64_t id) const;
  const std::string& dir() const { return dir_; }

 private:
  WriteJournal(FileEnv* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  Status Load(JournalOpenInfo* info);
  // `create`: the owner creates a missing journal file; a reader does not.
  static Status Replay(FileEnv* env, const std::string& dir, bool create, JournalSnapshot* out,
                       JournalOpenInfo* info);
  // `may_spend_reserve`: a write failing with ENOSPC spends the reserve
  // and is retried.
  Status AppendPayloads(const std::vector<std::string>& payloads, bool may_spend_reserve);
  Status CompactOnce();
  // Removes the reserve file; true when there was one to give back.
  bool SpendReserve();
  // Writes the reserve file when the disk has room for it (best effort).
  void MakeReserve();
  std::string ReservePath() const { return dir_ + "/reserve"; }

  FileEnv* const env_;
  const std::string dir_;
  std::unique_ptr<File> lock_;
  std::unique_ptr<File> journal_;
  PendingTable table_;
  std::optional<std::string> base_;
  std::optional<uint64_t> pr_;
  uint64_t next_staging_ = 1;
  uint64_t bytes_ = 0;
  bool broken_ = false;  // an append failed: compact before appending again
  bool reserve_held_ = false;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_JOURNAL_H_
