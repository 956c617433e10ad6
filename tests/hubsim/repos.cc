#include "tests/hubsim/repos.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <system_error>

#include "tests/hubsim/util.h"

namespace hubfs::hubsim {
namespace {

using nlohmann::json;

Status RepoNotFound(const RepoKey& key) {
  return NotFoundError("Repository not found: " + key.id).WithHttp(404, "RepoNotFound");
}
Status RevisionNotFound(std::string_view rev) {
  return NotFoundError("Invalid rev id: " + std::string(rev)).WithHttp(404, "RevisionNotFound");
}

bool ValidRefName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/' ||
      name.back() == '.' || name.rfind("refs/", 0) == 0 || name == "HEAD")
    return false;
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos ||
      name.find("@{") != std::string_view::npos || name.find(".lock") != std::string_view::npos)
    return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
        c == '[' || c == '\\')
      return false;
  }
  return true;
}

json EntryToJson(const std::string& path, const TreeEntry& e) {
  return json::array({path, e.oid, e.size, e.sha256, e.xet_hash, e.last_commit, e.last_seq});
}

bool EntryFromJson(const json& j, std::string* path, TreeEntry* e) {
  if (!j.is_array() || j.size() != 7 || !j[0].is_string() || !j[1].is_string() ||
      !j[2].is_number_unsigned() || !j[3].is_string() || !j[4].is_string() || !j[5].is_string() ||
      !j[6].is_number_unsigned())
    return false;
  *path = j[0].get<std::string>();
  e->oid = j[1].get<std::string>();
  e->size = j[2].get<uint64_t>();
  e->sha256 = j[3].get<std::string>();
  e->xet_hash = j[4].get<std::string>();
  e->last_commit = j[5].get<std::string>();
  e->last_seq = j[6].get<uint64_t>();
  return true;
}

std::string CommitIdOf(const Commit& c, const std::string& repo) {
  std::string s = "hubsim-commit\n" + repo + "\n" + c.parent + "\n" + std::to_string(c.seq) + "\n" +
                  std::to_string(c.date) + "\n" + c.author + "\n";
  s += std::to_string(c.title.size()) + ":" + c.title + "\n";
  s += std::to_string(c.message.size()) + ":" + c.message + "\n";
  for (const auto& [path, e] : c.tree) {
    s += path;
    s += '\0';
    s += e.oid + " " + std::to_string(e.size) + " " + e.sha256 + " " + e.xet_hash + "\n";
  }
  return Sha1Hex(s);
}

json MetaToJson(const RepoMeta& m) {
  json prs = json::object();
  for (const auto& [n, sha] : m.refs.prs) prs[std::to_string(n)] = sha;
  return json{{"type", RepoTypeName(m.key.type)},
              {"id", m.key.id},
              {"_id", m.object_id},
              {"private", m.is_private},
              {"owner", m.owner},
              {"created", m.created},
              {"last_modified", m.last_modified},
              {"next_seq", m.next_seq},
              {"next_pr", m.next_pr},
              {"branches", m.refs.branches},
              {"tags", m.refs.tags},
              {"converts", m.refs.converts},
              {"prs", prs}};
}

bool StringMapFromJson(const json& j, std::map<std::string, std::string>* out) {
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return false;
    (*out)[k] = v.get<std::string>();
  }
  return true;
}

Result<RepoMeta> MetaFromJson(const json& j, const RepoKey& key) {
  RepoMeta m;
  m.key = key;
  if (!j.is_object() || !j.value("_id", json()).is_string())
    return CorruptError("repo.json of " + key.Str());
  m.object_id = j["_id"].get<std::string>();
  m.is_private = j.value("private", false);
  m.owner = j.value("owner", std::string());
  m.created = j.value("created", int64_t{0});
  m.last_modified = j.value("last_modified", m.created);
  m.next_seq = j.value("next_seq", uint64_t{1});
  m.next_pr = j.value("next_pr", uint64_t{1});
  if (!StringMapFromJson(j.value("branches", json::object()), &m.refs.branches) ||
      !StringMapFromJson(j.value("tags", json::object()), &m.refs.tags) ||
      !StringMapFromJson(j.value("converts", json::object()), &m.refs.converts))
    return CorruptError("repo.json refs of " + key.Str());
  std::map<std::string, std::string> prs;
  if (!StringMapFromJson(j.value("prs", json::object()), &prs))
    return CorruptError("repo.json prs of " + key.Str());
  for (const auto& [k, v] : prs) m.refs.prs[std::stoull(k)] = v;
  return m;
}

bool IsUnder(std::string_view path, std::string_view dir) {
  if (dir.empty()) return true;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

std::string_view RepoTypeName(RepoType t) {
  switch (t) {
    case RepoType::kModel:
      return "model";
    case RepoType::kDataset:
      return "dataset";
    case RepoType::kSpace:
      return "space";
  }
  return "model";
}

std::string_view RepoWebPrefix(RepoType t) {
  switch (t) {
    case RepoType::kModel:
      return "";
    case RepoType::kDataset:
      return "datasets/";
    case RepoType::kSpace:
      return "spaces/";
  }
  return "";
}

std::optional<RepoType> ParseRepoType(std::string_view s) {
  if (s == "model" || s == "models") return RepoType::kModel;
  if (s == "dataset" || s == "datasets") return RepoType::kDataset;
  if (s == "space" || s == "spaces") return RepoType::kSpace;
  return std::nullopt;
}

bool ValidRepoPart(std::string_view part) {
  if (part.empty() || part.size() > 96) return false;
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.')
    return false;
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos)
    return false;
  if (part.size() >= 4 && part.substr(part.size() - 4) == ".git") return false;
  return true;
}

bool ValidRepoPath(std::string_view path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty() || part == "." || part == ".." || part == ".git" || part == ".cache")
      return false;
    if (part.find('\\') != std::string_view::npos &&
        (part.rfind("..", 0) == 0 || part.find("\\..") != std::string_view::npos))
      return false;
  }
  return true;
}

std::string Commit::DirOid(std::string_view dir) const {
  // A content hash over the entries below `dir`: stable for equal subtrees.
  std::string s = "tree\n";
  std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
  for (auto it = tree.lower_bound(prefix); it != tree.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    s += it->first.substr(prefix.size());
    s += '\0';
    s += it->second.oid;
    s += '\n';
  }
  return Sha1Hex(s);
}

std::pair<std::string, uint64_t> Commit::DirLastCommit(std::string_view dir) const {
  std::pair<std::string, uint64_t> best{id, 0};
  std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
  for (auto it = tree.lower_bound(prefix); it != tree.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (it->second.last_seq >= best.second) best = {it->second.last_commit, it->second.last_seq};
  }
  return best;
}

bool Commit::HasDir(std::string_view dir) const {
  if (dir.empty()) return true;
  std::string prefix = std::string(dir) + "/";
  auto it = tree.lower_bound(prefix);
  return it != tree.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

RepoStore::RepoStore(std::filesystem::path root, std::function<int64_t()> now)
    : root_(std::move(root)), now_(std::move(now)) {}

std::filesystem::path RepoStore::RepoDir(const RepoKey& key) const {
  return root_ / "repos" / std::string(RepoTypeName(key.type)) / key.id;
}

Result<std::shared_ptr<RepoStore::Repo>> RepoStore::Load(const RepoKey& key) const {
  std::string k = key.Str();
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = repos_.find(k);
    if (it != repos_.end()) return it->second;
  }
  auto text = ReadFile(RepoDir(key) / "repo.json", 64 << 20);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return RepoNotFound(key);
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  HUBFS_ASSIGN_OR_RETURN(RepoMeta meta, MetaFromJson(j, key));
  auto repo = std::make_shared<Repo>();
  repo->meta = std::move(meta);
  std::lock_guard<std::mutex> l(mu_);
  auto [it, inserted] = repos_.emplace(k, repo);
  return it->second;
}

Status RepoStore::SaveMeta(const Repo& repo) const {
  return WriteFileAtomic(RepoDir(repo.meta.key) / "repo.json", MetaToJson(repo.meta).dump());
}

Result<std::shared_ptr<const Commit>> RepoStore::LoadCommitLocked(Repo& repo,
                                                                  std::string_view id) const {
  auto it = repo.commits.find(std::string(id));
  if (it != repo.commits.end()) return it->second;
  if (!IsLowerHex(id, 40)) return RevisionNotFound(id);
  auto text = ReadFile(RepoDir(repo.meta.key) / "commits" / (std::string(id) + ".json"));
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return RevisionNotFound(id);
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.value("tree", json()).is_array())
    return CorruptError("commit " + std::string(id));
  auto c = std::make_shared<Commit>();
  c->id = std::string(id);
  c->parent = j.value("parent", std::string());
  c->seq = j.value("seq", uint64_t{0});
  c->title = j.value("title", std::string());
  c->message = j.value("message", std::string());
  c->date = j.value("date", int64_t{0});
  c->author = j.value("author", std::string());
  for (const auto& e : j["tree"]) {
    std::string path;
    TreeEntry entry;
    if (!EntryFromJson(e, &path, &entry)) return CorruptError("commit tree " + std::string(id));
    c->tree.emplace(std::move(path), std::move(entry));
  }
  CacheCommitLocked(repo, c);
  return std::shared_ptr<const Commit>(c);
}

void RepoStore::CacheCommitLocked(Repo& repo, std::shared_ptr<const Commit> c) const {
  // Commits carry full trees: keep a bounded number per repo (readers hold
  // their own references, so evicting one never invalidates a request).
  constexpr size_t kMaxCachedCommits = 64;
  if (repo.commits.size() >= kMaxCachedCommits) repo.commits.erase(repo.commits.begin());
  repo.commits.emplace(c->id, std::move(c));
}

Result<std::shared_ptr<const Commit>> RepoStore::WriteCommitLocked(Repo& repo,
                                                                   Commit commit) const {
  commit.id = CommitIdOf(commit, repo.meta.key.Str());
  for (auto& [path, e] : commit.tree) {
    if (e.last_commit.empty()) {
      e.last_commit = commit.id;
      e.last_seq = commit.seq;
    }
  }
  json tree = json::array();
  for (const auto& [path, e] : commit.tree) tree.push_back(EntryToJson(path, e));
  json j = {{"parent", commit.parent},   {"seq", commit.seq},   {"title", commit.title},
            {"message", commit.message}, {"date", commit.date}, {"author", commit.author},
            {"tree", std::move(tree)}};
  HUBFS_RETURN_IF_ERROR(
      WriteFileAtomic(RepoDir(repo.meta.key) / "commits" / (commit.id + ".json"), j.dump()));
  auto c = std::make_shared<const Commit>(std::move(commit));
  CacheCommitLocked(repo, c);
  return c;
}

Result<RepoMeta> RepoStore::Create(const RepoKey& key, bool is_private, const std::string& owner,
                                   const std::map<std::string, TreeEntry>& initial_files) {
  // Serialize creations through the map mutex so two racing creates see each other.
  std::lock_guard<std::mutex> l(mu_);
  std::error_code ec;
  if (repos_.count(key.Str()) || std::filesystem::exists(RepoDir(key) / "repo.json", ec))
    return Status(ErrorCode::kAlreadyExists,
                  "You already created this " + std::string(RepoTypeName(key.type)) + " repo")
        .WithHttp(409);
  auto repo = std::make_shared<Repo>();
  RepoMeta& m = repo->meta;
  m.key = key;
  m.object_id = RandomHex(12);
  m.is_private = is_private;
  m.owner = owner;
  m.created = m.last_modified = now_();
  Commit c;
  c.seq = m.next_seq++;
  c.title = "initial commit";
  c.date = m.created;
  c.author = owner;
  c.tree = initial_files;
  std::vector<std::string> lfs_objects;
  for (auto& [p, e] : c.tree) {
    e.last_commit.clear();
    if (e.is_lfs()) lfs_objects.push_back(e.sha256);
  }
  HUBFS_RETURN_IF_ERROR(WriteLfsMarkersLocked(key, lfs_objects));
  HUBFS_ASSIGN_OR_RETURN(auto commit, WriteCommitLocked(*repo, std::move(c)));
  m.refs.branches["main"] = commit->id;
  HUBFS_RETURN_IF_ERROR(SaveMeta(*repo));
  repos_[key.Str()] = repo;
  return m;
}

Status RepoStore::Delete(const RepoKey& key) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(mu_);
  std::lock_guard<std::mutex> rl(repo->mu);
  repos_.erase(key.Str());
  std::error_code ec;
  // Rename first so a crash never leaves a half-deleted repo visible.
  auto dir = RepoDir(key);
  auto tomb = root_ / "trash" / (RandomHex(8));
  std::filesystem::create_directories(tomb.parent_path(), ec);
  std::filesystem::rename(dir, tomb, ec);
  if (ec) return IoError("delete repo: " + ec.message());
  std::filesystem::remove_all(tomb, ec);
  return Status::Ok();
}

Result<RepoMeta> RepoStore::Get(const RepoKey& key) const {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  return repo->meta;
}

Status RepoStore::SetPrivate(const RepoKey& key, bool is_private) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  repo->meta.is_private = is_private;
  return SaveMeta(*repo);
}

std::vector<RepoMeta> RepoStore::List(RepoType type, std::string_view ns) const {
  std::vector<RepoMeta> out;
  std::error_code ec;
  auto base = root_ / "repos" / std::string(RepoTypeName(type));
  std::vector<std::string> ids;
  auto add_ns = [&](const std::string& n) {
    for (const auto& d : std::filesystem::directory_iterator(base / n, ec))
      if (d.is_directory(ec)) ids.push_back(n + "/" + d.path().filename().string());
  };
  if (!ns.empty()) {
    if (!ValidRepoPart(ns)) return out;
    add_ns(std::string(ns));
  } else {
    for (const auto& d : std::filesystem::directory_iterator(base, ec))
      if (d.is_directory(ec)) add_ns(d.path().filename().string());
  }
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) {
    auto m = Get(RepoKey{type, id});
    if (m.ok()) out.push_back(std::move(*m));
  }
  return out;
}

Result<std::shared_ptr<const Commit>> RepoStore::ResolveLocked(Repo& repo,
                                                               std::string_view rev) const {
  const RefSet& r = repo.meta.refs;
  std::string name(rev);
  if (name == "HEAD") name = "main";
  if (name.rfind("refs/heads/", 0) == 0) name = name.substr(11);
  auto b = r.branches.find(name);
  if (b != r.branches.end()) return LoadCommitLocked(repo, b->second);
  std::string tag = name.rfind("refs/tags/", 0) == 0 ? name.substr(10) : name;
  auto t = r.tags.find(tag);
  if (t != r.tags.end()) return LoadCommitLocked(repo, t->second);
  if (name.rfind("refs/pr/", 0) == 0) {
    std::string_view n = std::string_view(name).substr(8);
    if (!n.empty() && n.size() < 10 && std::all_of(n.begin(), n.end(), ::isdigit)) {
      auto p = r.prs.find(std::stoull(std::string(n)));
      if (p != r.prs.end()) return LoadCommitLocked(repo, p->second);
    }
    return RevisionNotFound(rev);
  }
  if (name.rfind("refs/convert/", 0) == 0) {
    auto c = r.converts.find(name.substr(13));
    if (c != r.converts.end()) return LoadCommitLocked(repo, c->second);
    return RevisionNotFound(rev);
  }
  if (IsLowerHex(name, 40)) return LoadCommitLocked(repo, name);
  return RevisionNotFound(rev);
}

Result<std::shared_ptr<const Commit>> RepoStore::Resolve(const RepoKey& key,
                                                         std::string_view rev) const {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  return ResolveLocked(*repo, rev);
}

Result<std::shared_ptr<const Commit>> RepoStore::GetCommit(const RepoKey& key,
                                                           std::string_view id) const {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  return LoadCommitLocked(*repo, id);
}

Result<CommitResult> RepoStore::ApplyCommit(const RepoKey& key, const CommitRequest& req) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  RepoMeta& m = repo->meta;
  std::shared_ptr<const Commit> base;
  std::optional<uint64_t> pr;
  std::string branch;
  if (req.target.rfind("refs/pr/", 0) == 0) {
    std::string_view n = std::string_view(req.target).substr(8);
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit))
      return RevisionNotFound(req.target);
    uint64_t num = std::stoull(std::string(n));
    if (!m.refs.prs.count(num)) return RevisionNotFound(req.target);
    pr = num;
  } else {
    branch = req.target == "HEAD" ? "main" : req.target;
    if (branch.rfind("refs/heads/", 0) == 0) branch = branch.substr(11);
    if (!m.refs.branches.count(branch)) {
      if (m.refs.tags.count(branch) || IsLowerHex(branch, 40))
        return InvalidArgumentError("Cannot commit to a tag or a commit: " + branch).WithHttp(400);
      return RevisionNotFound(req.target);
    }
  }
  const std::string& head = pr ? m.refs.prs[*pr] : m.refs.branches[branch];
  if (req.create_pr && !req.parent_commit.empty()) {
    // The parent is the base of the new PR; it must be a commit of this repo.
    std::shared_ptr<const Commit> found;
    for (const auto& [n, sha] : m.refs.branches)
      if (sha.rfind(req.parent_commit, 0) == 0)
        found = LoadCommitLocked(*repo, sha).value_or(nullptr);
    if (!found && IsLowerHex(req.parent_commit, 40))
      found = LoadCommitLocked(*repo, req.parent_commit).value_or(nullptr);
    if (!found) return RevisionNotFound(req.parent_commit);
    base = found;
  } else {
    if (!req.parent_commit.empty() && head.rfind(req.parent_commit, 0) != 0)
      return Status(ErrorCode::kFailedPrecondition,
                    "The branch was updated since you opened this page. Please refresh and try "
                    "again.")
          .WithHttp(412);
    HUBFS_ASSIGN_OR_RETURN(base, LoadCommitLocked(*repo, head));
  }

  Commit c;
  c.parent = base->id;
  c.seq = m.next_seq;
  c.title = req.title;
  c.message = req.message;
  c.date = now_();
  c.author = req.author;
  c.tree = base->tree;
  for (const FileChange& ch : req.changes) {
    switch (ch.kind) {
      case FileChange::kPut: {
        TreeEntry e = ch.entry;
        e.last_commit.clear();
        e.last_seq = 0;
        auto it = c.tree.find(ch.path);
        if (it != c.tree.end() && it->second.oid == e.oid && it->second.xet_hash == e.xet_hash) {
          break;  // unchanged: keeps its last commit
        }
        c.tree[ch.path] = e;
        break;
      }
      case FileChange::kDeleteFile:
        if (!c.tree.erase(ch.path))
          return NotFoundError("A file with this name doesn't exist: " + ch.path)
              .WithHttp(404, "EntryNotFound");
        break;
      case FileChange::kDeleteFolder: {
        std::string dir = ch.path;
        while (!dir.empty() && dir.back() == '/') dir.pop_back();
        size_t removed = 0;
        for (auto it = c.tree.begin(); it != c.tree.end();) {
          if (dir.empty() || IsUnder(it->first, dir)) {
            it = c.tree.erase(it);
            ++removed;
          } else {
            ++it;
          }
        }
        if (removed == 0)
          return NotFoundError("A folder with this name doesn't exist: " + ch.path)
              .WithHttp(404, "EntryNotFound");
        break;
      }
    }
  }
  // A path cannot be both a file and a directory.
  for (const FileChange& ch : req.changes) {
    if (ch.kind != FileChange::kPut) continue;
    if (c.HasDir(ch.path))
      return Status(ErrorCode::kConflict, "A folder already exists at " + ch.path).WithHttp(422);
    for (size_t p = ch.path.find('/'); p != std::string::npos; p = ch.path.find('/', p + 1))
      if (c.tree.count(ch.path.substr(0, p)))
        return Status(ErrorCode::kConflict, "A file already exists at " + ch.path.substr(0, p))
            .WithHttp(422);
  }
  for (auto& [p, e] : c.tree)
    if (e.last_commit.empty()) e.last_seq = 0;
  std::vector<std::string> lfs_objects;  // committed here: this repo's from now on
  for (const FileChange& ch : req.changes)
    if (ch.kind == FileChange::kPut && ch.entry.is_lfs()) lfs_objects.push_back(ch.entry.sha256);
  HUBFS_RETURN_IF_ERROR(WriteLfsMarkersLocked(key, lfs_objects));
  HUBFS_ASSIGN_OR_RETURN(auto commit, WriteCommitLocked(*repo, std::move(c)));
  m.next_seq++;
  m.last_modified = commit->date;
  CommitResult out;
  out.commit_id = commit->id;
  if (req.create_pr) {
    uint64_t n = m.next_pr++;
    m.refs.prs[n] = commit->id;
    out.pr_number = n;
  } else if (pr) {
    m.refs.prs[*pr] = commit->id;
  } else {
    m.refs.branches[branch] = commit->id;
  }
  HUBFS_RETURN_IF_ERROR(SaveMeta(*repo));
  return out;
}

Status RepoStore::CreateBranch(const RepoKey& key, const std::string& name,
                               std::string_view start_rev, bool overwrite) {
  if (!ValidRefName(name))
    return InvalidArgumentError("Invalid reference for a branch: " + name).WithHttp(400);
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  if (repo->meta.refs.branches.count(name) && !overwrite)
    return Status(ErrorCode::kAlreadyExists, "Reference refs/heads/" + name + " already exists")
        .WithHttp(409);
  HUBFS_ASSIGN_OR_RETURN(auto commit, ResolveLocked(*repo, start_rev.empty() ? "main" : start_rev));
  repo->meta.refs.branches[name] = commit->id;
  return SaveMeta(*repo);
}

Status RepoStore::DeleteBranch(const RepoKey& key, const std::string& name) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  if (name == "main") return InvalidArgumentError("Cannot delete refs/heads/main").WithHttp(403);
  if (!repo->meta.refs.branches.erase(name)) return RevisionNotFound(name);
  return SaveMeta(*repo);
}

Status RepoStore::CreateTag(const RepoKey& key, const std::string& tag, std::string_view rev) {
  if (!ValidRefName(tag)) return InvalidArgumentError("Invalid tag name: " + tag).WithHttp(400);
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  if (repo->meta.refs.tags.count(tag))
    return Status(ErrorCode::kAlreadyExists, "Tag " + tag + " already exists").WithHttp(409);
  std::shared_ptr<const Commit> commit;
  // A 7+ hex shorthand of a known head is accepted.
  if (rev.size() >= 7 && rev.size() < 40 && IsHex(rev)) {
    for (const auto& [n, sha] : repo->meta.refs.branches)
      if (sha.rfind(rev, 0) == 0) commit = LoadCommitLocked(*repo, sha).value_or(nullptr);
  }
  if (!commit) {
    HUBFS_ASSIGN_OR_RETURN(commit, ResolveLocked(*repo, rev));
  }
  repo->meta.refs.tags[tag] = commit->id;
  return SaveMeta(*repo);
}

Status RepoStore::DeleteTag(const RepoKey& key, const std::string& tag) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  if (!repo->meta.refs.tags.erase(tag)) return RevisionNotFound(tag);
  return SaveMeta(*repo);
}

Result<uint64_t> RepoStore::OpenPullRequest(const RepoKey& key, const std::string& branch) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  auto it = repo->meta.refs.branches.find(branch);
  if (it == repo->meta.refs.branches.end()) return RevisionNotFound(branch);
  uint64_t n = repo->meta.next_pr++;
  repo->meta.refs.prs[n] = it->second;
  HUBFS_RETURN_IF_ERROR(SaveMeta(*repo));
  return n;
}

std::filesystem::path RepoStore::LfsMarkerPath(const RepoKey& key,
                                               const std::string& sha256) const {
  return RepoDir(key) / "lfs" / sha256.substr(0, 2) / sha256;
}

Status RepoStore::WriteLfsMarkersLocked(const RepoKey& key,
                                        const std::vector<std::string>& sha256s) const {
  for (const std::string& sha : sha256s) {
    if (!IsLowerHex(sha, 64)) continue;
    std::error_code ec;
    if (std::filesystem::exists(LfsMarkerPath(key, sha), ec)) continue;
    HUBFS_RETURN_IF_ERROR(WriteFileAtomic(LfsMarkerPath(key, sha), ""));
  }
  return Status::Ok();
}

Status RepoStore::GrantLfsObjects(const RepoKey& key, const std::vector<std::string>& sha256s) {
  HUBFS_ASSIGN_OR_RETURN(auto repo, Load(key));
  std::lock_guard<std::mutex> l(repo->mu);
  return WriteLfsMarkersLocked(key, sha256s);
}

bool RepoStore::HasLfsObject(const RepoKey& key, const std::string& sha256) const {
  if (!IsLowerHex(sha256, 64) || !Load(key).ok()) return false;
  std::error_code ec;
  return std::filesystem::exists(LfsMarkerPath(key, sha256), ec);
}

}  // namespace hubfs::hubsim
