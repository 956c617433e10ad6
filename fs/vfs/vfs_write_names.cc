// VfsCore's write side, the namespace: unlink, rmdir, mkdir and rename in a
// writable view (fs/vfs/vfs_write.cc has the overlay and the file data).
#include "fs/vfs/vfs_core.h"
#include "fs/vfs/vfs_write_helpers.h"

namespace hubfs::fs {

using write_detail::BaseName;
using write_detail::CopyMeta;
using write_detail::IsLocal;
using write_detail::LocalMeta;
using write_detail::ParentPath;
using write_detail::RefusedName;

VfsStatus VfsCore::Unlink(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  auto side = OpenSide(*dir);
  if (!side.ok()) return side.error();
  View& view = *side->view;
  WritableView* w = side->writer;
  const std::string path = ChildPath(dir->path, name);
  for (int attempt = 0;; ++attempt) {
    auto listing = MergedListing(view, w, dir->path, /*may_block=*/true);
    if (!listing.ok()) return listing.error();
    const Child* c = (*listing)->Find(name);
    if (c == nullptr) return VfsErrc::kNoEntry;
    if (c->meta->is_dir) return VfsErrc::kIsDir;
    auto remote = views_.GetListing(view, dir->path, true);
    const bool was_remote = remote.ok() && (*remote)->Find(name) != nullptr;
    Status st = w->Unlink(path, was_remote);
    if (st.ok()) break;
    // The pending file seen above was committed before the writer got to
    // it (as in Rename): look again, the view shows the Hub's file now.
    if (st.code() != ErrorCode::kNotFound || attempt >= 3) return VfsErrorFromStatus(st);
  }
  inodes_.Unname(view.id, path);
  TouchAliases(view, path);
  return KeepDirectory(view, w, dir->path);
}

VfsStatus VfsCore::Rmdir(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  auto side = OpenSide(*dir);
  if (!side.ok()) return side.error();
  View& view = *side->view;
  WritableView* w = side->writer;
  auto listing = MergedListing(view, w, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  const Child* c = (*listing)->Find(name);
  if (c == nullptr) return VfsErrc::kNoEntry;
  if (!c->meta->is_dir) return VfsErrc::kNotDir;
  const std::string path = ChildPath(dir->path, name);
  auto inner = MergedListing(view, w, path, true);
  if (!inner.ok()) return inner.error();
  if (!(*inner)->children.empty()) return VfsErrc::kNotEmpty;
  const bool was_remote = !IsLocal(*c->meta);
  Status st = w->Rmdir(path, was_remote);
  if (!st.ok()) return VfsErrorFromStatus(st);
  inodes_.Unname(view.id, path);
  TouchAliases(view, path);
  return KeepDirectory(view, w, dir->path);
}

VfsResult<VfsEntry> VfsCore::Mkdir(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  // At the root of a --revisions mount: a new branch, which is not made here.
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  if (!ValidFileName(name) || RefusedName(name)) return VfsErrc::kInvalid;
  auto side = OpenSide(*dir);
  if (!side.ok()) return side.error();
  View& view = *side->view;
  WritableView* w = side->writer;
  auto listing = MergedListing(view, w, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  if ((*listing)->Find(name) != nullptr) return VfsErrc::kExists;
  const std::string path = ChildPath(dir->path, name);
  Status st = w->Mkdir(path);
  if (!st.ok()) return VfsErrorFromStatus(st);
  auto ino = RefLocal(view.id, path, true);
  if (!ino.ok()) return ino.error();
  auto info = inodes_.Get(*ino);
  if (!info.ok()) return info.error();
  TouchAliases(view, path);
  return EntryOf(*info);
}

VfsStatus VfsCore::RenameOne(View& view, WritableView* w, const std::string& from,
                             const std::string& to, const std::shared_ptr<const NodeMeta>& meta) {
  auto to_remote = views_.GetListing(view, ParentPath(to), true);
  const bool to_was_remote =
      to_remote.ok() && (*to_remote)->Find(BaseName(to)) != nullptr &&
      !(*to_remote)->Find(BaseName(to))->meta->is_dir;
  if (!meta->is_dir) {
    InodeInfo tmp{0, view.id, from, meta};
    auto from_remote_listing = views_.GetListing(view, ParentPath(from), true);
    const bool from_was_remote = from_remote_listing.ok() &&
                                 (*from_remote_listing)->Find(BaseName(from)) != nullptr;
    Status st = w->Rename(from, to, RemoteOf(tmp), from_was_remote, to_was_remote);
    if (!st.ok()) return VfsErrorFromStatus(st);
    return VfsOk{};
  }
  // A directory: its files move one by one (re-referenced, never uploaded),
  // the new directory first, the old one last.
  Status st = w->Mkdir(to);
  if (!st.ok()) return VfsErrorFromStatus(st);
  auto listing = MergedListing(view, w, from, true);
  if (!listing.ok()) return listing.error();
  for (const Child& c : (*listing)->children) {
    auto r = RenameOne(view, w, ChildPath(from, c.name), ChildPath(to, c.name), c.meta);
    if (!r.ok()) return r;
  }
  st = w->Rmdir(from, !IsLocal(*meta));
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

VfsStatus VfsCore::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                          std::string_view new_name, bool no_replace) {
  auto dir = inodes_.Get(parent);
  auto new_dir = inodes_.Get(new_parent);
  if (!dir.ok()) return dir.error();
  if (!new_dir.ok()) return new_dir.error();
  if (!Writable(*dir) || !Writable(*new_dir)) return VfsErrc::kReadOnly;
  // Another revision directory (another branch, or an alias of this one):
  // mv(1) copies and unlinks instead.
  if (dir->view != new_dir->view) return VfsErrc::kCrossDevice;
  if (!new_dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!ValidFileName(new_name) || RefusedName(new_name)) return VfsErrc::kInvalid;
  auto side = OpenSide(*dir);
  if (!side.ok()) return side.error();
  View& view = *side->view;
  WritableView* w = side->writer;
  const std::string from = ChildPath(dir->path, name);
  const std::string to = ChildPath(new_dir->path, new_name);
  std::shared_ptr<const NodeMeta> meta;
  for (int attempt = 0;; ++attempt) {
    auto listing = MergedListing(view, w, dir->path, true);
    if (!listing.ok()) return listing.error();
    const Child* c = (*listing)->Find(name);
    if (c == nullptr) return VfsErrc::kNoEntry;
    meta = c->meta;
    if (from == to) return VfsOk{};
    if (meta->is_dir && (to.rfind(from + "/", 0) == 0)) return VfsErrc::kInvalid;
    auto target_listing = MergedListing(view, w, new_dir->path, true);
    if (!target_listing.ok()) return target_listing.error();
    if (const Child* t = (*target_listing)->Find(new_name)) {
      if (no_replace) return VfsErrc::kExists;
      if (t->meta->is_dir && !meta->is_dir) return VfsErrc::kIsDir;
      if (!t->meta->is_dir && meta->is_dir) return VfsErrc::kNotDir;
      if (t->meta->is_dir) {
        auto inner = MergedListing(view, w, to, true);
        if (!inner.ok()) return inner.error();
        if (!(*inner)->children.empty()) return VfsErrc::kNotEmpty;
      }
    }
    auto st = RenameOne(view, w, from, to, meta);
    if (st.ok()) break;
    // A file pending here when looked at may have been committed by the
    // time the writer renames it (the listings above can wait on a retried
    // fetch): the writer has no pending change to move then, and the Hub's
    // file is what moves. The view shows that commit before the writer
    // forgets the change, so a second look finds the Hub's entry.
    if (st.error().code != VfsErrc::kNoEntry || meta->is_dir || !IsLocal(*meta) ||
        w->Find(from).has_value() || attempt >= 3) {
      return st;
    }
  }
  (void)inodes_.Rename(view.id, from, to);
  // What the moved inodes show now comes from the overlay.
  if (uint64_t ino = inodes_.Find(view.id, to); ino != 0 && !meta->is_dir) {
    auto moved = w->Find(to);
    if (moved && moved->kind == PendingChange::Kind::kCopy && moved->base) {
      (void)inodes_.Update(ino, CopyMeta(*moved->base));
    } else if (moved && moved->kind == PendingChange::Kind::kStaged) {
      (void)inodes_.Update(ino, LocalMeta(false));
    }
  }
  TouchAliases(view, from);
  TouchAliases(view, to);
  if (dir->path != new_dir->path) return KeepDirectory(view, w, dir->path);
  return VfsOk{};
}

VfsStatus VfsCore::KeepDirectory(View& view, WritableView* w, const std::string& dir) {
  if (dir.empty()) return VfsOk{};  // the root always exists
  auto own = w->Find(dir);
  if (own && own->kind == PendingChange::Kind::kNewDir) return VfsOk{};
  auto listing = MergedListing(view, w, dir, /*may_block=*/true);
  // No entry: the directory stood only for the change just removed (a new
  // directory under it, say), as the Hub has no such directory.
  if (!listing.ok() && listing.error().code != VfsErrc::kNoEntry) return VfsOk{};
  if (listing.ok() && !(*listing)->children.empty()) return VfsOk{};
  Status st = w->Mkdir(dir);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

}  // namespace hubfs::fs
