#include "hub/hub_client.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/log.h"
#include "hub/hub_json.h"
#include "hub/link_header.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

constexpr size_t kMaxPathsPerCall = 1000;
constexpr int kMaxRelativeRedirects = 3;

std::string NormalizeEtag(std::string_view v) {
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

std::optional<uint64_t> ParseSize(std::optional<std::string_view> v) {
  if (!v || v->empty() || v->size() > 20) return std::nullopt;
  uint64_t out = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t next = out * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != out) return std::nullopt;  // overflow
    out = next;
  }
  return out;
}

bool IsRedirect(int status) { return status >= 300 && status < 400; }

std::string RepoContext(const RepoId& repo, std::string_view revision) {
  std::string s = repo.ToString();
  if (!revision.empty()) {
    s += '@';
    s += revision;
  }
  return s;
}

}  // namespace

HubClient::HubClient(HttpTransport* transport, Clock* clock, TokenProvider* tokens,
                     HubClientOptions options)
    : transport_(transport),
      clock_(clock),
      tokens_(tokens),
      options_(std::move(options)),
      origin_(OriginOf(options_.endpoint)) {}

std::string HubClient::ApiRepoUrl(const RepoId& repo) const {
  return options_.endpoint + "/api/" + std::string(RepoTypeApiSegment(repo.type)) + "/" + repo.Id();
}

std::string HubClient::RevisionUrl(const RepoId& repo, std::string_view revision) const {
  return ApiRepoUrl(repo) + "/revision/" + PercentEncode(revision);
}

std::string HubClient::RevisionShaUrl(const RepoId& repo, std::string_view revision) const {
  return RevisionUrl(repo, revision) + "?expand=sha&expand=lastModified";
}

std::string HubClient::TreeUrl(const RepoId& repo, std::string_view revision, std::string_view dir,
                               TreeOptions options) const {
  std::string url = ApiRepoUrl(repo) + "/tree/" + PercentEncode(revision);
  if (!dir.empty()) {
    url += '/';
    url += EncodePath(dir);
  }
  std::string query;
  if (options.recursive) query += "recursive=true";
  if (options.expand) query += std::string(query.empty() ? "" : "&") + "expand=true";
  if (!query.empty()) url += "?" + query;
  return url;
}

std::string HubClient::ResolveUrl(const RepoId& repo, std::string_view revision,
                                  std::string_view path) const {
  return options_.endpoint + "/" + std::string(RepoTypeWebPrefix(repo.type)) + repo.Id() +
         "/resolve/" + PercentEncode(revision) + "/" + EncodePath(path);
}

HttpRequest NewHubApiRequest(std::string method, std::string url, const std::string& origin,
                             TokenProvider* tokens, uint64_t max_body_bytes) {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.max_body_bytes = max_body_bytes;
  if (std::optional<std::string> token = tokens->HubToken()) {
    req.auth = BearerAuth{origin, std::move(*token)};
  }
  return req;
}

Result<HttpResponse> CallHubApi(HttpTransport* transport, bool offline, const HttpRequest& request,
                                const std::string& context) {
  if (offline) {
    return UnavailableError(context + ": offline mode (HF_HUB_OFFLINE) sends no requests");
  }
  Result<HttpResponse> resp = transport->Send(request);
  if (!resp.ok()) return resp.status().WithContext(context);
  HUBFS_RETURN_IF_ERROR(StatusFromResponse(*resp, context));
  return resp;
}

HttpRequest HubClient::NewRequest(std::string method, std::string url) const {
  return NewHubApiRequest(std::move(method), std::move(url), origin_, tokens_,
                          options_.max_json_bytes);
}

Result<HttpResponse> HubClient::Call(HttpRequest request, const std::string& context) {
  return CallHubApi(transport_, options_.offline, request, context);
}

Status HubClient::Paginate(const std::string& first_url, const std::string& context,
                           const std::function<Status(std::string_view, size_t, size_t*)>& page) {
  std::string url = first_url;
  std::set<std::string> seen;
  size_t entries = 0;
  for (size_t pages = 0;; ++pages) {
    if (pages >= options_.max_pages) {
      return ResourceExhaustedError(context + ": more than " + std::to_string(options_.max_pages) +
                                    " pages");
    }
    if (!seen.insert(url).second) return CorruptError(context + ": pagination loops");
    HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(NewRequest("GET", url), context));
    size_t added = 0;
    HUBFS_RETURN_IF_ERROR(page(resp.body, entries, &added).WithContext(context));
    entries += added;
    std::optional<std::string> next = FindLink(resp.headers.GetAll("Link"), "next");
    if (!next) return Status::Ok();
    if (!ParseUrl(*next).ok()) {
      return CorruptError(context + ": next-page link is not an absolute http(s) URL");
    }
    url = std::move(*next);
  }
}

Result<std::string> HubClient::ResolveRevision(const RepoId& repo, std::string_view revision) {
  HUBFS_ASSIGN_OR_RETURN(RevisionMeta meta, ResolveRevisionMeta(repo, revision));
  return std::move(meta.sha);
}

Result<RevisionMeta> HubClient::ResolveRevisionMeta(const RepoId& repo,
                                                    std::string_view revision) {
  std::string context = "resolve revision " + RepoContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp,
                         Call(NewRequest("GET", RevisionShaUrl(repo, revision)), context));
  Result<RevisionMeta> meta = ParseRevision(resp.body);
  if (!meta.ok()) return meta.status().WithContext(context);
  return meta;
}

Result<bool> HubClient::IsPrivate(const RepoId& repo) {
  std::string context = "repo info of " + repo.ToString();
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp,
                         Call(NewRequest("GET", ApiRepoUrl(repo) + "?expand=private"), context));
  Result<bool> is_private = ParseRepoPrivate(resp.body);
  if (!is_private.ok()) return is_private.status().WithContext(context);
  return is_private;
}

Result<Refs> HubClient::ListRefs(const RepoId& repo, bool include_prs) {
  std::string context = "list refs of " + repo.ToString();
  std::string url = ApiRepoUrl(repo) + "/refs";
  if (include_prs) url += "?include_prs=1";
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(NewRequest("GET", url), context));
  Result<Refs> refs = ParseRefs(resp.body);
  if (!refs.ok()) return refs.status().WithContext(context);
  return refs;
}

Result<std::vector<TreeEntry>> HubClient::ListTree(const RepoId& repo, std::string_view revision,
                                                   std::string_view dir, TreeOptions options) {
  std::string context = "list tree " + RepoContext(repo, revision) + "/" + std::string(dir);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  if (!dir.empty()) HUBFS_RETURN_IF_ERROR(ValidateRepoPath(dir).WithContext(context));
  std::vector<TreeEntry> all;
  HUBFS_RETURN_IF_ERROR(
      Paginate(TreeUrl(repo, revision, dir, options), context,
               [&](std::string_view body, size_t so_far, size_t* added) -> Status {
                 HUBFS_ASSIGN_OR_RETURN(std::vector<TreeEntry> entries,
                                        ParseTreeEntries(body, options_.max_entries - so_far));
                 *added = entries.size();
                 for (auto& e : entries) all.push_back(std::move(e));
                 return Status::Ok();
               }));
  return all;
}

Result<std::vector<TreeEntry>> HubClient::PathsInfo(const RepoId& repo, std::string_view revision,
                                                    const std::vector<std::string>& paths,
                                                    bool expand) {
  std::string context = "paths-info " + RepoContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  if (paths.size() > options_.max_entries) {
    return InvalidArgumentError(context + ": too many paths");
  }
  for (const std::string& p : paths) {
    HUBFS_RETURN_IF_ERROR(ValidateRepoPath(p).WithContext(context));
  }
  std::vector<TreeEntry> all;
  for (size_t begin = 0; begin < paths.size(); begin += kMaxPathsPerCall) {
    size_t end = std::min(paths.size(), begin + kMaxPathsPerCall);
    std::vector<std::string> batch(paths.begin() + static_cast<std::ptrdiff_t>(begin),
                                   paths.begin() + static_cast<std::ptrdiff_t>(end));
    nlohmann::json body = {{"paths", batch}, {"expand", expand}};
    HttpRequest req =
        NewRequest("POST", ApiRepoUrl(repo) + "/paths-info/" + PercentEncode(revision));
    req.headers.Add("Content-Type", "application/json");
    req.body = body.dump();
    HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(std::move(req), context));
    Result<std::vector<TreeEntry>> entries = ParseTreeEntries(resp.body, batch.size());
    if (!entries.ok()) return entries.status().WithContext(context);
    for (auto& e : *entries) all.push_back(std::move(e));
  }
  return all;
}

Result<ResolveInfo> HubClient::ResolveFile(const RepoId& repo, std::string_view revision,
                                           std::string_view path) {
  std::string context = "resolve " + RepoContext(repo, revision) + "/" + std::string(path);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  HUBFS_RETURN_IF_ERROR(ValidateRepoPath(path).WithContext(context));
  if (options_.offline) {
    return UnavailableError(context + ": offline mode (HF_HUB_OFFLINE) sends no requests");
  }
  std::string url = ResolveUrl(repo, revision, path);
  HttpResponse resp;
  for (int hop = 0;; ++hop) {
    HttpRequest req = NewRequest("HEAD", url);
    req.headers.Add("Accept-Encoding", "identity");
    Result<HttpResponse> r = transport_->Send(req);
    if (!r.ok()) return r.status().WithContext(context);
    resp = std::move(r).value();
    if (!IsRedirect(resp.status)) {
      HUBFS_RETURN_IF_ERROR(StatusFromResponse(resp, context));
      break;
    }
    // A relative Location (renamed repo) is asked again on the same host;
    // an absolute one (CDN, CAS bridge) is not followed: the metadata is here.
    auto loc = resp.headers.Get("Location");
    bool relative = loc && !loc->empty() && loc->front() == '/' && loc->substr(0, 2) != "//";
    if (!relative || hop >= kMaxRelativeRedirects) break;
    HUBFS_ASSIGN_OR_RETURN(url, ResolveReference(url, *loc));
  }
  ResolveInfo info;
  info.http_status = resp.status;
  info.commit = std::string(resp.headers.Get("X-Repo-Commit").value_or(""));
  if (!IsCommitSha(info.commit)) {
    return CorruptError(context + ": no valid X-Repo-Commit in the answer");
  }
  auto etag = resp.headers.Get("X-Linked-Etag");
  if (!etag) etag = resp.headers.Get("ETag");
  if (!etag || NormalizeEtag(*etag).empty()) return CorruptError(context + ": no ETag");
  info.etag = NormalizeEtag(*etag);
  if (auto linked = resp.headers.Get("X-Linked-Size")) {
    info.size = ParseSize(linked);
    if (!info.size) return CorruptError(context + ": malformed X-Linked-Size");
  } else if (!IsRedirect(resp.status)) {
    info.size = ParseSize(resp.headers.Get("Content-Length"));
  }
  if (auto xh = resp.headers.Get("X-Xet-Hash")) {
    if (!IsHex64(*xh)) return CorruptError(context + ": X-Xet-Hash is not 64 lowercase hex");
    info.xet_hash = std::string(*xh);
  }
  std::vector<std::string_view> links = resp.headers.GetAll("Link");
  if (auto auth = FindLink(links, "xet-auth")) {
    info.xet_auth_url = *auth;
  } else if (auto route = resp.headers.Get("X-Xet-Refresh-Route"); route && !route->empty()) {
    Result<std::string> abs = ResolveReference(url, *route);
    if (abs.ok()) info.xet_auth_url = *abs;
  }
  if (auto rec = FindLink(links, "xet-reconstruction-info")) info.xet_reconstruction_url = *rec;
  if (auto loc = resp.headers.Get("Location"); loc && !loc->empty()) {
    Result<std::string> abs = ResolveReference(url, *loc);
    info.location = abs.ok() ? *abs : url;
  } else {
    info.location = url;
  }
  return info;
}

Result<std::string> HubClient::ReadFile(const RepoId& repo, std::string_view revision,
                                        std::string_view path, std::optional<ByteRange> range,
                                        uint64_t max_bytes) {
  std::string context = "read " + RepoContext(repo, revision) + "/" + std::string(path);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  HUBFS_RETURN_IF_ERROR(ValidateRepoPath(path).WithContext(context));
  if (range && range->last < range->first) return InvalidArgumentError(context + ": bad range");
  HttpRequest req = NewRequest("GET", ResolveUrl(repo, revision, path));
  req.max_redirects = kMaxRelativeRedirects;
  if (range) {
    req.ranges = {*range};
  } else {
    req.headers.Add("Accept-Encoding", "identity");
  }
  req.max_body_bytes = max_bytes;
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(std::move(req), context));
  if (!range) return std::move(resp.body);
  if (resp.status == 206) {
    // The server may clip the range at the end of the file, never move it.
    auto cr = resp.headers.Get("Content-Range");
    if (!cr) return CorruptError(context + ": 206 without Content-Range");
    Result<ByteRange> got = ParseContentRange(*cr);
    if (!got.ok()) return got.status().WithContext(context);
    if (got->first != range->first || got->last > range->last) {
      return CorruptError(context + ": server sent another range (" + std::string(*cr) + ")");
    }
    if (resp.body.size() != got->size()) {
      return CorruptError(context + ": got " + std::to_string(resp.body.size()) + " bytes for " +
                          std::to_string(got->size()));
    }
    return std::move(resp.body);
  }
  // 200: the server ignored Range and sent the whole file.
  if (range->first >= resp.body.size()) {
    return OutOfRangeError(context + ": range starts past the end of the file");
  }
  return resp.body.substr(range->first, range->size());
}

Result<XetToken> HubClient::XetReadToken(const RepoId& repo, std::string_view revision,
                                         bool force_refresh) {
  std::string context = "xet read token for " + RepoContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  std::string key = repo.ToString() + "@" + std::string(revision);
  const int64_t margin = options_.token_refresh_margin.count();
  if (!force_refresh) {
    MutexLock lock(&mu_);
    auto it = xet_tokens_.find(key);
    if (it != xet_tokens_.end() && clock_->UnixSeconds() < it->second.exp - margin) {
      return it->second;
    }
  }
  // Fetched without holding mu_; two racing callers may both fetch, which is harmless.
  HUBFS_ASSIGN_OR_RETURN(
      HttpResponse resp,
      Call(NewRequest("GET", ApiRepoUrl(repo) + "/xet-read-token/" + PercentEncode(revision)),
           context));
  Result<XetToken> token = ParseXetToken(resp.body);
  if (!token.ok()) return token.status().WithContext(context);
  {
    MutexLock lock(&mu_);
    if (xet_tokens_.size() >= options_.max_cached_tokens) {
      const int64_t now = clock_->UnixSeconds();
      std::erase_if(xet_tokens_, [&](const auto& kv) { return kv.second.exp - margin <= now; });
      if (xet_tokens_.size() >= options_.max_cached_tokens) xet_tokens_.clear();
    }
    xet_tokens_[key] = *token;
  }
  return token;
}

Result<std::vector<RepoSummary>> HubClient::ListRepos(RepoType type, std::string_view author) {
  std::string context =
      "list " + std::string(RepoTypeApiSegment(type)) + " of " + std::string(author);
  HUBFS_RETURN_IF_ERROR(ValidateNamespace(author).WithContext(context));
  std::string url = options_.endpoint + "/api/" + std::string(RepoTypeApiSegment(type)) +
                    "?author=" + PercentEncode(author);
  std::vector<RepoSummary> all;
  HUBFS_RETURN_IF_ERROR(
      Paginate(url, context, [&](std::string_view body, size_t so_far, size_t* added) -> Status {
        HUBFS_ASSIGN_OR_RETURN(std::vector<RepoSummary> repos,
                               ParseRepoList(body, options_.max_entries - so_far));
        *added = repos.size();
        for (auto& r : repos) all.push_back(std::move(r));
        return Status::Ok();
      }));
  return all;
}

}  // namespace hubfs::hub
