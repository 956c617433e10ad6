// VfsCore: the kernel-free filesystem (design §1, §3, §6). It answers the
// questions FUSE asks - lookup, getattr, open, read, readdir, xattrs,
// statfs - in our own types, so unit tests call it directly and the FUSE
// adapter only translates. Everything it shows is read-only.
//
// A view is one revision of one repo (commit sha + date, optional
// subfolder). A single-revision mount has one view whose root is the mount
// root. A --revisions mount (VfsLayout::kRevisions) and a hub mount
// (VfsLayout::kHub) show synthetic directories - the hub's type and
// namespace directories, a repo's revisions laid out by RefsTree - and one
// view per revision directory looked up, created on lookup and dropped once
// the kernel forgot all its inodes and no handle is open in it. Directory
// listings come from the RepoSource, one per directory, cached per (repo,
// commit, dir) and shared by all views; a name missing from a cached listing
// is a cached negative entry. Refs lists and namespace listings are cached
// for metadata_ttl; all these caches are bounded.
//
// Blocking: methods taking `may_block` never touch the network when it is
// false - they answer kWouldBlock instead, and the caller (a FUSE worker)
// retries with may_block = true on an I/O thread. Read() always may block.
//
// Thread-safety: all methods are thread-safe. Lock order: mu_, then the
// inode table's lock (which never calls out); no lock is held across a
// RepoSource call.
#ifndef HUBFS_FS_VFS_CORE_H_
#define HUBFS_FS_VFS_CORE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "fs/lru_map.h"
#include "fs/repo_source.h"
#include "fs/vfs_refs.h"
#include "fs/vfs_inode_table.h"
#include "fs/vfs_types.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

struct VfsOptions {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Kernel cache lifetimes: views of a commit sha never change; views of a
  // branch or tag re-resolve after metadata_ttl.
  double immutable_ttl_seconds = 365.0 * 24 * 3600;
  double metadata_ttl_seconds = 10;
  size_t max_inodes = 1 << 20;
  size_t max_cached_dirs = 4096;
  size_t max_open_handles = 1 << 16;
  // Multi-revision mounts: repos whose refs are kept, namespace listings
  // kept, and names remembered per type or namespace directory.
  size_t max_cached_repos = 1024;
  size_t max_cached_namespaces = 1024;
  size_t max_remembered_names = 4096;
};

// The shape of a mount with synthetic directories.
struct VfsLayout {
  enum class Kind {
    kRevisions,  // the root is `repo`'s revisions directory
    kHub,        // the root holds models/, datasets/, spaces/
  };
  Kind kind = Kind::kRevisions;
  hub::RepoId repo;        // kRevisions only
  std::string subdir;      // "" or "a/b": the root of every revision view
  int64_t mount_time = 0;  // mtime of the synthetic directories
};

// One revision of one repo as a directory tree.
struct ViewSpec {
  hub::RepoId repo;
  std::string revision;  // as the user named it (branch, tag, sha)
  RevisionInfo resolved;
  std::string subdir;    // "" or "a/b"
  // True when `revision` is a commit sha: nothing in the view can change.
  bool immutable = false;
};

// A kernel cache entry to drop after a branch view moved: the name `name`
// under directory `parent` (name non-empty), or the attributes and cached
// pages of inode `ino` (name empty).
struct VfsInvalidation {
  uint64_t parent = 0;
  std::string name;
  uint64_t ino = 0;
};

struct VfsOpenFile {
  uint64_t fh = 0;
  // The content is pinned to a (commit, oid) that the page cache already
  // holds if anything: FOPEN_KEEP_CACHE.
  bool keep_cache = false;
};

// One name in a directory listing.
struct VfsDirEntry {
  std::string name;
  bool is_dir = false;
};

struct VfsStatFs {
  uint64_t block_size = 4096;
  uint64_t blocks = 0;
  uint64_t files = 0;
  uint64_t name_max = 255;
};

class VfsCore {
 public:
  static constexpr uint64_t kRootIno = 1;

  // `source` and `clock` must outlive the core (nullptr clock = the system
  // clock). The view's root is kRootIno.
  VfsCore(RepoSource* source, ViewSpec view, VfsOptions options, const Clock* clock = nullptr);
  // A mount of synthetic directories; kRootIno is the layout's root.
  VfsCore(RepoSource* source, VfsLayout layout, VfsOptions options, const Clock* clock = nullptr);
  ~VfsCore();

  // Branch and tag views follow their head: once metadata_ttl has passed
  // since the last resolution, the next Lookup or OpenDir re-resolves the
  // revision (with may_block = false they answer kWouldBlock so that the
  // caller retries on an I/O thread). A failed resolution keeps the current
  // commit and is retried after another TTL. Commit-sha views never
  // re-resolve.
  bool RefreshDue() const;
  // Due, or a resolution under way on another thread.
  bool RefreshPending() const;
  // Re-resolves now if due (blocks on the network; no lock held across it).
  // Returns true when the view moved to another commit; what the kernel
  // should forget is then queued for TakeInvalidations().
  bool RefreshIfDue();
  // The same for the view that `ino` belongs to (false for synthetic
  // directories: their listings refresh on Lookup and OpenDir).
  bool RefreshDue(uint64_t ino) const;
  bool RefreshIfDue(uint64_t ino);
  // Called (with no core lock held) after invalidations were queued.
  void SetInvalidationListener(std::function<void()> listener);
  std::vector<VfsInvalidation> TakeInvalidations();
  // The commit the view shows now (single-revision mounts).
  RevisionInfo current() const;

  // Lists the view's root with may_block, so that a missing subfolder or
  // repo fails before anything is mounted (kRevisions: fetches the refs;
  // kHub: nothing). Errors: as Lookup.
  VfsStatus CheckRoot();

  // The entry `name` in directory `parent`, with one more lookup reference.
  // Errors: kNoEntry (also for a stale parent, a missing repo or revision),
  // kNotDir, kWouldBlock, kNoSpace (inode table full), kAccess (a repo the
  // Hub refuses), the source's errors.
  VfsResult<VfsEntry> Lookup(uint64_t parent, std::string_view name, bool may_block);

  // How long the kernel may cache the answer "no such name" under `parent`.
  double NegativeTimeout(uint64_t parent) const;

  // Drops lookup references (FUSE forget).
  void Forget(uint64_t ino, uint64_t nlookup);

  // Errors: kNoEntry.
  VfsResult<VfsAttr> GetAttr(uint64_t ino) const;
  double AttrTimeout(uint64_t ino) const;
  // True when directory `ino` can never change (a commit-sha view): the
  // kernel may keep its readdir pages.
  bool DirImmutable(uint64_t ino) const;

  // Opens a file for reading; the handle pins its content. `write` = any
  // write access asked for. Errors: kNoEntry, kIsDir, kReadOnly, kNoSpace.
  VfsResult<VfsOpenFile> Open(uint64_t ino, bool write);
  // Reads through the source (may block). Short only at the end of file.
  // Errors: kBadHandle, the source's errors.
  VfsResult<size_t> Read(uint64_t fh, uint64_t offset, std::span<uint8_t> out);
  void Release(uint64_t fh);

  // Opens a directory: takes a snapshot of its listing. Errors: kNoEntry,
  // kNotDir, kWouldBlock, kNoSpace, the source's errors.
  VfsResult<uint64_t> OpenDir(uint64_t ino, bool may_block);
  // Entry `index` of an open directory, or nullopt past the end.
  // Errors: kBadHandle.
  VfsResult<std::optional<VfsDirEntry>> DirEntryAt(uint64_t dh, size_t index) const;
  // Lookup of entry `index` of an open directory (readdirplus): one more
  // lookup reference on success. Errors: kBadHandle, kNoSpace.
  VfsResult<VfsEntry> LookupDirEntryAt(uint64_t dh, size_t index);
  void ReleaseDir(uint64_t dh);

  // Extended attributes under user.hf.: the value, or kNoAttr / kNoEntry.
  VfsResult<std::string> GetXattr(uint64_t ino, std::string_view name) const;
  // Names present on `ino`. Errors: kNoEntry.
  VfsResult<std::vector<std::string>> ListXattr(uint64_t ino) const;

  VfsStatFs StatFs() const;

  // The single view (for a multi-revision mount: only the repo is set).
  const ViewSpec& view() const { return root_view_->spec; }
  size_t inode_count() const { return inodes_.size(); }
  // Live revision views (for tests and statistics).
  size_t view_count() const;

 private:
  struct Child {
    std::string name;
    std::shared_ptr<const NodeMeta> meta;
    // Synthetic directories only: the revision this entry shows (nullptr for
    // a directory of names).
    std::shared_ptr<const RefTarget> target;
  };
  // A directory's children sorted by name. Immutable once built.
  struct Listing {
    std::vector<Child> children;
    const Child* Find(std::string_view name) const;
  };
  struct DirHandle {
    uint32_t view = 0;
    std::string path;
    std::shared_ptr<const Listing> listing;
  };
  struct FileHandle {
    uint32_t view = 0;
    FileContent content;
  };
  // One revision as a directory tree. `spec` and `id` never change; the rest
  // is GUARDED_BY(mu_).
  struct View {
    uint32_t id = 0;
    ViewSpec spec;
    // Resolved through the repo's refs list (spec.revision is a full ref)
    // rather than by asking the Hub for the revision.
    bool by_ref = false;
    std::string key;  // in view_ids_
    RevisionInfo current;
    bool date_known = true;  // false: current.commit_time still to be fetched
    Clock::TimePoint next_check;
    bool refreshing = false;
    // Directories listed at `current` (the kernel may know their entries).
    std::set<std::string> listed_dirs;
    size_t handles = 0;  // open file and directory handles
    size_t pins = 0;     // lookups under way that may create its root inode
  };
  // A repo's refs list, fetched at most once per metadata_ttl. GUARDED_BY(mu_).
  struct RepoState {
    std::shared_ptr<const RefsTree> refs;  // nullptr until fetched
    std::optional<VfsError> error;         // kNoEntry / kAccess, until next_check
    Clock::TimePoint next_check;
    bool refreshing = false;
  };
  // A hub namespace directory. GUARDED_BY(mu_).
  struct NamespaceState {
    std::shared_ptr<const std::vector<std::string>> listed;  // repo names
    Clock::TimePoint next_check;
    bool refreshing = false;
  };
  // Where a synthetic path is (see ParseTreePath).
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

  bool multi() const { return layout_.has_value(); }
  bool IsSynthetic(const InodeInfo& info) const { return multi() && info.view == kTreeView; }
  std::shared_ptr<View> GetView(uint32_t id) const;
  void MakeView(std::shared_ptr<View> view);  // REQUIRES: mu_ held
  // Drops `id` when nothing refers to it. REQUIRES: mu_ held.
  void DropViewIfUnusedLocked(uint32_t id);
  // A file or directory handle of view `id` was closed. REQUIRES: mu_ held.
  void ReleaseHandleLocked(uint32_t id);
  void Unpin(const std::shared_ptr<View>& view);

  // The listing of directory `path` of the view, from the cache or (when
  // may_block) the source.
  VfsResult<std::shared_ptr<const Listing>> GetListing(View& view, const std::string& path,
                                                       bool may_block);
  VfsResult<std::shared_ptr<const Listing>> GetListingAt(View& view, const std::string& commit,
                                                         const std::string& path, bool may_block);
  // The cached listing, without fetching or tracking; nullptr when absent.
  std::shared_ptr<const Listing> CachedListing(const View& view, const std::string& commit,
                                               const std::string& path);
  bool RefreshDue(const View& view) const;
  bool RefreshPending(const View& view) const;
  // Re-resolves `view` if due. On a move only the view's root and
  // `need_dir` (the directory the triggering request lists, if any) are
  // fetched at the new commit; see the .cc for the other listed directories.
  bool RefreshView(View& view, const std::string* need_dir = nullptr);
  // Refresh (when due and may_block) before answering; kWouldBlock when due
  // and !may_block.
  VfsStatus MaybeRefresh(View& view, bool may_block, const std::string* need_dir = nullptr);
  VfsAttr AttrOf(const InodeInfo& info) const;
  VfsEntry EntryOf(const InodeInfo& info) const;
  double TtlOf(const InodeInfo& info) const;
  double Ttl(const View& view) const;
  std::string ChildPath(const std::string& dir, std::string_view name) const;

  // Synthetic directories (vfs_tree.cc).
  std::optional<TreePos> ParseTreePath(const std::string& path) const;
  VfsResult<VfsEntry> LookupSynthetic(const InodeInfo& dir, std::string_view name,
                                      bool may_block);
  VfsResult<std::shared_ptr<const Listing>> ListSynthetic(const std::string& path,
                                                          bool may_block);
  // A reference on synthetic directory `path`.
  VfsResult<VfsEntry> RefSynthetic(const std::string& path);
  // A reference on the root of the revision view at synthetic path `path`
  // showing `target` (a ref, or a commit sha when `immutable`). With
  // `check` (a lookup) its subfolder is checked first and, with may_block,
  // its date fetched.
  VfsResult<VfsEntry> RefRevision(const hub::RepoId& repo, const std::string& path,
                                  const RefTarget& target, bool immutable,
                                  std::optional<RevisionInfo> resolved, bool check,
                                  bool may_block);
  void Remember(const std::string& dir, const std::string& name);
  // The repo's refs, fetched when missing or older than metadata_ttl (then
  // kWouldBlock unless may_block). Errors: kNoEntry, kAccess, the source's.
  VfsResult<std::shared_ptr<const RefsTree>> GetRefs(const hub::RepoId& repo, bool may_block);
  // The synthetic path of a repo's directory ("" for kRevisions).
  std::string RepoPath(const hub::RepoId& repo) const;
  // Queues invalidations for what changed between two refs lists.
  void DiffRefs(const std::string& repo_path, const RefsTree* before, const RefsTree* after,
                std::vector<VfsInvalidation>* out) const;
  void QueueInvalidations(std::vector<VfsInvalidation> out);

  // The synthetic view: inodes of synthetic directories.
  static constexpr uint32_t kTreeView = 0;

  RepoSource* const source_;
  const std::optional<VfsLayout> layout_;
  const VfsOptions options_;
  InodeTable inodes_;

  const Clock* const clock_;
  // Single-revision mounts: the view; multi: a spec naming the repo only.
  std::shared_ptr<View> root_view_;

  mutable std::mutex mu_;
  std::condition_variable refreshed_cv_;  // a refresh (view, refs, namespace) ended
  std::vector<VfsInvalidation> invalidations_;                    // GUARDED_BY(mu_)
  std::function<void()> listener_;                                // GUARDED_BY(mu_)
  std::unordered_map<uint32_t, std::shared_ptr<View>> views_;     // GUARDED_BY(mu_)
  std::map<std::string, uint32_t> view_ids_;                      // GUARDED_BY(mu_)
  uint32_t next_view_ = 1;                                        // GUARDED_BY(mu_)
  // Keyed by repo + '\0' + commit + '\0' + dir path: immutable, shared by views.
  LruMap<std::string, std::shared_ptr<const Listing>> listings_;  // GUARDED_BY(mu_)
  LruMap<std::string, std::shared_ptr<RepoState>> repos_;         // GUARDED_BY(mu_)
  LruMap<std::string, std::shared_ptr<NamespaceState>> namespaces_;  // GUARDED_BY(mu_)
  // Hub mounts: namespaces looked up per type ("models"), repos looked up
  // per namespace ("models/ns").
  std::map<std::string, NameSet> remembered_;                     // GUARDED_BY(mu_)
  uint64_t next_fh_ = 1;                                          // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, FileHandle> files_;                // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, DirHandle> dirs_;                  // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_CORE_H_
