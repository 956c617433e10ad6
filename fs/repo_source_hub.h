// HubRepoSource: the RepoSource of a mount, over the Hub API (listings,
// revisions, regular files with Range) and the XetReader (Xet-backed files).
// Listings (per commit and dir) and small regular files (per git oid) are
// kept in the chunk cache, in the entries RepoView uses (EncodeListing), so
// the CLI and mounts share them. Unlike RepoView, a failed request does not
// switch the source to offline for good: a mount lives long and the server
// may come back.
#ifndef HUBFS_FS_REPO_SOURCE_HUB_H_
#define HUBFS_FS_REPO_SOURCE_HUB_H_

#include "chunkstore/cache.h"
#include "fs/repo_source.h"
#include "fs/xet_reader.h"
#include "hub/http.h"
#include "hub/hub_client.h"
#include "hub/settings.h"

namespace hubfs::fs {

class HubRepoSource final : public RepoSource {
 public:
  // All pointers must outlive this object. `transport` carries the regular
  // file reads (and should already retry); `tokens` gives the Hub token for
  // them. `xet` reads Xet-backed files. `cache` may be nullptr (no
  // persistence); `xet` may be nullptr when only revisions are resolved.
  HubRepoSource(hub::HubClient* client, hub::HttpTransport* transport,
                hub::TokenProvider* tokens, XetReader* xet, chunkstore::ChunkCache* cache);

  // GET /api/{T}s/{repo}/revision/{rev}: "sha" and "lastModified" (the date
  // of that commit).
  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override;
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override;
  // Xet files through the XetReader; others by GET {ep}/{P}{repo}/resolve/
  // {commit}/{path} (redirects followed, the token only to the Hub's
  // origin): files up to kSmallFileBytes whole, cached by git oid; larger
  // ones by Range. Lengths are checked.
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override;
  // GET /api/{T}s/{repo}/refs?include_prs=1.
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override;
  // GET /api/{T}s?author=NS, every page.
  Result<std::vector<hub::RepoSummary>> ListRepos(hub::RepoType type,
                                                  std::string_view author) override;

 private:
  hub::HubClient* const client_;
  hub::HttpTransport* const transport_;
  hub::TokenProvider* const tokens_;
  Result<std::vector<uint8_t>> Fetch(const FileContent& file, uint64_t first, uint64_t last);

  XetReader* const xet_;
  chunkstore::ChunkCache* const cache_;
};

inline constexpr uint64_t kSmallFileBytes = 4ull << 20;

// Parses an ISO 8601 UTC time ("2024-05-01T12:34:56.000Z") to Unix seconds;
// nullopt when malformed.
std::optional<int64_t> ParseIsoTime(std::string_view s);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_REPO_SOURCE_HUB_H_
