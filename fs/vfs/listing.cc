#include "fs/vfs/listing.h"

#include "common/log.h"

#include <algorithm>

namespace hubfs::fs {

const Child* Listing::Find(std::string_view name) const {
  auto it = std::lower_bound(children.begin(), children.end(), name,
                             [](const Child& c, std::string_view n) { return c.name < n; });
  if (it == children.end() || it->name != name) return nullptr;
  return &*it;
}

void Listing::SortAndDedup() {
  std::sort(children.begin(), children.end(),
            [](const Child& a, const Child& b) { return a.name < b.name; });
  children.erase(std::unique(children.begin(), children.end(),
                             [](const Child& a, const Child& b) { return a.name == b.name; }),
                 children.end());
}

std::string ChildPath(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

ListingCache::ListingCache(RepoSource* source, size_t capacity)
    : source_(source), listings_(capacity) {}

std::string ListingCache::Key(const hub::RepoId& repo, const std::string& commit,
                              const std::string& dir) {
  std::string key = repo.ToString();
  key.push_back('\0');
  key += commit;
  key.push_back('\0');
  key += dir;
  return key;
}

std::shared_ptr<const Listing> ListingCache::Cached(const hub::RepoId& repo,
                                                    const std::string& commit,
                                                    const std::string& dir) {
  const std::string key = Key(repo, commit, dir);
  MutexLock lock(&mu_);
  auto* hit = listings_.Get(key);
  return hit != nullptr ? *hit : nullptr;
}

void ListingCache::Put(const hub::RepoId& repo, const std::string& commit,
                       const std::string& dir, std::shared_ptr<const Listing> listing) {
  const std::string key = Key(repo, commit, dir);
  MutexLock lock(&mu_);
  listings_.Put(key, std::move(listing));
}

VfsResult<std::shared_ptr<const Listing>> ListingCache::Fetch(const hub::RepoId& repo,
                                                              const std::string& commit,
                                                              const std::string& dir) {
  auto entries = source_->ListDir(repo, commit, dir);
  if (!entries.ok()) return VfsErrorFromStatus(entries.status());
  auto listing = std::make_shared<Listing>();
  const std::string prefix = dir.empty() ? "" : dir + "/";
  size_t dropped = 0;
  for (auto& e : *entries) {
    // Entries are untrusted: keep only direct children with sane names.
    if (e.path.size() <= prefix.size() || e.path.compare(0, prefix.size(), prefix) != 0 ||
        !ValidFileName(std::string_view(e.path).substr(prefix.size()))) {
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
    HUBFS_LOG(kWarning) << "list " << repo.ToString() << "@" << commit << "/" << dir << ": ignored "
                        << dropped << " entries that are not direct children with a usable name";
  }
  listing->SortAndDedup();
  std::shared_ptr<const Listing> result = std::move(listing);
  Put(repo, commit, dir, result);
  return result;
}

}  // namespace hubfs::fs
