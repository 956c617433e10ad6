// WriterSet: the writable views of one mount (design §5), one WritableView
// per (repo, branch) written. A single-branch mount opens its one view at
// mount; a --revisions or hub mount opens a branch's view the first time
// something is written under one of its directories, or at mount when the
// cache dir holds a journal of it with pending changes (Resume). Alias
// directories of one branch (main/ and refs/heads/main/) share its view.
//
// Each view keeps its journal in its own directory (journal_dir(repo,
// branch)), with a `target` file naming the endpoint, repo and branch so
// that a later mount finds it; all views of a repo share the repo's commit
// budget file. Views stay open until the set is destroyed.
//
// A repo the token may not write is remembered for kDeniedFor: writes to it
// answer kPermissionDenied without asking the Hub again, and it is logged
// once per such period.
//
// Thread-safety: thread-safe. No lock is held across a network call or a
// journal open; opening one view waits for another open of the same view.
#ifndef HUBFS_FS_WRITE_WRITER_SET_H_
#define HUBFS_FS_WRITE_WRITER_SET_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/file_env.h"
#include "common/status.h"
#include "fs/write/writable_view.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

struct WriterSetHooks {
  // Where the journal of (repo, branch) lives, and the repo's budget file.
  std::function<std::string(const hub::RepoId&, const std::string& branch)> journal_dir;
  std::function<std::string(const hub::RepoId&)> budget_path;
  // Whether the token may write the branch (asks the Hub). Errors:
  // kPermissionDenied / kUnauthenticated (no write access), others
  // (unreachable: not remembered).
  std::function<Status(const hub::RepoId&, const std::string& branch)> check_access;
  // Readers of the Hub's bytes of the repo's files, for the branch's view.
  std::function<BaseReaderFactory(const hub::RepoId&, const std::string& branch)> base_readers;
  // Called once per view as it opens, before its committer starts (the
  // VFS core sets its commit listener here).
  std::function<void(const hub::RepoId&, const std::string& branch, WritableView*)> on_open;
  // Called after a view opened, once All() lists it (the mount's record).
  std::function<void()> on_opened;
};

// What a journal's `target` file names.
struct JournalTarget {
  std::string endpoint;
  hub::RepoId repo;
  std::string branch;
};

class WriterSet {
 public:
  static constexpr std::chrono::seconds kDeniedFor{60};

  // `root`: the directory holding the journals (created if missing).
  // Everything must outlive the set.
  WriterSet(FileEnv* env, RepoUploader* uploader, Clock* clock, std::string root,
            std::string endpoint, WritableViewOptions options, WriterSetHooks hooks);
  // Stops every committer; what is pending stays journaled.
  ~WriterSet();
  WriterSet(const WriterSet&) = delete;
  WriterSet& operator=(const WriterSet&) = delete;

  // Sets hooks.on_open after construction (for views opened from now on).
  void SetOnOpen(std::function<void(const hub::RepoId&, const std::string&, WritableView*)> f);

  // The open view of (repo, branch), or nullptr.
  WritableView* Find(const hub::RepoId& repo, const std::string& branch) const;
  // The view of (repo, branch), opened when missing: access checked (when
  // `check_access`), journal opened, based on `base_commit` if nothing is
  // pending, committer started. Errors: kPermissionDenied (no write
  // access), kFailedPrecondition (another mount holds the journal), those
  // of WritableView::Open and of the access check.
  Result<WritableView*> Open(const hub::RepoId& repo, const std::string& branch,
                             const std::string& base_commit, bool check_access);
  // Opens every journal under the root of this endpoint whose repo `want`
  // accepts and that has pending changes (no access check: the earlier
  // mount had it). Returns the number of views opened; failures are logged.
  size_t Resume(const std::function<bool(const hub::RepoId&)>& want);
  // The same for the journals of `repo`'s `branches` at journal_dir (those
  // of mounts older than the target file have none).
  size_t ResumeBranches(const hub::RepoId& repo, const std::vector<std::string>& branches);

  struct Entry {
    hub::RepoId repo;
    std::string branch;
    WritableView* view;
  };
  // Every open view, by (repo, branch).
  std::vector<Entry> All() const;
  // `hubfs sync`: every view's journaled changes are on the Hub. Returns
  // the first error.
  Status SyncAll(std::chrono::milliseconds timeout);
  // Commits what is pending in every view (in parallel) within `timeout`
  // and stops them; returns the number of changes left journaled.
  size_t Shutdown(std::chrono::milliseconds timeout);

  // The journal's `target` file: written by Open, read by Resume.
  static Status WriteTarget(FileEnv* env, const std::string& dir, const JournalTarget& target);
  static Result<JournalTarget> ReadTarget(FileEnv* env, const std::string& dir);

 private:
  using Key = std::pair<std::string, std::string>;  // (repo as typed, branch)
  static Key KeyOf(const hub::RepoId& repo, const std::string& branch);

  FileEnv* const env_;
  RepoUploader* const uploader_;
  Clock* const clock_;
  const std::string root_;
  const std::string endpoint_;
  const WritableViewOptions options_;
  WriterSetHooks hooks_;  // on_open GUARDED_BY(mu_)

  mutable std::mutex mu_;
  std::condition_variable opened_;  // an open ended
  std::map<Key, std::unique_ptr<WritableView>> views_;  // GUARDED_BY(mu_)
  std::map<Key, hub::RepoId> repos_;                     // GUARDED_BY(mu_)
  std::set<Key> opening_;                                // GUARDED_BY(mu_)
  // Repos without write access, until when (ToString -> time).
  std::map<std::string, Clock::TimePoint> denied_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_WRITER_SET_H_
