// CommitClient: the Hub calls of the write path (hub-api.md §5–§6): Xet
// write tokens (cached, refreshed), preupload, the Git LFS batch API (xet and
// basic transfers), the NDJSON commit, and the commit-history look-ups that
// conflict handling needs. The Hub token goes only to the endpoint's origin;
// LFS basic upload URLs are self-authorising and get no token.
//
// Errors common to all calls: those of HubClient (hub_client.h). Commit adds
// kFailedPrecondition (412: the branch moved since `parent_commit`) and
// kConflict (409); neither it nor any other non-idempotent POST is retried.
#ifndef HUBFS_HUB_COMMIT_CLIENT_H_
#define HUBFS_HUB_COMMIT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "hub/http.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::hub {

struct CommitClientOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  bool offline = false;
  uint64_t max_json_bytes = 16u << 20;
  std::chrono::seconds token_refresh_margin{60};
  // Files per preupload call and objects per LFS batch call (the Hub's 256).
  size_t preupload_batch = 256;
  size_t lfs_batch = 256;
};

struct PreuploadFile {
  std::string path;
  uint64_t size = 0;
  std::string sample;  // the first ≤ 512 bytes (raw; base64-encoded on the wire)
};

struct PreuploadAnswer {
  std::string path;
  bool lfs = false;  // uploadMode "lfs" (else "regular")
  bool should_ignore = false;
  std::optional<std::string> oid;  // the remote file's oid when it exists
};

struct LfsObject {
  std::string oid;  // sha256, 64 lowercase hex
  uint64_t size = 0;
};

struct LfsBatchAnswer {
  struct Object {
    std::string oid;
    uint64_t size = 0;
    bool needs_upload = false;  // has an "upload" action
    std::string upload_href;
    Headers upload_header;
    std::optional<std::string> verify_href;
    std::optional<std::string> error;  // per-object error message
  };
  std::string transfer;  // "xet", "basic", ...
  std::vector<Object> objects;
};

struct CommitOperation {
  enum class Kind { kFile, kLfsFile, kDeletedFile, kDeletedFolder };
  Kind kind = Kind::kFile;
  std::string path;                // for kDeletedFolder, a trailing '/' is added if missing
  std::string content;             // kFile: the raw bytes (sent base64)
  std::string oid;                 // kLfsFile: sha256 hex
  std::optional<uint64_t> size;    // kLfsFile: absent = re-reference by oid only

  static CommitOperation File(std::string path, std::string content);
  static CommitOperation LfsFile(std::string path, std::string oid, std::optional<uint64_t> size);
  static CommitOperation DeletedFile(std::string path);
  static CommitOperation DeletedFolder(std::string path);
};

struct CommitRequest {
  std::string summary;
  std::string description;
  std::optional<std::string> parent_commit;
  std::vector<CommitOperation> operations;
  bool create_pr = false;
};

struct CommitResult {
  std::string commit_oid;
  std::string commit_url;
  std::optional<std::string> pr_url;
  std::optional<uint64_t> pr_number;  // from pr_url's /discussions/N
};

// One commit of a branch's history (GET /api/{T}s/{repo}/commits/{rev}).
struct CommitSummary {
  std::string id;
  std::string title;
};

class CommitClient {
 public:
  // `transport`, `tokens`, `clock` must outlive the client. Thread-safe.
  CommitClient(HttpTransport* transport, Clock* clock, TokenProvider* tokens,
               CommitClientOptions options);

  // GET /api/{T}s/{repo}/xet-write-token/{rev}[?create_pr=1]. Cached per
  // (repo, revision, create_pr) until `exp - token_refresh_margin`.
  Result<XetToken> XetWriteToken(const RepoId& repo, std::string_view revision, bool create_pr,
                                 bool force_refresh = false);

  // POST /api/{T}s/{repo}/preupload/{rev}[?create_pr=1], in batches. Answers
  // come back in the order of `files`; a file the answer leaves out is
  // kCorrupt. Empty files are forced to regular (as both clients do).
  Result<std::vector<PreuploadAnswer>> Preupload(const RepoId& repo, std::string_view revision,
                                                 const std::vector<PreuploadFile>& files,
                                                 bool create_pr);

  // POST {ep}/{P}{repo}.git/info/lfs/objects/batch, operation upload,
  // offering the xet and basic transfers. `ref` is the branch (none when the
  // commit opens a PR).
  Result<LfsBatchAnswer> LfsBatch(const RepoId& repo, std::optional<std::string> ref,
                                  const std::vector<LfsObject>& objects);

  // The basic transfer of one object: PUT the bytes to its self-authorising
  // href (no token), then POST {oid,size} to verify when the answer has it.
  Status LfsBasicUpload(const LfsBatchAnswer::Object& object, std::string bytes);

  // POST /api/{T}s/{repo}/commit/{rev}[?create_pr=1] with the NDJSON body.
  // Never retried here: a lost answer may mean a landed commit (the caller
  // checks the branch head). Errors: kFailedPrecondition (412),
  // kConflict (409), kInvalidArgument (400/422: e.g. an inline file the Hub
  // refuses), kNotFound (a deleted path missing), kCorrupt (bad answer).
  Result<CommitResult> Commit(const RepoId& repo, std::string_view revision,
                              const CommitRequest& request);

  // The newest `limit` commits of `revision`, newest first.
  Result<std::vector<CommitSummary>> ListCommits(const RepoId& repo, std::string_view revision,
                                                 size_t limit);

  // The NDJSON body of a commit (no trailing newline).
  static std::string CommitBody(const CommitRequest& request);

  const std::string& endpoint() const { return options_.endpoint; }

 private:
  HttpRequest NewRequest(std::string method, std::string url) const;
  Result<HttpResponse> Call(HttpRequest request, const std::string& context);
  std::string ApiRepoUrl(const RepoId& repo) const;

  HttpTransport* const transport_;
  Clock* const clock_;
  TokenProvider* const tokens_;
  const CommitClientOptions options_;
  const std::string origin_;

  std::mutex mu_;
  std::map<std::string, XetToken> write_tokens_;  // GUARDED_BY(mu_)
};

// "…/discussions/N" -> N. nullopt when the URL does not end that way.
std::optional<uint64_t> PullRequestNumber(std::string_view pr_url);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_COMMIT_CLIENT_H_
