// RepoView: the metadata side of reading a repo (revisions, listings, file
// entries) and the content of regular (non-Xet) git files, with the offline
// behaviour of design §3 / issue item 6:
//   - a branch or tag resolves through the Hub and is recorded in the
//     RevisionStore; when the Hub is unreachable (or HF_HUB_OFFLINE=1) it
//     resolves to the last commit recorded, flagged possibly stale;
//   - tree listings are cached per (commit, dir) in the chunk cache, so they
//     are immutable and available offline;
//   - regular files come from `resolve` (with Range) and are cached whole by
//     git oid when small.
// Once a request finds the endpoint unreachable, later calls go straight to
// the cache (fail fast) for the life of the view.
//
// Thread-safety: all methods are thread-safe; no lock is held across I/O.
#ifndef HUBFS_FS_CONTENT_REPO_VIEW_H_
#define HUBFS_FS_CONTENT_REPO_VIEW_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "common/status.h"
#include "fs/content/regular_file.h"
#include "fs/content/revision_store.h"
#include "fs/content/xet_cas.h"
#include "fs/content/xet_reader.h"
#include "hub/http.h"
#include "hub/hub_client.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::fs {

struct ResolvedRevision {
  std::string revision;  // as asked ("main" for the default branch)
  std::string commit;    // 40 hex
  bool possibly_stale = false;  // from the RevisionStore, the Hub was not asked
};

struct RepoViewOptions {
  // HF_HUB_OFFLINE: never send a request.
  bool offline = false;
  // Regular files up to this size are fetched whole and cached by git oid;
  // larger ones are read with ranged GETs and not cached.
  uint64_t max_small_file_bytes = 32ull << 20;
};

// How a file's content is stored.
enum class ContentKind { kXet, kRegular, kLegacyLfs };
ContentKind KindOf(const hub::TreeEntry& entry);

class RepoView {
 public:
  // Everything must outlive the view; `cache` may be nullptr.
  RepoView(hub::HubClient* hub, hub::HttpTransport* transport, hub::TokenProvider* tokens,
           chunkstore::ChunkCache* cache, const RevisionStore* revisions,
           RepoViewOptions options);

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
  // mismatch, the Hub's errors.
  Result<size_t> ReadRegular(const hub::RepoId& repo, std::string_view commit,
                             const hub::TreeEntry& entry, uint64_t offset, std::span<uint8_t> out);

  // A CAS token source for reading Xet files of `repo` at `commit`. It
  // fails fast (kUnavailable) when the view is offline.
  CasTokenSource CasTokens(const hub::RepoId& repo, std::string commit);

  // True once offline mode is on or a request found the endpoint unreachable.
  bool offline() const { return offline_.load(std::memory_order_relaxed); }

 private:
  Status OfflineError(std::string_view what) const;
  void NoteFailure(const Status& st);

  hub::HubClient* const hub_;
  hub::HttpTransport* const transport_;
  hub::TokenProvider* const tokens_;
  chunkstore::ChunkCache* const cache_;
  const RevisionStore* const revisions_;
  const RepoViewOptions options_;
  std::atomic<bool> offline_;
  std::atomic<bool> unreachable_{false};
  RegularFileReader regular_;
};

// Listing cache payload: JSON array of entries (our own compact field names).
std::vector<uint8_t> EncodeListing(const std::vector<hub::TreeEntry>& entries);
// Errors: kCorrupt.
Result<std::vector<hub::TreeEntry>> DecodeListing(std::span<const uint8_t> payload);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REPO_VIEW_H_
