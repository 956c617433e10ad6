#include "hub/commit_client.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "hub/hub_client.h"
#include "hub/hub_json.h"
#include "hub/url.h"

namespace hubfs::hub {

using nlohmann::json;

namespace {

constexpr size_t kSampleBytes = 512;

Result<json> ParseJson(std::string_view body, const std::string& context) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return CorruptError(context + ": answer is not JSON");
  return j;
}

std::string StringField(const json& obj, const char* name) {
  if (!obj.is_object()) return {};
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string RepoRevContext(const RepoId& repo, std::string_view revision) {
  return repo.ToString() + "@" + std::string(revision);
}

}  // namespace

CommitOperation CommitOperation::File(std::string path, std::string content) {
  CommitOperation op;
  op.kind = Kind::kFile;
  op.path = std::move(path);
  op.content = std::move(content);
  return op;
}

CommitOperation CommitOperation::LfsFile(std::string path, std::string oid,
                                         std::optional<uint64_t> size) {
  CommitOperation op;
  op.kind = Kind::kLfsFile;
  op.path = std::move(path);
  op.oid = std::move(oid);
  op.size = size;
  return op;
}

CommitOperation CommitOperation::DeletedFile(std::string path) {
  CommitOperation op;
  op.kind = Kind::kDeletedFile;
  op.path = std::move(path);
  return op;
}

CommitOperation CommitOperation::DeletedFolder(std::string path) {
  CommitOperation op;
  op.kind = Kind::kDeletedFolder;
  op.path = std::move(path);
  if (op.path.empty() || op.path.back() != '/') op.path.push_back('/');
  return op;
}

std::optional<uint64_t> PullRequestNumber(std::string_view pr_url) {
  constexpr std::string_view kMarker = "/discussions/";
  size_t p = pr_url.rfind(kMarker);
  if (p == std::string_view::npos) return std::nullopt;
  std::string_view num = pr_url.substr(p + kMarker.size());
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (ec != std::errc() || end != num.data() + num.size() || num.empty()) return std::nullopt;
  return n;
}

CommitClient::CommitClient(HttpTransport* transport, Clock* clock, TokenProvider* tokens,
                           CommitClientOptions options)
    : transport_(transport),
      clock_(clock),
      tokens_(tokens),
      options_(std::move(options)),
      origin_(OriginOf(options_.endpoint)) {}

HttpRequest CommitClient::NewRequest(std::string method, std::string url) const {
  return NewHubApiRequest(std::move(method), std::move(url), origin_, tokens_,
                          options_.max_json_bytes);
}

Result<HttpResponse> CommitClient::Call(HttpRequest request, const std::string& context) {
  return CallHubApi(transport_, options_.offline, request, context);
}

std::string CommitClient::ApiRepoUrl(const RepoId& repo) const {
  return options_.endpoint + "/api/" + std::string(RepoTypeApiSegment(repo.type)) + "/" +
         repo.Id();
}

Result<XetToken> CommitClient::XetWriteToken(const RepoId& repo, std::string_view revision,
                                             bool create_pr, bool force_refresh) {
  std::string context = "xet write token for " + RepoRevContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  std::string key = repo.ToString() + "@" + std::string(revision) + (create_pr ? "#pr" : "");
  const int64_t margin = options_.token_refresh_margin.count();
  if (!force_refresh) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = write_tokens_.find(key);
    if (it != write_tokens_.end() && clock_->UnixSeconds() < it->second.exp - margin) {
      return it->second;
    }
  }
  std::string url = ApiRepoUrl(repo) + "/xet-write-token/" + PercentEncode(revision);
  if (create_pr) url += "?create_pr=1";
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(NewRequest("GET", url), context));
  Result<XetToken> token = ParseXetToken(resp.body);
  if (!token.ok()) return token.status().WithContext(context);
  std::lock_guard<std::mutex> lock(mu_);
  if (write_tokens_.size() > 256) write_tokens_.clear();
  write_tokens_[key] = *token;
  return token;
}

Result<std::vector<PreuploadAnswer>> CommitClient::Preupload(
    const RepoId& repo, std::string_view revision, const std::vector<PreuploadFile>& files,
    bool create_pr) {
  std::string context = "preupload to " + RepoRevContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  std::vector<PreuploadAnswer> out;
  out.reserve(files.size());
  const size_t batch = std::max<size_t>(1, options_.preupload_batch);
  for (size_t begin = 0; begin < files.size(); begin += batch) {
    const size_t end = std::min(files.size(), begin + batch);
    json body;
    body["files"] = json::array();
    for (size_t i = begin; i < end; ++i) {
      std::string_view sample(files[i].sample);
      sample = sample.substr(0, kSampleBytes);
      body["files"].push_back(
          {{"path", files[i].path}, {"size", files[i].size}, {"sample", Base64Encode(sample)}});
    }
    std::string url = ApiRepoUrl(repo) + "/preupload/" + PercentEncode(revision);
    if (create_pr) url += "?create_pr=1";
    HttpRequest req = NewRequest("POST", url);
    req.headers.Add("Content-Type", "application/json");
    req.body = body.dump();
    HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(std::move(req), context));
    HUBFS_ASSIGN_OR_RETURN(json j, ParseJson(resp.body, context));
    if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) {
      return CorruptError(context + ": answer has no files list");
    }
    std::map<std::string, PreuploadAnswer> by_path;
    for (const json& f : j["files"]) {
      PreuploadAnswer a;
      a.path = StringField(f, "path");
      std::string mode = StringField(f, "uploadMode");
      if (mode != "lfs" && mode != "regular") {
        return CorruptError(context + ": unknown uploadMode '" + mode.substr(0, 32) + "'");
      }
      a.lfs = mode == "lfs";
      if (f.contains("shouldIgnore") && f["shouldIgnore"].is_boolean()) {
        a.should_ignore = f["shouldIgnore"].get<bool>();
      }
      if (std::string oid = StringField(f, "oid"); !oid.empty()) a.oid = oid;
      by_path[a.path] = std::move(a);
    }
    for (size_t i = begin; i < end; ++i) {
      auto it = by_path.find(files[i].path);
      if (it == by_path.end()) {
        return CorruptError(context + ": no answer for '" + files[i].path + "'");
      }
      PreuploadAnswer a = it->second;
      if (files[i].size == 0) a.lfs = false;
      out.push_back(std::move(a));
    }
  }
  return out;
}

Result<LfsBatchAnswer> CommitClient::LfsBatch(const RepoId& repo, std::optional<std::string> ref,
                                              const std::vector<LfsObject>& objects) {
  std::string context = "LFS batch for " + repo.ToString();
  LfsBatchAnswer out;
  const size_t batch = std::max<size_t>(1, options_.lfs_batch);
  for (size_t begin = 0; begin < objects.size(); begin += batch) {
    const size_t end = std::min(objects.size(), begin + batch);
    json body{{"operation", "upload"},
              {"transfers", json::array({"basic", "multipart", "xet"})},
              {"hash_algo", "sha256"}};
    if (ref) body["ref"] = {{"name", *ref}};
    body["objects"] = json::array();
    for (size_t i = begin; i < end; ++i) {
      body["objects"].push_back({{"oid", objects[i].oid}, {"size", objects[i].size}});
    }
    HttpRequest req = NewRequest("POST", options_.endpoint + "/" +
                                             std::string(RepoTypeWebPrefix(repo.type)) +
                                             repo.Id() + ".git/info/lfs/objects/batch");
    req.headers.Add("Accept", "application/vnd.git-lfs+json");
    req.headers.Add("Content-Type", "application/vnd.git-lfs+json");
    req.body = body.dump();
    HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(std::move(req), context));
    HUBFS_ASSIGN_OR_RETURN(json j, ParseJson(resp.body, context));
    if (!j.is_object() || !j.contains("objects") || !j["objects"].is_array()) {
      return CorruptError(context + ": answer has no objects list");
    }
    std::string transfer = StringField(j, "transfer");
    if (transfer.empty()) transfer = "basic";
    if (!out.transfer.empty() && out.transfer != transfer) {
      return CorruptError(context + ": batches answered different transfers");
    }
    out.transfer = transfer;
    for (const json& o : j["objects"]) {
      LfsBatchAnswer::Object obj;
      obj.oid = StringField(o, "oid");
      if (o.contains("size") && o["size"].is_number_unsigned()) obj.size = o["size"].get<uint64_t>();
      if (o.contains("error") && o["error"].is_object()) {
        obj.error = StringField(o["error"], "message");
        if (obj.error->empty()) obj.error = "error " + o["error"].value("code", json()).dump();
      }
      if (o.contains("actions") && o["actions"].is_object()) {
        const json& actions = o["actions"];
        if (actions.contains("upload") && actions["upload"].is_object()) {
          obj.needs_upload = true;
          obj.upload_href = StringField(actions["upload"], "href");
          if (actions["upload"].contains("header") && actions["upload"]["header"].is_object()) {
            for (const auto& [k, v] : actions["upload"]["header"].items()) {
              if (v.is_string()) obj.upload_header.Add(k, v.get<std::string>());
            }
          }
        }
        if (actions.contains("verify") && actions["verify"].is_object()) {
          obj.verify_href = StringField(actions["verify"], "href");
        }
      }
      out.objects.push_back(std::move(obj));
    }
  }
  return out;
}

Status CommitClient::LfsBasicUpload(const LfsBatchAnswer::Object& object, std::string bytes) {
  std::string context = "LFS upload of " + object.oid;
  if (!object.needs_upload) return Status::Ok();
  if (object.upload_href.empty()) return CorruptError(context + ": no upload URL");
  HttpRequest put;
  put.method = "PUT";
  put.url = object.upload_href;  // self-authorising: no token
  for (const auto& [k, v] : object.upload_header.fields()) {
    if (!HeaderNameEquals(k, "Authorization")) put.headers.Add(k, v);
  }
  put.headers.Add("Content-Type", "application/octet-stream");
  put.body = std::move(bytes);
  put.max_body_bytes = 1u << 20;
  Result<HttpResponse> resp = transport_->Send(put);
  if (!resp.ok()) return resp.status().WithContext(context);
  HUBFS_RETURN_IF_ERROR(StatusFromResponse(*resp, context));
  if (object.verify_href && !object.verify_href->empty()) {
    HttpRequest verify;
    verify.method = "POST";
    verify.url = *object.verify_href;
    if (OriginOf(verify.url) == origin_) {
      if (std::optional<std::string> token = tokens_->HubToken()) {
        verify.auth = BearerAuth{origin_, std::move(*token)};
      }
    }
    verify.headers.Add("Content-Type", "application/vnd.git-lfs+json");
    verify.body = json{{"oid", object.oid}, {"size", object.size}}.dump();
    HUBFS_ASSIGN_OR_RETURN(HttpResponse vr, Call(std::move(verify), context + " (verify)"));
    (void)vr;
  }
  return Status::Ok();
}

std::string CommitClient::CommitBody(const CommitRequest& request) {
  std::string out;
  json header{{"summary", request.summary}, {"description", request.description}};
  if (request.parent_commit) header["parentCommit"] = *request.parent_commit;
  out += json{{"key", "header"}, {"value", header}}.dump();
  for (const CommitOperation& op : request.operations) {
    json line;
    switch (op.kind) {
      case CommitOperation::Kind::kFile:
        line = {{"key", "file"},
                {"value",
                 {{"path", op.path}, {"content", Base64Encode(op.content)}, {"encoding", "base64"}}}};
        break;
      case CommitOperation::Kind::kLfsFile: {
        json v{{"path", op.path}, {"algo", "sha256"}, {"oid", op.oid}};
        if (op.size) v["size"] = *op.size;
        line = {{"key", "lfsFile"}, {"value", v}};
        break;
      }
      case CommitOperation::Kind::kDeletedFile:
        line = {{"key", "deletedFile"}, {"value", {{"path", op.path}}}};
        break;
      case CommitOperation::Kind::kDeletedFolder:
        line = {{"key", "deletedFolder"}, {"value", {{"path", op.path}}}};
        break;
    }
    out += "\n";
    out += line.dump();
  }
  return out;
}

Result<CommitResult> CommitClient::Commit(const RepoId& repo, std::string_view revision,
                                          const CommitRequest& request) {
  std::string context = "commit to " + RepoRevContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  if (request.operations.empty()) {
    return InvalidArgumentError(context + ": a commit needs at least one operation");
  }
  if (request.summary.empty()) return InvalidArgumentError(context + ": empty commit message");
  std::string url = ApiRepoUrl(repo) + "/commit/" + PercentEncode(revision);
  if (request.create_pr) url += "?create_pr=1";
  HttpRequest req = NewRequest("POST", url);
  req.headers.Add("Content-Type", "application/x-ndjson");
  req.body = CommitBody(request);
  req.idempotent = false;
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(std::move(req), context));
  HUBFS_ASSIGN_OR_RETURN(json j, ParseJson(resp.body, context));
  CommitResult out;
  out.commit_oid = StringField(j, "commitOid");
  out.commit_url = StringField(j, "commitUrl");
  if (!IsCommitSha(out.commit_oid)) return CorruptError(context + ": answer has no commitOid");
  if (std::string pr = StringField(j, "pullRequestUrl"); !pr.empty()) {
    out.pr_url = pr;
    out.pr_number = PullRequestNumber(pr);
  }
  if (request.create_pr && !out.pr_number) {
    return CorruptError(context + ": answer has no pull request URL");
  }
  return out;
}

Result<std::vector<CommitSummary>> CommitClient::ListCommits(const RepoId& repo,
                                                             std::string_view revision,
                                                             size_t limit) {
  std::string context = "list commits of " + RepoRevContext(repo, revision);
  HUBFS_RETURN_IF_ERROR(ValidateRevision(revision).WithContext(context));
  std::string url = ApiRepoUrl(repo) + "/commits/" + PercentEncode(revision) +
                    "?limit=" + std::to_string(limit);
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp, Call(NewRequest("GET", url), context));
  HUBFS_ASSIGN_OR_RETURN(json j, ParseJson(resp.body, context));
  if (!j.is_array()) return CorruptError(context + ": answer is not a list");
  std::vector<CommitSummary> out;
  for (const json& c : j) {
    CommitSummary s;
    s.id = StringField(c, "id");
    s.title = StringField(c, "title");
    if (!IsCommitSha(s.id)) return CorruptError(context + ": commit without an id");
    out.push_back(std::move(s));
    if (out.size() >= limit) break;
  }
  return out;
}

}  // namespace hubfs::hub
