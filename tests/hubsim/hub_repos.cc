// Repo-level Hub routes: create/delete/list/info/settings, refs, commits,
// branches, tags, discussions (PRs), validate-yaml, whoami.
#include <algorithm>
#include <set>

#include "tests/hubsim/http_util.h"
#include "tests/hubsim/hub_api.h"
#include "tests/hubsim/lfs_rule.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

using nlohmann::json;

namespace {

const std::set<std::string>& ExpandProperties(RepoType t) {
  static const std::set<std::string> common = {"author",
                                               "cardData",
                                               "createdAt",
                                               "disabled",
                                               "gated",
                                               "lastModified",
                                               "likes",
                                               "private",
                                               "resourceGroup",
                                               "sha",
                                               "siblings",
                                               "tags",
                                               "trendingScore",
                                               "usedStorage",
                                               "xetEnabled",
                                               "downloads",
                                               "downloadsAllTime",
                                               "gitalyUid",
                                               "widgetData",
                                               "childrenModelCount"};
  static const std::set<std::string> model = [] {
    std::set<std::string> s = common;
    for (const char* p : {"config", "pipeline_tag", "library_name", "safetensors", "spaces",
                          "transformersInfo", "model-index", "mask_token", "inference",
                          "inferenceProviderMapping", "evalResults", "baseModels"})
      s.insert(p);
    return s;
  }();
  static const std::set<std::string> dataset = [] {
    std::set<std::string> s = common;
    for (const char* p : {"citation", "description", "mainSize", "paperswithcode_id"}) s.insert(p);
    return s;
  }();
  static const std::set<std::string> space = [] {
    std::set<std::string> s = common;
    for (const char* p : {"sdk", "runtime", "subdomain", "models", "datasets", "region", "host"})
      s.insert(p);
    return s;
  }();
  return t == RepoType::kModel ? model : t == RepoType::kDataset ? dataset : space;
}

std::vector<std::string> ParamValues(const httplib::Request& req, const std::string& name) {
  std::vector<std::string> out;
  auto range = req.params.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

}  // namespace

void HubApi::CreateRepo(Call& c) {
  if (!c.user) return SendError(c.res, 401, "", "You must be authenticated to create a repo");
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["name"].is_string())
    return SendError(c.res, 400, "", "\"name\" is required");
  std::string name = (*body)["name"].get<std::string>();
  std::string ns = c.user->name;
  if ((*body)["organization"].is_string()) ns = (*body)["organization"].get<std::string>();
  if (name.find('/') != std::string::npos) {
    ns = name.substr(0, name.find('/'));
    name = name.substr(name.find('/') + 1);
  }
  RepoType type = RepoType::kModel;
  if ((*body)["type"].is_string()) {
    auto t = ParseRepoType((*body)["type"].get<std::string>());
    if (!t) return SendError(c.res, 400, "", "\"type\" must be one of [model, dataset, space]");
    type = *t;
  }
  if (!ValidRepoPart(ns) || !ValidRepoPart(name))
    return SendError(c.res, 400, "", "Invalid repo name: " + ns + "/" + name);
  bool is_private = (*body)["private"].is_boolean() && (*body)["private"].get<bool>();
  if ((*body)["visibility"].is_string()) {
    std::string v = (*body)["visibility"].get<std::string>();
    if (v != "public" && v != "private" && v != "protected")
      return SendError(c.res, 400, "", "\"visibility\" must be public, private or protected");
    is_private = v == "private";
  }
  std::map<std::string, TreeEntry> files;
  auto add_file = [&](const std::string& path, const std::string& content) -> bool {
    TreeEntry e;
    e.oid = GitBlobOid(content);
    e.size = content.size();
    if (!WriteFileAtomic(s_.BlobPath(e.oid), content).ok()) return false;
    files[path] = e;
    return true;
  };
  if (!add_file(".gitattributes", DefaultGitAttributes()))
    return SendError(c.res, 500, "", "cannot store .gitattributes");
  if ((*body)["files"].is_array()) {
    for (json f : (*body)["files"]) {
      if (!f.is_object() || !f["path"].is_string() || !f["content"].is_string())
        return SendError(c.res, 400, "", "files[] entries need path and content");
      std::string path = f["path"].get<std::string>();
      auto content = Base64Decode(f["content"].get<std::string>());
      if (!ValidRepoPath(path) || !content)
        return SendError(c.res, 400, "", "invalid file in files[]: " + path);
      if (!add_file(path, *content)) return SendError(c.res, 500, "", "cannot store file");
    }
  }
  RepoKey key{type, ns + "/" + name};
  auto meta = s_.repos->Create(key, is_private, c.user->name, files);
  if (!meta.ok()) {
    if (meta.status().code() == ErrorCode::kAlreadyExists) {
      json j = {{"error", meta.status().message()}, {"url", RepoUrl(c, key)}};
      c.res.set_header("X-Error-Message", meta.status().message());
      return SendJson(c.res, 409, j);
    }
    return SendStatus(c.res, meta.status());
  }
  SendJson(c.res, 200, json{{"url", RepoUrl(c, key)}, {"name", key.id}, {"id", meta->object_id}});
}

void HubApi::DeleteRepo(Call& c) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["name"].is_string())
    return SendError(c.res, 400, "", "\"name\" is required");
  std::string name = (*body)["name"].get<std::string>();
  std::string ns = c.user ? c.user->name : "";
  if ((*body)["organization"].is_string()) ns = (*body)["organization"].get<std::string>();
  if (name.find('/') != std::string::npos) {
    ns = name.substr(0, name.find('/'));
    name = name.substr(name.find('/') + 1);
  }
  RepoType type = RepoType::kModel;
  if ((*body)["type"].is_string()) {
    auto t = ParseRepoType((*body)["type"].get<std::string>());
    if (!t) return SendError(c.res, 400, "", "bad type");
    type = *t;
  }
  auto r = OpenRepo(c, type, ns, name, true);
  if (!r) return;
  Status st = s_.repos->Delete(r->key);
  if (!st.ok()) return SendStatus(c.res, st);
  c.res.status = 200;
  c.res.set_content("OK", "text/plain");
}

void HubApi::ListRepos(Call& c, RepoType type) {
  std::string author = c.req.has_param("author") ? c.req.get_param_value("author") : "";
  std::string search = c.req.has_param("search") ? c.req.get_param_value("search") : "";
  size_t limit = 1000;
  if (c.req.has_param("limit")) {
    limit = std::strtoull(c.req.get_param_value("limit").c_str(), nullptr, 10);
    if (limit == 0 || limit > 1000) limit = 1000;
  }
  size_t cursor = c.req.has_param("cursor")
                      ? std::strtoull(c.req.get_param_value("cursor").c_str(), nullptr, 10)
                      : 0;
  std::vector<RepoMeta> all;
  for (auto& m : s_.repos->List(type, author)) {
    if (m.is_private && !CanAccess(c, m)) continue;
    if (!search.empty() && m.key.id.find(search) == std::string::npos) continue;
    all.push_back(std::move(m));
  }
  json out = json::array();
  for (size_t i = cursor; i < all.size() && out.size() < limit; ++i) {
    const RepoMeta& m = all[i];
    json j = {{"_id", m.object_id},
              {"id", m.key.id},
              {"author", m.key.Namespace()},
              {"private", m.is_private},
              {"lastModified", IsoTime(m.last_modified)},
              {"createdAt", IsoTime(m.created)},
              {"likes", 0},
              {"downloads", 0},
              {"tags", json::array()},
              {"gated", false},
              {"disabled", false}};
    auto it = m.refs.branches.find("main");
    if (it != m.refs.branches.end()) j["sha"] = it->second;
    out.push_back(std::move(j));
  }
  size_t next = cursor + out.size();
  if (next < all.size() && !c.req.has_param("limit")) {
    std::string url =
        c.hub + "/api/" + std::string(RepoTypeName(type)) + "s?cursor=" + std::to_string(next);
    if (!author.empty()) url += "&author=" + PercentEncode(author, false);
    if (!search.empty()) url += "&search=" + PercentEncode(search, false);
    c.res.set_header("Link", "<" + url + ">; rel=\"next\"");
  }
  SendJson(c.res, 200, out);
}

void HubApi::RepoInfo(Call& c, const RepoRef& r, const std::string& rev) {
  auto commit = s_.repos->Resolve(r.key, rev);
  if (!commit.ok()) return SendStatus(c.res, commit.status());
  const Commit& cm = **commit;
  std::vector<std::string> expand = ParamValues(c.req, "expand");
  for (auto& v : ParamValues(c.req, "expand[]")) expand.push_back(v);
  const auto& allowed = ExpandProperties(r.key.type);
  for (const auto& e : expand) {
    if (!allowed.count(e)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ",") + a;
      return SendError(c.res, 400, "", "\"expand\" must be one of [" + list + "]");
    }
  }
  bool blobs = QueryFlag(c.req, "blobs");
  uint64_t used = 0;
  json siblings = json::array();
  for (const auto& [path, e] : cm.tree) {
    used += e.size;
    json sib = {{"rfilename", path}};
    if (blobs) {
      sib["size"] = e.size;
      sib["blobId"] = e.oid;
      if (e.is_lfs())
        sib["lfs"] = {{"sha256", e.sha256},
                      {"size", e.size},
                      {"pointerSize", LfsPointer(e.sha256, e.size).size()}};
    }
    siblings.push_back(std::move(sib));
  }
  json full = {{"_id", r.meta.object_id},
               {"id", r.key.id},
               {"author", r.key.Namespace()},
               {"sha", cm.id},
               {"lastModified", IsoTime(cm.date)},
               {"createdAt", IsoTime(r.meta.created)},
               {"private", r.meta.is_private},
               {"gated", false},
               {"disabled", false},
               {"tags", json::array()},
               {"downloads", 0},
               {"downloadsAllTime", 0},
               {"likes", 0},
               {"trendingScore", 0},
               {"usedStorage", used},
               {"xetEnabled", true},
               {"resourceGroup", nullptr},
               {"cardData", json::object()},
               {"siblings", std::move(siblings)}};
  if (r.key.type == RepoType::kSpace) {
    full["sdk"] = "static";
    full["runtime"] = {{"stage", "RUNNING"}};
    full["subdomain"] = r.key.Namespace() + "-" + r.key.id.substr(r.key.id.find('/') + 1);
  }
  if (expand.empty()) {
    full.erase("downloadsAllTime");
    full.erase("trendingScore");
    full.erase("resourceGroup");
    if (!c.req.has_param("securityStatus")) return SendJson(c.res, 200, full);
    full["securityRepoStatus"] = {{"scansDone", true}, {"filesWithIssues", json::array()}};
    return SendJson(c.res, 200, full);
  }
  json out = {{"_id", r.meta.object_id}, {"id", r.key.id}};
  for (const auto& e : expand) out[e] = full.contains(e) ? full[e] : json(nullptr);
  SendJson(c.res, 200, out);
}

void HubApi::RepoSettings(Call& c, const RepoRef& r) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object()) return SendError(c.res, 400, "", "JSON body expected");
  // Current clients send "visibility" (public, private, protected: Spaces
  // only, whose files stay public); older ones the boolean "private".
  std::optional<bool> make_private;
  if ((*body)["private"].is_boolean()) make_private = (*body)["private"].get<bool>();
  if (body->contains("visibility")) {
    const json& v = (*body)["visibility"];
    std::string vis = v.is_string() ? v.get<std::string>() : "";
    if (vis == "private") {
      make_private = true;
    } else if (vis == "public" || (vis == "protected" && r.key.type == RepoType::kSpace)) {
      make_private = false;
    } else {
      return SendError(c.res, 400, "", "Invalid visibility: " + v.dump());
    }
  }
  if (make_private) {
    Status st = s_.repos->SetPrivate(r.key, *make_private);
    if (!st.ok()) return SendStatus(c.res, st);
  }
  SendJson(c.res, 200, json::object());
}

void HubApi::ListRefs(Call& c, const RepoRef& r) {
  auto meta = s_.repos->Get(r.key);
  if (!meta.ok()) return SendStatus(c.res, meta.status());
  json out = {{"branches", json::array()}, {"tags", json::array()}, {"converts", json::array()}};
  for (const auto& [n, sha] : meta->refs.branches)
    out["branches"].push_back({{"name", n}, {"ref", "refs/heads/" + n}, {"targetCommit", sha}});
  for (const auto& [n, sha] : meta->refs.tags)
    out["tags"].push_back({{"name", n}, {"ref", "refs/tags/" + n}, {"targetCommit", sha}});
  for (const auto& [n, sha] : meta->refs.converts)
    out["converts"].push_back({{"name", n}, {"ref", "refs/convert/" + n}, {"targetCommit", sha}});
  if (QueryFlag(c.req, "include_prs")) {
    out["pullRequests"] = json::array();
    for (const auto& [n, sha] : meta->refs.prs)
      out["pullRequests"].push_back({{"name", std::to_string(n)},
                                     {"ref", "refs/pr/" + std::to_string(n)},
                                     {"targetCommit", sha}});
  }
  SendJson(c.res, 200, out);
}

void HubApi::ListCommits(Call& c, const RepoRef& r, const std::string& rev) {
  auto head = s_.repos->Resolve(r.key, rev);
  if (!head.ok()) return SendStatus(c.res, head.status());
  size_t limit = 50;
  if (c.req.has_param("limit")) {
    limit = std::strtoull(c.req.get_param_value("limit").c_str(), nullptr, 10);
    if (limit == 0 || limit > 1000) limit = limit == 0 ? 50 : 1000;
  }
  size_t cursor = c.req.has_param("cursor")
                      ? std::strtoull(c.req.get_param_value("cursor").c_str(), nullptr, 10)
                      : 0;
  bool formatted = false;
  for (const auto& v : ParamValues(c.req, "expand[]")) formatted |= v == "formatted";
  for (const auto& v : ParamValues(c.req, "expand")) formatted |= v == "formatted";
  std::vector<std::shared_ptr<const Commit>> chain;
  for (auto cur = *head; cur;) {
    chain.push_back(cur);
    if (cur->parent.empty() || chain.size() > 1'000'000) break;
    auto p = s_.repos->GetCommit(r.key, cur->parent);
    if (!p.ok()) break;
    cur = *p;
  }
  json out = json::array();
  for (size_t i = cursor; i < chain.size() && out.size() < limit; ++i) {
    const Commit& cm = *chain[i];
    json j = {{"id", cm.id},
              {"title", cm.title},
              {"message", cm.message},
              {"date", IsoTime(cm.date)},
              {"authors", json::array({{{"user", cm.author.empty() ? "system" : cm.author},
                                        {"avatar", c.hub + "/avatars/default.svg"}}})}};
    if (formatted) j["formatted"] = {{"title", cm.title}, {"message", cm.message}};
    out.push_back(std::move(j));
  }
  c.res.set_header("X-Total-Count", std::to_string(chain.size()));
  if (cursor + out.size() < chain.size()) {
    // c.req.path is decoded: re-encode it, keeping slashes.
    std::string url = c.hub + PercentEncode(c.req.path, true) + "?limit=" + std::to_string(limit) +
                      "&cursor=" + std::to_string(cursor + out.size());
    if (formatted) url += "&expand%5B%5D=formatted";
    c.res.set_header("Link", "<" + url + ">; rel=\"next\"");
  }
  SendJson(c.res, 200, out);
}

void HubApi::Branch(Call& c, const RepoRef& r, const std::string& name) {
  if (c.req.method == "DELETE") {
    Status st = s_.repos->DeleteBranch(r.key, name);
    if (!st.ok()) return SendStatus(c.res, st);
    return SendJson(c.res, 200, json::object());
  }
  std::string start;
  bool overwrite = false;
  if (!c.req.body.empty()) {
    auto body = ParseJsonBody(c.req.body);
    if (!body || !body->is_object()) return SendError(c.res, 400, "", "JSON body expected");
    if ((*body)["startingPoint"].is_string()) start = (*body)["startingPoint"].get<std::string>();
    if ((*body)["overwrite"].is_boolean()) overwrite = (*body)["overwrite"].get<bool>();
  }
  Status st = s_.repos->CreateBranch(r.key, name, start, overwrite);
  if (!st.ok()) return SendStatus(c.res, st);
  SendJson(c.res, 200, json::object());
}

void HubApi::Tag(Call& c, const RepoRef& r, const std::string& rev) {
  if (c.req.method == "DELETE") {
    Status st = s_.repos->DeleteTag(r.key, rev);
    if (!st.ok()) return SendStatus(c.res, st);
    return SendJson(c.res, 200, json::object());
  }
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["tag"].is_string())
    return SendError(c.res, 400, "", "\"tag\" is required");
  Status st = s_.repos->CreateTag(r.key, (*body)["tag"].get<std::string>(), rev);
  if (!st.ok()) return SendStatus(c.res, st);
  SendJson(c.res, 200, json::object());
}

void HubApi::CreateDiscussion(Call& c, const RepoRef& r) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object()) return SendError(c.res, 400, "", "JSON body expected");
  if (!(*body)["pullRequest"].is_boolean() || !(*body)["pullRequest"].get<bool>())
    return SendError(c.res, 400, "", "only pull requests are supported");
  auto n = s_.repos->OpenPullRequest(r.key, "main");
  if (!n.ok()) return SendStatus(c.res, n.status());
  SendJson(c.res, 200,
           json{{"num", *n},
                {"url", RepoUrl(c, r.key) + "/discussions/" + std::to_string(*n)},
                {"pullRequest", true}});
}

void HubApi::DiscussionDetails(Call& c, const RepoRef& r, const std::string& num) {
  // Only pull requests exist here, and hubsim keeps no titles, comments or
  // dates for them: the answer carries what clients parse (Python's
  // create_pull_request reads it right after opening one), with the repo's
  // owner and creation date standing in for the PR's.
  uint64_t n = 0;
  if (num.empty() || num.size() > 9 || !std::all_of(num.begin(), num.end(), ::isdigit) ||
      (n = std::stoull(num)) == 0)
    return SendError(c.res, 404, "", "Discussion not found");
  auto refs = s_.repos->Get(r.key);
  if (!refs.ok()) return SendStatus(c.res, refs.status());
  if (!refs->refs.prs.count(n)) return SendError(c.res, 404, "", "Discussion not found");
  SendJson(c.res, 200,
           json{{"num", n},
                {"title", "Pull request #" + num},
                {"status", "open"},
                {"isPullRequest", true},
                {"createdAt", IsoTime(refs->created)},
                {"author", {{"name", refs->owner}}},
                {"repo", {{"name", r.key.id}, {"type", std::string(RepoTypeName(r.key.type))}}},
                {"changes", {{"base", "refs/heads/main"}}},
                {"filesWithConflicts", json::array()},
                {"events", json::array()},
                {"diff", ""}});
}

void HubApi::ValidateYaml(Call& c) {
  auto body = ParseJsonBody(c.req.body);
  if (!body || !body->is_object() || !(*body)["content"].is_string())
    return SendJson(c.res, 400, json{{"errors", json::array({{{"message", "content required"}}})}});
  SendJson(c.res, 200, json{{"errors", json::array()}, {"warnings", json::array()}});
}

void HubApi::WhoAmI(Call& c) {
  if (!c.user) return SendError(c.res, 401, "", "Invalid credentials in Authorization header");
  SendJson(c.res, 200,
           json{{"type", "user"},
                {"name", c.user->name},
                {"orgs", json::array()},
                {"auth", {{"type", "access_token"}, {"accessToken", {{"role", "write"}}}}}});
}

}  // namespace hubfs::hubsim
