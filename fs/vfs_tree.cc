// VfsCore's synthetic directories: a hub mount's type and namespace
// directories and a repo's revisions directory (RefsTree), and the revision
// views created on lookup.
#include <algorithm>
#include <chrono>

#include "fs/vfs_core.h"

namespace hubfs::fs {
namespace {

constexpr const char* kTypeDirs[] = {"datasets", "models", "spaces"};  // sorted

std::optional<hub::RepoType> TypeOfDir(std::string_view name) {
  if (name == "models") return hub::RepoType::kModel;
  if (name == "datasets") return hub::RepoType::kDataset;
  if (name == "spaces") return hub::RepoType::kSpace;
  return std::nullopt;
}

Clock::Duration Secs(double s) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

std::shared_ptr<const NodeMeta> SyntheticDirMeta() {
  static const auto meta = [] {
    auto m = std::make_shared<NodeMeta>();
    m->is_dir = true;
    m->oid = "synthetic";
    return m;
  }();
  return meta;
}

std::shared_ptr<const NodeMeta> RevisionRootMeta() {
  static const auto meta = [] {
    auto m = std::make_shared<NodeMeta>();
    m->is_dir = true;
    return m;
  }();
  return meta;
}

}  // namespace

void VfsCore::NameSet::Add(const std::string& name, size_t max) {
  seq_[name] = next_++;
  while (seq_.size() > std::max<size_t>(1, max)) {
    auto oldest = std::min_element(seq_.begin(), seq_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    seq_.erase(oldest);
  }
}

std::vector<std::string> VfsCore::NameSet::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, seq] : seq_) out.push_back(name);
  return out;
}

void VfsCore::Remember(const std::string& dir, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  remembered_[dir].Add(name, options_.max_remembered_names);
  // One set per type and per namespace directory: bound the namespaces.
  while (remembered_.size() > options_.max_cached_namespaces + 3) {
    auto victim = std::find_if(remembered_.begin(), remembered_.end(), [&dir](const auto& e) {
      return e.first != dir && e.first.find('/') != std::string::npos;
    });
    if (victim == remembered_.end()) break;
    remembered_.erase(victim);
  }
}

std::string VfsCore::RepoPath(const hub::RepoId& repo) const {
  if (layout_->kind == VfsLayout::Kind::kRevisions) return "";
  return std::string(hub::RepoTypeApiSegment(repo.type)) + "/" + repo.ns + "/" + repo.name;
}

std::optional<VfsCore::TreePos> VfsCore::ParseTreePath(const std::string& path) const {
  TreePos pos;
  if (layout_->kind == VfsLayout::Kind::kRevisions) {
    pos.kind = TreePos::Kind::kRepo;
    pos.repo = layout_->repo;
    pos.refs_path = path;
    return pos;
  }
  if (path.empty()) return pos;  // kHubRoot
  std::vector<std::string_view> segs;
  std::string_view rest = path;
  for (int i = 0; i < 3; ++i) {
    size_t slash = rest.find('/');
    segs.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      rest = {};
      break;
    }
    rest = rest.substr(slash + 1);
  }
  auto type = TypeOfDir(segs[0]);
  if (!type) return std::nullopt;
  pos.type = *type;
  pos.kind = TreePos::Kind::kType;
  if (segs.size() == 1) return pos;
  pos.ns = std::string(segs[1]);
  pos.kind = TreePos::Kind::kNamespace;
  if (segs.size() == 2) return pos;
  pos.kind = TreePos::Kind::kRepo;
  pos.repo = hub::RepoId{*type, pos.ns, std::string(segs[2])};
  pos.repo_path = path.substr(0, path.size() - rest.size() - (rest.empty() ? 0 : 1));
  pos.refs_path = std::string(rest);
  return pos;
}

VfsResult<VfsEntry> VfsCore::RefSynthetic(const std::string& path) {
  auto meta = SyntheticDirMeta();
  auto ino = inodes_.Ref(kTreeView, path, meta);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, kTreeView, path, std::move(meta)});
}

VfsResult<VfsEntry> VfsCore::LookupSynthetic(const InodeInfo& dir, std::string_view name,
                                             bool may_block) {
  auto pos = ParseTreePath(dir.path);
  if (!pos) return VfsErrc::kNoEntry;
  const std::string path = ChildPath(dir.path, name);
  switch (pos->kind) {
    case TreePos::Kind::kHubRoot:
      if (!TypeOfDir(name)) return VfsErrc::kNoEntry;
      return RefSynthetic(path);
    case TreePos::Kind::kType: {
      // Any valid namespace exists as far as a lookup can tell: an unknown
      // author simply has no repos.
      if (!hub::ValidateNamespace(name).ok()) return VfsErrc::kNoEntry;
      Remember(dir.path, std::string(name));
      return RefSynthetic(path);
    }
    case TreePos::Kind::kNamespace: {
      auto repo = hub::ParseRepoId(pos->type, pos->ns + "/" + std::string(name));
      if (!repo.ok()) return VfsErrc::kNoEntry;
      auto refs = GetRefs(*repo, may_block);
      if (!refs.ok()) return refs.error();
      Remember(dir.path, std::string(name));
      return RefSynthetic(path);
    }
    case TreePos::Kind::kRepo:
      break;
  }
  auto refs = GetRefs(pos->repo, may_block);
  if (!refs.ok()) return refs.error();
  if (const RefsTree::Entry* e = (*refs)->Find(pos->refs_path, name)) {
    if (!e->target) return RefSynthetic(path);
    return RefRevision(pos->repo, path, *e->target, /*immutable=*/false, std::nullopt,
                       /*check=*/true, may_block);
  }
  if (!pos->refs_path.empty() || !hub::IsCommitSha(name)) return VfsErrc::kNoEntry;
  // Any commit, by its sha: not listed, immutable.
  const std::string sha(name);
  std::optional<RevisionInfo> resolved;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto id = view_ids_.find(path + '\0' + sha);
    if (id != view_ids_.end()) resolved = views_.at(id->second)->current;
  }
  if (!resolved) {
    if (!may_block) return VfsErrc::kWouldBlock;
    auto r = source_->ResolveRevision(pos->repo, sha);
    if (!r.ok()) return VfsErrorFromStatus(r.status());
    if (r->commit != sha) return VfsErrc::kNoEntry;
    resolved = *r;
  }
  return RefRevision(pos->repo, path, RefTarget{sha, sha}, /*immutable=*/true, resolved,
                     /*check=*/true, may_block);
}

VfsResult<VfsEntry> VfsCore::RefRevision(const hub::RepoId& repo, const std::string& path,
                                         const RefTarget& target, bool immutable,
                                         std::optional<RevisionInfo> resolved, bool check,
                                         bool may_block) {
  const std::string key = path + '\0' + target.ref;
  std::shared_ptr<View> view;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto id = view_ids_.find(key);
    if (id != view_ids_.end()) {
      view = views_.at(id->second);
      // The refs list saw the ref move before the view re-resolved: due now.
      if (!immutable && view->current.commit != target.commit) view->next_check = clock_->Now();
    } else {
      view = std::make_shared<View>();
      view->id = next_view_++;
      view->spec.repo = repo;
      view->spec.revision = target.ref;
      view->spec.subdir = layout_->subdir;
      view->spec.immutable = immutable;
      view->by_ref = !immutable;
      view->key = key;
      if (resolved) {
        view->current = *resolved;
      } else {
        view->current = RevisionInfo{target.commit, 0};
        view->date_known = false;  // fetched by the first refresh
      }
      view->spec.resolved = view->current;
      view->next_check = clock_->Now() + Secs(options_.metadata_ttl_seconds);
      views_[view->id] = view;
      view_ids_[key] = view->id;
    }
    ++view->pins;  // not dropped before its root inode exists
  }
  struct Unpinner {
    VfsCore* core;
    std::shared_ptr<View> view;
    ~Unpinner() { core->Unpin(view); }
  } unpin{this, view};
  if (check) {
    // A lookup resolves the view (its date, or a move) first; readdirplus
    // may not wait: the date then follows with the first access inside.
    if (auto st = MaybeRefresh(*view, may_block, &view->spec.subdir); !st.ok()) {
      return st.error();
    }
    if (!view->spec.subdir.empty()) {
      // The revision directory shows the subfolder; a revision without it
      // does not exist in this mount.
      auto listing = GetListing(*view, view->spec.subdir, may_block);
      if (!listing.ok()) return listing.error();
    }
  }
  auto meta = RevisionRootMeta();
  auto ino = inodes_.Ref(view->id, view->spec.subdir, meta);
  if (!ino.ok()) return ino.error();
  return EntryOf(InodeInfo{*ino, view->id, view->spec.subdir, std::move(meta)});
}

VfsResult<std::shared_ptr<const RefsTree>> VfsCore::GetRefs(const hub::RepoId& repo,
                                                            bool may_block) {
  const std::string key = repo.ToString();
  std::shared_ptr<RepoState> state;
  std::shared_ptr<const RefsTree> before;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      auto* hit = repos_.Get(key);
      state = hit != nullptr ? *hit : *repos_.Put(key, std::make_shared<RepoState>());
      const bool fresh = clock_->Now() < state->next_check;
      if (fresh && state->error) return *state->error;
      if (fresh && state->refs) return state->refs;
      if (!may_block) return VfsErrc::kWouldBlock;
      if (!state->refreshing) break;
      refreshed_cv_.wait(lock, [&state] { return !state->refreshing; });
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
  const bool definite = error && (error->code == VfsErrc::kNoEntry ||
                                  error->code == VfsErrc::kAccess);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state->refreshing = false;
    if (after || definite) {
      state->refs = after;
      state->error = definite ? error : std::nullopt;
      state->next_check = clock_->Now() + Secs(options_.metadata_ttl_seconds);
    } else if (before) {
      state->next_check = clock_->Now() + Secs(options_.metadata_ttl_seconds);
    }
  }
  refreshed_cv_.notify_all();
  if (before && (after || definite)) {
    std::vector<VfsInvalidation> out;
    DiffRefs(RepoPath(repo), before.get(), after.get(), &out);
    QueueInvalidations(std::move(out));
  }
  if (after) return after;
  if (!definite && before) return before;
  return *error;
}

void VfsCore::DiffRefs(const std::string& repo_path, const RefsTree* before,
                       const RefsTree* after, std::vector<VfsInvalidation>* out) const {
  for (const auto& [dir, entries] : before->dirs()) {
    uint64_t dir_ino = inodes_.Find(kTreeView, ChildPath(repo_path, dir));
    if (dir_ino == 0) continue;  // the kernel holds nothing there
    out->push_back(VfsInvalidation{0, "", dir_ino});
    for (const auto& e : entries) {
      const RefsTree::Entry* now = after != nullptr ? after->Find(dir, e.name) : nullptr;
      const bool same = now != nullptr && (now->target == nullptr) == (e.target == nullptr) &&
                        (e.target == nullptr || now->target->ref == e.target->ref);
      // A revision whose ref stayed but moved keeps its inode; its view
      // invalidates what changed inside when it re-resolves.
      if (!same) out->push_back(VfsInvalidation{dir_ino, e.name, 0});
    }
  }
}

VfsResult<std::shared_ptr<const VfsCore::Listing>> VfsCore::ListSynthetic(
    const std::string& path, bool may_block) {
  auto pos = ParseTreePath(path);
  if (!pos) return VfsErrc::kNoEntry;
  auto listing = std::make_shared<Listing>();
  auto add_dirs = [&](const std::vector<std::string>& names) {
    for (const auto& n : names) listing->children.push_back(Child{n, SyntheticDirMeta(), nullptr});
  };
  switch (pos->kind) {
    case TreePos::Kind::kHubRoot:
      add_dirs({kTypeDirs[0], kTypeDirs[1], kTypeDirs[2]});
      return std::shared_ptr<const Listing>(std::move(listing));
    case TreePos::Kind::kType: {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = remembered_.find(path); it != remembered_.end()) add_dirs(it->second.Names());
      return std::shared_ptr<const Listing>(std::move(listing));
    }
    case TreePos::Kind::kNamespace: {
      // The author's repos (fetched at most once per TTL) and those looked
      // up; a failed listing shows the latter only.
      std::shared_ptr<NamespaceState> state;
      std::shared_ptr<const std::vector<std::string>> listed;
      {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          auto* hit = namespaces_.Get(path);
          state = hit != nullptr ? *hit : *namespaces_.Put(path, std::make_shared<NamespaceState>());
          if (clock_->Now() < state->next_check) break;
          if (!may_block) return VfsErrc::kWouldBlock;
          if (!state->refreshing) {
            state->refreshing = true;
            lock.unlock();
            auto repos = source_->ListRepos(pos->type, pos->ns);
            auto names = std::make_shared<std::vector<std::string>>();
            if (repos.ok()) {
              for (const auto& r : *repos) {
                auto id = hub::ParseRepoId(pos->type, r.id);
                if (id.ok() && id->ns == pos->ns && ValidFileName(id->name)) names->push_back(id->name);
              }
            }
            lock.lock();
            state->refreshing = false;
            if (repos.ok() || !state->listed) state->listed = names;
            state->next_check = clock_->Now() + Secs(options_.metadata_ttl_seconds);
            refreshed_cv_.notify_all();
            break;
          }
          refreshed_cv_.wait(lock, [&state] { return !state->refreshing; });
        }
        listed = state->listed;
        std::vector<std::string> names;
        if (auto it = remembered_.find(path); it != remembered_.end()) names = it->second.Names();
        if (listed) names.insert(names.end(), listed->begin(), listed->end());
        add_dirs(names);
      }
      break;
    }
    case TreePos::Kind::kRepo: {
      auto refs = GetRefs(pos->repo, may_block);
      if (!refs.ok()) return refs.error();
      const auto* entries = (*refs)->Dir(pos->refs_path);
      if (entries == nullptr) return VfsErrc::kNoEntry;
      for (const auto& e : *entries) {
        listing->children.push_back(Child{e.name, SyntheticDirMeta(), e.target});
      }
      return std::shared_ptr<const Listing>(std::move(listing));
    }
  }
  std::sort(listing->children.begin(), listing->children.end(),
            [](const Child& a, const Child& b) { return a.name < b.name; });
  listing->children.erase(
      std::unique(listing->children.begin(), listing->children.end(),
                  [](const Child& a, const Child& b) { return a.name == b.name; }),
      listing->children.end());
  return std::shared_ptr<const Listing>(std::move(listing));
}

}  // namespace hubfs::fs
