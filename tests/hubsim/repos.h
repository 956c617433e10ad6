// Repositories: refs and an immutable commit graph where every commit stores
// its full flat tree. Persistent under DIR/repos/<type>/<ns>/<name>/:
//   repo.json            refs, visibility, owner, counters (rewritten atomically)
//   commits/<sha>.json   one commit: parent, message, date, author, tree
// Commit ids are sha1 over a canonical serialization (parent, sequence number,
// message, date, author, tree), so they are unique within a repo.
#ifndef HUBFS_TESTS_HUBSIM_REPOS_H_
#define HUBFS_TESTS_HUBSIM_REPOS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubfs::hubsim {

enum class RepoType { kModel, kDataset, kSpace };
std::string_view RepoTypeName(RepoType t);                  // "model"
std::string_view RepoWebPrefix(RepoType t);                 // "", "datasets/", "spaces/"
std::optional<RepoType> ParseRepoType(std::string_view s);  // "model", "models", ...

struct RepoKey {
  RepoType type = RepoType::kModel;
  std::string id;  // "ns/name"
  std::string Namespace() const { return id.substr(0, id.find('/')); }
  std::string Str() const { return std::string(RepoTypeName(type)) + "/" + id; }
};

// Validates a namespace or a name (Hub rules: [A-Za-z0-9_.-], 1–96 chars, no
// leading/trailing '-' or '.', no "--" or "..", no ".git" suffix).
bool ValidRepoPart(std::string_view part);

struct TreeEntry {
  std::string oid;       // git blob sha1 (of the pointer text for LFS files)
  uint64_t size = 0;     // real size
  std::string sha256;    // LFS files only
  std::string xet_hash;  // Xet-backed LFS files only
  std::string last_commit;
  uint64_t last_seq = 0;
  bool is_lfs() const { return !sha256.empty(); }
};

struct Commit {
  std::string id;
  std::string parent;  // empty for the initial commit
  uint64_t seq = 0;
  std::string title;
  std::string message;
  int64_t date = 0;
  std::string author;
  std::map<std::string, TreeEntry> tree;  // sorted by path

  // Git-style tree id of directory `dir` ("" = root), computed from its entries.
  std::string DirOid(std::string_view dir) const;
  // Newest commit (by seq) touching anything under `dir`: {id, seq}.
  std::pair<std::string, uint64_t> DirLastCommit(std::string_view dir) const;
  bool HasDir(std::string_view dir) const;
};

struct RefSet {
  std::map<std::string, std::string> branches, tags, converts;
  std::map<uint64_t, std::string> prs;
};

struct RepoMeta {
  RepoKey key;
  std::string object_id;  // "_id"
  bool is_private = false;
  std::string owner;
  int64_t created = 0;
  int64_t last_modified = 0;
  uint64_t next_seq = 1;
  uint64_t next_pr = 1;
  RefSet refs;
};

// One operation of a commit, already validated by the caller.
struct FileChange {
  enum Kind { kPut, kDeleteFile, kDeleteFolder } kind = kPut;
  std::string path;
  TreeEntry entry;  // kPut
};

struct CommitRequest {
  std::string target;  // branch name, or "refs/pr/N"
  bool create_pr = false;
  std::string parent_commit;  // optional 5–40 hex prefix
  std::string title, message, author;
  std::vector<FileChange> changes;
};

struct CommitResult {
  std::string commit_id;
  std::optional<uint64_t> pr_number;
};

// Thread-safe. Lock order: the store's map mutex, then (never while holding
// it) one repo's mutex. No lock is held across HTTP I/O.
class RepoStore {
 public:
  RepoStore(std::filesystem::path root, std::function<int64_t()> now);

  // Creates a repo with an initial commit holding `initial_files`.
  // Errors: kAlreadyExists.
  Result<RepoMeta> Create(const RepoKey& key, bool is_private, const std::string& owner,
                          const std::map<std::string, TreeEntry>& initial_files);
  Status Delete(const RepoKey& key);
  // Errors: kNotFound.
  Result<RepoMeta> Get(const RepoKey& key) const;
  Status SetPrivate(const RepoKey& key, bool is_private);
  // Repos of `type` whose namespace is `ns` (all namespaces when empty), sorted by id.
  std::vector<RepoMeta> List(RepoType type, std::string_view ns) const;

  // Resolves a revision (branch, tag, refs/pr/N, refs/convert/X, refs/heads/X,
  // refs/tags/X, HEAD, or a 40-hex commit of this repo) to a commit.
  // Errors: kNotFound (repo: hub code RepoNotFound; revision: RevisionNotFound).
  Result<std::shared_ptr<const Commit>> Resolve(const RepoKey& key, std::string_view rev) const;
  Result<std::shared_ptr<const Commit>> GetCommit(const RepoKey& key, std::string_view id) const;

  // Applies a commit. Errors: kNotFound (branch), kFailedPrecondition (stale
  // parent → 412), kInvalidArgument (bad target), kNotFound with hub code
  // EntryNotFound (deleting a missing path), kConflict (file/dir clash → 422).
  Result<CommitResult> ApplyCommit(const RepoKey& key, const CommitRequest& req);

  // Branches and tags. Errors: kAlreadyExists (409), kNotFound, kInvalidArgument.
  Status CreateBranch(const RepoKey& key, const std::string& name, std::string_view start_rev,
                      bool overwrite);
  Status DeleteBranch(const RepoKey& key, const std::string& name);
  Status CreateTag(const RepoKey& key, const std::string& tag, std::string_view rev);
  Status DeleteTag(const RepoKey& key, const std::string& tag);
  // Opens an empty pull request: refs/pr/N at the head of `branch`. Returns N.
  Result<uint64_t> OpenPullRequest(const RepoKey& key, const std::string& branch);

  // LFS objects belong to repos: one committed to a repo, or uploaded with its
  // write token (Xet shard, classic LFS PUT), may be referenced by sha256 in
  // its commits and counts as "already stored" in its LFS batches; an object
  // known only from other repos does not. Stored as empty marker files
  // lfs/<hh>/<sha256> under the repo's folder (gone with the repo).
  // Errors: kNotFound (no such repo).
  Status GrantLfsObjects(const RepoKey& key, const std::vector<std::string>& sha256s);
  bool HasLfsObject(const RepoKey& key, const std::string& sha256) const;

 private:
  struct Repo {
    std::mutex mu;
    RepoMeta meta;                                                 // GUARDED_BY(mu)
    // Bounded cache of loaded commits, GUARDED_BY(mu).
    mutable std::map<std::string, std::shared_ptr<const Commit>> commits;
  };

  std::filesystem::path RepoDir(const RepoKey& key) const;
  Result<std::shared_ptr<Repo>> Load(const RepoKey& key) const;
  Status SaveMeta(const Repo& repo) const;
  Result<std::shared_ptr<const Commit>> LoadCommitLocked(Repo& repo, std::string_view id) const;
  Result<std::shared_ptr<const Commit>> ResolveLocked(Repo& repo, std::string_view rev) const;
  Result<std::shared_ptr<const Commit>> WriteCommitLocked(Repo& repo, Commit commit) const;
  std::filesystem::path LfsMarkerPath(const RepoKey& key, const std::string& sha256) const;
  // Marks these LFS objects as the repo's (invalid sha256s are skipped).
  Status WriteLfsMarkersLocked(const RepoKey& key, const std::vector<std::string>& sha256s) const;
  void CacheCommitLocked(Repo& repo, std::shared_ptr<const Commit> c) const;

  std::filesystem::path root_;
  std::function<int64_t()> now_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<Repo>> repos_;  // GUARDED_BY(mu_)
};

// Validates a path inside a repo (no leading '/', no empty, '.', '..', '.git'
// components, no control characters, ≤ 1024 bytes).
bool ValidRepoPath(std::string_view path);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_REPOS_H_
