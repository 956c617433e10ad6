// InodeTable: inode numbers and the (view, path) names they go by, alive
// while the kernel holds a lookup reference (design §3; passthrough_hp's
// rule: an inode lives exactly as long as its lookup count). The root of
// each view is pinned.
//
// Identity is the inode number, not the name. A name whose content changed
// on the Hub (Ref with a different git oid) gets a new inode number; the old
// one stays valid, unnamed, for whoever still holds it until the kernel
// forgets it. A change made through the mount keeps the number instead:
// Update gives an inode new content, Rename moves an inode (and, for a
// directory, every live inode under it) to another name.
//
// Thread-safety: all methods are thread-safe (one internal mutex, never held
// while calling out; callers may hold their own locks when calling in).
#ifndef HUBFS_FS_VFS_INODE_TABLE_H_
#define HUBFS_FS_VFS_INODE_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "fs/vfs/vfs_types.h"

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
  // Where the bytes are at `commit`, when not at the inode's own path (a
  // file renamed in a writable view, not yet committed).
  std::string source_path;
};

// What a writable view shows for a file or directory changed here, not on
// the Hub (yet): its NodeMeta carries one of these oids.
inline constexpr char kLocalFileOid[] = "local";
inline constexpr char kLocalDirOid[] = "local-dir";
inline bool IsLocalMeta(const NodeMeta& m) {
  return m.oid == kLocalFileOid || m.oid == kLocalDirOid;
}

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
  uint64_t AddRoot(uint32_t view, std::string path, std::shared_ptr<const NodeMeta> meta)
      EXCLUDES(mu_);

  // Returns the inode of (view, path) with one more lookup reference,
  // creating it if needed (or a fresh one if the existing file's oid differs
  // from meta's, or a file became a directory or the other way round; a
  // directory keeps its number and takes the new meta). Errors: kNoSpace
  // when the table is full.
  VfsResult<uint64_t> Ref(uint32_t view, const std::string& path,
                          std::shared_ptr<const NodeMeta> meta) EXCLUDES(mu_);

  // Gives inode `ino` new content under the same number and name (a local
  // edit). Errors: kNoEntry for an unknown inode.
  VfsStatus Update(uint64_t ino, std::shared_ptr<const NodeMeta> meta) EXCLUDES(mu_);

  // Moves the live inode named `from` in `view` to the name `to`, with every
  // live inode under `from` when it is a directory; all keep their numbers
  // and lookup counts. An inode named `to` before loses its name (it lives
  // on, unnamed, for its holders). Errors: kNoEntry when `from` names no live
  // inode, kInvalid when `to` is `from` or lies under it, or `from` is a root.
  VfsStatus Rename(uint32_t view, const std::string& from, const std::string& to) EXCLUDES(mu_);

  // The inode named `path` in `view` loses its name (an unlink): it lives on,
  // unnamed, for its holders, and a new file at the name gets a new number.
  void Unname(uint32_t view, const std::string& path) EXCLUDES(mu_);
  // Drops `n` lookup references; the inode is removed at zero. Unknown inodes
  // are ignored (the kernel may forget what a restart never knew). Returns
  // the view of the inode when it was removed.
  std::optional<uint32_t> Forget(uint64_t ino, uint64_t n) EXCLUDES(mu_);

  // Errors: kNoEntry for an unknown inode.
  VfsResult<InodeInfo> Get(uint64_t ino) const EXCLUDES(mu_);

  // The live inode of (view, path), or 0 (no reference taken).
  uint64_t Find(uint32_t view, const std::string& path) const EXCLUDES(mu_);

  // Names of the live inodes directly under directory `dir` of `view`.
  std::vector<std::string> ChildNames(uint32_t view, const std::string& dir) const
      EXCLUDES(mu_);

  size_t size() const EXCLUDES(mu_);
  // Live inodes of `view` (pinned ones included).
  size_t CountInView(uint32_t view) const EXCLUDES(mu_);
  size_t max_inodes() const { return max_inodes_; }

 private:
  struct Node {
    InodeInfo info;
    uint64_t nlookup = 0;
    bool pinned = false;
  };
  using Key = std::pair<uint32_t, std::string>;

  // Drops the name `key` from whichever inode holds it.
  void UnnameLocked(const Key& key) REQUIRES(mu_);

  const size_t max_inodes_;
  mutable Mutex mu_;
  uint64_t next_ino_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Node> nodes_ GUARDED_BY(mu_);
  std::map<Key, uint64_t> by_path_ GUARDED_BY(mu_);
  std::unordered_map<uint32_t, size_t> per_view_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_INODE_TABLE_H_
