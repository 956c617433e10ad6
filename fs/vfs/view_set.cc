#include "fs/vfs/view_set.h"

#include <utility>

namespace hubfs::fs {

ViewSet::ViewSet(RepoSource* source, InodeTable* inodes, ListingCache* listings,
                 RefsCache* refs, InvalidationQueue* invalidations, const VfsOptions& options,
                 const Clock* clock, bool multi)
    : source_(source),
      inodes_(inodes),
      listings_(listings),
      refs_(refs),
      invalidations_(invalidations),
      ttl_(SecondsToDuration(options.metadata_ttl_seconds)),
      clock_(clock),
      multi_(multi) {}

void ViewSet::AddRoot(std::shared_ptr<View> view) {
  MutexLock lock(&mu_);
  const uint32_t id = view->id;
  views_[id] = std::move(view);
}

std::shared_ptr<View> ViewSet::Get(uint32_t id) const {
  MutexLock lock(&mu_);
  auto it = views_.find(id);
  return it == views_.end() ? nullptr : it->second;
}

size_t ViewSet::size() const {
  MutexLock lock(&mu_);
  return multi_ ? views_.size() : 1;
}

std::vector<std::shared_ptr<View>> ViewSet::Live() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<View>> out;
  out.reserve(views_.size());
  for (const auto& [id, view] : views_) out.push_back(view);
  return out;
}

std::shared_ptr<View> ViewSet::Pin(const std::string& key, const std::string& commit,
                                   const std::function<std::shared_ptr<View>(uint32_t)>& make) {
  MutexLock lock(&mu_);
  std::shared_ptr<View> view;
  auto id = view_ids_.find(key);
  if (id != view_ids_.end()) {
    view = views_.at(id->second);
    MutexLock view_lock(&view->mu);
    // The refs list saw the ref move before the view re-resolved: due now.
    if (!view->spec.immutable && view->current.commit != commit) {
      view->next_check = clock_->Now();
    }
  } else {
    view = make(next_view_++);
    views_[view->id] = view;
    view_ids_[key] = view->id;
  }
  MutexLock view_lock(&view->mu);
  ++view->pins;  // not dropped before its root inode exists
  return view;
}

void ViewSet::Unpin(const std::shared_ptr<View>& view) {
  MutexLock lock(&mu_);
  {
    MutexLock view_lock(&view->mu);
    --view->pins;
  }
  DropIfUnusedLocked(view->id);
}

std::optional<RevisionInfo> ViewSet::CurrentOf(const std::string& key) const {
  MutexLock lock(&mu_);
  auto id = view_ids_.find(key);
  if (id == view_ids_.end()) return std::nullopt;
  return views_.at(id->second)->Current();
}

bool ViewSet::AddHandle(uint32_t id) {
  MutexLock lock(&mu_);
  auto it = views_.find(id);
  if (it == views_.end()) return false;
  MutexLock view_lock(&it->second->mu);
  ++it->second->handles;
  return true;
}

void ViewSet::ReleaseHandle(uint32_t id) {
  MutexLock lock(&mu_);
  auto it = views_.find(id);
  if (it != views_.end()) {
    MutexLock view_lock(&it->second->mu);
    if (it->second->handles > 0) --it->second->handles;
  }
  DropIfUnusedLocked(id);
}

void ViewSet::DropIfUnused(uint32_t id) {
  MutexLock lock(&mu_);
  DropIfUnusedLocked(id);
}

void ViewSet::DropIfUnusedLocked(uint32_t id) {
  if (!multi_ || id == kTreeView) return;
  auto it = views_.find(id);
  if (it == views_.end()) return;
  const View& v = *it->second;
  {
    // Pins and handles only grow under mu_, which is held.
    MutexLock view_lock(&v.mu);
    if (v.pins > 0 || v.handles > 0) return;
  }
  if (inodes_->CountInView(id) > 0) return;
  auto k = view_ids_.find(v.key);
  if (k != view_ids_.end() && k->second == id) view_ids_.erase(k);
  views_.erase(it);
}

VfsResult<std::shared_ptr<const Listing>> ViewSet::GetListing(View& view,
                                                              const std::string& path,
                                                              bool may_block) {
  return GetListingAt(view, view.Current().commit, path, may_block);
}

VfsResult<std::shared_ptr<const Listing>> ViewSet::GetListingAt(View& view,
                                                                const std::string& commit,
                                                                const std::string& path,
                                                                bool may_block) {
  std::shared_ptr<const Listing> listing = listings_->Cached(view.spec.repo, commit, path);
  if (!listing) {
    if (!may_block) return VfsErrc::kWouldBlock;
    auto fetched = listings_->Fetch(view.spec.repo, commit, path);
    if (!fetched.ok()) return fetched.error();
    listing = *fetched;
  }
  if (!view.spec.immutable) {
    MutexLock lock(&view.mu);
    if (commit == view.current.commit) view.listed_dirs.insert(path);
  }
  return listing;
}

bool ViewSet::Follows(const View& view) const {
  return !view.spec.immutable && !(multi_ && view.id == kTreeView);
}

void ViewSet::MarkDue(View& view) {
  MutexLock lock(&view.mu);
  view.next_check = clock_->Now();
}

bool ViewSet::RefreshDue(const View& view) const {
  if (!Follows(view)) return false;
  MutexLock lock(&view.mu);
  return !view.refreshing && (!view.date_known || clock_->Now() >= view.next_check);
}

bool ViewSet::RefreshPending(const View& view) const {
  if (!Follows(view)) return false;
  MutexLock lock(&view.mu);
  return view.refreshing || !view.date_known || clock_->Now() >= view.next_check;
}

VfsStatus ViewSet::MaybeRefresh(View& view, bool may_block, const std::string* need_dir) {
  // Due, or under way on another thread: answer from the commit it finds.
  if (!RefreshPending(view)) return VfsOk{};
  if (!may_block) return VfsErrc::kWouldBlock;
  Refresh(view, need_dir);
  MutexLock lock(&view.mu);
  while (view.refreshing) view.refreshed.Wait(&view.mu);
  return VfsOk{};
}

Result<RevisionInfo> ViewSet::Resolve(const View& view, const RevisionInfo& old,
                                      bool date_known) {
  if (!view.by_ref) {
    std::string revision;
    {
      MutexLock lock(&view.mu);
      revision = view.follow.empty() ? view.spec.revision : view.follow;
    }
    return source_->ResolveRevision(view.spec.repo, revision);
  }
  // Through the repo's refs list (fetched at most once per TTL for all its
  // views); the commit's date from the Hub only when it is new.
  auto refs = refs_->Get(view.spec.repo, /*may_block=*/true);
  std::string commit = refs.ok() ? (*refs)->CommitOf(view.spec.revision) : "";
  if (commit.empty()) return NotFoundError("ref " + view.spec.revision + " is gone");
  if (commit == old.commit && date_known) return old;
  Result<RevisionInfo> resolved = source_->ResolveRevision(view.spec.repo, commit);
  if (resolved.ok() && resolved->commit != commit) return CorruptError("sha changed");
  return resolved;
}

bool ViewSet::Refresh(View& view, const std::string* need_dir) {
  if (!Follows(view)) return false;
  RevisionInfo old;
  bool date_known = true;
  {
    MutexLock lock(&view.mu);
    if (view.refreshing || (view.date_known && clock_->Now() < view.next_check)) return false;
    view.refreshing = true;  // one resolution at a time; others keep the current commit
    old = view.current;
    date_known = view.date_known;
  }
  Result<RevisionInfo> resolved = Resolve(view, old, date_known);
  if (!resolved.ok() || resolved->commit == old.commit) {
    // Unchanged, or the source is unreachable: serve the current commit and
    // try again after another TTL.
    {
      MutexLock lock(&view.mu);
      if (resolved.ok()) view.current.commit_time = resolved->commit_time;
      view.date_known = true;  // failed: not again before the TTL
      view.refreshing = false;
      view.next_check = clock_->Now() + ttl_;
    }
    view.refreshed.NotifyAll();
    return false;
  }
  std::set<std::string> dirs;
  {
    MutexLock lock(&view.mu);
    dirs = std::exchange(view.listed_dirs, {});
  }
  std::vector<VfsInvalidation> out =
      DiffListedDirs(view, dirs, old.commit, resolved->commit, need_dir);
  {
    MutexLock lock(&view.mu);
    view.current = *resolved;
    view.date_known = true;
    // The kernel may still hold entries of these directories (unchanged
    // ones were not invalidated): diff them again at the next move.
    view.listed_dirs.insert(dirs.begin(), dirs.end());
    view.refreshing = false;
    view.next_check = clock_->Now() + ttl_;
  }
  view.refreshed.NotifyAll();
  invalidations_->Queue(std::move(out));
  return true;
}

bool ViewSet::SameTree(View& view, const std::string& dir, const std::string& old_commit,
                       const std::string& new_commit,
                       std::map<std::string, std::shared_ptr<const Listing>>* known_now) {
  size_t slash = dir.rfind('/');
  std::string parent = slash == std::string::npos ? "" : dir.substr(0, slash);
  std::string name = slash == std::string::npos ? dir : dir.substr(slash + 1);
  auto now_parent = known_now->find(parent);
  if (now_parent == known_now->end()) return false;
  auto old_parent = listings_->Cached(view.spec.repo, old_commit, parent);
  if (!old_parent) return false;
  const Child* a = now_parent->second->Find(name);
  const Child* b = old_parent->Find(name);
  if (a == nullptr || b == nullptr || !a->meta->is_dir || !b->meta->is_dir ||
      a->meta->oid.empty() || a->meta->oid != b->meta->oid) {
    return false;
  }
  if (auto same = listings_->Cached(view.spec.repo, old_commit, dir)) {
    listings_->Put(view.spec.repo, new_commit, dir, same);
    (*known_now)[dir] = same;
  }
  return true;
}

// Directories listed at the old commit may have entries the kernel knows
// about. Nothing is fetched but the view's root and the directory the
// triggering request needs (it would be fetched anyway): those are diffed
// exactly (new names too: the kernel may hold them as negative entries). A
// directory whose git tree oid did not change keeps everything, and its
// listing serves the new commit too. Any other directory is invalidated with
// every name under it the kernel holds; those are looked up again from its
// listing at the new commit, fetched on first use (unchanged files keep their
// inode numbers). Never invalidated: the entry of a directory that is still
// a directory (the same inode; what it holds is diffed on its own, and
// dropping its entry would drop everything under it, pages and all), and a
// file the kernel already shows as it is now (ShowsAlready).
std::vector<VfsInvalidation> ViewSet::DiffListedDirs(View& view,
                                                     const std::set<std::string>& dirs,
                                                     const std::string& old_commit,
                                                     const std::string& new_commit,
                                                     const std::string* need_dir) {
  std::map<std::string, std::shared_ptr<const Listing>> known_now;  // dir -> listing at new
  std::vector<VfsInvalidation> out;
  for (const auto& dir : dirs) {  // sorted: a directory before those under it
    uint64_t dir_ino = inodes_->Find(view.id, dir);
    if (dir_ino == 0) continue;  // the kernel holds nothing under it
    if (dir != view.spec.subdir && SameTree(view, dir, old_commit, new_commit, &known_now)) {
      continue;
    }
    out.push_back(VfsInvalidation{0, "", dir_ino});
    // The entry `name` of `dir`, unless the kernel already shows it as it
    // is at the new commit.
    auto invalidate = [&](const std::string& name) {
      if (shows_already_ && shows_already_(view, ChildPath(dir, name), new_commit)) return;
      out.push_back(VfsInvalidation{dir_ino, name, 0});
    };
    // The view's root too: one listing that lets every subtree be compared.
    const bool needed = dir == view.spec.subdir || (need_dir != nullptr && *need_dir == dir);
    std::shared_ptr<const Listing> after = listings_->Cached(view.spec.repo, new_commit, dir);
    std::shared_ptr<const Listing> before = listings_->Cached(view.spec.repo, old_commit, dir);
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
        // A directory stays the same inode whatever it holds (its entries
        // are diffed on their own when the kernel may hold any): dropping
        // its entry would drop everything under it, pages and all.
        if (now != nullptr && now->meta->is_dir && child.meta->is_dir) continue;
        invalidate(child.name);
      }
      // New names: the kernel may hold them as negative entries.
      for (const auto& child : after->children) {
        if (before->Find(child.name) == nullptr) invalidate(child.name);
      }
      continue;
    }
    for (const auto& name : inodes_->ChildNames(view.id, dir)) invalidate(name);
  }
  return out;
}

}  // namespace hubfs::fs
