// WriteCommitter: turns a writable view's journaled changes into commits
// (design §5 "Group commit", "Conflicts"; SEMANTICS.md "Writes").
//
// A commit starts at most `commit_delay` after the first change that became
// committable (not a sliding window: a steady writer still commits) and
// takes every change journaled by then whose file is not open for writing.
// Commits are paced by a per-repo budget shared by every process using the
// same cache dir (CommitBudget). A commit goes through RepoUploader: staged
// files are uploaded from their staging files (only new chunks are sent),
// renamed Hub files are re-referenced by SHA-256, deletions are per file.
// The branch moved and a touched path changed there: the change goes to a
// new pull request (its number and URL are reported), never over someone
// else's change. Failures are retried with backoff; nothing is dropped. A
// commit refused for the repo's budget (the Hub's 429, or the local budget
// file) waits what the Hub said (Retry-After + 1 s, as the Hub's own client
// does) instead of backing off, and the changes stay journaled meanwhile.
//
// Thread-safety: all methods are thread-safe. The journal is shared with
// the view: every access to it happens under `journal_mu`, never across a
// network call. Lock order: the committer's own lock, then `journal_mu`.
#ifndef HUBFS_FS_WRITE_COMMITTER_H_
#define HUBFS_FS_WRITE_COMMITTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/file_env.h"
#include "common/status.h"
#include "fs/upload/repo_uploader.h"
#include "fs/write/journal.h"

namespace hubfs::fs {

// A sliding window of commit times per repo, in a file shared (flock) by
// every process that writes the repo from this machine.
class CommitBudget {
 public:
  // `path`: the budget file (created 0600). `per_hour`: commits allowed in
  // any 3600 s.
  CommitBudget(FileEnv* env, std::string path, int per_hour);
  // Records a commit now and returns 0, or returns how long to wait before
  // one is allowed (nothing recorded). Errors: FileEnv errors; the file's
  // earlier entries survive a failed write (it is rewritten in place). The
  // committer commits anyway when the file cannot be used.
  Result<std::chrono::seconds> TryTake(int64_t now_unix);
  // The Hub refused the commit just taken (429) for `wait`: its entry is
  // given back, and no mount of the repo from this cache commits before
  // now + wait. Errors: FileEnv errors.
  Status Block(int64_t now_unix, std::chrono::seconds wait);

 private:
  FileEnv* const env_;
  const std::string path_;
  const int per_hour_;
};

// What the committer needs from the writable view.
class CommitSources {
 public:
  virtual ~CommitSources() = default;
  // The content of a staged change, read from its start; CheckUnchanged
  // fails when the file was written since it was opened.
  virtual Result<std::shared_ptr<UploadSource>> OpenStaged(const std::string& path,
                                                           const PendingChange& change) = 0;
  // The Hub's bytes of a regular (non-LFS) file, for a rename of it.
  virtual Result<std::shared_ptr<UploadSource>> OpenRemote(const std::string& path,
                                                           const RemoteFile& file) = 0;
  // Paths open for writing right now.
  virtual std::set<std::string> BusyPaths() = 0;
  // A commit landed (`commit` on `target`: the branch, or the pull request
  // of --create-pr, "refs/pr/N"), before the journal forgets its changes:
  // the view should show that commit from now on (else a name would vanish
  // between the two). Not called for a change sent to a pull request after
  // a conflict (the branch keeps upstream's version). `batch`: what it holds.
  virtual void Landed(const std::string& commit, const std::string& target,
                      const std::vector<BatchItem>& batch) = 0;
  // A commit landed (`commit` on the branch or PR), or the change went to
  // pull request `conflict_pr`. Called without `journal_mu` held, after the
  // journal recorded it.
  virtual void OnCommitted(const std::string& commit, const std::vector<BatchItem>& batch,
                           std::optional<uint64_t> conflict_pr) = 0;
};

struct CommitterOptions {
  std::chrono::milliseconds commit_delay{2000};
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{300'000};
  // --create-pr: the first commit opens a pull request; the following ones
  // go to it (its number is kept in the journal).
  bool create_pr = false;
};

struct CommitterStats {
  uint64_t commits = 0;
  uint64_t failures = 0;
  uint64_t conflict_prs = 0;
  // Files committed as edits of their Hub version with only the changed
  // bytes hashed (RepoUploader: the base's chunk list was cached).
  uint64_t edits_hashed = 0;
  // Files committed from an upload made while they were written
  // (WriteStream): nothing left to hash at their commit.
  uint64_t uploaded_while_written = 0;
  std::string last_commit;
  std::string last_error;
  std::optional<uint64_t> last_conflict_pr;
  // Commits paused for the repo's commit budget until this unix time (0:
  // not paused), and why.
  int64_t paused_until = 0;
  std::string pause_reason;
};

class WriteCommitter {
 public:
  // Everything must outlive the committer. `branch`: the view's branch.
  WriteCommitter(WriteJournal* journal, std::mutex* journal_mu, RepoUploader* uploader,
                 CommitSources* sources, CommitBudget* budget, hub::RepoId repo,
                 std::string branch, Clock* clock, CommitterOptions options);
  // Stops the thread; what is pending stays in the journal.
  ~WriteCommitter();

  void Start();
  // Something was journaled (a closed file, an unlink, a rename...).
  void Notify();
  // Waits until the change journaled for `path` at or before `seq` is on
  // the Hub (path empty: every change at or before `seq`), starting a commit
  // at once. Errors: kTimeout (it stays journaled), kConflict (it went to a
  // pull request; the message names it).
  Status WaitCommitted(const std::string& path, uint64_t seq, std::chrono::milliseconds timeout);
  // Stops taking new batches after committing what is pending, within
  // `timeout`; returns the number of changes left in the journal.
  size_t Shutdown(std::chrono::milliseconds timeout);

  CommitterStats stats() const;
  // Where commits go now: the branch, or refs/pr/N.
  std::string target() const;

 private:
  void Run();
  // One batch: takes, uploads, commits, records. Returns false when there
  // was nothing to do.
  bool CommitOnce(Status* error);
  bool DoneLocked(const std::string& path, uint64_t seq) const;
  // Waits `wait` (interrupted only by a stop) after a failed commit.
  void SleepUnlessStopped(std::chrono::milliseconds wait);

  WriteJournal* const journal_;
  std::mutex* const journal_mu_;
  RepoUploader* const uploader_;
  CommitSources* const sources_;
  CommitBudget* const budget_;
  const hub::RepoId repo_;
  const std::string branch_;
  Clock* const clock_;
  const CommitterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;                             // GUARDED_BY(mu_)
  int waiters_ = 0;                               // GUARDED_BY(mu_): fsync/sync waiting: commit now
  std::optional<Clock::TimePoint> first_notify_;  // GUARDED_BY(mu_)
  // path -> (PR, seq of the change that went there)
  std::map<std::string, std::pair<uint64_t, uint64_t>> conflicted_;  // GUARDED_BY(mu_)
  CommitterStats stats_;                          // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_COMMITTER_H_
