// Listing: one directory's children as the core shows them, and the bounded
// cache of listings shared by every view. A listing is addressed by (repo,
// commit, directory), so it never changes once fetched.
//
// Thread-safety: Listing is immutable once built; ListingCache is
// thread-safe (one internal mutex, never held across the source).
#ifndef HUBFS_FS_VFS_LISTING_H_
#define HUBFS_FS_VFS_LISTING_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "fs/content/lru_map.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/inode_table.h"
#include "fs/vfs/refs_tree.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

struct Child {
  std::string name;
  std::shared_ptr<const NodeMeta> meta;
  // Synthetic directories only: the revision this entry shows (nullptr for
  // a directory of names).
  std::shared_ptr<const RefTarget> target;
};

// A directory's children sorted by name, names unique. Immutable once built.
struct Listing {
  std::vector<Child> children;
  const Child* Find(std::string_view name) const;
  // Sorts the children by name and drops repeated names (the first stays).
  void SortAndDedup();
};

// `dir` + "/" + `name` ("" is the repo root).
std::string ChildPath(const std::string& dir, std::string_view name);

class ListingCache {
 public:
  // `source` must outlive the cache. REQUIRES: capacity > 0.
  ListingCache(RepoSource* source, size_t capacity);

  // The cached listing of `dir` at `commit`, or nullptr.
  std::shared_ptr<const Listing> Cached(const hub::RepoId& repo, const std::string& commit,
                                        const std::string& dir) EXCLUDES(mu_);
  // Stores `listing` as the listing of `dir` at `commit`.
  void Put(const hub::RepoId& repo, const std::string& commit, const std::string& dir,
           std::shared_ptr<const Listing> listing) EXCLUDES(mu_);
  // Lists `dir` at `commit` through the source (blocks on the network) and
  // caches the answer. Errors: the source's, as a VfsError.
  VfsResult<std::shared_ptr<const Listing>> Fetch(const hub::RepoId& repo,
                                                  const std::string& commit,
                                                  const std::string& dir) EXCLUDES(mu_);

 private:
  static std::string Key(const hub::RepoId& repo, const std::string& commit,
                         const std::string& dir);

  RepoSource* const source_;
  Mutex mu_;
  LruMap<std::string, std::shared_ptr<const Listing>> listings_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_LISTING_H_
