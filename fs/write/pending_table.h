// PendingTable: the local changes of a writable branch view that are not yet
// committed, one entry per repo path (design §5 "Pending table"). Changes
// cancel out as they are made: a file created and deleted leaves nothing; a
// temp file written and renamed over a path leaves one change, at that path;
// deleting a file that is only local forgets it. What is left is what the
// next commit must say.
//
// Mutations only plan: each returns the records that make the change (a
// record is the whole new state of one path, or its removal) without
// changing the table. The owner makes them durable in the journal and then
// applies them (Apply), so a failed journal write changes nothing, and
// replaying the journal rebuilds the same table. Not thread-safe: the owner
// serialises access (plan, write, apply under one lock).
#ifndef HUBFS_FS_WRITE_PENDING_TABLE_H_
#define HUBFS_FS_WRITE_PENDING_TABLE_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace hubfs::fs {

// A file as the Hub has it, enough to re-reference or re-read it.
struct RemoteFile {
  uint64_t size = 0;
  std::string git_oid;                // git blob id (of the pointer, for LFS files)
  std::optional<std::string> sha256;  // LFS/Xet files: the LFS oid
  std::optional<std::string> xet_hash;
  // Where it was read from (a regular file is fetched by commit and path).
  std::string path;
  std::string commit;

  friend bool operator==(const RemoteFile&, const RemoteFile&) = default;
};

struct PendingChange {
  enum class Kind {
    kStaged,   // content in staging file `staging_id` (bytes it lacks come from `base`)
    kCopy,     // the Hub's file `base`, at a new path (a rename): re-referenced, not uploaded
    kDeleted,  // a file the Hub has, deleted
    kNewDir,   // a directory that exists only here until it holds a file
    kDeletedDir,  // a directory the Hub has, removed here (empty by then): hidden;
                  // nothing to commit (the Hub drops it with its last file)
  };
  // Directory changes are never committed themselves.
  bool is_dir() const { return kind == Kind::kNewDir || kind == Kind::kDeletedDir; }
  Kind kind = Kind::kStaged;
  uint64_t staging_id = 0;
  uint64_t size = 0;
  std::optional<RemoteFile> base;
  // kStaged with a base: the staging file's local byte ranges, and where
  // base bytes end (StagedFile::base_limit); the rest comes from `base`.
  std::vector<std::pair<uint64_t, uint64_t>> local;
  uint64_t base_limit = 0;
  // Whether the path held a file at the commit the view is based on (a
  // kStaged or kCopy over it replaces it; deleting it must be committed).
  bool was_remote = false;
  // Journal sequence number of the record that set this state.
  uint64_t seq = 0;
  // Unix time the path got a change not yet committed (`hubfs pending`); 0
  // unknown. Set by the owner when it journals (the table keeps no clock).
  int64_t since = 0;

  friend bool operator==(const PendingChange&, const PendingChange&) = default;
};

// One journal record: `path` now has `change`, or (nullopt) nothing pending.
struct PendingRecord {
  uint64_t seq = 0;
  std::string path;
  std::optional<PendingChange> change;

  friend bool operator==(const PendingRecord&, const PendingRecord&) = default;
};

// One change of a commit batch, with the sequence number it was taken at.
struct BatchItem {
  std::string path;
  PendingChange change;
};

class PendingTable {
 public:
  // The pending change at `path`, or nullptr.
  const PendingChange* Find(const std::string& path) const;
  // Every pending path (for listings and `hubfs pending`), in path order.
  const std::map<std::string, PendingChange>& entries() const { return entries_; }
  uint64_t last_seq() const { return seq_; }

  // `path` now has the content of staging file `staging_id` (`base`: the
  // Hub's file it was opened on, for the bytes not yet local).
  std::vector<PendingRecord> Stage(const std::string& path, uint64_t staging_id, uint64_t size,
                                   std::optional<RemoteFile> base, bool was_remote,
                                   std::vector<std::pair<uint64_t, uint64_t>> local = {},
                                   uint64_t base_limit = 0);
  // Size change of a staged path (write past the end, truncate).
  std::vector<PendingRecord> Resize(const std::string& path, uint64_t size);
  // Removes the file at `path`: a deletion to commit when the Hub has it,
  // else the local change is forgotten.
  std::vector<PendingRecord> RemoveFile(const std::string& path, bool was_remote);
  // Moves the file at `from` to `to`. `from_remote` is the Hub's file at
  // `from` when it has no pending change (it is then re-referenced).
  // REQUIRES: `from` is staged or copied, or from_remote is set.
  std::vector<PendingRecord> RenameFile(const std::string& from, const std::string& to,
                                        std::optional<RemoteFile> from_remote,
                                        bool from_was_remote, bool to_was_remote);
  std::vector<PendingRecord> MakeDir(const std::string& path);
  // Removes a directory: a new one is forgotten, one the Hub has is hidden.
  std::vector<PendingRecord> RemoveDir(const std::string& path, bool was_remote = false);

  // Applies a record (journal replay). Records must come in sequence order.
  void Apply(const PendingRecord& record);
  // Sequence numbers continue after `seq` (a compacted journal's floor).
  void AdvanceSeq(uint64_t seq) { seq_ = std::max(seq_, seq); }

  // What the next commit takes: every file change (not kNewDir) made at or
  // before `upto_seq` whose path is not in `busy` (files open for writing),
  // additions first, then deletions; `.gitattributes` first of all.
  std::vector<BatchItem> TakeBatch(uint64_t upto_seq, const std::set<std::string>& busy) const;
  // After a commit landed: forgets the changes of `batch` that were not
  // changed again since, and the new directories that now hold a committed
  // file. `on_target`: the commit landed where the view's changes go (not
  // in a pull request made for a conflict); then a file of the batch that
  // was removed meanwhile gets a deletion, and one changed again counts as
  // on the Hub. Returns the records to journal and apply.
  std::vector<PendingRecord> Committed(const std::vector<BatchItem>& batch,
                                       bool on_target = true);

 private:
  std::vector<PendingRecord> PlanRemove(const std::string& path, bool was_remote);
  // Plans one record (the next sequence number of this mutation).
  PendingRecord Set(const std::string& path, std::optional<PendingChange> change);
  // Starts planning a mutation.
  void Begin() { next_seq_ = seq_; }

  std::map<std::string, PendingChange> entries_;
  uint64_t seq_ = 0;
  uint64_t next_seq_ = 0;
};

// JSON form of a record (one journal payload). Errors of parsing: kCorrupt.
std::string EncodeRecord(const PendingRecord& record);
Result<PendingRecord> DecodeRecord(std::string_view text);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_PENDING_TABLE_H_
