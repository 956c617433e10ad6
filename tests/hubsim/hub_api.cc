#include "tests/hubsim/hub_api.h"

#include <algorithm>

#include "tests/hubsim/http_util.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

using nlohmann::json;

std::optional<std::string> DecodeJoined(const std::vector<std::string>& seg, size_t from) {
  std::string joined;
  for (size_t i = from; i < seg.size(); ++i) {
    if (i > from) joined += '/';
    joined += seg[i];
  }
  return PercentDecode(joined);
}

std::optional<std::pair<std::string, std::string>> SplitRevisionAndPath(
    const std::vector<std::string>& rest) {
  if (rest.empty()) return std::nullopt;
  size_t rev_len = 1;
  if (rest.size() >= 3 && rest[0] == "refs" &&
      ((rest[1] == "pr" && !rest[2].empty() &&
        std::all_of(rest[2].begin(), rest[2].end(), ::isdigit)) ||
       rest[1] == "convert"))
    rev_len = 3;
  std::vector<std::string> rev_part(rest.begin(), rest.begin() + static_cast<long>(rev_len));
  auto rev = DecodeJoined(rev_part, 0);
  auto path = DecodeJoined(rest, rev_len);
  if (!rev || !path) return std::nullopt;
  std::string p = *path;
  while (!p.empty() && p.back() == '/') p.pop_back();
  return std::make_pair(*rev, p);
}

std::string HubApi::RouteClass(const httplib::Request& req) {
  auto seg = RawSegments(req);
  if (seg.empty()) return "other";
  if (seg[0] == "admin") return "admin";
  if (seg[0] == "lfs-objects") return "lfs-put";
  if (seg[0] == "api") {
    if (seg.size() >= 2 && seg[1] == "repos") return "repo-admin";
    if (seg.size() >= 5) {
      const std::string& v = seg[4];
      if (v == "xet-read-token" || v == "xet-write-token") return "xet-token";
      if (v == "tree" || v == "paths-info" || v == "commit" || v == "preupload" || v == "commits" ||
          v == "refs")
        return v;
      return "api";
    }
    return "api";
  }
  for (const auto& s : seg) {
    if (s == "resolve") return "resolve";
    if (s == "raw") return "raw";
    if (s == "batch") return "lfs-batch";
  }
  return "other";
}

std::string HubApi::CasOrigin(const Call& c) const {
  return OriginFor(c.req, s_.cas_port, s_.opts.host);
}
std::string HubApi::DataOrigin(const Call& c) const {
  return OriginFor(c.req, s_.data_port, s_.opts.host);
}
std::string HubApi::RepoUrl(const Call& c, const RepoKey& key) const {
  return c.hub + "/" + std::string(RepoWebPrefix(key.type)) + key.id;
}

bool HubApi::CanAccess(const Call& c, const RepoMeta& meta) const {
  if (!c.user) return false;
  return c.user->name == meta.owner || c.user->name == meta.key.Namespace();
}

std::optional<HubApi::RepoRef> HubApi::OpenRepo(Call& c, RepoType type, const std::string& ns,
                                                const std::string& name, bool write) {
  auto dns = PercentDecode(ns), dname = PercentDecode(name);
  auto not_found = [&] {
    // Existence is never revealed: 401 anonymous, 404 authenticated.
    SendError(c.res, c.user ? 404 : 401, "RepoNotFound",
              c.user ? "Repository not found" : "Invalid username or password.");
  };
  if (!dns || !dname || !ValidRepoPart(*dns) || !ValidRepoPart(*dname)) {
    not_found();
    return std::nullopt;
  }
  RepoKey key{type, *dns + "/" + *dname};
  auto meta = s_.repos->Get(key);
  if (!meta.ok()) {
    if (meta.status().code() == ErrorCode::kNotFound)
      not_found();
    else
      SendStatus(c.res, meta.status());
    return std::nullopt;
  }
  bool access = CanAccess(c, *meta);
  if (meta->is_private && !access) {
    not_found();
    return std::nullopt;
  }
  if (write && !access) {
    if (!c.user)
      SendError(c.res, 401, "RepoNotFound", "Invalid username or password.");
    else
      SendError(c.res, 403, "", "You don't have the rights to write to " + key.id);
    return std::nullopt;
  }
  return RepoRef{key, std::move(*meta)};
}

void HubApi::Handle(const httplib::Request& req, httplib::Response& res) {
  Call c{req, res, std::nullopt, OriginFor(req, s_.hub_port, s_.opts.host)};
  std::string token = BearerToken(req);
  if (!token.empty()) {
    c.user = s_.users.Find(token);
    if (!c.user) {
      SendError(res, 401, "", "Invalid credentials in Authorization header");
      return;
    }
  }
  Dispatch(c);
}

void HubApi::Dispatch(Call& c) {
  auto seg = RawSegments(c.req);
  const std::string& m = c.req.method;
  if (seg.empty() || seg[0].empty()) {
    SendError(c.res, 404, "", "Not found");
    return;
  }
  if (seg[0] == "admin") return HandleAdmin(c, seg);
  if (seg[0] == "lfs-objects" && seg.size() == 5 && m == "PUT") return LfsPut(c, seg);
  if (seg[0] != "api") return DispatchFileRoute(c, seg);
  if (seg.size() < 2) return SendError(c.res, 404, "", "Not found");
  const std::string& area = seg[1];
  if (area == "repos" && seg.size() == 3) {
    if (seg[2] == "create" && m == "POST") return CreateRepo(c);
    if (seg[2] == "delete" && m == "DELETE") return DeleteRepo(c);
  }
  if (area == "validate-yaml" && m == "POST") return ValidateYaml(c);
  if (area == "whoami-v2" && m == "GET") return WhoAmI(c);
  auto type = ParseRepoType(area);
  if (type && area.back() == 's') {
    if (seg.size() == 2 && m == "GET") return ListRepos(c, *type);
    if (seg.size() >= 4) return DispatchRepoApi(c, *type, seg);
  }
  SendError(c.res, 404, "", "Not found");
}

void HubApi::DispatchRepoApi(Call& c, RepoType type, const std::vector<std::string>& seg) {
  const std::string& m = c.req.method;
  std::string verb = seg.size() > 4 ? seg[4] : "";
  bool write = (verb == "commit" || verb == "branch" || verb == "tag" || verb == "settings" ||
                verb == "xet-write-token" || verb == "discussions" || verb == "preupload") &&
               m != "GET";
  if (verb == "xet-write-token") write = true;
  auto r = OpenRepo(c, type, seg[2], seg[3], write);
  if (!r) return;
  auto rest_decoded = [&](size_t from) -> std::optional<std::string> {
    auto v = DecodeJoined(seg, from);
    if (!v) SendError(c.res, 400, "", "Malformed percent-encoding");
    return v;
  };
  if (verb.empty()) {
    if (m == "GET") return RepoInfo(c, *r, "main");
  } else if (verb == "revision" && m == "GET" && seg.size() > 5) {
    if (auto rev = rest_decoded(5)) return RepoInfo(c, *r, *rev);
    return;
  } else if (verb == "refs" && m == "GET" && seg.size() == 5) {
    return ListRefs(c, *r);
  } else if (verb == "commits" && m == "GET") {
    auto rev = seg.size() > 5 ? rest_decoded(5) : std::optional<std::string>("main");
    if (rev) ListCommits(c, *r, *rev);
    return;
  } else if (verb == "tree" && m == "GET" && seg.size() > 5) {
    return Tree(c, *r, std::vector<std::string>(seg.begin() + 5, seg.end()));
  } else if (verb == "paths-info" && m == "POST" && seg.size() > 5) {
    if (auto rev = rest_decoded(5)) PathsInfo(c, *r, *rev);
    return;
  } else if (verb == "preupload" && m == "POST" && seg.size() > 5) {
    if (auto rev = rest_decoded(5)) Preupload(c, *r, *rev);
    return;
  } else if (verb == "commit" && m == "POST" && seg.size() > 5) {
    if (auto rev = rest_decoded(5)) CommitNdjson(c, *r, *rev);
    return;
  } else if ((verb == "branch" || verb == "tag") && seg.size() > 5 &&
             (m == "POST" || m == "DELETE")) {
    if (auto name = rest_decoded(5)) {
      if (verb == "branch")
        Branch(c, *r, *name);
      else
        Tag(c, *r, *name);
    }
    return;
  } else if ((verb == "xet-read-token" || verb == "xet-write-token") && m == "GET") {
    auto rev = seg.size() > 5 ? rest_decoded(5) : std::optional<std::string>("main");
    if (rev) XetToken(c, *r, *rev, verb == "xet-write-token");
    return;
  } else if (verb == "settings" && m == "PUT" && seg.size() == 5) {
    return RepoSettings(c, *r);
  } else if (verb == "discussions" && m == "POST" && seg.size() == 5) {
    return CreateDiscussion(c, *r);
  } else if (verb == "lfs-files" && m == "POST" && seg.size() == 6 && seg[5] == "duplicate") {
    return LfsDuplicate(c, *r);
  } else if (verb == "discussions" && m == "GET" && seg.size() == 6) {
    return DiscussionDetails(c, *r, seg[5]);
  }
  SendError(c.res, 404, "", "Not found");
}

void HubApi::DispatchFileRoute(Call& c, const std::vector<std::string>& seg_in) {
  std::vector<std::string> seg = seg_in;
  RepoType type = RepoType::kModel;
  if (!seg.empty() && (seg[0] == "datasets" || seg[0] == "spaces")) {
    type = *ParseRepoType(seg[0]);
    seg.erase(seg.begin());
  }
  const std::string& m = c.req.method;
  if (seg.size() == 6 && seg[1].size() > 4 && seg[1].substr(seg[1].size() - 4) == ".git" &&
      seg[2] == "info" && seg[3] == "lfs" && seg[4] == "objects" && seg[5] == "batch" &&
      m == "POST") {
    auto r = OpenRepo(c, type, seg[0], seg[1].substr(0, seg[1].size() - 4), true);
    if (r) LfsBatch(c, *r);
    return;
  }
  if (seg.size() >= 5 && (seg[2] == "resolve" || seg[2] == "raw") && (m == "GET" || m == "HEAD")) {
    auto r = OpenRepo(c, type, seg[0], seg[1], false);
    if (r) Resolve(c, *r, std::vector<std::string>(seg.begin() + 3, seg.end()), seg[2] == "raw");
    return;
  }
  SendError(c.res, 404, "", "Not found");
}

void HubApi::HandleAdmin(Call& c, const std::vector<std::string>& seg) {
  const std::string& m = c.req.method;
  if (seg.size() == 2 && seg[1] == "counters") {
    if (m == "GET") return SendJson(c.res, 200, s_.counters.Snapshot());
    if (m == "DELETE" || m == "POST") {
      s_.counters.Reset();
      return SendJson(c.res, 200, json{{"reset", true}});
    }
  }
  if (seg.size() == 3 && seg[1] == "counters" && seg[2] == "reset" && m == "POST") {
    s_.counters.Reset();
    return SendJson(c.res, 200, json{{"reset", true}});
  }
  if (seg.size() == 2 && seg[1] == "commit-budget") {
    if (m == "GET") return SendJson(c.res, 200, json{{"commit_budget", s_.commit_budget.Get().text}});
    if (m == "POST" || m == "PUT") {
      auto parsed = ParseCommitBudget(c.req.body);
      if (!parsed.ok()) return SendError(c.res, 400, "", parsed.status().message());
      std::string text = parsed->text;
      s_.commit_budget.Set(std::move(*parsed));
      return SendJson(c.res, 200, json{{"commit_budget", text}});
    }
  }
  if (seg.size() == 2 && seg[1] == "faults") {
    if (m == "GET") return SendJson(c.res, 200, json{{"faults", s_.faults.Get().text}});
    if (m == "POST" || m == "PUT") {
      std::string spec = c.req.body;
      if (c.req.has_param("spec")) spec = c.req.get_param_value("spec");
      while (!spec.empty() && (spec.back() == '\n' || spec.back() == ' ')) spec.pop_back();
      auto parsed = ParseFaultSpec(spec);
      if (!parsed.ok()) return SendError(c.res, 400, "", parsed.status().message());
      s_.faults.Set(std::move(*parsed));
      return SendJson(c.res, 200, json{{"faults", spec}});
    }
  }
  if (seg.size() == 2 && seg[1] == "hostile") {
    auto text = [](const std::set<std::string>& kinds) {
      std::string out;
      for (const auto& k : kinds) out += (out.empty() ? "" : ",") + k;
      return out;
    };
    if (m == "GET") return SendJson(c.res, 200, json{{"hostile", text(s_.hostile.Get())}});
    if (m == "POST" || m == "PUT") {
      std::string spec = c.req.body;
      while (!spec.empty() && (spec.back() == '\n' || spec.back() == ' ')) spec.pop_back();
      auto parsed = ParseHostileSpec(spec);
      if (!parsed.ok()) return SendError(c.res, 400, "", parsed.status().message());
      s_.hostile.Set(std::move(*parsed));
      return SendJson(c.res, 200, json{{"hostile", text(s_.hostile.Get())}});
    }
  }
  SendError(c.res, 404, "", "Not found");
}

}  // namespace hubfs::hubsim
