// InodeTable: inode numbers for (view, path) pairs, alive while the kernel
// holds a lookup reference (design §3; passthrough_hp's rule: an inode lives
// exactly as long as its lookup count). The root of each view is pinned.
//
// A (view, path) whose content changed (a different git oid) gets a new
// inode number; the old one stays valid for whoever still holds it until the
// kernel forgets it.
//
// Thread-safety: all methods are thread-safe (one internal mutex, never held
// while calling out).
#ifndef HUBFS_FS_VFS_INODE_TABLE_H_
#define HUBFS_FS_VFS_INODE_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fs/vfs_types.h"

namespace hubfs::fs {

// What a tree listing says about one entry. Immutable once built.
struct NodeMeta {
  bool is_dir = false;
  uint64_t size = 0;
  std::string oid;                      // git blob or tree id
  std::optional<std::string> xet_hash;  // 64 hex
  std::optional<std::string> sha256;    // LFS oid
  // The commit whose listing said this ("" for roots and synthetic
  // directories): a file opened through this entry is read at this commit,
  // whatever the view shows by then.
  std::string commit;
};

struct InodeInfo {
  uint64_t ino = 0;
  uint32_t view = 0;
  std::string path;  // repo path ("" for a repo root)
  std::shared_ptr<const NodeMeta> meta;
};

class InodeTable {
 public:
  // At most `max_inodes` live inodes (pinned roots included).
  explicit InodeTable(size_t max_inodes);

  // Adds a pinned inode (never forgotten) for (view, path). Returns its ino.
  uint64_t AddRoot(uint32_t view, std::string path, std::shared_ptr<const NodeMeta> meta);

  // Returns the inode of (view, path) with one more lookup reference,
  // creating it if needed (or a fresh one if the existing one's oid differs
  // from meta's). Errors: kNoSpace when the table is full.
  VfsResult<uint64_t> Ref(uint32_t view, const std::string& path,
                          std::shared_ptr<const NodeMeta> meta);

  // Drops `n` lookup references; the inode is removed at zero. Unknown inodes
  // are ignored (the kernel may forget what a restart never knew). Returns
  // the view of the inode when it was removed.
  std::optional<uint32_t> Forget(uint64_t ino, uint64_t n);

  // Errors: kNoEntry for an unknown inode.
  VfsResult<InodeInfo> Get(uint64_t ino) const;

  // The live inode of (view, path), or 0 (no reference taken).
  uint64_t Find(uint32_t view, const std::string& path) const;

  // Names of the live inodes directly under directory `dir` of `view`.
  std::vector<std::string> ChildNames(uint32_t view, const std::string& dir) const;

  size_t size() const;
  // Live inodes of `view` (pinned ones included).
  size_t CountInView(uint32_t view) const;
  size_t max_inodes() const { return max_inodes_; }

 private:
  struct Node {
    InodeInfo info;
    uint64_t nlookup = 0;
    bool pinned = false;
  };
  using Key = std::pair<uint32_t, std::string>;

  const size_t max_inodes_;
  mutable std::mutex mu_;
  uint64_t next_ino_ = 1;                           // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, Node> nodes_;        // GUARDED_BY(mu_)
  std::map<Key, uint64_t> by_path_;                 // GUARDED_BY(mu_)
  std::unordered_map<uint32_t, size_t> per_view_;   // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_INODE_TABLE_H_
