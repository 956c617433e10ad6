// WritableView: the local changes of one writable branch view (design §5),
// kernel-free, for the VFS core to call. It owns the write journal, the
// staging files and the committer, and answers what the overlay shows: a
// path's pending change (staged, re-referenced, deleted, new directory)
// wins over the Hub's tree.
//
// Promises (SEMANTICS.md, "Writes"):
// - Flush (every close) makes the file's content durable (staging file
//   fdatasync, then a journal record) before it returns; its errors
//   (ENOSPC) reach close(2). Release only lets the committer take the file.
// - Unlink, rename, mkdir, rmdir, truncate are journaled before they return.
// - A file reopened for writing while its last version is still pending
//   gets a new staging file (its local ranges copied): the journaled version
//   is never touched by writes that were not acknowledged, so a crash never
//   commits bytes whose close had not returned.
// - Fsync waits until the file's change is on the Hub (up to sync_timeout).
// - A new file written from its start is uploaded while it is written once
//   it reaches the Hub's LFS size (WriteStream), so that its commit after
//   close needs little more than the commit call.
//
// Thread-safety: all methods are thread-safe; no lock is held across a
// network call. Lock order: the committer's, then this view's.
#ifndef HUBFS_FS_WRITE_WRITABLE_VIEW_H_
#define HUBFS_FS_WRITE_WRITABLE_VIEW_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/file_env.h"
#include "common/status.h"
#include "fs/upload/repo_uploader.h"
#include "fs/write/committer.h"
#include "fs/write/journal.h"
#include "fs/write/staged_file.h"
#include "fs/write/write_stream.h"

namespace hubfs::fs {

struct WritableViewOptions {
  std::chrono::milliseconds commit_delay{2000};
  std::chrono::milliseconds sync_timeout{600'000};
  int commits_per_hour = 128;
  bool create_pr = false;
  // New files reaching this size while written from their start are
  // uploaded as they are written (WriteStream); 0: never.
  uint64_t upload_while_writing_at = 10ull << 20;
  // ... and only while the journal's disk has this much free: on a nearly
  // full staging disk a stream's head start is not worth what it holds.
  uint64_t upload_while_writing_min_free = 1ull << 30;
};

// Makes a reader of the Hub's bytes of `file` (at `path` in the view's base
// commit), for the bytes of a changed file that are not local yet.
using BaseReaderFactory =
    std::function<Result<BaseReader>(const std::string& path, const RemoteFile& file)>;

class WritableView final : public CommitSources {
 public:
  // `journal_dir` (created 0700) holds the journal and staging files;
  // `budget_path` is the repo's commit-budget file. Errors: those of
  // WriteJournal::Open (kFailedPrecondition: another process owns it).
  static Result<std::unique_ptr<WritableView>> Open(FileEnv* env, const std::string& journal_dir,
                                                    const std::string& budget_path,
                                                    hub::RepoId repo, std::string branch,
                                                    RepoUploader* uploader,
                                                    BaseReaderFactory base_readers, Clock* clock,
                                                    WritableViewOptions options);
  // Stops the committer; what is pending stays journaled.
  ~WritableView() override;

  // Starts committing (also what an earlier run left pending).
  void Start();
  // The view shows `commit` and nothing is pending: changes from now on are
  // made against it. (With pending changes the journal keeps their base.)
  Status SetBaseIfIdle(const std::string& commit);

  // --- the overlay
  std::optional<PendingChange> Find(const std::string& path) const;
  // One level under `dir` ("" = the root): names with a pending addition
  // (file or new directory), and names deleted.
  struct Children {
    std::map<std::string, PendingChange> added;
    std::set<std::string> deleted;
  };
  Children ChildrenOf(const std::string& dir) const;
  // Size of a file with a pending change, live (unflushed writes included).
  std::optional<uint64_t> LiveSize(const std::string& path) const;

  // --- files
  // Opens `path` for writing (creating it when `create`): its staged file,
  // with one more writer. `remote`: the Hub's file at path in the base
  // commit, when there is one. `truncate`: O_TRUNC. A create is journaled at
  // once (an empty file), so that it is visible.
  Result<std::shared_ptr<StagedFile>> OpenForWrite(const std::string& path,
                                                   std::optional<RemoteFile> remote, bool truncate,
                                                   bool create);
  // The staged file of `path` for reading, if it has one.
  Result<std::shared_ptr<StagedFile>> OpenStagedForRead(const std::string& path);
  // Flush (close of one descriptor): staging fdatasync + journal record,
  // if the file changed since its last flush. Errors: kResourceExhausted
  // (disk full), kIo.
  Status Flush(const std::string& path, const std::shared_ptr<StagedFile>& file);
  // One writer less (release).
  void ReleaseWriter(const std::string& path);
  // Flush, then wait until the change is on the Hub (sync_timeout).
  // Errors: kTimeout (stays journaled), kConflict (went to a PR).
  Status Fsync(const std::string& path, const std::shared_ptr<StagedFile>& file);
  // truncate(2) of a file that may not be open.
  Status Truncate(const std::string& path, std::optional<RemoteFile> remote, uint64_t size);

  // --- namespace
  Status Unlink(const std::string& path, bool was_remote);
  // `from_remote`: the Hub's file at `from` (when it has no pending change).
  Status Rename(const std::string& from, const std::string& to,
                std::optional<RemoteFile> from_remote, bool from_was_remote, bool to_was_remote);
  Status Mkdir(const std::string& path);
  // `was_remote`: the Hub has the directory (then it is hidden until its
  // files' deletions are committed). REQUIRES: empty in the overlay.
  Status Rmdir(const std::string& path, bool was_remote);

  // Waits until everything journaled so far is on the Hub (`hubfs sync`).
  Status SyncAll(std::chrono::milliseconds timeout);
  // Commits what is pending within `timeout` and stops; returns the number
  // of changes left journaled.
  size_t Shutdown(std::chrono::milliseconds timeout);

  CommitterStats stats() const;
  std::optional<std::string> base_commit() const;
  // Every pending change (`hubfs pending`), in path order.
  std::map<std::string, PendingChange> Pending() const;
  // utimensat of a file open for writing or pending: its mtime is kept here
  // (in memory) until its change is committed; then the Hub's commit time
  // shows. Ignored for other paths (the Hub stores no times).
  void SetLocalMtime(const std::string& path, int64_t mtime);
  std::optional<int64_t> LocalMtime(const std::string& path) const;
  // The commit the last change committed from here at `path` landed in
  // (not sent to a pull request): the Hub's file there at that commit is
  // byte for byte what was written here. nullopt: unknown.
  std::optional<std::string> LandedCommit(const std::string& path) const;
  // Where the journal lives (`hubfs pending` reads it from there).
  std::string journal_dir() const;
  std::string target() const;
  // Called when a commit landed, with that commit and where (the branch, or
  // the pull request of --create-pr), before the overlay forgets the changes
  // it holds: the view should show it now.
  void SetCommitListener(
      std::function<void(const std::string& commit, const std::string& target)> listener);

  // CommitSources.
  Result<std::shared_ptr<UploadSource>> OpenStaged(const std::string& path,
                                                   const PendingChange& change) override;
  Result<std::shared_ptr<UploadSource>> OpenRemote(const std::string& path,
                                                   const RemoteFile& file) override;
  std::set<std::string> BusyPaths() override;
  void Landed(const std::string& commit, const std::string& target,
              const std::vector<BatchItem>& batch) override;
  void OnCommitted(const std::string& commit, const std::vector<BatchItem>& batch,
                   std::optional<uint64_t> conflict_pr) override;

 private:
  WritableView(FileEnv* env, std::unique_ptr<WriteJournal> journal, BaseReaderFactory readers,
               Clock* clock, WritableViewOptions options, RepoUploader* uploader,
               hub::RepoId repo, std::string branch);
  // The append hook of a new file (staging id `id`): starts its WriteStream.
  // Returns false to be asked again (no upload slot free now).
  bool StartStream(uint64_t id);
  // Streams whose thread has ended, taken out of retired_. REQUIRES mu_.
  std::vector<std::shared_ptr<WriteStream>> TakeDoneStreamsLocked();
  // The staged file of a pending kStaged change, opened if needed. REQUIRES mu_.
  Result<std::shared_ptr<StagedFile>> StagedLocked(const std::string& path,
                                                   const PendingChange& change);
  Status AppendLocked(const std::vector<PendingRecord>& records);
  void RemoveStagingLocked(uint64_t id);

  FileEnv* const env_;
  RepoUploader* const uploader_;
  const hub::RepoId repo_;
  const std::string branch_;
  const BaseReaderFactory base_readers_;
  Clock* const clock_;
  const WritableViewOptions options_;
  std::unique_ptr<CommitBudget> budget_;
  std::unique_ptr<WriteCommitter> committer_;

  mutable std::mutex mu_;  // the journal's lock too
  std::unique_ptr<WriteJournal> journal_;
  std::map<uint64_t, std::weak_ptr<StagedFile>> staged_;  // GUARDED_BY(mu_): by staging id
  // Generation of a staged file at its last journaled flush.
  std::map<uint64_t, uint64_t> flushed_generation_;  // GUARDED_BY(mu_)
  // Files open for writing, by path: the staged file being written (the
  // table may name an older version until the first flush, or nothing once
  // a commit took the last flushed version), with what a record needs.
  struct OpenFile {
    uint64_t id = 0;
    std::shared_ptr<StagedFile> file;
    std::optional<RemoteFile> base;
    bool was_remote = false;
    int writers = 0;
  };
  std::map<std::string, OpenFile> open_;  // GUARDED_BY(mu_)
  // Paths an fsync waits for: committed although open (what was flushed;
  // a write during the upload makes it wait for the next commit).
  std::map<std::string, int> fsyncing_;  // GUARDED_BY(mu_)
  std::map<std::string, int64_t> local_mtime_;  // GUARDED_BY(mu_): SetLocalMtime
  // Path -> the commit its last staged change landed in (LandedCommit); bounded
  // (emptied when full: a missing entry only costs a page cache refill).
  std::map<std::string, std::string> landed_;  // GUARDED_BY(mu_)
  // Files being uploaded while written, by staging id; cancelled ones wait
  // in retired_ until their thread ended (never joined under mu_).
  std::map<uint64_t, std::shared_ptr<WriteStream>> streams_;  // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<WriteStream>> retired_;         // GUARDED_BY(mu_)
  std::function<void(const std::string&, const std::string&)> listener_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_WRITABLE_VIEW_H_
