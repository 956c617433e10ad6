// RefsCache: each repo's refs list (its revisions directory), fetched at
// most once per metadata_ttl and shared by every revision view of the repo.
// A missing or refused repo is remembered for the TTL (a negative entry);
// other failures keep what was known. When a list changes, the names the
// kernel may hold in the revisions directories are queued for invalidation.
//
// Thread-safety: thread-safe. One fetch per repo at a time; no lock is held
// across the source. Lock order: mu_, then the inode table's.
#ifndef HUBFS_FS_VFS_REFS_CACHE_H_
#define HUBFS_FS_VFS_REFS_CACHE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "fs/content/lru_map.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/inode_table.h"
#include "fs/vfs/invalidation_queue.h"
#include "fs/vfs/refs_tree.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

// The view id of synthetic directories (a multi-revision mount's tree).
inline constexpr uint32_t kTreeView = 0;

// The synthetic path of a repo's directory: "" when the mount root is the
// repo's revisions directory, "models/ns/name" in a hub mount.
std::string RepoDirPath(const VfsLayout& layout, const hub::RepoId& repo);

class RefsCache {
 public:
  // Everything must outlive the cache. `layout` places the revisions
  // directories whose names are invalidated (nullptr: nothing is shown).
  RefsCache(RepoSource* source, InodeTable* inodes, InvalidationQueue* invalidations,
            const VfsLayout* layout, const VfsOptions& options, const Clock* clock);

  // The repo's refs, fetched when missing or older than metadata_ttl (then
  // kWouldBlock unless may_block). Errors: kNoEntry, kAccess, the source's.
  VfsResult<std::shared_ptr<const RefsTree>> Get(const hub::RepoId& repo, bool may_block)
      EXCLUDES(mu_);
  // The next Get of `repo` fetches the list again (a commit of ours moved
  // one of its branches).
  void Expire(const hub::RepoId& repo) EXCLUDES(mu_);

 private:
  // One repo's list. Its fields are guarded by mu_ (the analysis cannot
  // follow the shared pointer).
  struct RepoState {
    std::shared_ptr<const RefsTree> refs;  // nullptr until fetched
    std::optional<VfsError> error;         // kNoEntry / kAccess, until next_check
    Clock::TimePoint next_check;
    bool refreshing = false;
  };

  // What the kernel may hold that changed between two lists.
  std::vector<VfsInvalidation> Diff(const std::string& repo_path, const RefsTree* before,
                                    const RefsTree* after) const;

  RepoSource* const source_;
  InodeTable* const inodes_;
  InvalidationQueue* const invalidations_;
  const VfsLayout* const layout_;
  const Clock::Duration ttl_;
  const Clock* const clock_;

  Mutex mu_;
  CondVar refreshed_;  // a fetch ended
  LruMap<std::string, std::shared_ptr<RepoState>> repos_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_REFS_CACHE_H_
