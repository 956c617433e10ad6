#include "fs/vfs/refs_cache.h"

#include <algorithm>
#include <utility>

#include "fs/vfs/listing.h"

namespace hubfs::fs {

std::string RepoDirPath(const VfsLayout& layout, const hub::RepoId& repo) {
  if (layout.kind == VfsLayout::Kind::kRevisions) return "";
  return std::string(hub::RepoTypeApiSegment(repo.type)) + "/" + repo.ns + "/" + repo.name;
}

RefsCache::RefsCache(RepoSource* source, InodeTable* inodes, InvalidationQueue* invalidations,
                     const VfsLayout* layout, const VfsOptions& options, const Clock* clock)
    : source_(source),
      inodes_(inodes),
      invalidations_(invalidations),
      layout_(layout),
      ttl_(SecondsToDuration(options.metadata_ttl_seconds)),
      clock_(clock),
      repos_(layout != nullptr ? std::max<size_t>(1, options.max_cached_repos) : 1) {}

void RefsCache::Expire(const hub::RepoId& repo) {
  MutexLock lock(&mu_);
  if (auto* hit = repos_.Get(repo.ToString())) (*hit)->next_check = clock_->Now();
}

VfsResult<std::shared_ptr<const RefsTree>> RefsCache::Get(const hub::RepoId& repo,
                                                          bool may_block) {
  const std::string key = repo.ToString();
  std::shared_ptr<RepoState> state;
  std::shared_ptr<const RefsTree> before;
  {
    MutexLock lock(&mu_);
    for (;;) {
      auto* hit = repos_.Get(key);
      state = hit != nullptr ? *hit : *repos_.Put(key, std::make_shared<RepoState>());
      const bool fresh = clock_->Now() < state->next_check;
      if (fresh && state->error) return *state->error;
      if (fresh && state->refs) return state->refs;
      if (!may_block) return VfsErrc::kWouldBlock;
      if (!state->refreshing) break;
      while (state->refreshing) refreshed_.Wait(&mu_);
    }
    state->refreshing = true;
    before = state->refs;
  }
  auto refs = source_->ListRefs(repo);
  std::shared_ptr<const RefsTree> after;
  std::optional<VfsError> error;
  if (refs.ok()) {
    after = std::make_shared<RefsTree>(RefsTree::Build(*refs));
  } else {
    error = VfsErrorFromStatus(refs.status());
  }
  // Missing or refused: remembered for the TTL (a negative entry). Other
  // failures keep what was known, or are retried at the next access.
  const bool definite =
      error && (error->code == VfsErrc::kNoEntry || error->code == VfsErrc::kAccess);
  {
    MutexLock lock(&mu_);
    state->refreshing = false;
    if (after || definite) {
      state->refs = after;
      state->error = definite ? error : std::nullopt;
      state->next_check = clock_->Now() + ttl_;
    } else if (before) {
      state->next_check = clock_->Now() + ttl_;
    }
  }
  refreshed_.NotifyAll();
  if (before && (after || definite) && layout_ != nullptr) {
    invalidations_->Queue(Diff(RepoDirPath(*layout_, repo), before.get(), after.get()));
  }
  if (after) return after;
  if (!definite && before) return before;
  return *error;
}

std::vector<VfsInvalidation> RefsCache::Diff(const std::string& repo_path,
                                             const RefsTree* before,
                                             const RefsTree* after) const {
  std::vector<VfsInvalidation> out;
  for (const auto& [dir, entries] : before->dirs()) {
    uint64_t dir_ino = inodes_->Find(kTreeView, ChildPath(repo_path, dir));
    if (dir_ino == 0) continue;  // the kernel holds nothing there
    out.push_back(VfsInvalidation{0, "", dir_ino});
    for (const auto& e : entries) {
      const RefsTree::Entry* now = after != nullptr ? after->Find(dir, e.name) : nullptr;
      const bool same = now != nullptr && (now->target == nullptr) == (e.target == nullptr) &&
                        (e.target == nullptr || now->target->ref == e.target->ref);
      // A revision whose ref stayed but moved keeps its inode; its view
      // invalidates what changed inside when it re-resolves.
      if (!same) out.push_back(VfsInvalidation{dir_ino, e.name, 0});
    }
  }
  return out;
}

}  // namespace hubfs::fs
