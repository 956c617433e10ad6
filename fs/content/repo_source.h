// RepoSource: what the filesystem core and the read commands need from the
// Hub, as an interface so that unit tests drive them with a fake (no network).
// The mount and the commands use one stack of RepoSources, built in the
// composition root (cli/services.h), top to bottom:
//   CachingRepoSource  listings per (commit, dir), small regular files per
//                      git oid, in the chunk cache
//   OfflineRepoSource  HF_HUB_OFFLINE, the unreachable endpoint, revisions
//                      recorded in the RevisionStore
//   HubRepoSource      the Hub API and the XetReader, no caching of its own
// All listings and reads are addressed by commit sha, so their answers are
// immutable.
#ifndef HUBFS_FS_CONTENT_REPO_SOURCE_H_
#define HUBFS_FS_CONTENT_REPO_SOURCE_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fs/content/held_bytes.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

struct RevisionInfo {
  std::string commit;       // 40 hex
  int64_t commit_time = 0;  // Unix seconds; 0 when unknown
  // The commit last recorded for the revision, answered without asking the
  // Hub (offline or unreachable): the revision may have moved since.
  bool possibly_stale = false;
};

// Regular (non-Xet) files up to this size are fetched whole, checked against
// their git blob id and cached by git oid; larger ones are read by Range and
// checked for length only. Above every file the Hub keeps in git (its limit
// for inline content is 10 MiB), so every git file is checked; small enough
// that a mount's read buffers stay bounded.
inline constexpr uint64_t kSmallFileBytes = 16ull << 20;

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

  // Every descendant of `dir` at `commit` (`hubfs ls -R`), full paths, in no
  // particular order. The default walks ListDir; the Hub answers it in one
  // (paged) request.
  virtual Result<std::vector<hub::TreeEntry>> ListRecursive(const hub::RepoId& repo,
                                                            std::string_view commit,
                                                            std::string_view dir);

  // Reads up to out.size() bytes at `offset`; returns the count (short only
  // at the end of the file, 0 at or past it).
  virtual Result<size_t> Read(const FileContent& file, uint64_t offset,
                              std::span<uint8_t> out) = 0;

  // Read of up to `len` bytes into `out` (replaced), as memory held rather
  // than copied where the source has the bytes in memory already. The
  // default reads into a buffer of out's own. `pages_kept`: the caller keeps
  // what it is given (the kernel's page cache: a handle not opened O_DIRECT,
  // whose pages the kernel keeps), so once it calls out->Delivered() a
  // source may leave bytes read through uncached rather than wait for its
  // cache's disk (XetReader::ReadHeld).
  virtual Result<size_t> ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                                  HeldBytes* out, bool pages_kept);

  // Folder read-ahead (fs/vfs/folder_readahead.h): a reader is expected to
  // read `file` from its start; [0, bytes) may be fetched in the background,
  // below every read asked for, as part of `group`. A hint: the default
  // ignores it; it never blocks on the network and reports nothing.
  virtual void Speculate(const FileContent& /*file*/, uint64_t /*bytes*/, uint64_t /*group*/) {}
  // The reader of `group` stopped: what it asked for and has not started
  // is dropped.
  virtual void CancelSpeculation(uint64_t /*group*/) {}
  // A handle of `file` was opened / released (each open is released once).
  // When a file's last handle goes, work for its reader stops (a tensor
  // file's sweep: fs/content/xet_reader.h). Hints: the defaults ignore them.
  virtual void Opened(const FileContent& /*file*/) {}
  virtual void Closed(const FileContent& /*file*/) {}

  // Used only by mounts that show several revisions or repos (the defaults
  // answer kUnimplemented, which such a mount shows as EIO).

  // The repo's branches, tags, conversions and pull requests. kNotFound /
  // kUnauthenticated when the repo is missing or private.
  virtual Result<hub::Refs> ListRefs(const hub::RepoId& repo);

  // The repos of `author` of one type ("ns/name" ids), all pages.
  virtual Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                          std::string_view author);
};

inline Result<std::vector<hub::TreeEntry>> RepoSource::ListRecursive(const hub::RepoId& repo,
                                                                     std::string_view commit,
                                                                     std::string_view dir) {
  std::vector<hub::TreeEntry> out;
  std::vector<std::string> pending{std::string(dir)};
  while (!pending.empty()) {
    const std::string next = std::move(pending.back());
    pending.pop_back();
    HUBFS_ASSIGN_OR_RETURN(std::vector<hub::TreeEntry> children, ListDir(repo, commit, next));
    for (hub::TreeEntry& e : children) {
      if (e.type == hub::TreeEntry::Type::kDirectory) pending.push_back(e.path);
      out.push_back(std::move(e));
    }
  }
  return out;
}

inline Result<size_t> RepoSource::ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                                           HeldBytes* out, bool /*pages_kept*/) {
  HUBFS_ASSIGN_OR_RETURN(size_t n, Read(file, offset, out->Own(len)));
  out->Keep(n);
  return n;
}

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
