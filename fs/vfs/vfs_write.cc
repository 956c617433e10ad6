// VfsCore's write side: the overlay of a writable branch view (pending
// changes win over the Hub's tree), which views are writable and their
// writers, and the operations on file data (vfs_write_names.cc has the
// namespace). The write path itself (staging, journal, commits) is
// fs/write's WritableView, one per branch in the mount's WriterSet.
#include <algorithm>
#include <chrono>
#include <thread>

#include "common/log.h"
#include "fs/vfs/vfs_core.h"
#include "fs/vfs/vfs_write_helpers.h"

namespace hubfs::fs {
namespace write_detail {

// Local nodes are told apart by their oid.
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

bool RefusedName(std::string_view name) { return name == ".git" || name == ".cache"; }

std::string ParentPath(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace write_detail

using write_detail::BaseName;
using write_detail::CopyMeta;
using write_detail::IsLocal;
using write_detail::LocalMeta;
using write_detail::ParentPath;
using write_detail::RefusedName;

void VfsCore::EnableWrites(WriterSet* writers) {
  writers_ = writers;
  // A file written here shows its own bytes (a local inode) while its
  // change is pending, whatever the branch's commit, and they are the
  // commit's once it landed there: a view's move keeps its entry, so the
  // kernel keeps its pages (Settle gives the inode the Hub's meta later,
  // same number).
  views_.SetShowsAlready([this](const View& view, const std::string& path,
                                const std::string& commit) {
    // The inode first: most names the kernel holds are not local ones.
    const uint64_t ino = inodes_.Find(view.id, path);
    auto info = ino != 0 ? inodes_.Get(ino) : VfsResult<InodeInfo>(VfsErrc::kNoEntry);
    if (!info.ok() || info->meta->is_dir || !IsLocal(*info->meta)) return false;
    WritableView* w = WriterOf(view);
    if (w == nullptr) return false;
    return w->Find(path).has_value() || w->LiveSize(path).has_value() ||
           w->LandedCommit(path) == commit;
  });
  writers_->SetOnOpen([this](const hub::RepoId& repo, const std::string& branch, WritableView* w) {
    w->SetCommitListener([this, repo, branch](const std::string& commit, const std::string& target) {
      ShowCommit(repo, branch, commit, target);
    });
    // A --create-pr mount whose journal names its pull request (a remount)
    // shows that pull request at once.
    if (const std::string target = w->target(); !multi() && target != branch) {
      {
        MutexLock lock(&root_view_->mu);
        root_view_->follow = target;
      }
      views_.MarkDue(*root_view_);
      (void)views_.MaybeRefresh(*root_view_, /*may_block=*/true);
      HUBFS_LOG(kInfo) << "showing " << target << " (the pull request this mount commits to): "
                       << root_view_->Current().commit;
    }
  });
}

std::string VfsCore::BranchOf(const View& view) const {
  if (writers_ == nullptr || view.spec.immutable) return "";
  if (!multi()) return view.id == 0 ? view.spec.revision : "";
  if (view.id == kTreeView) return "";
  // Revision directories name full refs: branches and pull requests are
  // written, tags and refs/convert/ are not.
  constexpr std::string_view kHeads = "refs/heads/";
  const std::string& ref = view.spec.revision;
  if (ref.rfind(kHeads, 0) == 0) return ref.substr(kHeads.size());
  if (ref.rfind("refs/pr/", 0) == 0) return ref;
  return "";
}

bool VfsCore::Writable(const InodeInfo& info) const {
  if (writers_ == nullptr || IsSynthetic(info)) return false;
  if (!multi()) return info.view == 0;
  auto view = ViewOf(info);
  return view != nullptr && !BranchOf(*view).empty();
}

WritableView* VfsCore::WriterOf(const View& view) const {
  if (writers_ == nullptr) return nullptr;
  const std::string branch = BranchOf(view);
  return branch.empty() ? nullptr : writers_->Find(view.spec.repo, branch);
}

WritableView* VfsCore::WriterOf(const InodeInfo& info) const {
  if (writers_ == nullptr || IsSynthetic(info)) return nullptr;
  auto view = ViewOf(info);
  return view ? WriterOf(*view) : nullptr;
}

VfsResult<VfsCore::WriteSide> VfsCore::OpenSide(const InodeInfo& info) {
  if (writers_ == nullptr || IsSynthetic(info)) return VfsErrc::kReadOnly;
  auto view = ViewOf(info);
  if (!view) return VfsErrc::kNoEntry;
  const std::string branch = BranchOf(*view);
  if (branch.empty()) return VfsErrc::kReadOnly;
  // A multi-revision mount checks write access per repo on first use; a
  // single one did at mount.
  auto w = writers_->Open(view->spec.repo, branch, view->Current().commit,
                          /*check_access=*/multi());
  if (!w.ok()) {
    if (w.status().code() == ErrorCode::kFailedPrecondition) {
      HUBFS_LOG(kWarning) << view->spec.repo.ToString() << "@" << branch
                          << " is read-only in this mount: " << w.status();
      return VfsErrc::kReadOnly;
    }
    return VfsErrorFromStatus(w.status());
  }
  return WriteSide{std::move(view), *w};
}

void VfsCore::TouchAliases(const View& view, const std::string& path) {
  if (!multi()) return;
  const std::string branch = BranchOf(view);
  std::vector<VfsInvalidation> out;
  for (const auto& v : views_.Live()) {
    if (v->id == view.id || !(v->spec.repo == view.spec.repo) || BranchOf(*v) != branch) continue;
    if (uint64_t dir = inodes_.Find(v->id, ParentPath(path)); dir != 0) {
      out.push_back(VfsInvalidation{dir, BaseName(path), 0});
    }
    if (uint64_t ino = inodes_.Find(v->id, path); ino != 0) {
      out.push_back(VfsInvalidation{0, "", ino});
    }
  }
  if (!out.empty()) invalidations_.Queue(std::move(out));
}

std::string VfsCore::HeadOf(const hub::RepoId& repo, const std::string& branch) const {
  if (!multi()) return root_view_->Current().commit;
  for (const auto& v : views_.Live()) {
    if (v->spec.repo == repo && BranchOf(*v) == branch) return v->Current().commit;
  }
  auto r = source_->ResolveRevision(repo, branch);
  return r.ok() ? r->commit : std::string();
}

BaseReaderFactory VfsCore::BaseReaders(const hub::RepoId& repo, const std::string& branch) {
  return [this, repo, branch](const std::string& path,
                              const RemoteFile& f) -> Result<BaseReader> {
    FileContent content{repo,
                        f.commit.empty() ? HeadOf(repo, branch) : f.commit,
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

namespace {
// How long a landed commit waits for its view to show it (see ShowCommit).
constexpr auto kShowCommitPatience = std::chrono::seconds(20);
}  // namespace

void VfsCore::ShowCommit(const hub::RepoId& repo, const std::string& branch,
                         const std::string& commit, const std::string& target) {
  // The overlay forgets the committed changes once this returns, and a file
  // reopened then is based on what the view shows: it must show this commit
  // (or a newer one). A refresh under way on another thread may have read
  // the branch before the commit landed: wait for it and resolve again.
  // Revision directories resolve through the repo's refs list: fetched again.
  std::vector<std::shared_ptr<View>> views;
  if (!multi()) {
    if (target != branch) {
      // --create-pr: from its first commit on the mount shows the pull request.
      MutexLock lock(&root_view_->mu);
      root_view_->follow = target;
    }
    views.push_back(root_view_);
  } else {
    // Also for views made later (none may be live: a resumed journal).
    refs_.Expire(repo);
    for (auto& v : views_.Live()) {
      if (v->spec.repo == repo && BranchOf(*v) == branch) views.push_back(std::move(v));
    }
  }
  // A refresh that fails (a flaky Hub) is tried again with a growing pause
  // for a while: the overlay must not go while the view still shows the
  // commit before this one (files would seem to revert). A view that moved
  // past it (another writer committed since) is fine too.
  const auto deadline = std::chrono::steady_clock::now() + kShowCommitPatience;
  for (const auto& view : views) {
    const std::string before = view->Current().commit;
    auto pause = std::chrono::milliseconds(50);
    for (;;) {
      if (multi()) refs_.Expire(repo);
      views_.MarkDue(*view);
      (void)views_.MaybeRefresh(*view, /*may_block=*/true);
      const std::string now = view->Current().commit;
      if (now == commit || now != before) break;
      if (std::chrono::steady_clock::now() + pause > deadline) {
        HUBFS_LOG(kWarning) << "committed " << commit << " to " << repo.ToString() << "@"
                            << branch << " but the view still shows " << now
                            << " (the Hub did not answer); it follows at its next refresh";
        break;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
  }
  HUBFS_LOG(kInfo) << "committed " << commit << " to " << repo.ToString() << "@" << target
                   << (views.empty() ? std::string()
                                     : "; the view shows " + views.front()->Current().commit);
}

std::shared_ptr<const NodeMeta> VfsCore::SettledMeta(const InodeInfo& info,
                                                     bool may_block) const {
  if (info.meta->is_dir || !IsLocal(*info.meta)) return info.meta;
  auto view = ViewOf(info);
  WritableView* w = view ? WriterOf(*view) : nullptr;
  if (w == nullptr) return info.meta;
  if (w->LiveSize(info.path)) return info.meta;  // still pending or open
  auto hub = HubFileAt(view->spec.repo, view->Current().commit, info.path, may_block);
  return hub ? hub : info.meta;
}

std::shared_ptr<const NodeMeta> VfsCore::HubFileAt(const hub::RepoId& repo,
                                                   const std::string& commit,
                                                   const std::string& path, bool may_block) const {
  const std::string dir = ParentPath(path);
  std::shared_ptr<const Listing> listing = listings_.Cached(repo, commit, dir);
  if (!listing && may_block) {
    auto fetched = listings_.Fetch(repo, commit, dir);
    if (fetched.ok()) listing = *fetched;
  }
  if (!listing) return nullptr;
  const Child* c = listing->Find(BaseName(path));
  if (c == nullptr || c->meta->is_dir) return nullptr;
  return c->meta;
}

void VfsCore::Settle(InodeInfo* info, bool may_block) {
  if (!Writable(*info) || info->meta->is_dir || !IsLocal(*info->meta)) return;
  auto settled = SettledMeta(*info, may_block);
  if (settled != info->meta) {
    if (!SameAsLanded(*info, *settled, may_block)) MarkPagesStale(info->ino);
    (void)inodes_.Update(info->ino, settled);
    info->meta = settled;
  }
}

bool VfsCore::SameAsLanded(const InodeInfo& info, const NodeMeta& settled, bool may_block) {
  auto view = ViewOf(info);
  WritableView* w = view ? WriterOf(*view) : nullptr;
  if (w == nullptr) return false;
  const auto landed = w->LandedCommit(info.path);
  if (!landed) return false;  // a conflict sent to a pull request, or unknown
  if (*landed == view->Current().commit) return true;
  // The branch moved on since: the same file if that commit's entry is.
  auto then = HubFileAt(view->spec.repo, *landed, info.path, may_block);
  return then != nullptr && then->oid == settled.oid;
}

VfsResult<uint64_t> VfsCore::RefChild(uint32_t view, WritableView* w, const std::string& path,
                                      const std::shared_ptr<const NodeMeta>& meta,
                                      bool may_block) {
  if (w == nullptr) return inodes_.Ref(view, path, meta);
  // Local metas come from the overlay. A file open for writing keeps its
  // local inode although a commit took its last flushed version (the
  // listing shows the Hub's entry then).
  if (IsLocal(*meta) || (!meta->is_dir && !w->Find(path) && w->LiveSize(path))) {
    return RefLocal(view, path, meta->is_dir);
  }
  // A file written here whose change was committed: its inode stands for
  // the Hub's version from now on, under the same number (a new number
  // would cost the kernel the pages it holds of what was just written).
  if (uint64_t held = meta->is_dir ? 0 : inodes_.Find(view, path); held != 0) {
    if (auto info = inodes_.Get(held); info.ok()) Settle(&*info, may_block);  // local ones only
  }
  return inodes_.Ref(view, path, meta);
}

void VfsCore::MarkPagesStale(uint64_t ino) {
  {
    MutexLock lock(&stale_mu_);
    stale_pages_.insert(ino);
  }
  invalidations_.Queue({VfsInvalidation{0, "", ino}});
}

bool VfsCore::KeepCache(uint64_t ino) {
  if (multi()) return false;
  MutexLock lock(&stale_mu_);
  return stale_pages_.erase(ino) == 0;
}

std::optional<RemoteFile> VfsCore::RemoteOf(const InodeInfo& info) const {
  if (info.meta->is_dir || IsLocal(*info.meta)) return std::nullopt;
  RemoteFile f;
  f.size = info.meta->size;
  f.git_oid = info.meta->oid;
  f.sha256 = info.meta->sha256;
  f.xet_hash = info.meta->xet_hash;
  f.path = info.meta->source_path.empty() ? info.path : info.meta->source_path;
  f.commit = info.meta->commit;
  if (f.commit.empty()) {
    auto view = ViewOf(info);
    f.commit = view ? view->Current().commit : root_view_->Current().commit;
  }
  return f;
}

VfsResult<uint64_t> VfsCore::RefLocal(uint32_t view, const std::string& path, bool is_dir) {
  auto meta = LocalMeta(is_dir);
  if (uint64_t ino = inodes_.Find(view, path); ino != 0) {
    auto info = inodes_.Get(ino);
    if (info.ok() && info->meta->is_dir == is_dir && info->meta != meta) {
      (void)inodes_.Update(ino, meta);  // the same file, changed here: same number
      // Not by writes to this inode (OpenWrite made it local first): by a
      // create over it, a rename or an alias view.
      if (!is_dir) MarkPagesStale(ino);
    }
  }
  return inodes_.Ref(view, path, meta);
}

VfsResult<std::shared_ptr<const Listing>> VfsCore::MergedListing(View& view, WritableView* w,
                                                                 const std::string& dir,
                                                                 bool may_block) {
  if (w == nullptr) return views_.GetListing(view, dir, may_block);
  // The overlay is read before the Hub's listing, all of it: a commit that
  // lands while the listing is fetched (a slow or retried fetch) moves the
  // view first and clears the overlay after, so the pair never misses a
  // change; read after the fetch, the overlay could be cleared already
  // while the listing is the older commit's (a file just committed: ENOENT).
  WritableView::Children ch = w->ChildrenOf(dir);
  const auto own = w->Find(dir);
  // Anything kept under the directory shows among its children (a deeper
  // change as its top directory), deletions aside.
  const bool only_here = dir.empty() ||
                         (own && own->kind == PendingChange::Kind::kNewDir) ||
                         !ch.added.empty();
  auto remote = views_.GetListing(view, dir, may_block);
  std::shared_ptr<const Listing> base;
  if (remote.ok()) {
    base = *remote;
  } else if (remote.error().code == VfsErrc::kNoEntry) {
    // A directory that exists only here.
    if (!only_here) return remote.error();
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

VfsResult<uint64_t> VfsCore::AddWriteHandle(const WriteSide& side, uint64_t ino,
                                            const std::string& path,
                                            std::shared_ptr<StagedFile> staged) {
  if (!views_.AddHandle(side.view->id)) {
    side.writer->ReleaseWriter(path);
    return VfsErrc::kNoEntry;
  }
  FileHandle h;
  h.view = side.view->id;
  h.staged = std::move(staged);
  h.writer = true;
  h.writable = side.writer;
  h.ino = ino;
  auto fh = handles_.AddFile(std::move(h));
  if (!fh.ok()) {
    views_.ReleaseHandle(side.view->id);
    side.writer->ReleaseWriter(path);
  }
  return fh;
}

VfsResult<VfsOpenFile> VfsCore::OpenWrite(uint64_t ino, bool truncate) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  auto side = OpenSide(*info);
  if (!side.ok()) return side.error();
  Settle(&*info, /*may_block=*/true);
  auto staged =
      side->writer->OpenForWrite(info->path, RemoteOf(*info), truncate, /*create=*/false);
  if (!staged.ok()) return VfsErrorFromStatus(staged.status());
  (void)inodes_.Update(ino, LocalMeta(false));
  auto fh = AddWriteHandle(*side, ino, info->path, *staged);
  if (!fh.ok()) return fh.error();
  if (truncate) TouchAliases(*side->view, info->path);
  return VfsOpenFile{*fh, KeepCache(ino), std::nullopt};
}

VfsResult<std::pair<VfsEntry, VfsOpenFile>> VfsCore::Create(uint64_t parent, std::string_view name,
                                                            bool truncate) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!Writable(*dir)) return VfsErrc::kReadOnly;
  if (!ValidFileName(name) || RefusedName(name)) return VfsErrc::kInvalid;
  auto side = OpenSide(*dir);
  if (!side.ok()) return side.error();
  WritableView* w = side->writer;
  const std::string path = ChildPath(dir->path, name);
  // The Hub's file at this name, if any (O_CREAT on an existing file).
  std::optional<RemoteFile> remote;
  auto listing = MergedListing(*side->view, w, dir->path, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  if (const Child* c = (*listing)->Find(name)) {
    if (c->meta->is_dir) return VfsErrc::kIsDir;
    if (!IsLocal(*c->meta)) {
      InodeInfo tmp{0, dir->view, path, c->meta};
      remote = RemoteOf(tmp);
    }
  }
  auto staged = w->OpenForWrite(path, remote, truncate, /*create=*/true);
  if (!staged.ok()) return VfsErrorFromStatus(staged.status());
  auto ino = RefLocal(side->view->id, path, false);
  if (!ino.ok()) {
    w->ReleaseWriter(path);
    return ino.error();
  }
  auto info = inodes_.Get(*ino);
  if (!info.ok()) {
    w->ReleaseWriter(path);
    return VfsErrc::kNoEntry;
  }
  auto fh = AddWriteHandle(*side, *ino, path, *staged);
  if (!fh.ok()) {
    inodes_.Forget(*ino, 1);
    return fh.error();
  }
  TouchAliases(*side->view, path);
  return std::make_pair(EntryOf(*info), VfsOpenFile{*fh, false, std::nullopt});
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
  if (!handle->writer || !handle->staged || handle->writable == nullptr) return VfsOk{};
  auto info = inodes_.Get(handle->ino);
  if (!info.ok()) return VfsOk{};
  Status st = handle->writable->Flush(info->path, handle->staged);
  if (!st.ok()) return VfsErrorFromStatus(st);
  if (auto view = views_.Get(handle->view)) TouchAliases(*view, info->path);
  return VfsOk{};
}

VfsStatus VfsCore::Fsync(uint64_t fh) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  // Nothing of ours to make durable.
  if (!handle->staged || handle->writable == nullptr) return VfsOk{};
  auto info = inodes_.Get(handle->ino);
  if (!info.ok()) return VfsOk{};
  Status st = handle->writer ? handle->writable->Fsync(info->path, handle->staged)
                             : handle->writable->SyncAll(std::chrono::minutes(10));
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

VfsResult<VfsAttr> VfsCore::SetSize(uint64_t ino, uint64_t fh, uint64_t size) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  auto side = OpenSide(*info);
  if (!side.ok()) return side.error();
  Settle(&*info, /*may_block=*/true);
  Status st;
  auto handle = fh != 0 ? handles_.File(fh) : VfsResult<FileHandle>(VfsErrc::kBadHandle);
  if (handle.ok() && handle->writer && handle->staged) {
    st = handle->staged->Truncate(size);
  } else {
    st = side->writer->Truncate(info->path, RemoteOf(*info), size);
    if (st.ok()) (void)inodes_.Update(ino, LocalMeta(false));
  }
  if (!st.ok()) return VfsErrorFromStatus(st);
  TouchAliases(*side->view, info->path);
  return GetAttr(ino);
}

VfsResult<VfsAttr> VfsCore::SetMtime(uint64_t ino, int64_t mtime) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (!Writable(*info)) return VfsErrc::kReadOnly;
  // Only a pending or open file keeps it: then its writer is open.
  if (WritableView* w = WriterOf(*info); w != nullptr && !info->meta->is_dir) {
    w->SetLocalMtime(info->path, mtime);
  }
  return GetAttr(ino);
}

VfsStatus VfsCore::SyncAll(std::chrono::milliseconds timeout) {
  if (writers_ == nullptr) return VfsOk{};
  Status st = writers_->SyncAll(timeout);
  if (!st.ok()) return VfsErrorFromStatus(st);
  return VfsOk{};
}

}  // namespace hubfs::fs
