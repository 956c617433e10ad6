// OfflineRepoSource: the network policy of a RepoSource stack (design §3),
// over the source that talks to the Hub and under the cache:
//   - HF_HUB_OFFLINE (`offline`): nothing reaches the inner source but Xet
//     reads, whose chunks come from the chunk cache (their CAS token source
//     asks CheckOnline before a request);
//   - a branch or tag resolved by the Hub is recorded in the RevisionStore;
//     offline or with the endpoint unreachable it resolves to the commit
//     last recorded, flagged possibly stale;
//   - `fail_fast` (one-shot commands): once a request finds the endpoint
//     unreachable, later requests are not sent for the life of the object,
//     so a command answers from the cache at once. Without it (mounts, which
//     live long while the server may come back) every request is tried.
// Errors from a Hub that answers (a missing repo, a refused token) pass
// through unchanged and never count as offline.
//
// Thread-safety: thread-safe when the inner source is.
#ifndef HUBFS_FS_CONTENT_OFFLINE_REPO_SOURCE_H_
#define HUBFS_FS_CONTENT_OFFLINE_REPO_SOURCE_H_

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "fs/content/repo_source.h"
#include "fs/content/revision_store.h"

namespace hubfs::fs {

struct OfflineOptions {
  bool offline = false;    // HF_HUB_OFFLINE: send no request
  bool fail_fast = false;  // cache only once the endpoint was found unreachable
  // Where resolved revisions are recorded and looked up offline; nullptr:
  // neither (an unreachable endpoint is then an error).
  const RevisionStore* revisions = nullptr;
  std::string endpoint;  // for messages
};

// True for a failure to reach the endpoint (no HTTP answer), as opposed to
// an answer that is an error.
bool IsUnreachable(const Status& st);

class OfflineRepoSource final : public RepoSource {
 public:
  // `inner` and options.revisions must outlive this object.
  OfflineRepoSource(RepoSource* inner, OfflineOptions options);

  // Errors: the inner source's; kUnavailable when offline (or unreachable)
  // and nothing is recorded for the revision.
  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override;
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override;
  Result<std::vector<hub::TreeEntry>> ListRecursive(const hub::RepoId& repo,
                                                    std::string_view commit,
                                                    std::string_view dir) override;
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override;
  Result<size_t> ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                          HeldBytes* out, bool pages_kept) override;
  // Passed down unless offline (nothing is fetched then).
  void Speculate(const FileContent& file, uint64_t bytes, uint64_t group) override {
    if (!offline()) inner_->Speculate(file, bytes, group);
  }
  void CancelSpeculation(uint64_t group) override { inner_->CancelSpeculation(group); }
  // Always passed down: the counts below stay balanced.
  void Opened(const FileContent& file) override { inner_->Opened(file); }
  void Closed(const FileContent& file) override { inner_->Closed(file); }
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override;
  Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                  std::string_view author) override;

  // For requests made beside the stack (a command's CAS tokens): OK when a
  // request may be sent, else the kUnavailable error naming `what`.
  Status CheckOnline(std::string_view what) const;
  // Tells the policy how such a request failed.
  void NoteFailure(const Status& st);
  // True in offline mode, or once fail-fast found the endpoint unreachable.
  bool offline() const { return offline_.load(std::memory_order_relaxed); }

 private:
  Status OfflineError(std::string_view what) const;
  // Runs `call` unless offline, noting how it failed.
  template <typename T, typename Call>
  Result<T> Guarded(std::string_view what, Call&& call);

  RepoSource* const inner_;
  const OfflineOptions options_;
  std::atomic<bool> offline_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_OFFLINE_REPO_SOURCE_H_
