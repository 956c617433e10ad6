// HubClient: the Hub HTTP API calls a mount needs (hub-api.md): revision to
// commit sha, refs, tree listings with Link pagination, paths-info, resolve
// metadata, Xet read tokens (cached until shortly before they expire) and
// repo listings by author. The Hub token goes only to the endpoint's origin;
// everything arrives through the injected transport, clock and token source.
#ifndef HUBFS_HUB_HUB_CLIENT_H_
#define HUBFS_HUB_HUB_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/clock.h"
#include "common/status.h"
#include "hub/http.h"
#include "hub/hub_types.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::hub {

struct HubClientOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing '/'
  // Fail every call before sending (HF_HUB_OFFLINE).
  bool offline = false;
  // Bounds on what one call accepts from the server.
  uint64_t max_json_bytes = 64u << 20;  // per response
  size_t max_pages = 10'000;            // per paginated listing
  size_t max_entries = 2'000'000;       // per listing, over all pages
  // A cached Xet token is used until `exp - token_refresh_margin`.
  std::chrono::seconds token_refresh_margin{60};
  size_t max_cached_tokens = 1024;
};

struct TreeOptions {
  bool recursive = false;
  bool expand = false;  // lastCommit and security status per entry
};

// A request to the Hub API: `max_body_bytes` bounds the answer, and the Hub
// token (if any) goes to `origin` only. Shared by HubClient and the write
// path's CommitClient.
HttpRequest NewHubApiRequest(std::string method, std::string url, const std::string& origin,
                             TokenProvider* tokens, uint64_t max_body_bytes);
// Sends a Hub API request (nothing in offline mode) and maps a non-2xx
// answer to an error with `context`.
Result<HttpResponse> CallHubApi(HttpTransport* transport, bool offline, const HttpRequest& request,
                                const std::string& context);

class HubClient {
 public:
  // `transport`, `clock` and `tokens` must outlive the client. `transport`
  // should already retry (RetryingTransport) where wanted.
  HubClient(HttpTransport* transport, Clock* clock, TokenProvider* tokens,
            HubClientOptions options);

  // All methods are thread-safe. Errors common to all: kUnavailable (offline
  // mode, network, 5xx), kTimeout, kUnauthenticated (401: private or missing
  // repo without a token, bad token), kPermissionDenied (403), kNotFound (404,
  // with hub_error_code() RepoNotFound / RevisionNotFound / EntryNotFound),
  // kResourceExhausted (429, size bounds), kCorrupt (malformed answer).

  // GET /api/{T}s/{repo}/revision/{rev} -> "sha". Returns the 40-hex commit.
  Result<std::string> ResolveRevision(const RepoId& repo, std::string_view revision);
  // The same with the commit's date (`lastModified`), asked for with
  // `expand` so that the answer never lists the revision's files.
  Result<RevisionMeta> ResolveRevisionMeta(const RepoId& repo, std::string_view revision);

  // Whether the repo is private: GET /api/{T}s/{repo}?expand=private.
  Result<bool> IsPrivate(const RepoId& repo);

  // GET /api/{T}s/{repo}/refs[?include_prs=1].
  Result<Refs> ListRefs(const RepoId& repo, bool include_prs);

  // GET /api/{T}s/{repo}/tree/{rev}[/{dir}][?recursive=true][&expand=true],
  // following absolute Link rel="next" URLs until none is left (at most
  // max_pages pages and max_entries entries, else kResourceExhausted).
  Result<std::vector<TreeEntry>> ListTree(const RepoId& repo, std::string_view revision,
                                          std::string_view dir, TreeOptions options);

  // POST /api/{T}s/{repo}/paths-info/{rev} with {"paths":[...],"expand":b},
  // in batches of 1000 paths (the Hub's limit). Missing paths are simply
  // absent from the answer; the others come in the order asked. At most
  // max_entries paths (kInvalidArgument beyond).
  Result<std::vector<TreeEntry>> PathsInfo(const RepoId& repo, std::string_view revision,
                                           const std::vector<std::string>& paths, bool expand);

  // HEAD {ep}/{P}{repo}/resolve/{rev}/{path} without following absolute
  // redirects (a relative one, e.g. a renamed repo, is followed on the same
  // host). kCorrupt when X-Repo-Commit or the etag is missing.
  Result<ResolveInfo> ResolveFile(const RepoId& repo, std::string_view revision,
                                  std::string_view path);

  // GET {ep}/{P}{repo}/resolve/{rev}/{path} for regular (non-Xet) files:
  // the whole file, or exactly `range` (Range + Accept-Encoding: identity).
  // Redirects are followed; the Hub token never goes to another origin. A
  // 206 must carry the asked Content-Range; a 200 to a ranged request is
  // sliced locally. At most `max_bytes` are accepted. Errors as above, plus
  // kOutOfRange (416: range starts past the end), kCorrupt (wrong range or
  // length), kResourceExhausted (over max_bytes).
  Result<std::string> ReadFile(const RepoId& repo, std::string_view revision, std::string_view path,
                               std::optional<ByteRange> range, uint64_t max_bytes);

  // GET /api/{T}s/{repo}/xet-read-token/{rev}. A cached token is returned
  // while clock.UnixSeconds() < exp - token_refresh_margin; `force_refresh`
  // (after a CAS 401) fetches a new one regardless.
  Result<XetToken> XetReadToken(const RepoId& repo, std::string_view revision,
                                bool force_refresh = false);

  // GET /api/{T}s?author=NS[&limit=N], following Link rel="next".
  Result<std::vector<RepoSummary>> ListRepos(RepoType type, std::string_view author);

  // URL builders (hub-api.md §1: revision fully percent-encoded, '/'
  // included; paths encoded per segment; the repo id's slash literal).
  std::string ApiRepoUrl(const RepoId& repo) const;  // {ep}/api/{T}s/{ns}/{name}
  std::string RevisionUrl(const RepoId& repo, std::string_view revision) const;
  // RevisionUrl asking only for the commit sha and date (`expand`): without
  // it the answer lists every file of the revision (megabytes for a large
  // repo), and a branch view re-resolves once per metadata TTL.
  std::string RevisionShaUrl(const RepoId& repo, std::string_view revision) const;
  std::string TreeUrl(const RepoId& repo, std::string_view revision, std::string_view dir,
                      TreeOptions options) const;
  std::string ResolveUrl(const RepoId& repo, std::string_view revision,
                         std::string_view path) const;

  const std::string& endpoint() const { return options_.endpoint; }

 private:
  HttpRequest NewRequest(std::string method, std::string url) const;
  // Sends; maps non-2xx to errors with `context`.
  Result<HttpResponse> Call(HttpRequest request, const std::string& context);
  // Follows Link rel="next" from `first_url`, calling `page` for each body.
  Status Paginate(const std::string& first_url, const std::string& context,
                  const std::function<Status(std::string_view body, size_t entries_so_far,
                                             size_t* added)>& page);

  HttpTransport* const transport_;
  Clock* const clock_;
  TokenProvider* const tokens_;
  const HubClientOptions options_;
  const std::string origin_;

  Mutex mu_;
  std::map<std::string, XetToken> xet_tokens_ GUARDED_BY(mu_);
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HUB_CLIENT_H_
