// FakeRepoSource: an in-memory RepoSource over a RepoFixture (one repo, one
// commit on branch "main", files by path, directories implied), for tests
// that drive the filesystem without a Hub. The contract test
// (repo_source_contract_test.cc) checks it answers as HubRepoSource does.
#ifndef HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_REPO_SOURCE_H_
#define HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_REPO_SOURCE_H_

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/hash.h"
#include "fs/content/repo_source.h"

namespace hubfs::fs {

struct RepoFixture {
  hub::RepoId repo{hub::RepoType::kModel, "org", "repo"};
  std::string branch = "main";
  std::string commit = "0123456789abcdef0123456789abcdef01234567";
  int64_t commit_time = 1714566896;  // 2024-05-01T12:34:56Z
  std::map<std::string, std::string> files;  // path -> content

  // The directories the files imply ("a/b" for "a/b/c.txt").
  std::set<std::string> Dirs() const {
    std::set<std::string> dirs;
    for (const auto& [path, content] : files) {
      for (size_t p = path.find('/'); p != std::string::npos; p = path.find('/', p + 1)) {
        dirs.insert(path.substr(0, p));
      }
    }
    return dirs;
  }
  // The direct children of `dir` ("" = root), sorted by path; nullopt when
  // `dir` is not a directory.
  std::optional<std::vector<hub::TreeEntry>> Children(std::string_view dir) const {
    const std::set<std::string> dirs = Dirs();
    if (!dir.empty() && dirs.count(std::string(dir)) == 0) return std::nullopt;
    const std::string prefix = dir.empty() ? "" : std::string(dir) + "/";
    auto direct = [&](const std::string& path) {
      return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
             path.find('/', prefix.size()) == std::string::npos;
    };
    std::vector<hub::TreeEntry> out;
    for (const std::string& d : dirs) {
      if (!direct(d)) continue;
      hub::TreeEntry e;
      e.type = hub::TreeEntry::Type::kDirectory;
      e.path = d;
      e.oid = std::string(40, 'd');
      out.push_back(e);
    }
    for (const auto& [path, content] : files) {
      if (!direct(path)) continue;
      hub::TreeEntry e;
      e.path = path;
      e.size = content.size();
      e.oid = chunkstore::GitBlobId(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()), content.size()));
      out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const hub::TreeEntry& a, const hub::TreeEntry& b) { return a.path < b.path; });
    return out;
  }
};

class FakeRepoSource final : public RepoSource {
 public:
  explicit FakeRepoSource(RepoFixture fixture) : f_(std::move(fixture)) {}

  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override {
    if (!(repo == f_.repo)) return NotFoundError("no such repo").WithHttp(404, "RepoNotFound");
    if (revision != f_.branch && revision != f_.commit) {
      return NotFoundError("no such revision").WithHttp(404, "RevisionNotFound");
    }
    return RevisionInfo{f_.commit, f_.commit_time};
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override {
    if (!(repo == f_.repo)) return NotFoundError("no such repo").WithHttp(404, "RepoNotFound");
    if (commit != f_.commit) {
      return NotFoundError("no such revision").WithHttp(404, "RevisionNotFound");
    }
    auto children = f_.Children(dir);
    if (!children) return NotFoundError("no such directory").WithHttp(404, "EntryNotFound");
    return *children;
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    auto it = f_.files.find(file.path);
    if (file.commit != f_.commit || it == f_.files.end()) return NotFoundError("no such file");
    const std::string& content = it->second;
    if (offset >= content.size()) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), content.size() - offset);
    std::copy_n(content.data() + offset, n, out.data());
    return n;
  }
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override {
    if (!(repo == f_.repo)) return NotFoundError("no such repo").WithHttp(404, "RepoNotFound");
    hub::Refs refs;
    refs.branches.push_back(hub::GitRef{f_.branch, "refs/heads/" + f_.branch, f_.commit});
    return refs;
  }

 private:
  const RepoFixture f_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_REPO_SOURCE_H_
