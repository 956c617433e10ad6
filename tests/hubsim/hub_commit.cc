// Write-side Hub routes: Xet tokens, preupload, LFS batch, NDJSON commits.
#include <algorithm>
#include <optional>

#include "tests/hubsim/http_util.h"
#include "tests/hubsim/hub_api.h"
#include "tests/hubsim/lfs_rule.h"
#include "tests/hubsim/util.h"
#include "tests/hubsim/xet_packer.h"

namespace hubfs::hubsim {

using nlohmann::json;

namespace {
constexpr size_t kMaxPreuploadFiles = 1000;
constexpr size_t kMaxBatchObjects = 1000;
constexpr size_t kMaxCommitLines = 100000;

std::string GitAttributesAt(Services& s, const Commit& cm) {
  auto it = cm.tree.find(".gitattributes");
  if (it == cm.tree.end() || it->second.is_lfs()) return {};
  auto blob = ReadFile(s.BlobPath(it->second.oid), 1 << 20);
  return blob.ok() ? *blob : std::string();
}
}  // namespace

json HubApi::IssueXetToken(const Call& c, const RepoRef& r, const std::string& rev, bool write) {
  XetTokenClaims claims;
  claims.repo = r.key.Str();
  claims.revision = rev;
  claims.scope = write ? Scope::kWrite : Scope::kRead;
  claims.exp = s_.now() + s_.TokenTtl();
  return json{{"accessToken", s_.signer->IssueXetToken(claims)},
              {"exp", claims.exp},
              {"casUrl", CasOrigin(c)}};
}

void HubApi::XetToken(Call& c, const RepoRef& r, const std::string& rev, bool write) {
  bool create_pr = QueryFlag(c.req, "create_pr");
  // Python asks for a PR write token with the literal revision "None".
  if (!(write && (rev == "None" || create_pr))) {
    auto commit = s_.repos->Resolve(r.key, rev);
    if (!commit.ok()) return SendStatus(c.res, commit.status());
  }
  json t = IssueXetToken(c, r, rev, write);
  c.res.set_header("X-Xet-Access-Token", t["accessToken"].get<std::string>());
  c.res.set_header("X-Xet-Token-Expiration", std::to_string(t["exp"].get<int64_t>()));
  c.res.set_header("X-Xet-Cas-Url", t["casUrl"].get<std::string>());
  SendJson(c.res, 200, t);
}

void HubApi::Preupload(Call& c, const RepoRef& r, const std::string& rev) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["files"].is_array())
    return SendError(c.res, 400, "", "\"files\" must be an array");
  if ((*body)["files"].size() > kMaxPreuploadFiles)
    return SendError(c.res, 413, "", "too many files");
  auto commit = s_.repos->Resolve(r.key, rev);
  if (!commit.ok()) return SendStatus(c.res, commit.status());
  const Commit& cm = **commit;
  std::string attrs = GitAttributesAt(s_, cm);
  if ((*body)["gitAttributes"].is_string()) attrs = (*body)["gitAttributes"].get<std::string>();
  LfsRule rule(attrs);
  json files = json::array();
  for (json f : (*body)["files"]) {
    if (!f.is_object() || !f["path"].is_string() || !f["size"].is_number_unsigned())
      return SendError(c.res, 400, "", "each file needs path and size");
    std::string path = f["path"].get<std::string>();
    uint64_t size = f["size"].get<uint64_t>();
    std::string sample;
    if (f["sample"].is_string()) {
      auto decoded = Base64Decode(f["sample"].get<std::string>());
      if (!decoded) return SendError(c.res, 400, "", "sample must be base64");
      sample = std::move(*decoded);
    }
    if (!ValidRepoPath(path)) return SendError(c.res, 422, "", "Invalid path: " + path);
    bool lfs = rule.IsLfs(path, size, sample);
    json out = {{"path", path}, {"uploadMode", lfs ? "lfs" : "regular"}, {"shouldIgnore", false}};
    auto it = cm.tree.find(path);
    if (it != cm.tree.end()) out["oid"] = it->second.is_lfs() ? it->second.sha256 : it->second.oid;
    files.push_back(std::move(out));
  }
  SendJson(c.res, 200, json{{"files", files}, {"commitOid", cm.id}});
}

void HubApi::LfsBatch(Call& c, const RepoRef& r) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["objects"].is_array())
    return SendError(c.res, 422, "", "\"objects\" must be an array");
  std::string op = (*body)["operation"].is_string() ? (*body)["operation"].get<std::string>() : "";
  if (op != "upload") return SendError(c.res, 422, "", "only the upload operation is supported");
  if ((*body)["objects"].size() > kMaxBatchObjects)
    return SendError(c.res, 413, "", "too many objects");
  bool xet = false;
  if ((*body)["transfers"].is_array())
    for (const auto& t : (*body)["transfers"])
      xet |= t.is_string() && t.get<std::string>() == "xet";
  std::string ref = "main";
  if ((*body)["ref"].is_object() && (*body)["ref"]["name"].is_string())
    ref = (*body)["ref"]["name"].get<std::string>();
  if (ref.rfind("refs/heads/", 0) == 0) ref = ref.substr(11);
  json objects = json::array();
  json token;
  for (json o : (*body)["objects"]) {
    if (!o.is_object() || !o["oid"].is_string() || !o["size"].is_number_unsigned())
      return SendError(c.res, 422, "", "each object needs oid and size");
    std::string oid = o["oid"].get<std::string>();
    uint64_t size = o["size"].get<uint64_t>();
    json out = {{"oid", oid}, {"size", size}};
    if (!IsLowerHex(oid, 64)) {
      out["error"] = {{"code", 422}, {"message", "oid must be a sha256"}};
    } else if (auto known = s_.cas->FindSha256(oid);
               known && known->size == size && s_.repos->HasLfsObject(r.key, oid)) {
      // Already stored for this repo: no actions. An object that only other
      // repos have must be uploaded again (the upload then dedups on the CAS).
    } else if (!xet) {
      // Classic LFS: a self-authorising PUT URL (clients send no credentials).
      int64_t exp = s_.now() + s_.opts.url_ttl;
      std::string object = "lfs/" + r.key.Str() + "/" + oid + "/" + std::to_string(size);
      std::string href = c.hub + "/lfs-objects/" + r.key.Str() + "/" + oid +
                         "?size=" + std::to_string(size) + "&e=" + std::to_string(exp) +
                         "&s=" + s_.signer->SignData(object, "*", exp);
      out["authenticated"] = true;
      out["actions"] = {{"upload", {{"href", href}, {"header", json::object()}}}};
    } else {
      if (token.is_null()) token = IssueXetToken(c, r, ref, true);
      std::string href = c.hub + "/api/" + std::string(RepoTypeName(r.key.type)) + "s/" + r.key.id +
                         "/xet-write-token/" + PercentEncode(ref, false);
      out["authenticated"] = true;
      out["actions"] = {{"upload",
                         {{"href", href},
                          {"header",
                           {{"X-Xet-Cas-Url", token["casUrl"]},
                            {"X-Xet-Access-Token", token["accessToken"]},
                            {"X-Xet-Token-Expiration", std::to_string(token["exp"].get<int64_t>())},
                            {"X-Xet-Session-Id", RandomHex(16)}}}}}};
    }
    objects.push_back(std::move(out));
  }
  c.res.status = 200;
  c.res.set_content(json{{"transfer", xet ? "xet" : "basic"}, {"objects", objects}}.dump(),
                    "application/vnd.git-lfs+json");
}

void HubApi::LfsDuplicate(Call& c, const RepoRef& src) {
  // POST {source}/lfs-files/duplicate {"target":{"type","name"},"files":[{"xetHash","sha256",
  // "filename"}]}: Python's cross-repo copy makes the source's LFS objects the
  // target's before committing lfsFile lines there. Read access to the source
  // (the route's own check), write access to the target.
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["target"].is_object() ||
      !(*body)["target"]["name"].is_string() || !(*body)["files"].is_array())
    return SendError(c.res, 400, "", "\"target\" and \"files\" are required");
  if ((*body)["files"].size() > kMaxBatchObjects) return SendError(c.res, 413, "", "too many files");
  std::string type_name = (*body)["target"]["type"].is_string()
                              ? (*body)["target"]["type"].get<std::string>()
                              : std::string("model");
  std::string name = (*body)["target"]["name"].get<std::string>();
  auto type = ParseRepoType(type_name);
  size_t slash = name.find('/');
  if (!type || slash == std::string::npos)
    return SendError(c.res, 400, "", "invalid target " + type_name + " " + name);
  auto dst = OpenRepo(c, *type, name.substr(0, slash), name.substr(slash + 1), /*write=*/true);
  if (!dst) return;
  std::vector<std::string> granted;
  json failed = json::array();
  for (json f : (*body)["files"]) {
    std::string sha = f["sha256"].is_string() ? f["sha256"].get<std::string>() : "";
    std::string xet = f["xetHash"].is_string() ? f["xetHash"].get<std::string>() : "";
    auto known = s_.cas->FindSha256(sha);
    if (!known || !s_.repos->HasLfsObject(src.key, sha)) {
      failed.push_back({{"sha256", sha}, {"error", "not an LFS object of " + src.key.id}});
    } else if (!xet.empty() && xet != known->xet_hash) {
      failed.push_back({{"sha256", sha}, {"error", "xetHash does not match"}});
    } else {
      granted.push_back(sha);
    }
  }
  Status st = s_.repos->GrantLfsObjects(dst->key, granted);
  if (!st.ok()) return SendStatus(c.res, st);
  SendJson(c.res, 200, json{{"failed", failed}});
}

void HubApi::LfsPut(Call& c, const std::vector<std::string>& seg) {
  // seg: lfs-objects, type, ns, name, sha256
  auto type = ParseRepoType(seg[1]);
  std::string oid = seg[4];
  uint64_t size = std::strtoull(c.req.get_param_value("size").c_str(), nullptr, 10);
  int64_t exp = std::strtoll(c.req.get_param_value("e").c_str(), nullptr, 10);
  if (!type || !IsLowerHex(oid, 64)) return SendError(c.res, 404, "", "Not found");
  RepoKey key{*type, seg[2] + "/" + seg[3]};
  std::string object = "lfs/" + key.Str() + "/" + oid + "/" + std::to_string(size);
  if (!s_.signer->CheckData(object, "*", exp, c.req.get_param_value("s")))
    return SendError(c.res, 403, "", "Signature does not match");
  if (exp <= s_.now()) return SendError(c.res, 403, "", "Request has expired");
  if (c.req.body.size() != size)
    return SendError(c.res, 400, "", "body size differs from the announced size");
  if (Sha256Hex(c.req.body) != oid)
    return SendError(c.res, 400, "", "body does not hash to the announced sha256");
  const std::string& body = c.req.body;
  auto entry = StoreAsXetFile(s_, size, [&](uint64_t off, size_t len, std::vector<uint8_t>* out) {
    out->assign(body.begin() + static_cast<long>(off), body.begin() + static_cast<long>(off + len));
    return Status::Ok();
  });
  if (!entry.ok()) return SendStatus(c.res, entry.status());
  Status granted = s_.repos->GrantLfsObjects(key, {oid});
  if (!granted.ok()) return SendStatus(c.res, granted);
  SendJson(c.res, 200, json::object());
}

// As the Hub answers a commit past the repo's budget: 429, Retry-After and
// the RateLimit headers (spec/hub-api.md §8), a JSON error body.
void HubApi::SendCommitBudgetExceeded(Call& c, int64_t wait) {
  const CommitBudgetSpec spec = s_.commit_budget.Get();
  c.res.set_header("Retry-After", std::to_string(wait));
  c.res.set_header("RateLimit", "\"commits\";r=0;t=" + std::to_string(wait));
  c.res.set_header("RateLimit-Policy", "\"sliding window\";\"commits\";q=" +
                                           std::to_string(spec.commits) +
                                           ";w=" + std::to_string(spec.window));
  SendError(c.res, 429, "",
            "You have exceeded the rate limit for repository commits (" +
                std::to_string(spec.commits) + " per " + std::to_string(spec.window) +
                " s). Retry after " + std::to_string(wait) + " seconds.");
}

void HubApi::CommitNdjson(Call& c, const RepoRef& r, const std::string& rev) {
  CommitRequest creq;
  creq.target = rev;
  creq.create_pr = QueryFlag(c.req, "create_pr");
  creq.author = c.user ? c.user->name : "";
  bool have_header = false;
  size_t lines = 0;
  std::optional<LfsRule> rule;  // of the target revision, built at the first inline file
  for (std::string_view line : Split(c.req.body, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (++lines > kMaxCommitLines) return SendError(c.res, 413, "", "too many operations");
    auto j = ParseJsonBody(line);
    if (!j || !j->is_object() || !(*j)["key"].is_string() || !(*j)["value"].is_object())
      return SendError(c.res, 400, "", "each line must be {\"key\":…,\"value\":{…}}");
    std::string key = (*j)["key"].get<std::string>();
    json v = (*j)["value"];  // a copy: const operator[] on a missing key is undefined
    if (key == "header") {
      have_header = true;
      if (v["summary"].is_string()) creq.title = v["summary"].get<std::string>();
      if (v["description"].is_string()) creq.message = v["description"].get<std::string>();
      if (v["parentCommit"].is_string()) {
        creq.parent_commit = v["parentCommit"].get<std::string>();
        if (creq.parent_commit.size() < 5 || creq.parent_commit.size() > 40 ||
            !IsHex(creq.parent_commit))
          return SendError(c.res, 400, "", "Invalid parentCommit");
        std::transform(creq.parent_commit.begin(), creq.parent_commit.end(),
                       creq.parent_commit.begin(), ::tolower);
      }
      continue;
    }
    if (!have_header) return SendError(c.res, 400, "", "the header line must come first");
    if (!v["path"].is_string()) return SendError(c.res, 400, "", key + " needs a path");
    FileChange ch;
    ch.path = v["path"].get<std::string>();
    if (key == "deletedFolder") {
      std::string p = ch.path;
      while (!p.empty() && p.back() == '/') p.pop_back();
      if (!p.empty() && !ValidRepoPath(p))
        return SendError(c.res, 422, "", "Invalid path: " + ch.path);
      ch.kind = FileChange::kDeleteFolder;
    } else if (!ValidRepoPath(ch.path)) {
      return SendError(c.res, 422, "", "Invalid path: " + ch.path);
    } else if (key == "file") {
      if (!v["content"].is_string()) return SendError(c.res, 400, "", "file needs content");
      std::string enc = v["encoding"].is_string() ? v["encoding"].get<std::string>() : "base64";
      std::string content;
      if (enc == "base64") {
        auto d = Base64Decode(v["content"].get<std::string>());
        if (!d) return SendError(c.res, 400, "", "content is not valid base64: " + ch.path);
        content = std::move(*d);
      } else if (enc == "utf-8" || enc == "utf8") {
        content = v["content"].get<std::string>();
      } else {
        return SendError(c.res, 400, "", "unknown encoding " + enc);
      }
      // Inline content obeys the preupload rule at the target revision: at
      // least 10 MiB, a .gitattributes LFS pattern or a binary sample means
      // the file had to go through LFS/Xet.
      if (content.size() >= kLfsSizeThreshold)
        return SendError(c.res, 400, "",
                         "Your push was rejected: " + ch.path +
                             " is 10 MiB or larger and must be uploaded with LFS/Xet");
      if (!rule) {
        auto base = s_.repos->Resolve(r.key, creq.target);
        rule.emplace(base.ok() ? GitAttributesAt(s_, **base) : std::string());
      }
      if (rule->IsLfs(ch.path, content.size(), std::string_view(content).substr(0, 512)))
        return SendError(c.res, 400, "",
                         "Your push was rejected because it contains binary files or files "
                         "tracked by LFS: " +
                             ch.path + " must be uploaded with LFS/Xet (see preupload)");
      ch.entry.oid = GitBlobOid(content);
      ch.entry.size = content.size();
      Status st = WriteFileAtomic(s_.BlobPath(ch.entry.oid), content);
      if (!st.ok()) return SendStatus(c.res, st);
    } else if (key == "lfsFile") {
      std::string oid = v["oid"].is_string() ? v["oid"].get<std::string>() : "";
      if (v["algo"].is_string() && v["algo"].get<std::string>() != "sha256")
        return SendError(c.res, 400, "", "only sha256 LFS objects are supported");
      auto known = s_.cas->FindSha256(oid);
      if (!known || !s_.repos->HasLfsObject(r.key, oid))
        return SendError(c.res, 422, "",
                         "LFS object " + oid + " for " + ch.path +
                             " was never uploaded to this repo");
      if (v.contains("size") &&
          (!v["size"].is_number_unsigned() || v["size"].get<uint64_t>() != known->size))
        return SendError(c.res, 422, "", "LFS object size mismatch for " + ch.path);
      ch.entry.sha256 = oid;
      ch.entry.size = known->size;
      ch.entry.xet_hash = known->xet_hash;
      ch.entry.oid = GitBlobOid(LfsPointer(oid, known->size));
    } else if (key == "deletedFile") {
      ch.kind = FileChange::kDeleteFile;
    } else {
      return SendError(c.res, 400, "", "unknown commit operation " + key);
    }
    creq.changes.push_back(std::move(ch));
  }
  if (!have_header) return SendError(c.res, 400, "", "missing header line");
  if (creq.changes.empty()) return SendError(c.res, 400, "", "No files to commit");
  if (creq.title.empty()) creq.title = "Upload files with hubsim";
  if (auto wait = s_.commit_budget.Wait(r.key.Str(), s_.now())) {
    return SendCommitBudgetExceeded(c, *wait);
  }
  auto result = s_.repos->ApplyCommit(r.key, creq);
  if (!result.ok()) return SendStatus(c.res, result.status());
  s_.commit_budget.Record(r.key.Str(), s_.now());
  json out = {{"success", true},
              {"commitOid", result->commit_id},
              {"commitUrl", RepoUrl(c, r.key) + "/commit/" + result->commit_id},
              {"hookOutput", ""}};
  if (result->pr_number) {
    out["pullRequestUrl"] =
        RepoUrl(c, r.key) + "/discussions/" + std::to_string(*result->pr_number);
    out["pullRequestNum"] = *result->pr_number;
  }
  SendJson(c.res, 200, out);
}

}  // namespace hubfs::hubsim
