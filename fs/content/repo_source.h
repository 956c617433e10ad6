// RepoSource: what the filesystem core needs from the Hub, as an interface so
// that unit tests drive the core with a fake (no network) and the mount uses
// HubRepoSource (hub::HubClient + XetReader). All listings and reads are
// addressed by commit sha, so their answers are immutable.
#ifndef HUBFS_FS_CONTENT_REPO_SOURCE_H_
#define HUBFS_FS_CONTENT_REPO_SOURCE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

struct RevisionInfo {
  std::string commit;       // 40 hex
  int64_t commit_time = 0;  // Unix seconds; 0 when unknown
};

// The content of one file at one commit, as pinned by an open handle.
struct FileContent {
  hub::RepoId repo;
  std::string commit;
  std::string path;  // from the repo root
  std::string oid;   // git blob id
  uint64_t size = 0;
  std::optional<std::string> xet_hash;  // 64 hex: read through the Xet CAS
  std::optional<std::string> sha256;    // LFS oid, when the file is LFS/Xet
};

class RepoSource {
 public:
  virtual ~RepoSource() = default;

  // All methods are thread-safe and may block on the network (bounded by the
  // implementation's timeouts). Errors are the hub's Status codes:
  // kNotFound, kUnauthenticated, kPermissionDenied, kUnavailable, kTimeout,
  // kCorrupt, kResourceExhausted.

  // Branch, tag, ref or sha -> commit sha and date.
  virtual Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                               std::string_view revision) = 0;

  // The direct children of `dir` ("" = root) at `commit`, not recursive.
  // Paths in the answer are full paths from the repo root.
  virtual Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo,
                                                      std::string_view commit,
                                                      std::string_view dir) = 0;

  // Reads up to out.size() bytes at `offset`; returns the count (short only
  // at the end of the file, 0 at or past it).
  virtual Result<size_t> Read(const FileContent& file, uint64_t offset,
                              std::span<uint8_t> out) = 0;

  // Used only by mounts that show several revisions or repos (the defaults
  // answer kUnimplemented, which such a mount shows as EIO).

  // The repo's branches, tags, conversions and pull requests. kNotFound /
  // kUnauthenticated when the repo is missing or private.
  virtual Result<hub::Refs> ListRefs(const hub::RepoId& repo);

  // The repos of `author` of one type ("ns/name" ids), all pages.
  virtual Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                          std::string_view author);
};

inline Result<hub::Refs> RepoSource::ListRefs(const hub::RepoId& repo) {
  return UnimplementedError("list refs of " + repo.ToString() + ": not supported by this source");
}

inline Result<std::vector<hub::RepoSummary>> RepoSource::ListRepos(hub::RepoType,
                                                                   std::string_view author) {
  return UnimplementedError("list repos of " + std::string(author) +
                            ": not supported by this source");
}

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REPO_SOURCE_H_
