// What the Hub API answers, as hub/ hands it to the layers above. Every field
// was checked when parsed (types, sizes, hex formats); see hub_json.h.
#ifndef HUBFS_HUB_HUB_TYPES_H_
#define HUBFS_HUB_HUB_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hubfs::hub {

struct LfsInfo {
  std::string sha256;         // 64 lowercase hex
  uint64_t size = 0;          // real file size
  uint64_t pointer_size = 0;  // size of the git pointer file
};

// What `GET .../revision/{rev}` says about a revision.
struct RevisionMeta {
  std::string sha;            // 40 hex
  std::string last_modified;  // ISO 8601 as sent (the commit's date); "" when absent
};

struct LastCommit {
  std::string id;
  std::string title;
  std::string date;  // ISO 8601 as sent
};

struct TreeEntry {
  enum class Type { kFile, kDirectory };
  Type type = Type::kFile;
  std::string path;   // full path from the repo root, validated (no "..", no leading '/')
  std::string oid;    // git blob sha1 (of the pointer for LFS/Xet files) or tree sha1
  uint64_t size = 0;  // real size for files; 0 for directories
  std::optional<LfsInfo> lfs;
  std::optional<std::string> xet_hash;    // 64 lowercase hex, Xet-backed files only
  std::optional<LastCommit> last_commit;  // with expand=true
};

struct GitRef {
  std::string name;           // "main", "v1.0", "parquet", "1"
  std::string ref;            // "refs/heads/main", ...
  std::string target_commit;  // 40 hex
};

struct Refs {
  std::vector<GitRef> branches;
  std::vector<GitRef> tags;
  std::vector<GitRef> converts;
  std::vector<GitRef> pull_requests;  // only when asked for
};

// The metadata of a file from HEAD {ep}/{P}{repo}/resolve/{rev}/{path}.
struct ResolveInfo {
  int http_status = 0;                  // 200 (regular file) or a 3xx (LFS/Xet)
  std::string commit;                   // X-Repo-Commit, 40 hex
  std::string etag;                     // X-Linked-Etag, else ETag; W/ and quotes removed
  std::optional<uint64_t> size;         // X-Linked-Size, else Content-Length (non-redirect)
  std::optional<std::string> xet_hash;  // X-Xet-Hash, 64 hex
  std::string xet_auth_url;             // Link rel="xet-auth" (or X-Xet-Refresh-Route)
  std::string xet_reconstruction_url;   // Link rel="xet-reconstruction-info"
  std::string location;                 // Location, else the requested URL
};

// A CAS access token from /xet-read-token/.
struct XetToken {
  std::string access_token;
  int64_t exp = 0;      // unix seconds
  std::string cas_url;  // http(s) URL without trailing '/'
};

// One repo from a listing by author.
struct RepoSummary {
  std::string id;  // "ns/name"
  bool is_private = false;
  std::string last_modified;
  std::optional<std::string> sha;
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HUB_TYPES_H_
