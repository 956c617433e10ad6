// A multi-repo RepoSource for the VFS tests of --revisions and hub mounts:
// repos with commits (flat file maps; directories implied by '/') and refs.
#ifndef HUBFS_TESTS_UNIT_FS_VFS_MULTI_REPO_FAKE_H_
#define HUBFS_TESTS_UNIT_FS_VFS_MULTI_REPO_FAKE_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fs/content/repo_source.h"

namespace hubfs::fs::testing {

inline constexpr char kC1[] = "1111111111111111111111111111111111111111";
inline constexpr char kC2[] = "2222222222222222222222222222222222222222";
inline constexpr char kC3[] = "3333333333333333333333333333333333333333";
inline constexpr char kC4[] = "4444444444444444444444444444444444444444";
inline constexpr char kUnknown[] = "9999999999999999999999999999999999999999";

class HubFake final : public RepoSource {
 public:
  struct Repo {
    hub::Refs refs;
    std::map<std::string, std::map<std::string, std::string>> commits;  // sha -> path -> content
    bool is_private = false;
  };

  void Commit(const std::string& repo, const std::string& sha,
              std::map<std::string, std::string> files) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[repo].commits[sha] = std::move(files);
  }
  void SetRef(const std::string& repo, const std::string& kind, const std::string& name,
              const std::string& sha) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& refs = repos_[repo].refs;
    auto& list = kind == "branch" ? refs.branches
                 : kind == "tag"  ? refs.tags
                 : kind == "pr"   ? refs.pull_requests
                                  : refs.converts;
    std::erase_if(list, [&](const hub::GitRef& r) { return r.name == name; });
    if (!sha.empty()) list.push_back(hub::GitRef{name, "", sha});
  }
  void SetPrivate(const std::string& repo) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[repo].is_private = true;
  }

  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++resolves;
    auto it = repos_.find(repo.ToString());
    if (it == repos_.end()) return NotFoundError("no repo");
    if (it->second.commits.count(std::string(revision)) == 0) return NotFoundError("no rev");
    return RevisionInfo{std::string(revision), DateOf(revision)};
  }
  // Like git: equal subtrees have equal tree ids.
  static std::string TreeOid(const std::map<std::string, std::string>& files,
                             const std::string& dir) {
    std::string all;
    for (const auto& [path, content] : files) {
      if (path.compare(0, dir.size() + 1, dir + "/") == 0) all += path + "\n" + content + "\n";
    }
    return "tree-" + std::to_string(std::hash<std::string>()(all));
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_dirs;
    auto r = repos_.find(repo.ToString());
    if (r == repos_.end()) return NotFoundError("no repo");
    auto c = r->second.commits.find(std::string(commit));
    if (c == r->second.commits.end()) return NotFoundError("no commit");
    std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
    std::set<std::string> subdirs;
    std::vector<hub::TreeEntry> out;
    bool exists = dir.empty();
    for (const auto& [path, content] : c->second) {
      if (path.compare(0, prefix.size(), prefix) != 0) continue;
      exists = true;
      std::string rest = path.substr(prefix.size());
      size_t slash = rest.find('/');
      hub::TreeEntry e;
      if (slash != std::string::npos) {
        if (!subdirs.insert(rest.substr(0, slash)).second) continue;
        e.type = hub::TreeEntry::Type::kDirectory;
        e.path = prefix + rest.substr(0, slash);
        e.oid = TreeOid(c->second, e.path);
      } else {
        e.path = path;
        e.oid = "oid-" + content;
        e.size = content.size();
      }
      out.push_back(e);
    }
    if (!exists) return NotFoundError("no dir");
    return out;
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = repos_.find(file.repo.ToString());
    if (r == repos_.end()) return NotFoundError("no repo");
    auto c = r->second.commits.find(file.commit);
    if (c == r->second.commits.end()) return NotFoundError("no commit");
    auto f = c->second.find(file.path);
    if (f == c->second.end()) return NotFoundError("no file");
    if (offset >= f->second.size()) return size_t{0};
    size_t n = std::min<size_t>(out.size(), f->second.size() - offset);
    std::copy_n(f->second.data() + offset, n, out.data());
    return n;
  }
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_refs;
    if (fail_list_refs > 0) {
      --fail_list_refs;
      return IoError("the Hub did not answer");
    }
    auto it = repos_.find(repo.ToString());
    if (it == repos_.end()) return NotFoundError("Repository not found");
    if (it->second.is_private) return Status(ErrorCode::kUnauthenticated, "private");
    return it->second.refs;
  }
  Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                  std::string_view author) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_repos;
    std::vector<hub::RepoSummary> out;
    for (const auto& [key, repo] : repos_) {
      hub::RepoId id;
      std::string k = key;
      hub::RepoType t = hub::RepoType::kModel;
      if (k.rfind("datasets/", 0) == 0) t = hub::RepoType::kDataset, k = k.substr(9);
      if (k.rfind("spaces/", 0) == 0) t = hub::RepoType::kSpace, k = k.substr(7);
      if (t != type || repo.is_private || k.substr(0, k.find('/')) != author) continue;
      out.push_back(hub::RepoSummary{k, false, "", std::nullopt});
    }
    return out;
  }

  static int64_t DateOf(std::string_view sha) { return 1600000000 + (sha[0] - '0') * 1000; }

  std::atomic<int> resolves{0};
  std::atomic<int> list_refs{0};
  std::atomic<int> list_repos{0};
  std::atomic<int> list_dirs{0};
  // The next this many ListRefs calls fail (a flaky Hub).
  std::atomic<int> fail_list_refs{0};

 private:
  std::mutex mu_;
  std::map<std::string, Repo> repos_;
};

}  // namespace hubfs::fs::testing

#endif  // HUBFS_TESTS_UNIT_FS_VFS_MULTI_REPO_FAKE_H_
