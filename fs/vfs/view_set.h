// ViewSet: the live views of a mount and their refresh. A view is one
// revision of one repo as a directory tree; a single-revision mount has one
// (id 0, its root the mount root), a multi-revision mount creates one per
// revision directory looked up and drops it once the kernel forgot all its
// inodes, no handle is open in it and no lookup is creating its root.
//
// Branch and tag views follow their head: once metadata_ttl has passed since
// the last resolution the view is due, and the next Refresh re-resolves it
// (through the repo's refs list for views made from one). A failed
// resolution keeps the current commit and is retried after another TTL.
// Commit-sha views never re-resolve. When a view moves, what the kernel may
// hold that changed is queued for invalidation.
//
// Thread-safety: thread-safe. Lock order: mu_, then a View's mu, then the
// inode table's lock; no lock is held across the source.
#ifndef HUBFS_FS_VFS_VIEW_SET_H_
#define HUBFS_FS_VFS_VIEW_SET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/inode_table.h"
#include "fs/vfs/invalidation_queue.h"
#include "fs/vfs/listing.h"
#include "fs/vfs/refs_cache.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

// One revision of one repo as a directory tree.
struct View {
  View(uint32_t id_in, ViewSpec spec_in, bool by_ref_in, std::string key_in)
      : id(id_in), spec(std::move(spec_in)), by_ref(by_ref_in), key(std::move(key_in)) {}

  const uint32_t id;
  const ViewSpec spec;
  // Resolved through the repo's refs list (spec.revision is a full ref)
  // rather than by asking the Hub for the revision.
  const bool by_ref;
  const std::string key;  // in the set's index ("" for a single view)

  RevisionInfo Current() const EXCLUDES(mu) {
    MutexLock lock(&mu);
    return current;
  }

  mutable Mutex mu;
  CondVar refreshed;  // `refreshing` became false
  RevisionInfo current GUARDED_BY(mu);
  bool date_known GUARDED_BY(mu) = true;  // false: current.commit_time still to be fetched
  Clock::TimePoint next_check GUARDED_BY(mu);
  bool refreshing GUARDED_BY(mu) = false;
  // Directories listed at `current` (the kernel may know their entries).
  std::set<std::string> listed_dirs GUARDED_BY(mu);
  // The revision followed instead of spec.revision ("" = spec.revision):
  // the pull request a --create-pr mount commits to.
  std::string follow GUARDED_BY(mu);
  size_t handles GUARDED_BY(mu) = 0;  // open file and directory handles
  size_t pins GUARDED_BY(mu) = 0;     // lookups under way that may create its root inode
};

class ViewSet {
 public:
  // Everything must outlive the set. `multi`: views come and go (a
  // multi-revision mount); otherwise the one view never goes.
  ViewSet(RepoSource* source, InodeTable* inodes, ListingCache* listings, RefsCache* refs,
          InvalidationQueue* invalidations, const VfsOptions& options, const Clock* clock,
          bool multi);

  // A single-revision mount's view (id 0).
  void AddRoot(std::shared_ptr<View> view) EXCLUDES(mu_);
  // The view `id`, or nullptr once dropped.
  std::shared_ptr<View> Get(uint32_t id) const EXCLUDES(mu_);
  // Live views (a single-revision mount: 1).
  size_t size() const EXCLUDES(mu_);
  // Every live view (a multi-revision mount: not the synthetic tree's).
  std::vector<std::shared_ptr<View>> Live() const EXCLUDES(mu_);

  // The view indexed as `key`, created by `make(id)` when missing, with one
  // more pin (Unpin when its root inode exists or the lookup failed). A
  // branch view that shows another commit than `commit` (what the refs list
  // says now) is due at once.
  std::shared_ptr<View> Pin(const std::string& key, const std::string& commit,
                            const std::function<std::shared_ptr<View>(uint32_t id)>& make)
      EXCLUDES(mu_);
  void Unpin(const std::shared_ptr<View>& view) EXCLUDES(mu_);
  // The commit the view indexed as `key` shows, if it is live.
  std::optional<RevisionInfo> CurrentOf(const std::string& key) const EXCLUDES(mu_);

  // A handle was opened in view `id` (false: the view is gone) / closed.
  bool AddHandle(uint32_t id) EXCLUDES(mu_);
  void ReleaseHandle(uint32_t id) EXCLUDES(mu_);
  // Drops view `id` when nothing refers to it any more (after a forget).
  void DropIfUnused(uint32_t id) EXCLUDES(mu_);

  // The listing of directory `path` of the view at its current commit (or
  // at `commit`), from the cache or, when may_block, the source; kWouldBlock
  // otherwise. Errors: the source's.
  VfsResult<std::shared_ptr<const Listing>> GetListing(View& view, const std::string& path,
                                                       bool may_block);
  VfsResult<std::shared_ptr<const Listing>> GetListingAt(View& view, const std::string& commit,
                                                         const std::string& path, bool may_block);

  // Due: the view's TTL has passed (or its date is unknown) and no refresh
  // runs. Pending: due, or a refresh runs on another thread.
  bool RefreshDue(const View& view) const;
  // Makes the view due now (a commit of ours landed on its branch).
  void MarkDue(View& view);
  // Whether the kernel shows file `path` of `view` as it should at `commit`
  // already (a file written through this mount: pending, or landed in that
  // commit): a move to `commit` leaves its entry alone, and with it the
  // pages the kernel holds. Set once, before any refresh.
  using ShowsAlready =
      std::function<bool(const View& view, const std::string& path, const std::string& commit)>;
  void SetShowsAlready(ShowsAlready shows) { shows_already_ = std::move(shows); }
  bool RefreshPending(const View& view) const;
  // Re-resolves the view if due (blocks on the network). On a move only the
  // view's root and `need_dir` (the directory the triggering request lists,
  // if any) are fetched at the new commit. Returns true when the view moved.
  bool Refresh(View& view, const std::string* need_dir = nullptr);
  // Refreshes when pending before a request is answered: with may_block,
  // waits for the refresh; kWouldBlock without.
  VfsStatus MaybeRefresh(View& view, bool may_block, const std::string* need_dir = nullptr);

 private:
  bool Follows(const View& view) const;
  void DropIfUnusedLocked(uint32_t id) REQUIRES(mu_);
  // The commit the view should show now (the refresh's network part).
  Result<RevisionInfo> Resolve(const View& view, const RevisionInfo& old, bool date_known);
  // What the kernel may hold under `dirs` that differs between the commits.
  std::vector<VfsInvalidation> DiffListedDirs(View& view, const std::set<std::string>& dirs,
                                              const std::string& old_commit,
                                              const std::string& new_commit,
                                              const std::string* need_dir);
  // True when directory `dir`'s tree oid is the same at both commits (its
  // parent's listings at both are known): its listing then serves the new
  // commit too and is recorded in `known_now`.
  bool SameTree(View& view, const std::string& dir, const std::string& old_commit,
                const std::string& new_commit,
                std::map<std::string, std::shared_ptr<const Listing>>* known_now);

  RepoSource* const source_;
  InodeTable* const inodes_;
  ListingCache* const listings_;
  RefsCache* const refs_;
  InvalidationQueue* const invalidations_;
  const Clock::Duration ttl_;
  const Clock* const clock_;
  const bool multi_;
  ShowsAlready shows_already_;

  mutable Mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<View>> views_ GUARDED_BY(mu_);
  std::map<std::string, uint32_t> view_ids_ GUARDED_BY(mu_);
  uint32_t next_view_ GUARDED_BY(mu_) = 1;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_VIEW_SET_H_
