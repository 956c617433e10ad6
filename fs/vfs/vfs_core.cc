#include "fs/vfs/vfs_core.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace hubfs::fs {
namespace {

constexpr char kXattrCommit[] = "user.hf.commit";
constexpr char kXattrEtag[] = "user.hf.etag";
constexpr char kXattrXetHash[] = "user.hf.xet_hash";
constexpr char kXattrLfs[] = "user.hf.lfs";

const Clock* DefaultClock() {
  static SystemClock clock;
  return &clock;
}

std::shared_ptr<const NodeMeta> RootMeta() {
  auto root = std::make_shared<NodeMeta>();
  root->is_dir = true;
  return root;
}

}  // namespace

VfsCore::VfsCore(RepoSource* source, ViewSpec view, VfsOptions options, const Clock* clock)
    : source_(source),
      options_(options),
      clock_(clock != nullptr ? clock : DefaultClock()),
      inodes_(options.max_inodes),
      handles_(options.max_open_handles),
      folder_(options.folder_readahead),
      listings_(source, std::max<size_t>(1, options.max_cached_dirs)),
      refs_(source, &inodes_, &invalidations_, nullptr, options_, clock_),
      views_(source, &inodes_, &listings_, &refs_, &invalidations_, options_, clock_,
             /*multi=*/false) {
  const RevisionInfo resolved = view.resolved;
  root_view_ = std::make_shared<View>(0, std::move(view), /*by_ref=*/false, "");
  {
    MutexLock lock(&root_view_->mu);
    root_view_->current = resolved;
    root_view_->next_check = clock_->Now() + SecondsToDuration(options_.metadata_ttl_seconds);
  }
  views_.AddRoot(root_view_);
  uint64_t ino = inodes_.AddRoot(0, root_view_->spec.subdir, RootMeta());
  (void)ino;  // kRootIno: the first inode the table hands out.
}

VfsCore::VfsCore(RepoSource* source, VfsLayout layout, VfsOptions options, const Clock* clock)
    : source_(source),
      layout_(std::move(layout)),
      options_(options),
      clock_(clock != nullptr ? clock : DefaultClock()),
      inodes_(options.max_inodes),
      handles_(options.max_open_handles),
      folder_(options.folder_readahead),
      listings_(source, std::max<size_t>(1, options.max_cached_dirs)),
      refs_(source, &inodes_, &invalidations_, &*layout_, options_, clock_),
      views_(source, &inodes_, &listings_, &refs_, &invalidations_, options_, clock_,
             /*multi=*/true) {
  ViewSpec spec;
  spec.repo = layout_->repo;
  spec.subdir = layout_->subdir;
  root_view_ = std::make_shared<View>(kTreeView, std::move(spec), /*by_ref=*/false, "");
  tree_ = std::make_unique<SyntheticTree>(*layout_, source_, &inodes_, &views_, &refs_, options_,
                                          clock_);
  uint64_t ino = inodes_.AddRoot(kTreeView, "", RootMeta());
  (void)ino;  // kRootIno
}

VfsCore::~VfsCore() = default;

std::shared_ptr<View> VfsCore::ViewOf(const InodeInfo& info) const {
  return views_.Get(info.view);
}

double VfsCore::Ttl(const View& view) const {
  return view.spec.immutable ? options_.immutable_ttl_seconds : options_.metadata_ttl_seconds;
}

double VfsCore::TtlOf(const InodeInfo& info) const {
  if (IsSynthetic(info)) return options_.metadata_ttl_seconds;
  auto view = ViewOf(info);
  return view ? Ttl(*view) : options_.metadata_ttl_seconds;
}

size_t VfsCore::view_count() const { return views_.size(); }

RevisionInfo VfsCore::current() const { return root_view_->Current(); }

bool VfsCore::RefreshDue() const { return views_.RefreshDue(*root_view_); }
bool VfsCore::RefreshPending() const { return views_.RefreshPending(*root_view_); }
bool VfsCore::RefreshIfDue() {
  const bool moved = views_.Refresh(*root_view_);
  if (WritableView* w = moved ? WriterOf(*root_view_) : nullptr) {
    // Nothing pending: what is changed from now on is based on this commit.
    (void)w->SetBaseIfIdle(root_view_->Current().commit);
  }
  return moved;
}

bool VfsCore::RefreshDue(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return false;
  auto view = ViewOf(*info);
  return view && views_.RefreshDue(*view);
}

bool VfsCore::RefreshIfDue(uint64_t ino) {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return false;
  auto view = ViewOf(*info);
  const bool moved = view && views_.Refresh(*view);
  if (WritableView* w = moved ? WriterOf(*view) : nullptr) {
    (void)w->SetBaseIfIdle(view->Current().commit);
  }
  return moved;
}

void VfsCore::SetInvalidationListener(std::function<void()> listener) {
  invalidations_.SetListener(std::move(listener));
}

std::vector<VfsInvalidation> VfsCore::TakeInvalidations() { return invalidations_.Take(); }

VfsStatus VfsCore::CheckRoot() {
  if (multi()) return tree_->CheckRoot();
  auto listing = views_.GetListing(*root_view_, root_view_->spec.subdir, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  return VfsOk{};
}

VfsAttr VfsCore::AttrOf(const InodeInfo& info) const {
  VfsAttr a;
  a.ino = info.ino;
  a.is_dir = info.meta->is_dir;
  a.mode = a.is_dir ? 0555 : 0444;
  std::shared_ptr<const NodeMeta> meta = info.meta;
  if (Writable(info)) {
    a.mode = a.is_dir ? 0755 : 0644;
    // A file changed here (open for writing or pending): its size is the
    // staged file's, live - also when this inode was looked up with the
    // Hub's entry while a commit had just taken an earlier version.
    // Nothing is pending in a view whose writer is not open.
    WritableView* w = WriterOf(info);
    std::optional<uint64_t> live;
    if (!a.is_dir && w != nullptr) {
      auto pending = w->Find(info.path);
      if (meta->oid == kLocalFileOid || !pending || pending->kind == PendingChange::Kind::kStaged) {
        live = w->LiveSize(info.path);
      }
    }
    if (live) {
      a.size = *live;
      a.blocks = (a.size + 511) / 512;
      a.uid = options_.uid;
      a.gid = options_.gid;
      a.nlink = 1;
      a.mtime = w->LocalMtime(info.path).value_or(clock_->UnixSeconds());
      return a;
    }
    // Committed since: what the Hub has now.
    if (!a.is_dir && meta->oid == kLocalFileOid && w != nullptr) {
      meta = SettledMeta(info, /*may_block=*/false);
    }
  }
  a.nlink = 1;  // directories too: tells find(1) not to count subdirectories
  a.uid = options_.uid;
  a.gid = options_.gid;
  a.size = meta->size;
  a.blocks = (a.size + 511) / 512;
  if (IsSynthetic(info)) {
    a.mtime = layout_->mount_time;
    return a;
  }
  auto view = ViewOf(info);
  a.mtime = view ? view->Current().commit_time : 0;
  // A revision directory whose date is still being fetched.
  if (a.mtime == 0 && multi()) a.mtime = layout_->mount_time;
  return a;
}

VfsEntry VfsCore::EntryOf(const InodeInfo& info) const {
  double ttl = TtlOf(info);
  return VfsEntry{AttrOf(info), ttl, ttl};
}

VfsResult<VfsEntry> VfsCore::Lookup(uint64_t parent, std::string_view name, bool may_block) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!ValidFileName(name)) return VfsErrc::kNoEntry;
  if (IsSynthetic(*dir)) {
    auto info = tree_->Lookup(*dir, name, may_block);
    if (!info.ok()) return info.error();
    return EntryOf(*info);
  }
  auto view = ViewOf(*dir);
  if (!view) return VfsErrc::kNoEntry;
  if (auto st = views_.MaybeRefresh(*view, may_block, &dir->path); !st.ok()) return st.error();
  WritableView* w = WriterOf(*view);
  auto listing = MergedListing(*view, w, dir->path, may_block);
  if (!listing.ok()) return listing.error();
  const Child* child = (*listing)->Find(name);
  if (child == nullptr) return VfsErrc::kNoEntry;
  std::string path = ChildPath(dir->path, name);
  auto ino = RefChild(dir->view, w, path, child->meta, may_block);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, dir->view, std::move(path), child->meta});
}

double VfsCore::NegativeTimeout(uint64_t parent) const {
  auto info = inodes_.Get(parent);
  if (!info.ok()) return options_.metadata_ttl_seconds;
  return TtlOf(*info);
}

void VfsCore::Forget(uint64_t ino, uint64_t nlookup) {
  auto removed = inodes_.Forget(ino, nlookup);
  if (removed) {
    // The kernel dropped the inode and its pages with it.
    MutexLock lock(&dir_cache_mu_);
    kernel_listings_.erase(ino);
  }
  if (removed && multi() && *removed != kTreeView) views_.DropIfUnused(*removed);
}

VfsResult<VfsAttr> VfsCore::GetAttr(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  return AttrOf(*info);
}

double VfsCore::AttrTimeout(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return options_.metadata_ttl_seconds;
  return TtlOf(*info);
}

VfsCore::DirCaching VfsCore::DirCachingFor(uint64_t ino, uint64_t dh) {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return {};
  auto view = ViewOf(*info);
  if (!view) return {};
  if (view->spec.immutable) return {true, true};
  if (Writable(*info)) return {};
  auto handle = handles_.Dir(dh);
  if (!handle.ok() || handle->ino != ino) return {};
  // Listed at a commit the view has moved from (an open that waited on a
  // slow fetch): its entries must not go into the kernel's cache.
  if (handle->commit.empty() || handle->commit != view->Current().commit) return {};
  MutexLock lock(&dir_cache_mu_);
  KernelListing& held = kernel_listings_[ino];
  const bool keep = held.SameAs(*handle);
  held = KernelListing{handle->listing, handle->commit};
  announced_dirs_.insert(dh);
  return {true, keep};
}

void VfsCore::DirCachingUnknown(uint64_t ino, uint64_t dh) {
  MutexLock lock(&dir_cache_mu_);
  kernel_listings_.erase(ino);
  announced_dirs_.erase(dh);
}

VfsResult<VfsOpenFile> VfsCore::Open(uint64_t ino, bool write, bool direct) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  if (write) return Writable(*info) ? OpenWrite(ino, false) : VfsErrc::kReadOnly;
  auto view = ViewOf(*info);
  if (!view) return VfsErrc::kNoEntry;
  // Committed since it was changed here: the inode now stands for the
  // Hub's version (same number).
  Settle(&*info, /*may_block=*/true);
  WritableView* w = WriterOf(*view);
  if (w != nullptr && info->meta->oid == kLocalFileOid) {
    // A file changed here: read from its staged copy.
    auto staged = w->OpenStagedForRead(info->path);
    if (!staged.ok()) return VfsErrorFromStatus(staged.status());
    if (!views_.AddHandle(view->id)) return VfsErrc::kNoEntry;
    FileHandle h;
    h.view = view->id;
    h.staged = *staged;
    h.writable = w;
    h.ino = ino;
    auto fh = handles_.AddFile(std::move(h));
    if (!fh.ok()) {
      views_.ReleaseHandle(view->id);
      return fh.error();
    }
    return VfsOpenFile{*fh, KeepCache(ino), std::nullopt};
  }
  // The version this inode stands for: the view may have moved on since.
  const std::string commit =
      info->meta->commit.empty() ? view->Current().commit : info->meta->commit;
  const std::string& path = info->meta->source_path.empty() ? info->path : info->meta->source_path;
  FileContent content{view->spec.repo,  commit,               path, info->meta->oid,
                      info->meta->size, info->meta->xet_hash, info->meta->sha256};
  // Counted first so that the view cannot go while the handle is made.
  if (!views_.AddHandle(view->id)) return VfsErrc::kNoEntry;
  // An inode's content never changes (changed content gets a new inode), so
  // whatever the page cache holds for it is current - except in a writable
  // view, where a local change keeps the inode's number (KeepCache).
  const bool keep_cache = !Writable(*info) || KeepCache(ino);
  FileHandle h;
  h.view = view->id;
  h.content = content;
  h.ino = ino;
  // The kernel keeps the pages read: not for a handle opened O_DIRECT, and
  // not past this open where it drops them at the next (keep_cache off).
  h.pages_kept = !direct && keep_cache;
  auto fh = handles_.AddFile(std::move(h));
  if (!fh.ok()) {
    views_.ReleaseHandle(view->id);
    return fh.error();
  }
  source_->Opened(content);  // Release says Closed
  VfsOpenFile opened{*fh, keep_cache, std::nullopt};
  if (!Writable(*info)) opened.xet_hash = info->meta->xet_hash;
  return opened;
}

VfsResult<size_t> VfsCore::Read(uint64_t fh, uint64_t offset, std::span<uint8_t> out) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  if (handle->staged) {
    auto n = handle->staged->Read(offset, out);
    if (!n.ok()) return VfsErrorFromStatus(n.status());
    return *n;
  }
  const FileContent& file = handle->content;
  if (offset >= file.size) return size_t{0};
  out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset)));
  NoteRead(fh, file, offset, out.size());
  return ReadSource(file, offset, out);
}

VfsResult<size_t> VfsCore::ReadSource(const FileContent& file, uint64_t offset,
                                      std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    auto n = source_->Read(file, offset + done, out.subspan(done));
    if (!n.ok()) return VfsErrorFromStatus(n.status());
    if (*n == 0) break;
    done += *n;
  }
  return done;
}

VfsResult<size_t> VfsCore::ReadHeld(uint64_t fh, uint64_t offset, size_t len, HeldBytes* out,
                                     bool direct) {
  auto handle = handles_.File(fh);
  if (!handle.ok()) return handle.error();
  const FileContent& file = handle->content;
  // Xet files only: their reader answers whole (short only at the end of
  // file); the others' reads, and staged files, go through Read's loop.
  if (handle->staged || !file.xet_hash.has_value()) {
    auto n = Read(fh, offset, out->Own(len));
    if (n.ok()) out->Keep(*n);
    return n;
  }
  if (offset >= file.size) {
    out->Own(0);
    return size_t{0};
  }
  len = static_cast<size_t>(std::min<uint64_t>(len, file.size - offset));
  NoteRead(fh, file, offset, len);
  auto n = source_->ReadHeld(file, offset, len, out, handle->pages_kept && !direct);
  if (!n.ok()) return VfsErrorFromStatus(n.status());
  if (*n == len) return *n;
  // Answered in part (a source may): the whole range again through Read's
  // loop, into a buffer of out's own.
  auto all = ReadSource(file, offset, out->Own(len));
  if (all.ok()) out->Keep(*all);
  return all;
}

void VfsCore::NoteRead(uint64_t fh, const FileContent& file, uint64_t offset, size_t len) {
  // Told before the read (in the order the kernel asks, not the order the
  // answers complete), so that the next files' fetches overlap this one.
  const size_t slash = file.path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : file.path.substr(0, slash);
  const std::string name = slash == std::string::npos ? file.path : file.path.substr(slash + 1);
  if (options_.folder_readahead.enabled &&
      folder_.OnRead(fh, file.repo.ToString() + "@" + file.commit + "/" + dir, name, offset, len,
                     file.size)) {
    // A copier: read the next files of its directory ahead, when the
    // listing is at hand (never a request here).
    if (auto listing = listings_.Cached(file.repo, file.commit, dir)) {
      for (const auto& [next, bytes] : folder_.NextFiles(*listing, file)) {
        if (bytes != 0) source_->Speculate(next, bytes, fh);
      }
    }
  }
}

void VfsCore::Release(uint64_t fh) {
  auto handle = handles_.File(fh);
  if (handle.ok() && handle->writer && handle->staged && handle->writable != nullptr) {
    // Pages of a shared mapping may have been written since the last
    // flush: record them; release cannot report an error, so log it.
    auto info = inodes_.Get(handle->ino);
    if (info.ok()) {
      Status st = handle->writable->Flush(info->path, handle->staged);
      if (!st.ok()) {
        HUBFS_LOG(kError) << "release of " << info->path << ": " << st;
      }
      handle->writable->ReleaseWriter(info->path);
    }
  }
  if (folder_.OnRelease(fh)) source_->CancelSpeculation(fh);
  // A handle with content (not a staged copy) was counted by Open.
  if (handle.ok() && handle->staged == nullptr) source_->Closed(handle->content);
  if (auto view = handles_.RemoveFile(fh)) views_.ReleaseHandle(*view);
}

VfsResult<uint64_t> VfsCore::OpenDir(uint64_t ino, bool may_block) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (!info->meta->is_dir) return VfsErrc::kNotDir;
  std::shared_ptr<const Listing> listing;
  std::string commit;
  if (IsSynthetic(*info)) {
    auto l = tree_->List(info->path, may_block);
    if (!l.ok()) return l.error();
    listing = *l;
  } else {
    auto view = ViewOf(*info);
    if (!view) return VfsErrc::kNoEntry;
    if (auto st = views_.MaybeRefresh(*view, may_block, &info->path); !st.ok()) return st.error();
    WritableView* w = WriterOf(*view);
    if (w == nullptr) {
      // The listing of a named commit, whose entries the kernel may cache
      // (DirCachingFor).
      commit = view->Current().commit;
      auto l = views_.GetListingAt(*view, commit, info->path, may_block);
      if (!l.ok()) return l.error();
      listing = *l;
    } else {
      auto l = MergedListing(*view, w, info->path, may_block);
      if (!l.ok()) return l.error();
      listing = *l;
    }
  }
  // Counted first so that the view cannot go while the handle is made; a
  // synthetic directory has no view to count.
  const bool counted = views_.AddHandle(info->view);
  auto dh = handles_.AddDir(
      DirHandle{info->view, info->path, std::move(listing), ino, std::move(commit)});
  if (!dh.ok() && counted) views_.ReleaseHandle(info->view);
  return dh;
}

VfsResult<std::optional<VfsDirEntry>> VfsCore::DirEntryAt(uint64_t dh, size_t index) const {
  auto handle = handles_.Dir(dh);
  if (!handle.ok()) return handle.error();
  const auto& children = handle->listing->children;
  if (index >= children.size()) return std::optional<VfsDirEntry>();
  return std::optional<VfsDirEntry>(
      VfsDirEntry{children[index].name, children[index].meta->is_dir});
}

VfsResult<VfsEntry> VfsCore::LookupDirEntryAt(uint64_t dh, size_t index) {
  auto handle = handles_.Dir(dh);
  if (!handle.ok()) return handle.error();
  const auto& children = handle->listing->children;
  if (index >= children.size()) return VfsErrc::kInvalid;
  const Child& child = children[index];
  if (multi() && handle->view == kTreeView) {
    // From the listing's snapshot, without the network.
    auto info = tree_->LookupListed(handle->path, child);
    if (!info.ok()) return info.error();
    return EntryOf(*info);
  }
  std::string path = ChildPath(handle->path, child.name);
  WritableView* w = nullptr;  // a read-only mount asks nothing more per entry
  if (writers_ != nullptr) {
    if (auto view = views_.Get(handle->view)) w = WriterOf(*view);
  }
  auto ino = RefChild(handle->view, w, path, child.meta, /*may_block=*/false);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, handle->view, std::move(path), child.meta});
}

void VfsCore::ReleaseDir(uint64_t dh) {
  bool announced = false;
  {
    MutexLock lock(&dir_cache_mu_);
    announced = announced_dirs_.erase(dh) != 0;
  }
  // Only a handle handed to the kernel with caching (DirCachingFor) can
  // have put entries into its cache.
  auto handle = announced ? handles_.Dir(dh) : VfsResult<DirHandle>(VfsErrc::kBadHandle);
  if (handle.ok()) {
    // Opened before the view moved, this handle may have put its entries
    // into the kernel's cache after a newer open claimed it: drop them.
    bool drop = false;
    {
      MutexLock lock(&dir_cache_mu_);
      auto it = kernel_listings_.find(handle->ino);
      if (it != kernel_listings_.end() && !it->second.SameAs(*handle)) {
        kernel_listings_.erase(it);
        drop = true;
      }
    }
    if (drop) invalidations_.Queue({VfsInvalidation{0, "", handle->ino}});
  }
  if (auto view = handles_.RemoveDir(dh)) views_.ReleaseHandle(*view);
}

VfsResult<std::string> VfsCore::GetXattr(uint64_t ino, std::string_view name) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (IsSynthetic(*info)) return VfsErrc::kNoAttr;
  const NodeMeta& m = *info->meta;
  if (name == kXattrCommit) {
    auto view = ViewOf(*info);
    if (!view) return VfsErrc::kNoEntry;
    return view->Current().commit;
  }
  if (m.is_dir) return VfsErrc::kNoAttr;
  if (name == kXattrEtag) return m.sha256 ? *m.sha256 : m.oid;
  if (name == kXattrXetHash && m.xet_hash) return *m.xet_hash;
  if (name == kXattrLfs && m.sha256) return std::string("1");
  return VfsErrc::kNoAttr;
}

VfsResult<std::vector<std::string>> VfsCore::ListXattr(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (IsSynthetic(*info)) return std::vector<std::string>{};
  std::vector<std::string> names{kXattrCommit};
  const NodeMeta& m = *info->meta;
  if (!m.is_dir) {
    names.emplace_back(kXattrEtag);
    if (m.xet_hash) names.emplace_back(kXattrXetHash);
    if (m.sha256) names.emplace_back(kXattrLfs);
  }
  return names;
}

VfsStatFs VfsCore::StatFs() const {
  VfsStatFs s;
  s.files = inodes_.size();
  return s;
}

}  // namespace hubfs::fs
