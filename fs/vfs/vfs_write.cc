// VfsCore's write side: the overlay of a writable branch view (pending
// changes win over the Hub's tree) and the operations that change it. The
// write path itself (staging, journal, commits) is fs/write's WritableView.
#include <algorithm>

#include "common/log.h"
#include "fs/vfs/vfs_core.h"

namespace hubfs::fs {
namespace {

// Local nodes are told apart by their oid; one meta per kind, so that an
// inode keeps its number while its file changes.

std::shared_ptr<const NodeMeta> LocalMeta(bool is_dir) {
  static const auto file = [] {
    auto m = std::make_shared<NodeMeta>();
    m->oid = kLocalFileOid;
    return m;
  }();
  static const auto dir = [] {
    auto m = std::make_shared<NodeMeta>();
    m->is_dir = true;
    m->oid = kLocalDirOid;
    return m;
  }();
  return is_dir ? dir : file;
}

bool IsLocal(const NodeMeta& m) { return IsLocalMeta(m); }

// What a renamed Hub file shows at its new name: the Hub's bytes, read where
// they are.
std::shared_ptr<const NodeMeta> CopyMeta(const RemoteFile& f) {
  auto m = std::make_shared<NodeMeta>();
  m->size = f.size;
  m->oid = f.git_oid;
  m->xet_hash = f.xet_hash;
  m->sha256 = f.sha256;
  m->commit = f.commit;
  m->source_path = f.path;
  return m;
}

// Names the Hub refuses in a path (hub-api.md §6.3), refused at creation.
bool RefusedName(std::string_view name) { return name == ".git" || name == ".cache"; }

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void VfsCore::EnableWrites(WritableView* writable) {
  writable_ = writable;
  writable_->SetCommitListener([this](const std::string& commit) { ShowCommit(commit); });
}

bool VfsCore::Writable(const InodeInfo& info) const {
  return writable_ != nullptr && !multi() && info.view == 0;
}

BaseReaderFactory VfsCore::BaseReaders() {
  return [this](const std::string& path, const RemoteFile& f) -> Result<BaseReader> {
    FileContent content{root_view_->spec.repo,
                        f.commit.empty() ? root_view_->Current().commit : f.commit,
                        f.path.empty() ? path : f.path,
                        f.git_oid,
                        f.size,
                        f.xet_hash,
                        f.sha256};
    RepoSource* source = source_;
    return BaseReader([source, content](uint64_t offset, std::span<uint8_t> out) -> Result<size_t> {
      size_t done = 0;
      while (done < out.size() && offset + done < content.size) {
        HUBFS_ASSIGN_OR_RETURN(size_t n, source->Read(content, offset + done, out.subspan(done)));
        if (n == 0) break;
        done += n;
      }
      return done;
    });
  };
}

void VfsCore::ShowCommit(const std::string& commit) {
  // The overlay forgets the committed changes once this returns, and a file
  // reopened then is based on what the view shows: it must show this commit
  // (or a newer one). A refresh under way on another thread may have read
  // the branch before the commit landed: wait for it and resolve again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    views_.MarkDue(*root_view_);
    (void)views_.MaybeRefresh(*root_view_, /*may_block=*/true);
    if (root_view_->Current().commit == commit) break;
  }
  HUBFS_LOG(kInfo) << "committed " << commit << "; the view shows "
                   << root_view_->Current().commit;
}

std::optional<PendingChange> VfsCore::Pending(const InodeInfo& dir, const std::string& path) const {
  if (!Writable(dir)) return std::nullopt;
  return writable_->Find(path);
}

std::shared_ptr<const NodeMeta> VfsCore::SettledMeta(const InodeInfo& info,
                                                     bool may_block) const {
  if (!Writable(info) || info.meta->is_dir || !IsLocal(*info.meta)) return info.meta;
  if (writable_->LiveSize(info.path)) return info.meta;  // still pending or open
  const std::string dir = ParentPath(info.path);
  const std::string commit = root_view_->Current().commit;
  std::shared_ptr<const Listing> listing =
      listings_.Cached(root_view_->spec.repo, commit, dir);
  if (!listing && may_block) {
    auto fetched = listings_.Fetch(root_view_->spec.repo, commit, dir);
    if (fetched.ok()) listing = *fetched;
  }
  if (!listing) return info.meta;
  const Child* c = listing->Find(BaseName(info.path));
  if (c == nullptr || c->meta->is_dir) return info.meta;
  return c->meta;
}

void VfsCore::Settle(InodeInfo* info) {
  if (!Writable(*info) || info->meta->is_dir || !IsLocal(*info->meta)) return;
  auto settled = SettledMeta(*info, /*may_block=*/true);
  if (settled != info->meta) {
    (void)inodes_.Update(info->ino, settled);
    info->meta = settled;
  }
}

std::optional<RemoteFile> VfsCore::RemoteOf(const InodeInfo& info) const {
  if (info.meta->is_dir || IsLocal(*info.meta)) return std::nullopt;
  RemoteFile f;
  f.size = info.meta->size;
  f.git_oid = info.meta->oid;
  f.sha256 = info.meta->sha256;
  f.xet_hash = info.meta->xet_hash;
  f.path = info.meta->source_path.empty() ? info.path : info.meta->source_path;
  f.commit = info.meta->commit.empty() ? root_view_->Current().commit : info.meta->commit;
  return f;
}

VfsResult<uint64_t> VfsCore::RefLocal(uint32_t view, const std::string& path, bool is_dir) {
  auto meta = LocalMeta(is_dir);
  if (uint64_t ino = inodes_.Find(view, path); ino != 0) {
    auto info = inodes_.Get(ino);
    if (info.ok() && info->meta->is_dir == is_dir && info->meta != meta) {
      (void)inodes_.Update(ino, meta);  // the same file, changed here: same number
    }
  }
  return inodes_.Ref(view, path, meta);
}

VfsResult<std::shared_ptr<const Listing>> VfsCore::MergedListing(View& view, const std::string& dir,
                                                                 bool may_block) {
  WritableView::Children ch = writable_->ChildrenOf(dir);
  auto remote = views_.GetListing(view, dir, may_block);
  std::shared_ptr<const Listing> base;
  if (remote.ok()) {
    base = *remote;
  } else if (remote.error().code == VfsErrc::kNoEntry) {
    // A directory that exists only here.
    auto own = writable_->Find(dir);
    if (!dir.empty() && !(own && own->kind == PendingChange::Kind::kNewDir) &&
        !writable_->HasChangesUnder(dir)) {
      return remote.error();
    }
    base = std::make_shared<Listing>();
  } else {
    return remote.error();
  }
  if (ch.added.empty() && ch.deleted.empty()) return base;
  auto merged = std::make_shared<Listing>();
  for (const Child& c : base->children) {
    if (ch.deleted.count(c.name) != 0) continue;
    auto added = ch.added.find(c.name);
    // A directory the Hub has keeps its own meta (its oid names its tree).
    if (added != ch.added.end() &&
        !(c.meta->is_dir && added->second.kind == PendingChange::Kind::kNewDir)) {
      continue;
    }
    merged->children.push_back(c);
  }
  for (const auto& [name, change] : ch.added) {
    if (base->Find(name) != nullptr && base->Find(name)->meta->is_dir &&
        change.kind == PendingChange::Kind::kNewDir) {
      continue;
    }
    Child c;
    c.name = name;
    if (change.kind == PendingChange::Kind::kCopy && change.base) {
      c.meta = CopyMeta(*change.base);
    } else {
      c.meta = LocalMeta(change.kind == PendingChange::Kind::kNewDir);
    }
    merged->children.push_back(std::move(c));
  }
  merged->SortAndDedup();
  return std::shared_ptr<const Listing>(std::move(merged));
}

VfsResult<VfsOpenFile> VfsCore::OpenWrite(uint64_t ino, bool truncate) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  if (!Writable(*info)) return VfsErrc::kReadOnly;
  Settle(&*info);
  auto staged = writable_->OpenForWrite(info->path, RemoteOf(*info), truncate, /*create=*/false);
  if (!staged.ok()) return VfsErrorFromStatus(staged.status());
  (void)inodes_.Update(ino, LocalMeta(false));
  if (!views_.AddHandle(0)) {
    writable_->ReleaseWriter(info->path);
    return VfsErrc::kNoEntry;
  }
  FileHandle h;
  h.view = 0;
  h.staged = *staged;
  h.writer = true;
  h.ino = ino;
  auto fh = handles_.AddFile(std::move(h));
  if (!fh.ok()) {
    views_.ReleaseHandle(0);
    writable_->ReleaseWriter(info->path);
    return fh.error();
  }
  return VfsOpenFile{*fh, false};
}

VfsResult<std::pair<VfsEntry, VfsOpenFile>> VfsCore::Create(uint64_t parent, std::string_view name,
                                                            bool truncate) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  if (!ValidFileName(name) || RefusedName(name)) return VfsErrc::kInvalid;
  const std::string path = ChildPath(dir->path, name);
  // The Hub's file at this name, if any (O_CREAT on an existing file).
  std::optional<RemoteFile> remote;
  auto listing = MergedListing(*root_view_, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  if (const Child* c = (*listing)->Find(name)) {
    if (c->meta->is_dir) return VfsErrc::kIsDir;
    if (!IsLocal(*c->meta)) {
      InodeInfo tmp{0, 0, path, c->meta};
      remote = RemoteOf(tmp);
    }
  }
  auto staged = writable_->OpenForWrite(path, remote, truncate, /*create=*/true);
  if (!staged.ok()) return VfsErrorFromStatus(staged.status());
  auto ino = RefLocal(0, path, false);
  if (!ino.ok()) {
    writable_->ReleaseWriter(path);
    return ino.error();
  }
  auto info = inodes_.Get(*ino);
  if (!info.ok() || !views_.AddHandle(0)) {
    writable_->ReleaseWriter(path);
    return VfsErrc::kNoEntry;
  }
  FileHandle h;
  h.view = 0;
  h.staged = *staged;
  h.writer = true;
  h.ino = *ino;
  auto fh = handles_.AddFile(std::move(h));
  if (!fh.ok()) {
    views_.ReleaseHandle(0);
    writable_->ReleaseWriter(path);
    inodes_.Forget(*ino, 1);
    return fh.error();
  }
  return std::make_pair(EntryOf(*info), VfsOpenFile{*fh, false});
}

VfsResult<size_t> VfsCore::Write(uint64_t fh, uint64_t offset, std::span<const uint8_t> data) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  if (!handle->writer || !handle->staged) return VfsErrc::kBadHandle;
  Status st = handle->staged->Write(offset, data);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return data.size();
}

VfsStatus VfsCore::Flush(uint64_t fh) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  if (!handle->writer || !handle->staged) return VfsOk{};
  auto info = inodes_.Get(handle->ino);
  if (!info.ok()) return VfsOk{};
  Status st = writable_->Flush(info->path, handle->staged);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

VfsStatus VfsCore::Fsync(uint64_t fh) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  if (!handle->staged) return VfsOk{};  // nothing of ours to make durable
  auto info = inodes_.Get(handle->ino);
  if (!info.ok()) return VfsOk{};
  Status st = handle->writer ? writable_->Fsync(info->path, handle->staged)
                             : writable_->SyncAll(std::chrono::minutes(10));
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

VfsResult<VfsAttr> VfsCore::SetSize(uint64_t ino, uint64_t fh, uint64_t size) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  if (!Writable(*info)) return VfsErrc::kReadOnly;
  Settle(&*info);
  Status st;
  auto handle = fh != 0 ? handles_.File(fh) : VfsResult<FileHandle>(VfsErrc::kBadHandle);
  if (handle.ok() && handle->writer && handle->staged) {
    st = handle->staged->Truncate(size);
  } else {
    st = writable_->Truncate(info->path, RemoteOf(*info), size);
    if (st.ok()) (void)inodes_.Update(ino, LocalMeta(false));
  }
  if (!st.ok()) return VfsErrorFromStatus(st);
  return GetAttr(ino);
}

VfsResult<VfsAttr> VfsCore::SetMtime(uint64_t ino, int64_t mtime) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (!Writable(*info)) return VfsErrc::kReadOnly;
  if (!info->meta->is_dir) writable_->SetLocalMtime(info->path, mtime);
  return GetAttr(ino);
}

VfsStatus VfsCore::Unlink(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  auto listing = MergedListing(*root_view_, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  const Child* c = (*listing)->Find(name);
  if (c == nullptr) return VfsErrc::kNoEntry;
  if (c->meta->is_dir) return VfsErrc::kIsDir;
  const std::string path = ChildPath(dir->path, name);
  auto remote = views_.GetListing(*root_view_, dir->path, true);
  const bool was_remote = remote.ok() && (*remote)->Find(name) != nullptr;
  Status st = writable_->Unlink(path, was_remote);
  if (!st.ok()) return VfsErrorFromStatus(st);
  inodes_.Unname(0, path);
  return KeepDirectory(dir->path);
}

VfsStatus VfsCore::Rmdir(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  auto listing = MergedListing(*root_view_, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  const Child* c = (*listing)->Find(name);
  if (c == nullptr) return VfsErrc::kNoEntry;
  if (!c->meta->is_dir) return VfsErrc::kNotDir;
  const std::string path = ChildPath(dir->path, name);
  auto inner = MergedListing(*root_view_, path, true);
  if (!inner.ok()) return inner.error();
  if (!(*inner)->children.empty()) return VfsErrc::kNotEmpty;
  const bool was_remote = !IsLocal(*c->meta);
  Status st = writable_->Rmdir(path, was_remote);
  if (!st.ok()) return VfsErrorFromStatus(st);
  inodes_.Unname(0, path);
  return KeepDirectory(dir->path);
}

VfsResult<VfsEntry> VfsCore::Mkdir(uint64_t parent, std::string_view name) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  if (!ValidFileName(name) || RefusedName(name)) return VfsErrc::kInvalid;
  auto listing = MergedListing(*root_view_, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  if ((*listing)->Find(name) != nullptr) return VfsErrc::kExists;
  const std::string path = ChildPath(dir->path, name);
  Status st = writable_->Mkdir(path);
  if (!st.ok()) return VfsErrorFromStatus(st);
  auto ino = RefLocal(0, path, true);
  if (!ino.ok()) return ino.error();
  auto info = inodes_.Get(*ino);
  if (!info.ok()) return info.error();
  return EntryOf(*info);
}

VfsStatus VfsCore::RenameOne(View& view, const std::string& from, const std::string& to,
                             const std::shared_ptr<const NodeMeta>& meta) {
  auto to_remote = views_.GetListing(view, ParentPath(to), true);
  const bool to_was_remote =
      to_remote.ok() && (*to_remote)->Find(BaseName(to)) != nullptr &&
      !(*to_remote)->Find(BaseName(to))->meta->is_dir;
  if (!meta->is_dir) {
    InodeInfo tmp{0, 0, from, meta};
    auto from_remote_listing = views_.GetListing(view, ParentPath(from), true);
    const bool from_was_remote = from_remote_listing.ok() &&
                                 (*from_remote_listing)->Find(BaseName(from)) != nullptr;
    Status st = writable_->Rename(from, to, RemoteOf(tmp), from_was_remote, to_was_remote);
    if (!st.ok()) return VfsErrorFromStatus(st);
    return VfsOk{};
  }
  // A directory: its files move one by one (re-referenced, never uploaded),
  // the new directory first, the old one last.
  Status st = writable_->Mkdir(to);
  if (!st.ok()) return VfsErrorFromStatus(st);
  auto listing = MergedListing(view, from, true);
  if (!listing.ok()) return listing.error();
  for (const Child& c : (*listing)->children) {
    auto r = RenameOne(view, ChildPath(from, c.name), ChildPath(to, c.name), c.meta);
    if (!r.ok()) return r;
  }
  st = writable_->Rmdir(from, !IsLocal(*meta));
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
  if (!new_dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!ValidFileName(new_name) || RefusedName(new_name)) return VfsErrc::kInvalid;
  auto listing = MergedListing(*root_view_, dir->path, true);
  if (!listing.ok()) return listing.error();
  const Child* c = (*listing)->Find(name);
  if (c == nullptr) return VfsErrc::kNoEntry;
  const std::string from = ChildPath(dir->path, name);
  const std::string to = ChildPath(new_dir->path, new_name);
  if (from == to) return VfsOk{};
  if (c->meta->is_dir && (to.rfind(from + "/", 0) == 0)) return VfsErrc::kInvalid;
  auto target_listing = MergedListing(*root_view_, new_dir->path, true);
  if (!target_listing.ok()) return target_listing.error();
  if (const Child* t = (*target_listing)->Find(new_name)) {
    if (no_replace) return VfsErrc::kExists;
    if (t->meta->is_dir && !c->meta->is_dir) return VfsErrc::kIsDir;
    if (!t->meta->is_dir && c->meta->is_dir) return VfsErrc::kNotDir;
    if (t->meta->is_dir) {
      auto inner = MergedListing(*root_view_, to, true);
      if (!inner.ok()) return inner.error();
      if (!(*inner)->children.empty()) return VfsErrc::kNotEmpty;
    }
  }
  auto st = RenameOne(*root_view_, from, to, c->meta);
  if (!st.ok()) return st;
  (void)inodes_.Rename(0, from, to);
  // What the moved inodes show now comes from the overlay.
  if (uint64_t ino = inodes_.Find(0, to); ino != 0 && !c->meta->is_dir) {
    auto moved = writable_->Find(to);
    if (moved && moved->kind == PendingChange::Kind::kCopy && moved->base) {
      (void)inodes_.Update(ino, CopyMeta(*moved->base));
    } else if (moved && moved->kind == PendingChange::Kind::kStaged) {
      (void)inodes_.Update(ino, LocalMeta(false));
    }
  }
  if (dir->path != new_dir->path) return KeepDirectory(dir->path);
  return VfsOk{};
}

VfsStatus VfsCore::KeepDirectory(const std::string& dir) {
  if (dir.empty()) return VfsOk{};  // the root always exists
  auto own = writable_->Find(dir);
  if (own && own->kind == PendingChange::Kind::kNewDir) return VfsOk{};
  auto listing = MergedListing(*root_view_, dir, /*may_block=*/true);
  // No entry: the directory stood only for the change just removed (a new
  // directory under it, say), as the Hub has no such directory.
  if (!listing.ok() && listing.error().code != VfsErrc::kNoEntry) return VfsOk{};
  if (listing.ok() && !(*listing)->children.empty()) return VfsOk{};
  Status st = writable_->Mkdir(dir);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

VfsStatus VfsCore::SyncAll(std::chrono::milliseconds timeout) {
  if (writable_ == nullptr) return VfsOk{};
  Status st = writable_->SyncAll(timeout);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

}  // namespace hubfs::fs
