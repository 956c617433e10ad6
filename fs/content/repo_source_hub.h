// HubRepoSource: the bottom of the RepoSource stack (cli/services.h), over
// the Hub API (listings, revisions, regular files with Range) and the
// XetReader (Xet-backed files). It caches no metadata and has no offline
// policy of its own: CachingRepoSource and OfflineRepoSource above it do.
#ifndef HUBFS_FS_CONTENT_REPO_SOURCE_HUB_H_
#define HUBFS_FS_CONTENT_REPO_SOURCE_HUB_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "common/mutex.h"
#include "chunkstore/cache.h"
#include "fs/content/lru_map.h"
#include "fs/content/regular_file.h"
#include "fs/content/repo_source.h"
#include "fs/content/xet_cas.h"
#include "fs/content/xet_reader.h"
#include "hub/http.h"
#include "hub/hub_client.h"
#include "hub/settings.h"

namespace hubfs::fs {

// The Xet CAS of a mount that reads several repos: CAS tokens are issued per
// repo, so each reconstruction is asked with a token of a repo the file was
// read from (HubRepoSource notes it before each Xet read). Data fetches carry
// no credentials and need no routing. Bounded: tokens of at most `max_repos`
// repos and the origin of at most `max_files` file hashes are kept.
// Thread-safe.
class PerRepoXetCas final : public XetCas {
 public:
  using TokenFor = std::function<Result<hub::XetToken>(const hub::RepoId& repo,
                                                       const std::string& commit, bool force)>;
  // `transport` must outlive this object.
  PerRepoXetCas(hub::HttpTransport* transport, TokenFor tokens, size_t max_repos = 256,
                size_t max_files = 1 << 16);

  // Records that `xet_hash` (64 hex) is read from `repo` at `commit`.
  void NoteFile(const std::string& xet_hash, const hub::RepoId& repo, const std::string& commit);

  // Errors: as HttpXetCas; kNotFound for a hash never noted.
  Result<chunkstore::Reconstruction> GetReconstruction(const chunkstore::Hash& file_hash,
                                                       std::optional<FileByteRange> range) override;
  Result<std::vector<uint8_t>> FetchData(const std::string& url,
                                         const chunkstore::ByteRangeInclusive& range) override;
  Status FetchDataInto(const std::string& url, const chunkstore::ByteRangeInclusive& range,
                       std::vector<uint8_t>* out) override;

 private:
  struct Origin {
    hub::RepoId repo;
    std::string commit;
  };
  hub::HttpTransport* const transport_;
  const TokenFor tokens_;
  HttpXetCas data_;  // data fetches only (no token)
  Mutex mu_;
  LruMap<std::string, Origin> files_ GUARDED_BY(mu_);
  LruMap<std::string, std::shared_ptr<HttpXetCas>> repos_ GUARDED_BY(mu_);
};

class HubRepoSource final : public RepoSource {
 public:
  // All pointers must outlive this object. `transport` carries the regular
  // file reads (and should already retry); `tokens` gives the Hub token for
  // them. `xet` reads Xet-backed files; it may be nullptr when none is read
  // (a Xet read then fails with kUnimplemented).
  HubRepoSource(hub::HubClient* client, hub::HttpTransport* transport,
                hub::TokenProvider* tokens, XetReader* xet);

  // GET /api/{T}s/{repo}/revision/{rev}: "sha" and "lastModified" (the date
  // of that commit).
  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override;
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override;
  // GET .../tree/{commit}/{dir}?recursive=true, every page.
  Result<std::vector<hub::TreeEntry>> ListRecursive(const hub::RepoId& repo,
                                                    std::string_view commit,
                                                    std::string_view dir) override;
  // Xet files through the XetReader; others through a RegularFileReader
  // (files up to kSmallFileBytes whole, checked against their git blob id;
  // larger ones by Range, lengths checked), not cached.
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override;
  Result<size_t> ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                          HeldBytes* out, bool pages_kept) override;
  // Xet files only (XetReader::Speculate); regular files are small, read
  // whole by their first read.
  void Speculate(const FileContent& file, uint64_t bytes, uint64_t group) override;
  void CancelSpeculation(uint64_t group) override;
  void Opened(const FileContent& file) override;
  void Closed(const FileContent& file) override;
  // Xet reads are first noted in `cas` (which must outlive this object), for
  // a mount of several repos.
  void RouteXetTokens(PerRepoXetCas* cas) { routing_ = cas; }
  // GET /api/{T}s/{repo}/refs?include_prs=1.
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override;
  // GET /api/{T}s?author=NS, every page.
  Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                  std::string_view author) override;

 private:
  // The Xet reader's reference to a Xet file (its hash parsed), the file
  // noted for token routing. REQUIRES: file.xet_hash.
  Result<XetFileRef> XetRefOf(const FileContent& file);
  // The Xet reader and the file's ref, for the hints (Speculate, Opened,
  // Closed): nullptr when the file is not read through Xet here.
  XetReader* XetHintTarget(const FileContent& file, XetFileRef* ref);

  hub::HubClient* const client_;
  XetReader* const xet_;
  RegularFileReader regular_;
  PerRepoXetCas* routing_ = nullptr;
};

// Parses an ISO 8601 UTC time ("2024-05-01T12:34:56.000Z") to Unix seconds;
// nullopt when malformed.
std::optional<int64_t> ParseIsoTime(std::string_view s);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REPO_SOURCE_HUB_H_
