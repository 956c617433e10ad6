// VfsCore: the kernel-free filesystem (design §1, §3, §6). It answers the
// questions FUSE asks - lookup, getattr, open, read, readdir, xattrs,
// statfs - in our own types, so unit tests call it directly and the FUSE
// adapter only translates. What it shows is read-only unless EnableWrites
// made the mount's branch views writable (vfs_write.cc, vfs_write_names.cc).
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
// The core is a thin facade over its parts: the inode table (identity), the
// handle table, the view set with its refresh, the listing and refs caches,
// and the synthetic tree of a multi-revision mount. Each part has its own
// lock; none is held across a RepoSource call.
//
// Thread-safety: all methods are thread-safe. Lock order: the view set's,
// then a view's, then the inode table's; the others are leaves.
#ifndef HUBFS_FS_VFS_VFS_CORE_H_
#define HUBFS_FS_VFS_VFS_CORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/folder_readahead.h"
#include "fs/vfs/handle_table.h"
#include "fs/vfs/inode_table.h"
#include "fs/vfs/invalidation_queue.h"
#include "fs/vfs/listing.h"
#include "fs/vfs/refs_cache.h"
#include "fs/vfs/synthetic_tree.h"
#include "fs/vfs/view_set.h"
#include "fs/vfs/vfs_types.h"
#include "fs/write/writable_view.h"
#include "fs/write/writer_set.h"

namespace hubfs::fs {

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
  // What the kernel may do with the entries it reads through directory
  // handle `dh` of `ino`, which is about to be handed to it: `cache` them
  // (FOPEN_CACHE_DIR) and `keep` those it already holds (FOPEN_KEEP_CACHE;
  // otherwise it drops them at this open). A commit's directories never
  // change. A branch or tag view's directory is cached too (a warm find or
  // du of 10 000 files re-read every directory from the daemon), and what
  // the kernel holds is kept only while it came from the listing this
  // handle shows: the first open after the view moved (to a commit where
  // the directory differs) drops it. A handle opened before the move that
  // reads on may put its older entries into the kernel's cache; its release
  // drops them again (ReleaseDir). Not cached: synthetic directories and
  // writable views (their listings change without a commit).
  struct DirCaching {
    bool cache = false;
    bool keep = false;
  };
  DirCaching DirCachingFor(uint64_t ino, uint64_t dh);
  // Handle `dh` given to DirCachingFor never reached the kernel: what the
  // kernel holds for `ino` is not known, so the next open drops it.
  void DirCachingUnknown(uint64_t ino, uint64_t dh);

  // Opens a file for reading; the handle pins its content. `write` = any
  // write access asked for. `direct`: opened O_DIRECT, so the reader keeps
  // no page of what it reads (`hubfs prefetch`): the source caches all of it
  // (RepoSource::ReadHeld's pages_kept false, as for a handle whose pages
  // the kernel drops at the next open: a writable view's). Errors: kNoEntry,
  // kIsDir, kReadOnly, kNoSpace.
  VfsResult<VfsOpenFile> Open(uint64_t ino, bool write, bool direct = false);
  // Reads through the source (may block). Short only at the end of file.
  // Errors: kBadHandle, the source's errors.
  VfsResult<size_t> Read(uint64_t fh, uint64_t offset, std::span<uint8_t> out);
  // Read of up to `len` bytes into `out` (replaced), held rather than
  // copied where the source has them in memory (RepoSource::ReadHeld): a
  // reply can be sent straight from out's pieces. `direct`: this read comes
  // through a file description that is O_DIRECT now (fcntl may have set it
  // after the open), so no page of it is kept either.
  VfsResult<size_t> ReadHeld(uint64_t fh, uint64_t offset, size_t len, HeldBytes* out,
                             bool direct = false);
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

  // --- writes (fs/vfs/vfs_write.cc) -------------------------------------
  // Makes the mount's branch views writable through `writers` (must outlive
  // the core): a single-revision mount's view (its writer opened by the
  // caller after this call), or in a multi-revision mount every branch and
  // refs/pr/N view, whose writer opens on its first change (tags, commits
  // and refs/convert/ stay read-only). Alias directories of one branch
  // share its writer. Sets the writers' commit listener.
  void EnableWrites(WriterSet* writers);
  bool writable() const { return writers_ != nullptr; }
  // Reads the Hub's bytes of a file of `repo` for the write path of
  // `branch`'s view.
  BaseReaderFactory BaseReaders(const hub::RepoId& repo, const std::string& branch);
  // A commit of ours landed on `target` (`branch`, or the pull request a
  // --create-pr mount commits to) of `repo`: its views show it now. A
  // single-branch view follows `target` from then on.
  void ShowCommit(const hub::RepoId& repo, const std::string& branch, const std::string& commit,
                  const std::string& target);
  // The branch a writer of `view` commits to, "" when the view is read-only
  // (no --rw, a tag, a commit sha, refs/convert/).
  std::string BranchOf(const View& view) const;

  // Changes open the view's writer first: kAccess when the token may not
  // write the repo, kReadOnly when another mount holds its journal.
  // open(2) for writing: `truncate` = O_TRUNC. Errors: kReadOnly, kIsDir,
  // kNoEntry, kNoSpace (disk full), kIo.
  VfsResult<VfsOpenFile> OpenWrite(uint64_t ino, bool truncate);
  // creat(2) / open(O_CREAT) of `name` in `parent`: an entry (one lookup
  // reference) and an open handle. Errors: kReadOnly, kInvalid (a name the
  // Hub refuses: a .git or .cache component), kNoEntry, kNotDir, kNoSpace.
  VfsResult<std::pair<VfsEntry, VfsOpenFile>> Create(uint64_t parent, std::string_view name,
                                                     bool truncate);
  // Errors: kBadHandle, kReadOnly (a read-only handle), kNoSpace, kIo.
  VfsResult<size_t> Write(uint64_t fh, uint64_t offset, std::span<const uint8_t> data);
  // close(2) of one descriptor: the file's content is journaled before it
  // returns. Errors: kNoSpace, kIo.
  VfsStatus Flush(uint64_t fh);
  // Waits until the change is on the Hub. Errors: kTimedOut (it stays
  // journaled), kConflict (it went to a pull request), kIo.
  VfsStatus Fsync(uint64_t fh);
  // truncate(2) / ftruncate(2) (fh 0: no handle). Errors: as OpenWrite.
  VfsResult<VfsAttr> SetSize(uint64_t ino, uint64_t fh, uint64_t size);
  // utimensat(2) of the mtime: kept for a file changed here until its
  // commit (WritableView::SetLocalMtime), else accepted and not kept.
  VfsResult<VfsAttr> SetMtime(uint64_t ino, int64_t mtime);
  // Errors: kReadOnly, kNoEntry, kIsDir (unlink of a directory), kNotDir
  // (rmdir of a file), kNotEmpty, kInvalid.
  VfsStatus Unlink(uint64_t parent, std::string_view name);
  VfsStatus Rmdir(uint64_t parent, std::string_view name);
  VfsResult<VfsEntry> Mkdir(uint64_t parent, std::string_view name);
  // rename(2); `no_replace` = RENAME_NOREPLACE. Directories move with every
  // file under them (each re-referenced or moved, never uploaded again).
  // Between two revision directories: kCrossDevice (kReadOnly if one of
  // them is read-only).
  VfsStatus Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                   std::string_view new_name, bool no_replace);
  // `hubfs sync`: everything journaled so far in every writable view is on
  // the Hub.
  VfsStatus SyncAll(std::chrono::milliseconds timeout);

  // The single view (for a multi-revision mount: only the repo is set).
  const ViewSpec& view() const { return root_view_->spec; }
  size_t inode_count() const { return inodes_.size(); }
  // Live revision views (for tests and statistics).
  size_t view_count() const;

 private:
  // Tells folder read-ahead of a read of [offset, offset + len) of `file`
  // through handle fh (before it is served).
  void NoteRead(uint64_t fh, const FileContent& file, uint64_t offset, size_t len);
  // Reads [offset, offset + out.size()) of `file` from the source, asking
  // again after short answers; short only at the end of the file.
  VfsResult<size_t> ReadSource(const FileContent& file, uint64_t offset, std::span<uint8_t> out);
  bool multi() const { return tree_ != nullptr; }
  bool IsSynthetic(const InodeInfo& info) const { return multi() && info.view == kTreeView; }
  // The view of a (non-synthetic) inode, or nullptr once dropped.
  std::shared_ptr<View> ViewOf(const InodeInfo& info) const;
  VfsAttr AttrOf(const InodeInfo& info) const;
  VfsEntry EntryOf(const InodeInfo& info) const;
  double TtlOf(const InodeInfo& info) const;
  double Ttl(const View& view) const;

  // Writable views: whether the inode's view may be written (its writer may
  // not be open yet); the writer of a view or inode, nullptr when none is
  // open (nothing pending there: no overlay).
  bool Writable(const InodeInfo& info) const;
  WritableView* WriterOf(const View& view) const;
  WritableView* WriterOf(const InodeInfo& info) const;
  // The view of an inode about to be changed and its writer, opened now if
  // needed. Errors: kReadOnly, kNoEntry (the view is gone), kAccess, kIo.
  struct WriteSide {
    std::shared_ptr<View> view;
    WritableView* writer = nullptr;
  };
  VfsResult<WriteSide> OpenSide(const InodeInfo& info);
  // A handle on `staged` (open for writing at `path`), counted in its view;
  // on failure the writer is released.
  VfsResult<uint64_t> AddWriteHandle(const WriteSide& side, uint64_t ino, const std::string& path,
                                     std::shared_ptr<StagedFile> staged);
  // After `path` changed in `view`: the other live views of the same branch
  // (alias directories) have the kernel forget what it holds of it.
  void TouchAliases(const View& view, const std::string& path);
  // The commit a branch's views show (for a base reader without one).
  std::string HeadOf(const hub::RepoId& repo, const std::string& branch) const;
  // An inode for a local file or directory (keeps the number of an inode
  // already named `path`).
  VfsResult<uint64_t> RefLocal(uint32_t view, const std::string& path, bool is_dir);
  // The listing of `dir` with the pending changes applied.
  // With no writer: the Hub's listing.
  VfsResult<std::shared_ptr<const Listing>> MergedListing(View& view, WritableView* w,
                                                          const std::string& dir, bool may_block);
  // What a local inode stands for once its change was committed: the Hub's
  // entry at the view's commit (from the listing cache, or fetched when
  // `may_block`); its own meta while the change is pending or unknown.
  std::shared_ptr<const NodeMeta> SettledMeta(const InodeInfo& info, bool may_block) const;
  // The Hub's file at `path` in `commit` (its listing from the cache, or
  // fetched when `may_block`); nullptr when unknown, absent or a directory.
  std::shared_ptr<const NodeMeta> HubFileAt(const hub::RepoId& repo, const std::string& commit,
                                            const std::string& path, bool may_block) const;
  // Makes a local inode whose change was committed stand for the Hub's
  // version (same number); `info` follows. Unless that version is what was
  // written here (SameAsLanded), the kernel's pages of the
  // inode are stale: marked for the next open (KeepCache). Without
  // `may_block` only cached listings are asked: an inode whose Hub version
  // is not known stays as it is, and one whose landed version is not known
  // counts as changed (its pages dropped).
  void Settle(InodeInfo* info, bool may_block);
  // FOPEN_KEEP_CACHE for an open of `ino` in a writable view: its pages in
  // the kernel hold its content, written or read through this mount, unless
  // Settle gave the inode other content since its last open (consumed here).
  // Never in a multi-revision mount (alias views of a branch are told to
  // drop their pages asynchronously).
  bool KeepCache(uint64_t ino);
  // Whether `settled` (what Settle gives `info`) is the file as committed
  // from here (WritableView::LandedCommit), at the view's commit or, when
  // the branch moved on, at the landed one's (same oid). May fetch a listing.
  bool SameAsLanded(const InodeInfo& info, const NodeMeta& settled, bool may_block);
  // The inode of `path` (child `meta` of a listing of `view`), with one more
  // lookup reference: a local one for what the overlay shows (or a file
  // still open for writing), else the Hub entry's, keeping the number of a
  // file written here whose change was committed (Settle).
  VfsResult<uint64_t> RefChild(uint32_t view, WritableView* w, const std::string& path,
                               const std::shared_ptr<const NodeMeta>& meta, bool may_block);
  // `ino` now stands for content its kernel pages may not hold: the next
  // open drops them (KeepCache), and the kernel is told to drop them now.
  void MarkPagesStale(uint64_t ino);
  // The Hub's file behind an inode (nullopt: a directory or a local file).
  std::optional<RemoteFile> RemoteOf(const InodeInfo& info) const;
  VfsStatus RenameOne(View& view, WritableView* w, const std::string& from,
                      const std::string& to, const std::shared_ptr<const NodeMeta>& meta);
  // After a name left `dir` (unlink, rename away, rmdir): the Hub keeps no
  // empty directory, so one emptied here stays as a new local directory
  // (as after mkdir) rather than vanishing once the change is committed.
  VfsStatus KeepDirectory(View& view, WritableView* w, const std::string& dir);

  RepoSource* const source_;
  WriterSet* writers_ = nullptr;
  const std::optional<VfsLayout> layout_;
  const VfsOptions options_;
  const Clock* const clock_;

  InodeTable inodes_;
  HandleTable handles_;
  FolderReadahead folder_;
  InvalidationQueue invalidations_;
  // Inodes whose kernel pages may be stale (Settle; KeepCache).
  Mutex stale_mu_;
  std::unordered_set<uint64_t> stale_pages_ GUARDED_BY(stale_mu_);
  // Directories of branch and tag views: the listing whose entries the
  // kernel's readdir cache may hold (DirCachingFor), and the commit it is
  // of. The listing is held weakly, so one gone from memory matches no new
  // one; the same commit's listing fetched again matches by its commit.
  struct KernelListing {
    std::weak_ptr<const Listing> listing;
    std::string commit;
    bool SameAs(const DirHandle& h) const {
      return listing.lock() == h.listing || (!commit.empty() && commit == h.commit);
    }
  };
  Mutex dir_cache_mu_;
  std::unordered_map<uint64_t, KernelListing> kernel_listings_ GUARDED_BY(dir_cache_mu_);
  // Directory handles given to the kernel with FOPEN_CACHE_DIR by
  // DirCachingFor: only their releases may drop what the kernel cached.
  std::unordered_set<uint64_t> announced_dirs_ GUARDED_BY(dir_cache_mu_);
  mutable ListingCache listings_;  // mutable: SettledMeta fills it from const paths
  RefsCache refs_;
  ViewSet views_;
  // Single-revision mounts: the view; multi: a spec naming the repo only.
  std::shared_ptr<View> root_view_;
  std::unique_ptr<SyntheticTree> tree_;  // multi-revision mounts only
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_VFS_CORE_H_
