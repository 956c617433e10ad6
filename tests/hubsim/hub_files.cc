// File-level Hub routes: tree listings, paths-info, resolve and raw.
#include <algorithm>
#include <unordered_set>

#include "tests/hubsim/http_util.h"
#include "tests/hubsim/hub_api.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

using nlohmann::json;

namespace {

constexpr size_t kTreePage = 1000;
constexpr size_t kTreePageExpanded = 50;
constexpr size_t kMaxPathsInfo = 1000;

// One listed item: a file (entry set) or a directory.
struct Item {
  std::string path;
  const TreeEntry* file = nullptr;
};

// Children of `dir` (direct, or all descendants with directories included),
// in path order with each directory before its contents.
std::vector<Item> ListDir(const Commit& cm, const std::string& dir, bool recursive) {
  std::vector<Item> out;
  std::string prefix = dir.empty() ? "" : dir + "/";
  std::string last_dir;                     // non-recursive: last directory emitted
  std::unordered_set<std::string> emitted;  // recursive: directories emitted
  for (auto it = cm.tree.lower_bound(prefix); it != cm.tree.end(); ++it) {
    const std::string& p = it->first;
    if (p.compare(0, prefix.size(), prefix) != 0) break;
    std::string_view rest = std::string_view(p).substr(prefix.size());
    if (!recursive) {
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) {
        out.push_back({p, &it->second});
      } else {
        std::string d = prefix + std::string(rest.substr(0, slash));
        if (d != last_dir) {
          out.push_back({d, nullptr});
          last_dir = d;
        }
      }
      continue;
    }
    // Recursive: every directory on the way, once, before its contents.
    size_t pos = 0;
    while ((pos = rest.find('/', pos)) != std::string_view::npos) {
      std::string d = prefix + std::string(rest.substr(0, pos));
      if (emitted.insert(d).second) out.push_back({d, nullptr});
      ++pos;
    }
    out.push_back({p, &it->second});
  }
  return out;
}

}  // namespace

json HubApi::EntryJson(const Commit& commit, const std::string& path, const TreeEntry* file,
                       bool expand) {
  json j;
  if (file) {
    j = {{"type", "file"}, {"oid", file->oid}, {"size", file->size}, {"path", path}};
    if (file->is_lfs()) {
      j["lfs"] = {{"oid", file->sha256},
                  {"size", file->size},
                  {"pointerSize", LfsPointer(file->sha256, file->size).size()}};
      if (!file->xet_hash.empty()) j["xetHash"] = file->xet_hash;
    }
  } else {
    j = {{"type", "directory"}, {"oid", commit.DirOid(path)}, {"size", 0}, {"path", path}};
  }
  if (expand) {
    std::string last_id = file ? file->last_commit : commit.DirLastCommit(path).first;
    json lc = {{"id", last_id}, {"title", ""}, {"date", IsoTime(commit.date)}};
    j["lastCommit"] = lc;
    if (file)
      j["securityFileStatus"] = {{"status", "safe"},
                                 {"avScan", {{"virusFound", false}, {"virusNames", nullptr}}},
                                 {"pickleImportScan", nullptr}};
  }
  return j;
}

void HubApi::Tree(Call& c, const RepoRef& r, const std::vector<std::string>& rest) {
  auto split = SplitRevisionAndPath(rest);
  if (!split) return SendError(c.res, 400, "", "Malformed percent-encoding");
  auto [rev, dir] = *split;
  auto commit = s_.repos->Resolve(r.key, rev);
  if (!commit.ok()) return SendStatus(c.res, commit.status());
  const Commit& cm = **commit;
  if (!dir.empty() && !cm.HasDir(dir))
    return SendError(c.res, 404, "EntryNotFound",
                     "Entry not found: " + dir + " is not a folder at " + rev);
  bool recursive = QueryFlag(c.req, "recursive");
  bool expand = QueryFlag(c.req, "expand");
  size_t page = expand ? kTreePageExpanded : kTreePage;
  size_t cursor = 0;
  if (c.req.has_param("cursor")) {
    cursor = std::strtoull(c.req.get_param_value("cursor").c_str(), nullptr, 10);
  }
  std::string cache_key = c.hub + '\n' + r.key.Str() + '\n' + cm.id + '\n' + dir + '\n' +
                          (recursive ? "r" : "-") + (expand ? "e" : "-") + std::to_string(cursor);
  if (auto cached = CachedPage(cache_key)) {
    if (!cached->link.empty()) c.res.set_header("Link", cached->link);
    c.res.status = 200;
    c.res.set_content(cached->body, kJsonType);
    return;
  }
  std::vector<Item> items = ListDir(cm, dir, recursive);
  json out = json::array();
  // Resolve lastCommit titles/dates once per distinct commit.
  std::map<std::string, std::shared_ptr<const Commit>> commits;
  for (size_t i = cursor; i < items.size() && out.size() < page; ++i) {
    json e = EntryJson(cm, items[i].path, items[i].file, expand);
    if (expand) {
      std::string id = e["lastCommit"]["id"].get<std::string>();
      auto it = commits.find(id);
      if (it == commits.end()) {
        auto lc = s_.repos->GetCommit(r.key, id);
        it = commits.emplace(id, lc.ok() ? *lc : nullptr).first;
      }
      if (it->second) {
        e["lastCommit"]["title"] = it->second->title;
        e["lastCommit"]["date"] = IsoTime(it->second->date);
      }
    }
    out.push_back(std::move(e));
  }
  size_t next = cursor + out.size();
  if (next < items.size()) {
    // Absolute next-page URL on the commit sha, so later pages stay consistent.
    std::string url = c.hub + "/api/" + std::string(RepoTypeName(r.key.type)) + "s/" + r.key.id +
                      "/tree/" + cm.id;
    if (!dir.empty()) {
      url += '/';
      url += PercentEncode(dir, true);
    }
    url += recursive ? "?recursive=true" : "?recursive=false";
    url += expand ? "&expand=true" : "&expand=false";
    url += "&cursor=";
    url += std::to_string(next);
    c.res.set_header("Link", "<" + url + ">; rel=\"next\"");
  }
  SendJson(c.res, 200, out);
  StorePage(cache_key, TreePage{c.res.body, c.res.get_header_value("Link")});
}

std::optional<HubApi::TreePage> HubApi::CachedPage(const std::string& key) {
  std::lock_guard<std::mutex> l(page_mu_);
  auto it = pages_.find(key);
  if (it == pages_.end()) return std::nullopt;
  return it->second;
}

void HubApi::StorePage(const std::string& key, TreePage page) {
  constexpr size_t kMaxPages = 256;
  std::lock_guard<std::mutex> l(page_mu_);
  if (!pages_.emplace(key, std::move(page)).second) return;
  page_order_.push_back(key);
  if (page_order_.size() > kMaxPages) {
    pages_.erase(page_order_.front());
    page_order_.pop_front();
  }
}

void HubApi::PathsInfo(Call& c, const RepoRef& r, const std::string& rev) {
  std::vector<std::string> paths;
  bool expand = false;
  std::string ctype = c.req.get_header_value("Content-Type");
  if (ctype.find("application/json") != std::string::npos ||
      (!c.req.body.empty() && c.req.body[0] == '{')) {
    auto body = ParseJsonBody(c.req.body);
    if (!body || !body->is_object() || !(*body)["paths"].is_array())
      return SendError(c.res, 400, "", "\"paths\" must be an array");
    for (const auto& p : (*body)["paths"]) {
      if (!p.is_string()) return SendError(c.res, 400, "", "\"paths\" must hold strings");
      paths.push_back(p.get<std::string>());
      if (paths.size() > kMaxPathsInfo) break;
    }
    if ((*body)["expand"].is_boolean()) expand = (*body)["expand"].get<bool>();
    if ((*body)["expand"].is_string()) expand = (*body)["expand"].get<std::string>() == "true";
  } else {
    // application/x-www-form-urlencoded with repeated keys, in order.
    for (std::string_view kv : Split(c.req.body, '&')) {
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      std::string k(kv.substr(0, eq)), v(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
      std::replace(k.begin(), k.end(), '+', ' ');
      std::replace(v.begin(), v.end(), '+', ' ');
      auto dk = PercentDecode(k), dv = PercentDecode(v);
      if (!dk || !dv) return SendError(c.res, 400, "", "Malformed form body");
      if (*dk == "paths") paths.push_back(*dv);
      if (*dk == "expand") expand = *dv == "true" || *dv == "True" || *dv == "1";
      if (paths.size() > kMaxPathsInfo) break;
    }
  }
  if (paths.size() > kMaxPathsInfo) return SendError(c.res, 413, "", "too many parameters");
  auto commit = s_.repos->Resolve(r.key, rev);
  if (!commit.ok()) return SendStatus(c.res, commit.status());
  const Commit& cm = **commit;
  json out = json::array();
  std::map<std::string, std::shared_ptr<const Commit>> commits;
  for (std::string p : paths) {
    while (!p.empty() && p.back() == '/') p.pop_back();
    while (!p.empty() && p.front() == '/') p.erase(p.begin());
    json e;
    auto it = cm.tree.find(p);
    if (it != cm.tree.end())
      e = EntryJson(cm, p, &it->second, expand);
    else if (!p.empty() && cm.HasDir(p))
      e = EntryJson(cm, p, nullptr, expand);
    else
      continue;
    if (expand) {
      std::string id = e["lastCommit"]["id"].get<std::string>();
      auto ci = commits.find(id);
      if (ci == commits.end()) {
        auto lc = s_.repos->GetCommit(r.key, id);
        ci = commits.emplace(id, lc.ok() ? *lc : nullptr).first;
      }
      if (ci->second) {
        e["lastCommit"]["title"] = ci->second->title;
        e["lastCommit"]["date"] = IsoTime(ci->second->date);
      }
    }
    out.push_back(std::move(e));
  }
  SendJson(c.res, 200, out);
}

void HubApi::Resolve(Call& c, const RepoRef& r, const std::vector<std::string>& rest, bool raw) {
  std::optional<std::string> range = TakeRange(c.req);
  auto split = SplitRevisionAndPath(rest);
  if (!split) return SendError(c.res, 400, "", "Malformed percent-encoding");
  auto [rev, path] = *split;
  auto commit = s_.repos->Resolve(r.key, rev);
  if (!commit.ok()) return SendStatus(c.res, commit.status());
  const Commit& cm = **commit;
  c.res.set_header("X-Repo-Commit", cm.id);
  auto it = cm.tree.find(path);
  if (it == cm.tree.end())
    return SendError(c.res, 404, "EntryNotFound", "Entry not found: " + path);
  const TreeEntry& e = it->second;
  bool head = c.req.method == "HEAD";
  c.res.set_header("Accept-Ranges", "bytes");

  if (e.is_lfs() && !raw) {
    std::string type_s = std::string(RepoTypeName(r.key.type)) + "s";
    std::string token_url = c.hub + "/api/" + type_s + "/" + r.key.id + "/xet-read-token/" + cm.id;
    std::string recon_url = CasOrigin(c) + "/v1/reconstructions/" + e.xet_hash;
    c.res.set_header("X-Linked-Size", std::to_string(e.size));
    c.res.set_header("X-Linked-Etag", "\"" + e.sha256 + "\"");
    c.res.set_header("ETag", "\"" + e.sha256 + "\"");
    if (!e.xet_hash.empty()) {
      c.res.set_header("X-Xet-Hash", e.xet_hash);
      c.res.set_header("Link", "<" + token_url + ">; rel=\"xet-auth\", <" + recon_url +
                                   ">; rel=\"xet-reconstruction-info\"");
    }
    std::string accept = c.req.get_header_value("Accept");
    if (accept.find("application/vnd.xet-fileinfo+json") != std::string::npos &&
        !e.xet_hash.empty()) {
      c.res.status = 200;
      json info = {{"hash", e.xet_hash},
                   {"refreshUrl", token_url},
                   {"reconstructionUrl", recon_url},
                   {"etag", e.sha256},
                   {"size", e.size}};
      if (head) {
        c.res.set_header("Content-Type", "application/vnd.xet-fileinfo+json");
        return;
      }
      c.res.set_content(info.dump(), "application/vnd.xet-fileinfo+json");
      return;
    }
    // Classic clients: redirect to a presigned whole-file URL on the data origin.
    int64_t exp = s_.now() + s_.opts.url_ttl;
    std::string object = "file/" + e.xet_hash;
    std::string url = DataOrigin(c) + "/" + object + "?e=" + std::to_string(exp) +
                      "&s=" + s_.signer->SignData(object, "*", exp);
    c.res.status = 302;
    c.res.set_header("Location", url);
    return;
  }

  // A git blob: the file itself, or the pointer text of an LFS file on /raw/.
  std::string oid = e.oid;
  std::string content;
  if (e.is_lfs()) {
    content = LfsPointer(e.sha256, e.size);
  } else {
    auto blob = ReadFile(s_.BlobPath(oid));
    if (!blob.ok()) return SendError(c.res, 500, "", "blob missing: " + oid);
    content = std::move(*blob);
  }
  uint64_t size = content.size();
  c.res.set_header("ETag", "\"" + oid + "\"");
  if (range) {
    bool unsat = false;
    auto ranges = ParseByteRanges(*range, size, &unsat, 1);
    if (size == 0 && ranges) {
      // A 0-byte file probed with a range: 200 with "bytes */0" (JS needs it).
      c.res.status = 200;
      c.res.set_header("Content-Range", "bytes */0");
      if (head) c.res.set_header("Content-Length", "0");
      return;
    }
    if (!ranges || unsat) {
      c.res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return SendError(c.res, 416, "", "Requested range not satisfiable");
    }
    const ByteRange& br = (*ranges)[0];
    c.res.status = 206;
    c.res.set_header("Content-Range", "bytes " + std::to_string(br.first) + "-" +
                                          std::to_string(br.last) + "/" + std::to_string(size));
    if (head) {
      c.res.set_header("Content-Length", std::to_string(br.last - br.first + 1));
      c.res.set_header("Content-Type", "application/octet-stream");
      return;
    }
    c.res.set_content(content.substr(br.first, br.last - br.first + 1), "application/octet-stream");
    return;
  }
  c.res.status = 200;
  if (head) {
    c.res.set_header("Content-Length", std::to_string(size));
    c.res.set_header("Content-Type", "application/octet-stream");
    return;
  }
  c.res.set_content(content, "application/octet-stream");
}

}  // namespace hubfs::hubsim
