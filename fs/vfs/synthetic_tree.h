// SyntheticTree: the directories a multi-revision mount makes up - a hub
// mount's type and namespace directories, a repo's revisions directory laid
// out by its RefsTree - and the revision views created on lookup (design §1).
//
//   hub mount:        models/ datasets/ spaces/ -> NS/ -> REPO/ -> revisions
//   --revisions:      the root is one repo's revisions directory
//
// A namespace directory lists the author's repos (fetched at most once per
// metadata_ttl) and the names looked up in it; a type directory lists the
// namespaces looked up. Both are bounded.
//
// Thread-safety: thread-safe. Lock order: mu_ is a leaf (never held while
// calling the views, the refs cache or the source).
#ifndef HUBFS_FS_VFS_SYNTHETIC_TREE_H_
#define HUBFS_FS_VFS_SYNTHETIC_TREE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "fs/content/lru_map.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/inode_table.h"
#include "fs/vfs/listing.h"
#include "fs/vfs/refs_cache.h"
#include "fs/vfs/view_set.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

class SyntheticTree {
 public:
  // Everything must outlive the tree.
  SyntheticTree(const VfsLayout& layout, RepoSource* source, InodeTable* inodes, ViewSet* views,
                RefsCache* refs, const VfsOptions& options, const Clock* clock);

  // Lists the root so that a missing repo fails before anything is mounted
  // (kRevisions: fetches the refs; kHub: nothing). Errors: as Lookup.
  VfsStatus CheckRoot();

  // The entry `name` of synthetic directory `dir`, with one more lookup
  // reference: a synthetic directory or a revision view's root. Errors:
  // kNoEntry, kWouldBlock, kNoSpace, kAccess, the source's.
  VfsResult<InodeInfo> Lookup(const InodeInfo& dir, std::string_view name, bool may_block);
  // The same for an entry of a listing taken by List (readdirplus), without
  // the network: a revision's view starts at the commit the listing saw.
  VfsResult<InodeInfo> LookupListed(const std::string& dir, const Child& child);
  // The children of synthetic directory `path`. Errors: kNoEntry,
  // kWouldBlock, the refs' errors.
  VfsResult<std::shared_ptr<const Listing>> List(const std::string& path, bool may_block);

  const VfsLayout& layout() const { return layout_; }

 private:
  // Where a synthetic path is.
  struct TreePos {
    enum class Kind { kHubRoot, kType, kNamespace, kRepo } kind = Kind::kHubRoot;
    hub::RepoType type = hub::RepoType::kModel;
    std::string ns;
    hub::RepoId repo;        // kRepo
    std::string repo_path;   // kRepo: the synthetic path of the repo directory
    std::string refs_path;   // kRepo: the directory inside the RefsTree
  };
  // Names remembered in a directory (looked up but maybe not listed), the
  // oldest forgotten beyond a bound. Not thread-safe.
  class NameSet {
   public:
    void Add(const std::string& name, size_t max);
    std::vector<std::string> Names() const;

   private:
    uint64_t next_ = 0;
    std::map<std::string, uint64_t> seq_;
  };
  // A namespace's repo names. Fields guarded by mu_ (shared by pointer).
  struct NamespaceState {
    std::shared_ptr<const std::vector<std::string>> listed;  // repo names
    Clock::TimePoint next_check;
    bool refreshing = false;
  };

  std::optional<TreePos> Parse(const std::string& path) const;
  // A reference on synthetic directory `path`.
  VfsResult<InodeInfo> RefDir(const std::string& path);
  // A reference on the root of the revision view at synthetic path `path`
  // showing `target` (a ref, or a commit sha when `immutable`). With `check`
  // (a lookup) its subfolder is checked first and, with may_block, its date
  // fetched.
  VfsResult<InodeInfo> RefRevision(const hub::RepoId& repo, const std::string& path,
                                   const RefTarget& target, bool immutable,
                                   std::optional<RevisionInfo> resolved, bool check,
                                   bool may_block);
  // Any commit of the repo by its sha (not listed, immutable).
  VfsResult<InodeInfo> LookupSha(const TreePos& pos, const std::string& path,
                                 std::string_view name, bool may_block);
  void Remember(const std::string& dir, const std::string& name) EXCLUDES(mu_);
  std::vector<std::string> Remembered(const std::string& dir) EXCLUDES(mu_);
  // The author's repo names (fetched at most once per TTL) and those looked
  // up; a failed listing shows the latter only.
  VfsResult<std::vector<std::string>> NamespaceNames(const TreePos& pos, const std::string& path,
                                                     bool may_block) EXCLUDES(mu_);

  const VfsLayout layout_;
  RepoSource* const source_;
  InodeTable* const inodes_;
  ViewSet* const views_;
  RefsCache* const refs_;
  const VfsOptions options_;
  const Clock::Duration ttl_;
  const Clock* const clock_;

  Mutex mu_;
  CondVar refreshed_;  // a namespace listing ended
  LruMap<std::string, std::shared_ptr<NamespaceState>> namespaces_ GUARDED_BY(mu_);
  // Namespaces looked up per type ("models"), repos per namespace ("models/ns").
  std::map<std::string, NameSet> remembered_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_SYNTHETIC_TREE_H_
