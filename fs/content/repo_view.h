// RepoView: what the read commands (`hubfs ls`, `hubfs cat`) ask of a repo,
// in their terms, over the RepoSource stack the mount uses too
// (cli/services.h: CachingRepoSource over OfflineRepoSource over
// HubRepoSource, with a RevisionStore and fail-fast for one-shot commands):
//   - Resolve: revision (or the default "main") -> commit, a 40-hex revision
//     as is without a request, possibly stale when the Hub was not asked;
//   - List / Stat: sorted listings and single entries, from the cache when
//     the stack has them;
//   - ReadRegular: regular git files, through the stack (small ones cached);
//   - CasTokens: the token source for reading Xet files with a XetReader,
//     stopped by the stack's offline policy.
// It keeps no state and no cache of its own.
//
// Thread-safety: all methods are thread-safe; no lock is held across I/O.
#ifndef HUBFS_FS_CONTENT_REPO_VIEW_H_
#define HUBFS_FS_CONTENT_REPO_VIEW_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fs/content/caching_repo_source.h"  // also the listing codec (DecodeListing)
#include "fs/content/offline_repo_source.h"
#include "fs/content/repo_source.h"
#include "fs/content/xet_cas.h"
#include "hub/hub_client.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

struct ResolvedRevision {
  std::string revision;  // as asked ("main" for the default branch)
  std::string commit;    // 40 hex
  bool possibly_stale = false;  // from the RevisionStore, the Hub was not asked
};

// How a file's content is stored.
enum class ContentKind { kXet, kRegular, kLegacyLfs };
ContentKind KindOf(const hub::TreeEntry& entry);

class RepoView {
 public:
  // Everything must outlive the view. `source` is the top of the stack,
  // `policy` the stack's offline layer; `hub` issues CAS tokens.
  RepoView(RepoSource* source, OfflineRepoSource* policy, hub::HubClient* hub);

  // Revision (nullopt: the default branch, "main") → commit. A 40-hex sha is
  // returned as is, without a request. Errors: the Hub's (kNotFound with
  // RepoNotFound / RevisionNotFound, kUnauthenticated, ...); kUnavailable
  // when unreachable and nothing was recorded for this revision.
  Result<ResolvedRevision> Resolve(const hub::RepoId& repo,
                                   const std::optional<std::string>& revision);

  // Entries of `dir` ("" = root) at `commit`, sorted by path; with
  // `recursive`, every descendant. Cached per (commit, dir).
  Result<std::vector<hub::TreeEntry>> List(const hub::RepoId& repo, std::string_view commit,
                                           std::string_view dir, bool recursive);

  // The entry of `path` at `commit` (from its parent's listing). "" is the
  // root directory. Errors: kNotFound (hub_error_code EntryNotFound).
  Result<hub::TreeEntry> Stat(const hub::RepoId& repo, std::string_view commit,
                              std::string_view path);

  // Reads a regular git file. Returns the byte count (short only at the
  // end). Errors: kUnavailable offline when not cached, kCorrupt on a size
  // or git blob id mismatch, the Hub's errors.
  Result<size_t> ReadRegular(const hub::RepoId& repo, std::string_view commit,
                             const hub::TreeEntry& entry, uint64_t offset, std::span<uint8_t> out);

  // A CAS token source for reading Xet files of `repo` at `commit`. It
  // fails fast (kUnavailable) when the stack is offline.
  CasTokenSource CasTokens(const hub::RepoId& repo, std::string commit);

  // True once offline mode is on or a request found the endpoint unreachable.
  bool offline() const { return policy_->offline(); }

 private:
  RepoSource* const source_;
  OfflineRepoSource* const policy_;
  hub::HubClient* const hub_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REPO_VIEW_H_
