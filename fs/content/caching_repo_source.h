// CachingRepoSource: the one metadata cache of hubfs, a RepoSource over
// another one (the mount's and the commands' stack, cli/services.h). In the
// chunk cache, so that mounts and commands share them and they survive
// restarts and outages:
//   - listings per (commit, dir), direct and recursive ones apart, stored
//     sorted by path; only for commit shas, whose trees never change;
//   - regular (non-Xet) files up to `max_small_file_bytes` per git oid: read
//     whole from the inner source (which checks them against their git blob
//     id) on the first read, every later read of any range is served here;
//     concurrent first reads of one file (the kernel's read-ahead) share one
//     whole read.
// Everything else (revisions, refs, repos, Xet files, larger regular files)
// goes to the inner source: Xet content has its own chunk cache.
//
// Thread-safety: thread-safe when the inner source is; no lock is held
// across a call to it.
#ifndef HUBFS_FS_CONTENT_CACHING_REPO_SOURCE_H_
#define HUBFS_FS_CONTENT_CACHING_REPO_SOURCE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "fs/content/repo_source.h"
#include "fs/content/single_flight.h"

namespace hubfs::fs {

struct CachingOptions {
  uint64_t max_small_file_bytes = kSmallFileBytes;
};

class CachingRepoSource final : public RepoSource {
 public:
  // Both must outlive this object; `cache` may be nullptr (nothing cached).
  CachingRepoSource(RepoSource* inner, chunkstore::ChunkCache* cache, CachingOptions options = {});

  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override;
  // Sorted by path.
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override;
  // Sorted by path.
  Result<std::vector<hub::TreeEntry>> ListRecursive(const hub::RepoId& repo,
                                                    std::string_view commit,
                                                    std::string_view dir) override;
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override;
  Result<size_t> ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                          HeldBytes* out, bool pages_kept) override;
  void Speculate(const FileContent& file, uint64_t bytes, uint64_t group) override {
    inner_->Speculate(file, bytes, group);
  }
  void CancelSpeculation(uint64_t group) override { inner_->CancelSpeculation(group); }
  void Opened(const FileContent& file) override { inner_->Opened(file); }
  void Closed(const FileContent& file) override { inner_->Closed(file); }
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override;
  Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                  std::string_view author) override;

 private:
  Result<std::vector<hub::TreeEntry>> Cached(const hub::RepoId& repo, std::string_view commit,
                                             std::string_view dir, bool recursive);
  using Bytes = std::shared_ptr<const std::vector<uint8_t>>;
  Result<Bytes> WholeFile(const FileContent& file);

  RepoSource* const inner_;
  chunkstore::ChunkCache* const cache_;
  const CachingOptions options_;
  SingleFlight<std::string, Bytes> whole_reads_;  // by repo@commit/path#oid
};

// Listing cache payload: JSON array of entries (our own compact field names).
std::vector<uint8_t> EncodeListing(const std::vector<hub::TreeEntry>& entries);
// Errors: kCorrupt.
Result<std::vector<hub::TreeEntry>> DecodeListing(std::span<const uint8_t> payload);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_CACHING_REPO_SOURCE_H_
