#include "fs/vfs/synthetic_tree.h"

#include <algorithm>
#include <utility>

namespace hubfs::fs {
namespace {

constexpr const char* kTypeDirs[] = {"datasets", "models", "spaces"};  // sorted

std::optional<hub::RepoType> TypeOfDir(std::string_view name) {
  if (name == "models") return hub::RepoType::kModel;
  if (name == "datasets") return hub::RepoType::kDataset;
  if (name == "spaces") return hub::RepoType::kSpace;
  return std::nullopt;
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

void SyntheticTree::NameSet::Add(const std::string& name, size_t max) {
  seq_[name] = next_++;
  while (seq_.size() > std::max<size_t>(1, max)) {
    auto oldest = std::min_element(seq_.begin(), seq_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    seq_.erase(oldest);
  }
}

std::vector<std::string> SyntheticTree::NameSet::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, seq] : seq_) out.push_back(name);
  return out;
}

SyntheticTree::SyntheticTree(const VfsLayout& layout, RepoSource* source, InodeTable* inodes,
                             ViewSet* views, RefsCache* refs, const VfsOptions& options,
                             const Clock* clock)
    : layout_(layout),
      source_(source),
      inodes_(inodes),
      views_(views),
      refs_(refs),
      options_(options),
      ttl_(SecondsToDuration(options.metadata_ttl_seconds)),
      clock_(clock),
      namespaces_(std::max<size_t>(1, options.max_cached_namespaces)) {}

VfsStatus SyntheticTree::CheckRoot() {
  if (layout_.kind == VfsLayout::Kind::kHub) return VfsOk{};
  auto refs = refs_->Get(layout_.repo, /*may_block=*/true);
  if (!refs.ok()) return refs.error();
  return VfsOk{};
}

void SyntheticTree::Remember(const std::string& dir, const std::string& name) {
  MutexLock lock(&mu_);
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

std::vector<std::string> SyntheticTree::Remembered(const std::string& dir) {
  MutexLock lock(&mu_);
  auto it = remembered_.find(dir);
  return it == remembered_.end() ? std::vector<std::string>{} : it->second.Names();
}

std::optional<SyntheticTree::TreePos> SyntheticTree::Parse(const std::string& path) const {
  TreePos pos;
  if (layout_.kind == VfsLayout::Kind::kRevisions) {
    pos.kind = TreePos::Kind::kRepo;
    pos.repo = layout_.repo;
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

VfsResult<InodeInfo> SyntheticTree::RefDir(const std::string& path) {
  auto meta = SyntheticDirMeta();
  auto ino = inodes_->Ref(kTreeView, path, meta);
  if (!ino.ok()) return ino.error();
  return InodeInfo{*ino, kTreeView, path, std::move(meta)};
}

VfsResult<InodeInfo> SyntheticTree::Lookup(const InodeInfo& dir, std::string_view name,
                                           bool may_block) {
  auto pos = Parse(dir.path);
  if (!pos) return VfsErrc::kNoEntry;
  const std::string path = ChildPath(dir.path, name);
  switch (pos->kind) {
    case TreePos::Kind::kHubRoot:
      if (!TypeOfDir(name)) return VfsErrc::kNoEntry;
      return RefDir(path);
    case TreePos::Kind::kType: {
      // Any valid namespace exists as far as a lookup can tell: an unknown
      // author simply has no repos.
      if (!hub::ValidateNamespace(name).ok()) return VfsErrc::kNoEntry;
      Remember(dir.path, std::string(name));
      return RefDir(path);
    }
    case TreePos::Kind::kNamespace: {
      auto repo = hub::ParseRepoId(pos->type, pos->ns + "/" + std::string(name));
      if (!repo.ok()) return VfsErrc::kNoEntry;
      auto refs = refs_->Get(*repo, may_block);
      if (!refs.ok()) return refs.error();
      Remember(dir.path, std::string(name));
      return RefDir(path);
    }
    case TreePos::Kind::kRepo:
      break;
  }
  auto refs = refs_->Get(pos->repo, may_block);
  if (!refs.ok()) return refs.error();
  if (const RefsTree::Entry* e = (*refs)->Find(pos->refs_path, name)) {
    if (!e->target) return RefDir(path);
    return RefRevision(pos->repo, path, *e->target, /*immutable=*/false, std::nullopt,
                       /*check=*/true, may_block);
  }
  if (!pos->refs_path.empty() || !hub::IsCommitSha(name)) return VfsErrc::kNoEntry;
  return LookupSha(*pos, path, name, may_block);
}

VfsResult<InodeInfo> SyntheticTree::LookupSha(const TreePos& pos, const std::string& path,
                                              std::string_view name, bool may_block) {
  const std::string sha(name);
  std::optional<RevisionInfo> resolved = views_->CurrentOf(path + '\0' + sha);
  if (!resolved) {
    if (!may_block) return VfsErrc::kWouldBlock;
    auto r = source_->ResolveRevision(pos.repo, sha);
    if (!r.ok()) return VfsErrorFromStatus(r.status());
    if (r->commit != sha) return VfsErrc::kNoEntry;
    resolved = *r;
  }
  return RefRevision(pos.repo, path, RefTarget{sha, sha}, /*immutable=*/true, resolved,
                     /*check=*/true, may_block);
}

VfsResult<InodeInfo> SyntheticTree::LookupListed(const std::string& dir, const Child& child) {
  const std::string path = ChildPath(dir, child.name);
  if (!child.target) return RefDir(path);
  auto pos = Parse(dir);
  if (!pos || pos->kind != TreePos::Kind::kRepo) return VfsErrc::kNoEntry;
  return RefRevision(pos->repo, path, *child.target, /*immutable=*/false, std::nullopt,
                     /*check=*/false, /*may_block=*/false);
}

VfsResult<InodeInfo> SyntheticTree::RefRevision(const hub::RepoId& repo, const std::string& path,
                                                const RefTarget& target, bool immutable,
                                                std::optional<RevisionInfo> resolved, bool check,
                                                bool may_block) {
  auto make = [&](uint32_t id) {
    ViewSpec spec;
    spec.repo = repo;
    spec.revision = target.ref;
    spec.subdir = layout_.subdir;
    spec.immutable = immutable;
    spec.resolved = resolved ? *resolved : RevisionInfo{target.commit, 0};
    auto view = std::make_shared<View>(id, std::move(spec), /*by_ref=*/!immutable,
                                       path + '\0' + target.ref);
    MutexLock lock(&view->mu);
    view->current = view->spec.resolved;
    view->date_known = resolved.has_value();  // else fetched by the first refresh
    view->next_check = clock_->Now() + ttl_;
    return view;
  };
  std::shared_ptr<View> view = views_->Pin(path + '\0' + target.ref, target.commit, make);
  struct Unpinner {
    ViewSet* views;
    std::shared_ptr<View> view;
    ~Unpinner() { views->Unpin(view); }
  } unpin{views_, view};
  if (check) {
    // A lookup resolves the view (its date, or a move) first; readdirplus
    // may not wait: the date then follows with the first access inside.
    if (auto st = views_->MaybeRefresh(*view, may_block, &view->spec.subdir); !st.ok()) {
      return st.error();
    }
    if (!view->spec.subdir.empty()) {
      // The revision directory shows the subfolder; a revision without it
      // does not exist in this mount.
      auto listing = views_->GetListing(*view, view->spec.subdir, may_block);
      if (!listing.ok()) return listing.error();
    }
  }
  auto meta = RevisionRootMeta();
  auto ino = inodes_->Ref(view->id, view->spec.subdir, meta);
  if (!ino.ok()) return ino.error();
  return InodeInfo{*ino, view->id, view->spec.subdir, std::move(meta)};
}

VfsResult<std::vector<std::string>> SyntheticTree::NamespaceNames(const TreePos& pos,
                                                                  const std::string& path,
                                                                  bool may_block) {
  MutexLock lock(&mu_);
  std::shared_ptr<NamespaceState> state;
  for (;;) {
    auto* hit = namespaces_.Get(path);
    state = hit != nullptr ? *hit : *namespaces_.Put(path, std::make_shared<NamespaceState>());
    if (clock_->Now() < state->next_check) break;
    if (!may_block) return VfsErrc::kWouldBlock;
    if (!state->refreshing) {
      state->refreshing = true;
      lock.Unlock();
      auto repos = source_->ListRepos(pos.type, pos.ns);
      auto names = std::make_shared<std::vector<std::string>>();
      if (repos.ok()) {
        for (const auto& r : *repos) {
          auto id = hub::ParseRepoId(pos.type, r.id);
          if (id.ok() && id->ns == pos.ns && ValidFileName(id->name)) names->push_back(id->name);
        }
      }
      lock.Lock();
      state->refreshing = false;
      if (repos.ok() || !state->listed) state->listed = names;
      state->next_check = clock_->Now() + ttl_;
      refreshed_.NotifyAll();
      break;
    }
    while (state->refreshing) refreshed_.Wait(&mu_);
  }
  std::vector<std::string> names;
  if (auto it = remembered_.find(path); it != remembered_.end()) names = it->second.Names();
  if (state->listed) names.insert(names.end(), state->listed->begin(), state->listed->end());
  return names;
}

VfsResult<std::shared_ptr<const Listing>> SyntheticTree::List(const std::string& path,
                                                              bool may_block) {
  auto pos = Parse(path);
  if (!pos) return VfsErrc::kNoEntry;
  auto listing = std::make_shared<Listing>();
  auto add_dirs = [&](const std::vector<std::string>& names) {
    for (const auto& n : names) listing->children.push_back(Child{n, SyntheticDirMeta(), nullptr});
  };
  switch (pos->kind) {
    case TreePos::Kind::kHubRoot:
      add_dirs({kTypeDirs[0], kTypeDirs[1], kTypeDirs[2]});
      return std::shared_ptr<const Listing>(std::move(listing));
    case TreePos::Kind::kType:
      add_dirs(Remembered(path));
      return std::shared_ptr<const Listing>(std::move(listing));
    case TreePos::Kind::kNamespace: {
      auto names = NamespaceNames(*pos, path, may_block);
      if (!names.ok()) return names.error();
      add_dirs(*names);
      listing->SortAndDedup();
      return std::shared_ptr<const Listing>(std::move(listing));
    }
    case TreePos::Kind::kRepo:
      break;
  }
  auto refs = refs_->Get(pos->repo, may_block);
  if (!refs.ok()) return refs.error();
  const auto* entries = (*refs)->Dir(pos->refs_path);
  if (entries == nullptr) return VfsErrc::kNoEntry;
  for (const auto& e : *entries) {
    listing->children.push_back(Child{e.name, SyntheticDirMeta(), e.target});
  }
  return std::shared_ptr<const Listing>(std::move(listing));
}

}  // namespace hubfs::fs
