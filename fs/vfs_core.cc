#include "fs/vfs_core.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "common/log.h"

namespace hubfs::fs {
namespace {

constexpr char kXattrCommit[] = "user.hf.commit";
constexpr char kXattrEtag[] = "user.hf.etag";
constexpr char kXattrXetHash[] = "user.hf.xet_hash";
constexpr char kXattrLfs[] = "user.hf.lfs";

bool ValidName(std::string_view name) { return ValidFileName(name); }

Clock::Duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

}  // namespace

const char* VfsErrcName(VfsErrc code) {
  switch (code) {
    case VfsErrc::kNoEntry: return "no_entry";
    case VfsErrc::kNotDir: return "not_dir";
    case VfsErrc::kIsDir: return "is_dir";
    case VfsErrc::kReadOnly: return "read_only";
    case VfsErrc::kNoAttr: return "no_attr";
    case VfsErrc::kRange: return "range";
    case VfsErrc::kBadHandle: return "bad_handle";
    case VfsErrc::kWouldBlock: return "would_block";
    case VfsErrc::kAccess: return "access";
    case VfsErrc::kNoSpace: return "no_space";
    case VfsErrc::kTimedOut: return "timed_out";
    case VfsErrc::kIo: return "io";
    case VfsErrc::kInvalid: return "invalid";
  }
  return "unknown";
}

VfsError VfsErrorFromStatus(const Status& status) {
  // The Hub answers an anonymous request for a missing repo with 401 (it
  // does not reveal whether a private one exists) but names the condition:
  // RepoNotFound is "no such name" to a filesystem, whatever the status. A
  // 401 without it (a bad token) or GatedRepo stays "access denied".
  const std::string& hub_code = status.hub_error_code();
  if (hub_code == "RepoNotFound" || hub_code == "RevisionNotFound" ||
      hub_code == "EntryNotFound") {
    return VfsError{VfsErrc::kNoEntry, status};
  }
  VfsErrc code = VfsErrc::kIo;
  switch (status.code()) {
    case ErrorCode::kNotFound: code = VfsErrc::kNoEntry; break;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied: code = VfsErrc::kAccess; break;
    case ErrorCode::kTimeout: code = VfsErrc::kTimedOut; break;
    case ErrorCode::kInvalidArgument: code = VfsErrc::kInvalid; break;
    default: code = VfsErrc::kIo; break;
  }
  return VfsError{code, status};
}

const VfsCore::Child* VfsCore::Listing::Find(std::string_view name) const {
  auto it = std::lower_bound(children.begin(), children.end(), name,
                             [](const Child& c, std::string_view n) { return c.name < n; });
  if (it == children.end() || it->name != name) return nullptr;
  return &*it;
}

static const Clock* DefaultClock() {
  static SystemClock clock;
  return &clock;
}

VfsCore::VfsCore(RepoSource* source, ViewSpec view, VfsOptions options, const Clock* clock)
    : source_(source),
      options_(options),
      inodes_(options.max_inodes),
      clock_(clock != nullptr ? clock : DefaultClock()),
      listings_(std::max<size_t>(1, options.max_cached_dirs)),
      repos_(1),
      namespaces_(1) {
  auto v = std::make_shared<View>();
  v->id = 0;
  v->current = view.resolved;
  v->next_check = clock_->Now() + Seconds(options_.metadata_ttl_seconds);
  v->spec = std::move(view);
  root_view_ = v;
  views_[0] = v;
  auto root = std::make_shared<NodeMeta>();
  root->is_dir = true;
  uint64_t ino = inodes_.AddRoot(0, root_view_->spec.subdir, std::move(root));
  (void)ino;  // kRootIno: the first inode the table hands out.
}

VfsCore::VfsCore(RepoSource* source, VfsLayout layout, VfsOptions options, const Clock* clock)
    : source_(source),
      layout_(std::move(layout)),
      options_(options),
      inodes_(options.max_inodes),
      clock_(clock != nullptr ? clock : DefaultClock()),
      listings_(std::max<size_t>(1, options.max_cached_dirs)),
      repos_(std::max<size_t>(1, options.max_cached_repos)),
      namespaces_(std::max<size_t>(1, options.max_cached_namespaces)) {
  root_view_ = std::make_shared<View>();
  root_view_->spec.repo = layout_->repo;
  root_view_->spec.subdir = layout_->subdir;
  auto root = std::make_shared<NodeMeta>();
  root->is_dir = true;
  uint64_t ino = inodes_.AddRoot(kTreeView, "", std::move(root));
  (void)ino;  // kRootIno
}

VfsCore::~VfsCore() = default;

double VfsCore::Ttl(const View& view) const {
  return view.spec.immutable ? options_.immutable_ttl_seconds : options_.metadata_ttl_seconds;
}

double VfsCore::TtlOf(const InodeInfo& info) const {
  if (IsSynthetic(info)) return options_.metadata_ttl_seconds;
  auto view = GetView(info.view);
  return view ? Ttl(*view) : options_.metadata_ttl_seconds;
}

std::string VfsCore::ChildPath(const std::string& dir, std::string_view name) const {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

std::shared_ptr<VfsCore::View> VfsCore::GetView(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = views_.find(id);
  return it == views_.end() ? nullptr : it->second;
}

size_t VfsCore::view_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return multi() ? views_.size() : 1;
}

void VfsCore::DropViewIfUnusedLocked(uint32_t id) {
  if (!multi() || id == kTreeView) return;
  auto it = views_.find(id);
  if (it == views_.end()) return;
  const View& v = *it->second;
  if (v.pins > 0 || v.handles > 0 || inodes_.CountInView(id) > 0) return;
  auto k = view_ids_.find(v.key);
  if (k != view_ids_.end() && k->second == id) view_ids_.erase(k);
  views_.erase(it);
}

void VfsCore::ReleaseHandleLocked(uint32_t id) {
  auto v = views_.find(id);
  if (v != views_.end() && v->second->handles > 0) --v->second->handles;
  DropViewIfUnusedLocked(id);
}

void VfsCore::Unpin(const std::shared_ptr<View>& view) {
  std::lock_guard<std::mutex> lock(mu_);
  --view->pins;
  DropViewIfUnusedLocked(view->id);
}

RevisionInfo VfsCore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return root_view_->current;
}

bool VfsCore::RefreshDue(const View& view) const {
  if (view.spec.immutable || (multi() && view.id == kTreeView)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return !view.refreshing && (!view.date_known || clock_->Now() >= view.next_check);
}

bool VfsCore::RefreshPending(const View& view) const {
  if (view.spec.immutable || (multi() && view.id == kTreeView)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return view.refreshing || !view.date_known || clock_->Now() >= view.next_check;
}

bool VfsCore::RefreshDue() const { return RefreshDue(*root_view_); }
bool VfsCore::RefreshPending() const { return RefreshPending(*root_view_); }
bool VfsCore::RefreshIfDue() { return RefreshView(*root_view_); }

bool VfsCore::RefreshDue(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return false;
  auto view = GetView(info->view);
  return view && RefreshDue(*view);
}

bool VfsCore::RefreshIfDue(uint64_t ino) {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return false;
  auto view = GetView(info->view);
  return view && RefreshView(*view);
}

void VfsCore::SetInvalidationListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

std::vector<VfsInvalidation> VfsCore::TakeInvalidations() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(invalidations_, {});
}

void VfsCore::QueueInvalidations(std::vector<VfsInvalidation> out) {
  if (out.empty()) return;
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    invalidations_.insert(invalidations_.end(), out.begin(), out.end());
    listener = listener_;
  }
  if (listener) listener();
}

VfsStatus VfsCore::MaybeRefresh(View& view, bool may_block, const std::string* need_dir) {
  // Due, or under way on another thread: answer from the commit it finds.
  if (!RefreshPending(view)) return VfsOk{};
  if (!may_block) return VfsErrc::kWouldBlock;
  RefreshView(view, need_dir);
  std::unique_lock<std::mutex> lock(mu_);
  refreshed_cv_.wait(lock, [&view] { return !view.refreshing; });
  return VfsOk{};
}

bool VfsCore::RefreshView(View& view, const std::string* need_dir) {
  if (view.spec.immutable || (multi() && view.id == kTreeView)) return false;
  RevisionInfo old;
  bool date_known = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (view.refreshing || (view.date_known && clock_->Now() < view.next_check)) return false;
    view.refreshing = true;  // one resolution at a time; others keep the current commit
    old = view.current;
    date_known = view.date_known;
  }
  const auto ttl = Seconds(options_.metadata_ttl_seconds);
  Result<RevisionInfo> resolved = UnavailableError("not resolved");
  if (view.by_ref) {
    // Through the repo's refs list (fetched at most once per TTL for all
    // its views); the commit's date from the Hub only when it is new.
    auto refs = GetRefs(view.spec.repo, /*may_block=*/true);
    std::string commit = refs.ok() ? (*refs)->CommitOf(view.spec.revision) : "";
    if (commit.empty()) {
      resolved = NotFoundError("ref " + view.spec.revision + " is gone");
    } else if (commit == old.commit && date_known) {
      resolved = old;
    } else {
      resolved = source_->ResolveRevision(view.spec.repo, commit);
      if (resolved.ok() && resolved->commit != commit) resolved = CorruptError("sha changed");
    }
  } else {
    resolved = source_->ResolveRevision(view.spec.repo, view.spec.revision);
  }
  if (!resolved.ok() || resolved->commit == old.commit) {
    // Unchanged, or the source is unreachable: serve the current commit and
    // try again after another TTL.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (resolved.ok()) {
        view.current.commit_time = resolved->commit_time;
        view.date_known = true;
      } else if (!view.date_known) {
        view.date_known = true;  // not again before the TTL
      }
      view.refreshing = false;
      view.next_check = clock_->Now() + ttl;
    }
    refreshed_cv_.notify_all();
    return false;
  }
  // Directories listed at the old commit may have entries the kernel knows
  // about. Nothing is fetched but the view's root and the directory the
  // triggering request needs (it would be fetched anyway): those are
  // diffed exactly. A
  // directory whose git tree oid did not change (its parent's listings at
  // both commits are known) keeps everything, and its listing serves the new
  // commit too. Any other directory is invalidated with every name under it
  // the kernel holds; those are looked up again from its listing at the new
  // commit, fetched on first use (unchanged files keep their inode numbers).
  std::set<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirs = std::exchange(view.listed_dirs, {});
  }
  const std::string& new_commit = resolved->commit;
  std::map<std::string, std::shared_ptr<const Listing>> known_now;  // dir -> listing at new
  std::vector<VfsInvalidation> out;
  for (const auto& dir : dirs) {  // sorted: a directory before those under it
    uint64_t dir_ino = inodes_.Find(view.id, dir);
    if (dir_ino == 0) continue;  // the kernel holds nothing under it
    if (dir != view.spec.subdir) {
      size_t slash = dir.rfind('/');
      std::string parent = slash == std::string::npos ? "" : dir.substr(0, slash);
      std::string name = slash == std::string::npos ? dir : dir.substr(slash + 1);
      auto now_parent = known_now.find(parent);
      auto old_parent = CachedListing(view, old.commit, parent);
      if (now_parent != known_now.end() && old_parent) {
        const Child* a = now_parent->second->Find(name);
        const Child* b = old_parent->Find(name);
        if (a != nullptr && b != nullptr && a->meta->is_dir && b->meta->is_dir &&
            !a->meta->oid.empty() && a->meta->oid == b->meta->oid) {
          if (auto same = CachedListing(view, old.commit, dir)) {
            std::string key = view.spec.repo.ToString();
            key.push_back('\0');
            key += new_commit;
            key.push_back('\0');
            key += dir;
            std::lock_guard<std::mutex> lock(mu_);
            listings_.Put(key, same);
            known_now[dir] = same;
          }
          continue;
        }
      }
    }
    out.push_back(VfsInvalidation{0, "", dir_ino});
    // The view's root too: one listing that lets every subtree be compared.
    const bool needed = dir == view.spec.subdir || (need_dir != nullptr && *need_dir == dir);
    std::shared_ptr<const Listing> after = CachedListing(view, new_commit, dir);
    std::shared_ptr<const Listing> before = CachedListing(view, old.commit, dir);
    if (needed && !after) {
      auto fetched = GetListingAt(view, new_commit, dir, /*may_block=*/true);
      if (fetched.ok()) after = *fetched;
    }
    if (after) known_now[dir] = after;
    if (after && before) {
      for (const auto& child : before->children) {
        const Child* now = after->Find(child.name);
        if (now != nullptr && now->meta->is_dir == child.meta->is_dir &&
            now->meta->oid == child.meta->oid && now->meta->xet_hash == child.meta->xet_hash &&
            now->meta->size == child.meta->size) {
          continue;
        }
        out.push_back(VfsInvalidation{dir_ino, child.name, 0});
      }
      continue;
    }
    for (auto& name : inodes_.ChildNames(view.id, dir)) {
      out.push_back(VfsInvalidation{dir_ino, std::move(name), 0});
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    view.current = *resolved;
    view.date_known = true;
    // The kernel may still hold entries of these directories (unchanged
    // ones were not invalidated): diff them again at the next move.
    view.listed_dirs.insert(dirs.begin(), dirs.end());
    view.refreshing = false;
    view.next_check = clock_->Now() + ttl;
  }
  refreshed_cv_.notify_all();
  QueueInvalidations(std::move(out));
  return true;
}

std::shared_ptr<const VfsCore::Listing> VfsCore::CachedListing(const View& view,
                                                               const std::string& commit,
                                                               const std::string& path) {
  std::string key = view.spec.repo.ToString();
  key.push_back('\0');
  key += commit;
  key.push_back('\0');
  key += path;
  std::lock_guard<std::mutex> lock(mu_);
  auto* hit = listings_.Get(key);
  return hit != nullptr ? *hit : nullptr;
}

VfsResult<std::shared_ptr<const VfsCore::Listing>> VfsCore::GetListing(View& view,
                                                                       const std::string& path,
                                                                       bool may_block) {
  std::string commit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    commit = view.current.commit;
  }
  return GetListingAt(view, commit, path, may_block);
}

VfsResult<std::shared_ptr<const VfsCore::Listing>> VfsCore::GetListingAt(
    View& view, const std::string& commit, const std::string& path, bool may_block) {
  const bool track = !view.spec.immutable;
  std::string key = view.spec.repo.ToString();
  key.push_back('\0');
  key += commit;
  key.push_back('\0');
  key += path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto* hit = listings_.Get(key)) {
      if (track && commit == view.current.commit) view.listed_dirs.insert(path);
      return *hit;
    }
  }
  if (!may_block) return VfsErrc::kWouldBlock;
  auto entries = source_->ListDir(view.spec.repo, commit, path);
  if (!entries.ok()) return VfsErrorFromStatus(entries.status());
  auto listing = std::make_shared<Listing>();
  const std::string prefix = path.empty() ? "" : path + "/";
  size_t dropped = 0;
  for (auto& e : *entries) {
    // Entries are untrusted: keep only direct children with sane names.
    if (e.path.size() <= prefix.size() || e.path.compare(0, prefix.size(), prefix) != 0 ||
        !ValidName(std::string_view(e.path).substr(prefix.size()))) {
      ++dropped;
      continue;
    }
    std::string name = e.path.substr(prefix.size());
    auto meta = std::make_shared<NodeMeta>();
    meta->is_dir = e.type == hub::TreeEntry::Type::kDirectory;
    meta->size = meta->is_dir ? 0 : e.size;
    meta->oid = e.oid;
    meta->commit = commit;
    meta->xet_hash = e.xet_hash;
    if (e.lfs) meta->sha256 = e.lfs->sha256;
    listing->children.push_back(Child{std::move(name), std::move(meta), nullptr});
  }
  if (dropped > 0) {
    HUBFS_LOG(kWarning) << "list " << view.spec.repo.ToString() << "@" << commit << "/" << path
                        << ": ignored " << dropped
                        << " entries that are not direct children with a usable name";
  }
  std::sort(listing->children.begin(), listing->children.end(),
            [](const Child& a, const Child& b) { return a.name < b.name; });
  listing->children.erase(
      std::unique(listing->children.begin(), listing->children.end(),
                  [](const Child& a, const Child& b) { return a.name == b.name; }),
      listing->children.end());
  std::shared_ptr<const Listing> result = std::move(listing);
  std::lock_guard<std::mutex> lock(mu_);
  listings_.Put(key, result);
  if (track && commit == view.current.commit) view.listed_dirs.insert(path);
  return result;
}

VfsStatus VfsCore::CheckRoot() {
  if (multi()) {
    if (layout_->kind == VfsLayout::Kind::kHub) return VfsOk{};
    auto refs = GetRefs(layout_->repo, /*may_block=*/true);
    if (!refs.ok()) return refs.error();
    return VfsOk{};
  }
  auto listing = GetListing(*root_view_, root_view_->spec.subdir, /*may_block=*/true);
  if (!listing.ok()) return listing.error();
  return VfsOk{};
}

VfsAttr VfsCore::AttrOf(const InodeInfo& info) const {
  VfsAttr a;
  a.ino = info.ino;
  a.is_dir = info.meta->is_dir;
  a.mode = a.is_dir ? 0555 : 0444;
  a.nlink = 1;  // directories too: tells find(1) not to count subdirectories
  a.uid = options_.uid;
  a.gid = options_.gid;
  a.size = info.meta->size;
  a.blocks = (a.size + 511) / 512;
  if (IsSynthetic(info)) {
    a.mtime = layout_->mount_time;
    return a;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = views_.find(info.view);
  a.mtime = it == views_.end() ? 0 : it->second->current.commit_time;
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
  if (!ValidName(name)) return VfsErrc::kNoEntry;
  if (IsSynthetic(*dir)) return LookupSynthetic(*dir, name, may_block);
  auto view = GetView(dir->view);
  if (!view) return VfsErrc::kNoEntry;
  if (auto st = MaybeRefresh(*view, may_block, &dir->path); !st.ok()) return st.error();
  auto listing = GetListing(*view, dir->path, may_block);
  if (!listing.ok()) return listing.error();
  const Child* child = (*listing)->Find(name);
  if (child == nullptr) return VfsErrc::kNoEntry;
  std::string path = ChildPath(dir->path, name);
  auto ino = inodes_.Ref(dir->view, path, child->meta);
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
  if (removed && multi() && *removed != kTreeView) {
    std::lock_guard<std::mutex> lock(mu_);
    DropViewIfUnusedLocked(*removed);
  }
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

bool VfsCore::DirImmutable(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok() || IsSynthetic(*info)) return false;
  auto view = GetView(info->view);
  return view && view->spec.immutable;
}

VfsResult<VfsOpenFile> VfsCore::Open(uint64_t ino, bool write) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  if (write) return VfsErrc::kReadOnly;
  std::lock_guard<std::mutex> lock(mu_);
  auto view = views_.find(info->view);
  if (view == views_.end()) return VfsErrc::kNoEntry;
  View& v = *view->second;
  // The version this inode stands for: the view may have moved on since.
  const std::string& commit = info->meta->commit.empty() ? v.current.commit : info->meta->commit;
  FileContent content{v.spec.repo,       commit,               info->path, info->meta->oid,
                      info->meta->size,  info->meta->xet_hash, info->meta->sha256};
  if (files_.size() + dirs_.size() >= options_.max_open_handles) return VfsErrc::kNoSpace;
  uint64_t fh = next_fh_++;
  files_.emplace(fh, FileHandle{v.id, std::move(content)});
  ++v.handles;
  // An inode's content never changes (changed content gets a new inode), so
  // whatever the page cache holds for it is current.
  return VfsOpenFile{fh, true};
}

VfsResult<size_t> VfsCore::Read(uint64_t fh, uint64_t offset, std::span<uint8_t> out) {
  FileContent file;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) return VfsErrc::kBadHandle;
    file = it->second.content;
  }
  if (offset >= file.size) return size_t{0};
  out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset)));
  size_t done = 0;
  while (done < out.size()) {
    auto n = source_->Read(file, offset + done, out.subspan(done));
    if (!n.ok()) return VfsErrorFromStatus(n.status());
    if (*n == 0) break;
    done += *n;
  }
  return done;
}

void VfsCore::Release(uint64_t fh) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return;
  const uint32_t view = it->second.view;
  files_.erase(it);
  ReleaseHandleLocked(view);
}

VfsResult<uint64_t> VfsCore::OpenDir(uint64_t ino, bool may_block) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (!info->meta->is_dir) return VfsErrc::kNotDir;
  std::shared_ptr<const Listing> listing;
  if (IsSynthetic(*info)) {
    auto l = ListSynthetic(info->path, may_block);
    if (!l.ok()) return l.error();
    listing = *l;
  } else {
    auto view = GetView(info->view);
    if (!view) return VfsErrc::kNoEntry;
    if (auto st = MaybeRefresh(*view, may_block, &info->path); !st.ok()) return st.error();
    auto l = GetListing(*view, info->path, may_block);
    if (!l.ok()) return l.error();
    listing = *l;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.size() + dirs_.size() >= options_.max_open_handles) return VfsErrc::kNoSpace;
  auto v = views_.find(info->view);
  if (v != views_.end()) ++v->second->handles;
  uint64_t dh = next_fh_++;
  dirs_.emplace(dh, DirHandle{info->view, info->path, std::move(listing)});
  return dh;
}

VfsResult<std::optional<VfsDirEntry>> VfsCore::DirEntryAt(uint64_t dh, size_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dirs_.find(dh);
  if (it == dirs_.end()) return VfsErrc::kBadHandle;
  const auto& children = it->second.listing->children;
  if (index >= children.size()) return std::optional<VfsDirEntry>();
  return std::optional<VfsDirEntry>(
      VfsDirEntry{children[index].name, children[index].meta->is_dir});
}

VfsResult<VfsEntry> VfsCore::LookupDirEntryAt(uint64_t dh, size_t index) {
  uint32_t view = 0;
  std::string dir_path;
  Child child;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = dirs_.find(dh);
    if (it == dirs_.end()) return VfsErrc::kBadHandle;
    const auto& children = it->second.listing->children;
    if (index >= children.size()) return VfsErrc::kInvalid;
    view = it->second.view;
    dir_path = it->second.path;
    child = children[index];
  }
  std::string path = ChildPath(dir_path, child.name);
  if (multi() && view == kTreeView) {
    // From the listing's snapshot, without the network: a revision's view
    // is created with the commit the listing saw (its date follows).
    if (!child.target) return RefSynthetic(path);
    auto pos = ParseTreePath(dir_path);
    if (!pos || pos->kind != TreePos::Kind::kRepo) return VfsErrc::kNoEntry;
    return RefRevision(pos->repo, path, *child.target, /*immutable=*/false, std::nullopt,
                       /*check=*/false, /*may_block=*/false);
  }
  auto ino = inodes_.Ref(view, path, child.meta);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, view, std::move(path), std::move(child.meta)});
}

void VfsCore::ReleaseDir(uint64_t dh) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dirs_.find(dh);
  if (it == dirs_.end()) return;
  const uint32_t view = it->second.view;
  dirs_.erase(it);
  ReleaseHandleLocked(view);
}

VfsResult<std::string> VfsCore::GetXattr(uint64_t ino, std::string_view name) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (IsSynthetic(*info)) return VfsErrc::kNoAttr;
  const NodeMeta& m = *info->meta;
  if (name == kXattrCommit) {
    std::lock_guard<std::mutex> lock(mu_);
    auto v = views_.find(info->view);
    if (v == views_.end()) return VfsErrc::kNoEntry;
    return v->second->current.commit;
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
