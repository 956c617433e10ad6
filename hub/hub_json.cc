#include "hub/hub_json.h"

#include <nlohmann/json.hpp>

#include "hub/repo_id.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxStringField = 4096;

Result<Json> Parse(std::string_view body, std::string_view what) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return CorruptError(std::string(what) + ": response is not valid JSON");
  return j;
}

// Optional string field: nullopt when absent or null; error when mistyped.
Result<std::optional<std::string>> OptString(const Json& obj, const char* key,
                                             std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return CorruptError(std::string(what) + ": field '" + key + "' is not a string");
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxStringField) {
    return CorruptError(std::string(what) + ": field '" + key + "' is too long");
  }
  return std::optional<std::string>(s);
}

Result<std::string> ReqString(const Json& obj, const char* key, std::string_view what) {
  HUBFS_ASSIGN_OR_RETURN(std::optional<std::string> v, OptString(obj, key, what));
  if (!v) return CorruptError(std::string(what) + ": field '" + key + "' is missing");
  return std::move(*v);
}

Result<std::optional<uint64_t>> OptUint(const Json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<uint64_t>();
  if (it->is_number_unsigned()) return std::optional<uint64_t>(it->get<uint64_t>());
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return std::optional<uint64_t>(static_cast<uint64_t>(it->get<int64_t>()));
  }
  return CorruptError(std::string(what) + ": field '" + key + "' is not a non-negative integer");
}

Result<uint64_t> ReqUint(const Json& obj, const char* key, std::string_view what) {
  HUBFS_ASSIGN_OR_RETURN(std::optional<uint64_t> v, OptUint(obj, key, what));
  if (!v) return CorruptError(std::string(what) + ": field '" + key + "' is missing");
  return *v;
}

Result<std::optional<TreeEntry>> ParseEntry(const Json& e) {
  if (!e.is_object()) return CorruptError("tree entry is not an object");
  TreeEntry out;
  HUBFS_ASSIGN_OR_RETURN(std::string type, ReqString(e, "type", "tree entry"));
  if (type == "file") {
    out.type = TreeEntry::Type::kFile;
  } else if (type == "directory") {
    out.type = TreeEntry::Type::kDirectory;
  } else {
    return std::optional<TreeEntry>();  // "unknown" and future types: skipped
  }
  HUBFS_ASSIGN_OR_RETURN(out.path, ReqString(e, "path", "tree entry"));
  std::string what = "tree entry '" + out.path.substr(0, 200) + "'";
  if (Status st = ValidateRepoPath(out.path); !st.ok()) {
    return CorruptError("tree entry has an unsafe path: " + st.message());
  }
  HUBFS_ASSIGN_OR_RETURN(out.oid, ReqString(e, "oid", what));
  if (out.type == TreeEntry::Type::kFile) {
    HUBFS_ASSIGN_OR_RETURN(out.size, ReqUint(e, "size", what));
  } else {
    HUBFS_ASSIGN_OR_RETURN(std::optional<uint64_t> size, OptUint(e, "size", what));
    out.size = size.value_or(0);
  }
  if (auto it = e.find("lfs"); it != e.end() && !it->is_null()) {
    if (!it->is_object()) return CorruptError(what + ": 'lfs' is not an object");
    LfsInfo lfs;
    HUBFS_ASSIGN_OR_RETURN(lfs.sha256, ReqString(*it, "oid", what + " lfs"));
    if (!IsHex64(lfs.sha256)) return CorruptError(what + ": lfs oid is not 64 hex");
    HUBFS_ASSIGN_OR_RETURN(lfs.size, ReqUint(*it, "size", what + " lfs"));
    HUBFS_ASSIGN_OR_RETURN(std::optional<uint64_t> ps, OptUint(*it, "pointerSize", what));
    lfs.pointer_size = ps.value_or(0);
    out.lfs = std::move(lfs);
  }
  HUBFS_ASSIGN_OR_RETURN(out.xet_hash, OptString(e, "xetHash", what));
  if (out.xet_hash && !IsHex64(*out.xet_hash)) {
    return CorruptError(what + ": xetHash is not 64 lowercase hex");
  }
  if (auto it = e.find("lastCommit"); it != e.end() && !it->is_null()) {
    if (!it->is_object()) return CorruptError(what + ": 'lastCommit' is not an object");
    LastCommit lc;
    HUBFS_ASSIGN_OR_RETURN(lc.id, ReqString(*it, "id", what + " lastCommit"));
    HUBFS_ASSIGN_OR_RETURN(auto title, OptString(*it, "title", what));
    HUBFS_ASSIGN_OR_RETURN(auto date, OptString(*it, "date", what));
    lc.title = title.value_or("");
    lc.date = date.value_or("");
    out.last_commit = std::move(lc);
  }
  return std::optional<TreeEntry>(std::move(out));
}

template <typename Fn>
auto Guard(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return CorruptError(std::string("malformed JSON value: ") + e.what());
  }
}

Result<std::vector<GitRef>> ParseRefList(const Json& j, const char* key, bool required) {
  std::vector<GitRef> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return CorruptError(std::string("refs: '") + key + "' is missing");
    return out;
  }
  if (!it->is_array()) return CorruptError(std::string("refs: '") + key + "' is not an array");
  if (it->size() > 100000) return ResourceExhaustedError("refs: too many refs");
  for (const Json& r : *it) {
    if (!r.is_object()) return CorruptError("refs: entry is not an object");
    GitRef ref;
    HUBFS_ASSIGN_OR_RETURN(ref.name, ReqString(r, "name", "ref"));
    HUBFS_ASSIGN_OR_RETURN(ref.ref, ReqString(r, "ref", "ref"));
    HUBFS_ASSIGN_OR_RETURN(ref.target_commit, ReqString(r, "targetCommit", "ref"));
    if (!IsCommitSha(ref.target_commit)) {
      return CorruptError("ref '" + ref.ref + "': targetCommit is not a 40-hex sha");
    }
    out.push_back(std::move(ref));
  }
  return out;
}

}  // namespace

Result<std::vector<TreeEntry>> ParseTreeEntries(std::string_view body, size_t max_entries) {
  return Guard([&]() -> Result<std::vector<TreeEntry>> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "tree listing"));
    if (!j.is_array()) return CorruptError("tree listing: response is not a JSON array");
    if (j.size() > max_entries) {
      return ResourceExhaustedError("tree listing: more than " + std::to_string(max_entries) +
                                    " entries");
    }
    std::vector<TreeEntry> out;
    out.reserve(j.size());
    for (const Json& e : j) {
      HUBFS_ASSIGN_OR_RETURN(std::optional<TreeEntry> entry, ParseEntry(e));
      if (entry) out.push_back(std::move(*entry));
    }
    return out;
  });
}

Result<RevisionMeta> ParseRevision(std::string_view body) {
  return Guard([&]() -> Result<RevisionMeta> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "repo info"));
    if (!j.is_object()) return CorruptError("repo info: response is not a JSON object");
    RevisionMeta meta;
    HUBFS_ASSIGN_OR_RETURN(meta.sha, ReqString(j, "sha", "repo info"));
    if (!IsCommitSha(meta.sha)) return CorruptError("repo info: 'sha' is not a 40-hex commit id");
    // Optional and informational: anything but a string is ignored.
    auto it = j.find("lastModified");
    if (it != j.end() && it->is_string()) meta.last_modified = it->get<std::string>();
    return meta;
  });
}

Result<bool> ParseRepoPrivate(std::string_view body) {
  return Guard([&]() -> Result<bool> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "repo info"));
    if (!j.is_object()) return CorruptError("repo info: response is not a JSON object");
    auto it = j.find("private");
    if (it == j.end() || !it->is_boolean()) {
      return CorruptError("repo info: no boolean 'private' flag");
    }
    return it->get<bool>();
  });
}

Result<Refs> ParseRefs(std::string_view body) {
  return Guard([&]() -> Result<Refs> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "refs"));
    if (!j.is_object()) return CorruptError("refs: response is not a JSON object");
    Refs refs;
    HUBFS_ASSIGN_OR_RETURN(refs.branches, ParseRefList(j, "branches", true));
    HUBFS_ASSIGN_OR_RETURN(refs.tags, ParseRefList(j, "tags", false));
    HUBFS_ASSIGN_OR_RETURN(refs.converts, ParseRefList(j, "converts", false));
    HUBFS_ASSIGN_OR_RETURN(refs.pull_requests, ParseRefList(j, "pullRequests", false));
    return refs;
  });
}

Result<XetToken> ParseXetToken(std::string_view body) {
  return Guard([&]() -> Result<XetToken> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "xet token"));
    if (!j.is_object()) return CorruptError("xet token: response is not a JSON object");
    XetToken t;
    HUBFS_ASSIGN_OR_RETURN(t.access_token, ReqString(j, "accessToken", "xet token"));
    HUBFS_ASSIGN_OR_RETURN(t.cas_url, ReqString(j, "casUrl", "xet token"));
    auto exp = j.find("exp");
    if (exp == j.end() || !exp->is_number_integer()) {
      return CorruptError("xet token: 'exp' is missing or not an integer");
    }
    t.exp = exp->get<int64_t>();
    if (t.access_token.empty() || t.access_token.find_first_of("\r\n \t") != std::string::npos) {
      return CorruptError("xet token: malformed accessToken");
    }
    while (!t.cas_url.empty() && t.cas_url.back() == '/') t.cas_url.pop_back();
    if (!ParseUrl(t.cas_url).ok()) return CorruptError("xet token: casUrl is not an http(s) URL");
    return t;
  });
}

Result<std::vector<RepoSummary>> ParseRepoList(std::string_view body, size_t max_entries) {
  return Guard([&]() -> Result<std::vector<RepoSummary>> {
    HUBFS_ASSIGN_OR_RETURN(Json j, Parse(body, "repo listing"));
    if (!j.is_array()) return CorruptError("repo listing: response is not a JSON array");
    if (j.size() > max_entries) return ResourceExhaustedError("repo listing: too many repos");
    std::vector<RepoSummary> out;
    for (const Json& r : j) {
      if (!r.is_object()) return CorruptError("repo listing: entry is not an object");
      RepoSummary s;
      HUBFS_ASSIGN_OR_RETURN(s.id, ReqString(r, "id", "repo listing"));
      if (!ParseRepoId(RepoType::kModel, s.id).ok()) {
        return CorruptError("repo listing: invalid repo id '" + s.id.substr(0, 200) + "'");
      }
      if (auto p = r.find("private"); p != r.end() && p->is_boolean())
        s.is_private = p->get<bool>();
      HUBFS_ASSIGN_OR_RETURN(auto lm, OptString(r, "lastModified", "repo listing"));
      s.last_modified = lm.value_or("");
      HUBFS_ASSIGN_OR_RETURN(s.sha, OptString(r, "sha", "repo listing"));
      if (s.sha && !IsCommitSha(*s.sha)) s.sha.reset();
      out.push_back(std::move(s));
    }
    return out;
  });
}

}  // namespace hubfs::hub
