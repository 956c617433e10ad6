#include "fs/vfs_core.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace hubfs::fs {
namespace {

constexpr char kXattrCommit[] = "user.hf.commit";
constexpr char kXattrEtag[] = "user.hf.etag";
constexpr char kXattrXetHash[] = "user.hf.xet_hash";
constexpr char kXattrLfs[] = "user.hf.lfs";

bool ValidName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
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
      view_(std::move(view)),
      options_(options),
      inodes_(options.max_inodes),
      clock_(clock != nullptr ? clock : DefaultClock()),
      listings_(std::max<size_t>(1, options.max_cached_dirs)) {
  current_ = view_.resolved;
  next_check_ = clock_->Now() + std::chrono::duration_cast<Clock::Duration>(
                                    std::chrono::duration<double>(options_.metadata_ttl_seconds));
  auto root = std::make_shared<NodeMeta>();
  root->is_dir = true;
  uint64_t ino = inodes_.AddRoot(0, view_.subdir, std::move(root));
  (void)ino;  // kRootIno: the first inode the table hands out.
}

double VfsCore::Ttl() const {
  return view_.immutable ? options_.immutable_ttl_seconds : options_.metadata_ttl_seconds;
}

std::string VfsCore::ChildPath(const std::string& dir, std::string_view name) const {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

RevisionInfo VfsCore::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool VfsCore::RefreshDue() const {
  if (view_.immutable) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return !refreshing_ && clock_->Now() >= next_check_;
}

bool VfsCore::RefreshPending() const {
  if (view_.immutable) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return refreshing_ || clock_->Now() >= next_check_;
}

void VfsCore::SetInvalidationListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

std::vector<VfsInvalidation> VfsCore::TakeInvalidations() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(invalidations_, {});
}

VfsStatus VfsCore::MaybeRefresh(bool may_block) {
  // Due, or under way on another thread: answer from the commit it finds.
  if (!RefreshPending()) return VfsOk{};
  if (!may_block) return VfsErrc::kWouldBlock;
  RefreshIfDue();
  std::unique_lock<std::mutex> lock(mu_);
  refreshed_cv_.wait(lock, [this] { return !refreshing_; });
  return VfsOk{};
}

bool VfsCore::RefreshIfDue() {
  if (view_.immutable) return false;
  RevisionInfo old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (refreshing_ || clock_->Now() < next_check_) return false;
    refreshing_ = true;  // one resolution at a time; others keep the current commit
    old = current_;
  }
  const auto ttl = std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double>(options_.metadata_ttl_seconds));
  auto resolved = source_->ResolveRevision(view_.repo, view_.revision);
  if (!resolved.ok() || resolved->commit == old.commit) {
    // Unchanged, or the source is unreachable: serve the current commit and
    // try again after another TTL.
    {
      std::lock_guard<std::mutex> lock(mu_);
      refreshing_ = false;
      next_check_ = clock_->Now() + ttl;
    }
    refreshed_cv_.notify_all();
    return false;
  }
  // Directories whose listing at the old commit is cached may have entries
  // the kernel knows about: diff them against the new commit.
  std::set<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirs = std::exchange(listed_dirs_, {});
  }
  std::vector<VfsInvalidation> out;
  for (const auto& dir : dirs) {
    uint64_t dir_ino = inodes_.Find(0, dir);
    if (dir_ino == 0) continue;  // the kernel holds nothing under it
    out.push_back(VfsInvalidation{0, "", dir_ino});
    auto before = GetListingAt(old.commit, dir, /*may_block=*/true);
    if (!before.ok()) continue;
    auto after = GetListingAt(resolved->commit, dir, /*may_block=*/true);
    for (const auto& child : (*before)->children) {
      const Child* now = after.ok() ? (*after)->Find(child.name) : nullptr;
      if (now != nullptr && now->meta->is_dir == child.meta->is_dir &&
          now->meta->oid == child.meta->oid && now->meta->xet_hash == child.meta->xet_hash &&
          now->meta->size == child.meta->size) {
        continue;
      }
      out.push_back(VfsInvalidation{dir_ino, child.name, 0});
    }
  }
  std::function<void()> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = *resolved;
    // The kernel may still hold entries of these directories (unchanged
    // ones were not invalidated): diff them again at the next move.
    listed_dirs_.insert(dirs.begin(), dirs.end());
    refreshing_ = false;
    next_check_ = clock_->Now() + ttl;
    invalidations_.insert(invalidations_.end(), out.begin(), out.end());
    listener = listener_;
  }
  refreshed_cv_.notify_all();
  if (listener && !out.empty()) listener();
  return true;
}

VfsResult<std::shared_ptr<const VfsCore::Listing>> VfsCore::GetListing(const std::string& path,
                                                                       bool may_block) {
  return GetListingAt(current().commit, path, may_block);
}

VfsResult<std::shared_ptr<const VfsCore::Listing>> VfsCore::GetListingAt(
    const std::string& commit, const std::string& path, bool may_block) {
  std::string key = commit;
  key.push_back('\0');
  key += path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto* hit = listings_.Get(key)) {
      if (!view_.immutable && commit == current_.commit) listed_dirs_.insert(path);
      return *hit;
    }
  }
  if (!may_block) return VfsErrc::kWouldBlock;
  auto entries = source_->ListDir(view_.repo, commit, path);
  if (!entries.ok()) return VfsErrorFromStatus(entries.status());
  auto listing = std::make_shared<Listing>();
  const std::string prefix = path.empty() ? "" : path + "/";
  for (auto& e : *entries) {
    // Entries are untrusted: keep only direct children with sane names.
    if (e.path.size() <= prefix.size() || e.path.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = e.path.substr(prefix.size());
    if (!ValidName(name)) continue;
    auto meta = std::make_shared<NodeMeta>();
    meta->is_dir = e.type == hub::TreeEntry::Type::kDirectory;
    meta->size = meta->is_dir ? 0 : e.size;
    meta->oid = e.oid;
    meta->xet_hash = e.xet_hash;
    if (e.lfs) meta->sha256 = e.lfs->sha256;
    listing->children.push_back(Child{std::move(name), std::move(meta)});
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
  if (!view_.immutable && commit == current_.commit) listed_dirs_.insert(path);
  return result;
}

VfsStatus VfsCore::CheckRoot() {
  auto listing = GetListing(view_.subdir, /*may_block=*/true);
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
  a.mtime = current().commit_time;
  return a;
}

VfsEntry VfsCore::EntryOf(const InodeInfo& info) const {
  return VfsEntry{AttrOf(info), Ttl(), Ttl()};
}

VfsResult<VfsEntry> VfsCore::Lookup(uint64_t parent, std::string_view name, bool may_block) {
  auto dir = inodes_.Get(parent);
  if (!dir.ok()) return dir.error();
  if (!dir->meta->is_dir) return VfsErrc::kNotDir;
  if (!ValidName(name)) return VfsErrc::kNoEntry;
  if (auto st = MaybeRefresh(may_block); !st.ok()) return st.error();
  auto listing = GetListing(dir->path, may_block);
  if (!listing.ok()) return listing.error();
  const Child* child = (*listing)->Find(name);
  if (child == nullptr) return VfsErrc::kNoEntry;
  std::string path = ChildPath(dir->path, name);
  auto ino = inodes_.Ref(dir->view, path, child->meta);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, dir->view, std::move(path), child->meta});
}

double VfsCore::NegativeTimeout(uint64_t /*parent*/) const { return Ttl(); }

void VfsCore::Forget(uint64_t ino, uint64_t nlookup) { inodes_.Forget(ino, nlookup); }

VfsResult<VfsAttr> VfsCore::GetAttr(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  return AttrOf(*info);
}

double VfsCore::AttrTimeout(uint64_t /*ino*/) const { return Ttl(); }

VfsResult<VfsOpenFile> VfsCore::Open(uint64_t ino, bool write) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (info->meta->is_dir) return VfsErrc::kIsDir;
  if (write) return VfsErrc::kReadOnly;
  FileContent content{view_.repo,         current().commit,      info->path, info->meta->oid,
                      info->meta->size,   info->meta->xet_hash,  info->meta->sha256};
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.size() + dirs_.size() >= options_.max_open_handles) return VfsErrc::kNoSpace;
  uint64_t fh = next_fh_++;
  files_.emplace(fh, std::move(content));
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
    file = it->second;
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
  files_.erase(fh);
}

VfsResult<uint64_t> VfsCore::OpenDir(uint64_t ino, bool may_block) {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  if (!info->meta->is_dir) return VfsErrc::kNotDir;
  if (auto st = MaybeRefresh(may_block); !st.ok()) return st.error();
  auto listing = GetListing(info->path, may_block);
  if (!listing.ok()) return listing.error();
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.size() + dirs_.size() >= options_.max_open_handles) return VfsErrc::kNoSpace;
  uint64_t dh = next_fh_++;
  dirs_.emplace(dh, DirHandle{info->view, info->path, *listing});
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
  std::string path;
  std::shared_ptr<const NodeMeta> meta;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = dirs_.find(dh);
    if (it == dirs_.end()) return VfsErrc::kBadHandle;
    const auto& children = it->second.listing->children;
    if (index >= children.size()) return VfsErrc::kInvalid;
    view = it->second.view;
    path = ChildPath(it->second.path, children[index].name);
    meta = children[index].meta;
  }
  auto ino = inodes_.Ref(view, path, meta);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, view, std::move(path), std::move(meta)});
}

void VfsCore::ReleaseDir(uint64_t dh) {
  std::lock_guard<std::mutex> lock(mu_);
  dirs_.erase(dh);
}

VfsResult<std::string> VfsCore::GetXattr(uint64_t ino, std::string_view name) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
  const NodeMeta& m = *info->meta;
  if (name == kXattrCommit) return current().commit;
  if (m.is_dir) return VfsErrc::kNoAttr;
  if (name == kXattrEtag) return m.sha256 ? *m.sha256 : m.oid;
  if (name == kXattrXetHash && m.xet_hash) return *m.xet_hash;
  if (name == kXattrLfs && m.sha256) return std::string("1");
  return VfsErrc::kNoAttr;
}

VfsResult<std::vector<std::string>> VfsCore::ListXattr(uint64_t ino) const {
  auto info = inodes_.Get(ino);
  if (!info.ok()) return info.error();
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
