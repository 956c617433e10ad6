#include "fs/content/repo_view.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "hub/hub_error.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

using json = nlohmann::json;

// Recursive listings share the listing table with plain ones; a control
// character (never valid in a repo path) keeps their keys apart.
constexpr char kRecursivePrefix[] = "\x01R:";

bool IsUnreachable(const Status& st) {
  return st.http_status() == 0 &&
         (st.code() == ErrorCode::kUnavailable || st.code() == ErrorCode::kTimeout);
}

Status EntryNotFound(std::string msg) {
  return NotFoundError(std::move(msg)).WithHttp(404, "EntryNotFound");
}

}  // namespace

ContentKind KindOf(const hub::TreeEntry& entry) {
  if (entry.xet_hash.has_value()) return ContentKind::kXet;
  if (entry.lfs.has_value()) return ContentKind::kLegacyLfs;
  return ContentKind::kRegular;
}

std::vector<uint8_t> EncodeListing(const std::vector<hub::TreeEntry>& entries) {
  json arr = json::array();
  for (const hub::TreeEntry& e : entries) {
    json j = {{"t", e.type == hub::TreeEntry::Type::kDirectory ? "d" : "f"},
              {"p", e.path},
              {"o", e.oid},
              {"s", e.size}};
    if (e.lfs.has_value()) j["l"] = {e.lfs->sha256, e.lfs->size, e.lfs->pointer_size};
    if (e.xet_hash.has_value()) j["x"] = *e.xet_hash;
    arr.push_back(std::move(j));
  }
  const std::string s = arr.dump();
  return std::vector<uint8_t>(s.begin(), s.end());
}

Result<std::vector<hub::TreeEntry>> DecodeListing(std::span<const uint8_t> payload) {
  json arr = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (arr.is_discarded() || !arr.is_array()) return CorruptError("cached listing: not an array");
  std::vector<hub::TreeEntry> out;
  out.reserve(arr.size());
  for (const json& j : arr) {
    if (!j.is_object() || !j.contains("t") || !j["t"].is_string() || !j.contains("p") ||
        !j["p"].is_string() || !j.contains("o") || !j["o"].is_string() || !j.contains("s") ||
        !j["s"].is_number_unsigned()) {
      return CorruptError("cached listing: bad entry");
    }
    hub::TreeEntry e;
    e.type = j["t"] == "d" ? hub::TreeEntry::Type::kDirectory : hub::TreeEntry::Type::kFile;
    e.path = j["p"].get<std::string>();
    e.oid = j["o"].get<std::string>();
    e.size = j["s"].get<uint64_t>();
    if (!hub::ValidateRepoPath(e.path).ok()) return CorruptError("cached listing: bad path");
    if (j.contains("l")) {
      const json& l = j["l"];
      if (!l.is_array() || l.size() != 3 || !l[0].is_string() || !l[1].is_number_unsigned() ||
          !l[2].is_number_unsigned()) {
        return CorruptError("cached listing: bad lfs field");
      }
      e.lfs = hub::LfsInfo{l[0].get<std::string>(), l[1].get<uint64_t>(), l[2].get<uint64_t>()};
    }
    if (j.contains("x")) {
      if (!j["x"].is_string() || !hub::IsHex64(j["x"].get<std::string>())) {
        return CorruptError("cached listing: bad xet hash");
      }
      e.xet_hash = j["x"].get<std::string>();
    }
    out.push_back(std::move(e));
  }
  return out;
}

RepoView::RepoView(hub::HubClient* hub, hub::HttpTransport* transport, hub::TokenProvider* tokens,
                   chunkstore::ChunkCache* cache, const RevisionStore* revisions,
                   RepoViewOptions options)
    : hub_(hub),
      transport_(transport),
      tokens_(tokens),
      cache_(cache),
      revisions_(revisions),
      options_(options),
      offline_(options.offline),
      regular_(hub, transport, tokens, cache, options.max_small_file_bytes,
               RegularFileHooks{
                   [this](std::string_view what) {
                     return offline() ? OfflineError(what) : Status::Ok();
                   },
                   [this](const Status& st) { NoteFailure(st); }}) {}

Status RepoView::OfflineError(std::string_view what) const {
  const std::string why = options_.offline ? "offline mode (HF_HUB_OFFLINE)"
                                           : hub_->endpoint() + " is unreachable";
  return UnavailableError(std::string(what) + ": " + why + " and it is not in the cache");
}

void RepoView::NoteFailure(const Status& st) {
  if (IsUnreachable(st) && !offline_.exchange(true)) {
    unreachable_ = true;
    HUBFS_LOG(kWarning) << hub_->endpoint() << " is unreachable; serving cached data only";
  }
}

Result<ResolvedRevision> RepoView::Resolve(const hub::RepoId& repo,
                                           const std::optional<std::string>& revision) {
  ResolvedRevision out;
  out.revision = revision.value_or("main");
  if (hub::IsCommitSha(out.revision)) {
    out.commit = out.revision;
    return out;
  }
  const std::string what = "resolve " + repo.ToString() + "@" + out.revision;
  if (!offline()) {
    Result<std::string> sha = hub_->ResolveRevision(repo, out.revision);
    if (sha.ok()) {
      out.commit = *sha;
      if (revisions_ != nullptr) {
        Status saved = revisions_->Save(repo, out.revision, out.commit);
        if (!saved.ok()) {
          HUBFS_LOG(kWarning) << what << ": not recorded: " << saved;
        }
      }
      return out;
    }
    if (!IsUnreachable(sha.status())) return sha.status();
    NoteFailure(sha.status());
  }
  std::optional<std::string> last =
      revisions_ != nullptr ? revisions_->Load(repo, out.revision) : std::nullopt;
  if (!last.has_value()) return OfflineError(what);
  out.commit = *last;
  out.possibly_stale = true;
  return out;
}

Result<std::vector<hub::TreeEntry>> RepoView::List(const hub::RepoId& repo,
                                                   std::string_view commit, std::string_view dir,
                                                   bool recursive) {
  const std::string key_dir = recursive ? kRecursivePrefix + std::string(dir) : std::string(dir);
  const std::string what = "list " + repo.ToString() + "@" + std::string(commit) + "/" +
                           std::string(dir);
  if (cache_ != nullptr) {
    auto cached = cache_->GetListing(commit, key_dir);
    if (cached.ok() && cached->has_value()) {
      auto entries = DecodeListing(**cached);
      if (entries.ok()) return entries;
      HUBFS_LOG(kWarning) << what << ": ignoring cached listing: " << entries.status();
    }
  }
  if (offline()) return OfflineError(what);
  hub::TreeOptions topts;
  topts.recursive = recursive;
  Result<std::vector<hub::TreeEntry>> entries = hub_->ListTree(repo, commit, dir, topts);
  if (!entries.ok()) {
    NoteFailure(entries.status());
    return entries.status();
  }
  std::sort(entries->begin(), entries->end(),
            [](const hub::TreeEntry& a, const hub::TreeEntry& b) { return a.path < b.path; });
  if (cache_ != nullptr && hub::IsCommitSha(commit)) {
    cache_->PutListing(commit, key_dir, EncodeListing(*entries));
  }
  return entries;
}

Result<hub::TreeEntry> RepoView::Stat(const hub::RepoId& repo, std::string_view commit,
                                      std::string_view path) {
  if (path.empty()) {
    hub::TreeEntry root;
    root.type = hub::TreeEntry::Type::kDirectory;
    return root;
  }
  const size_t slash = path.rfind('/');
  const std::string_view parent = slash == std::string_view::npos ? "" : path.substr(0, slash);
  Result<std::vector<hub::TreeEntry>> entries = List(repo, commit, parent, false);
  if (!entries.ok()) {
    if (entries.status().code() == ErrorCode::kNotFound &&
        hub::HubErrorOf(entries.status()) == hub::HubError::kEntryNotFound) {
      return EntryNotFound("no such file or directory: " + std::string(path));
    }
    return entries.status();
  }
  for (hub::TreeEntry& e : *entries) {
    if (e.path == path) return std::move(e);
  }
  return EntryNotFound("no such file or directory: " + std::string(path));
}

// GET {ep}/{P}{repo}/resolve/{commit}/{path} with Range: bytes=first-last.
Result<size_t> RepoView::ReadRegular(const hub::RepoId& repo, std::string_view commit,
                                     const hub::TreeEntry& entry, uint64_t offset,
                                     std::span<uint8_t> out) {
  return regular_.Read(RegularFile{repo, std::string(commit), entry.path, entry.oid, entry.size,
                                   entry.lfs.has_value()},
                       offset, out);
}

CasTokenSource RepoView::CasTokens(const hub::RepoId& repo, std::string commit) {
  return [this, repo, commit = std::move(commit)](bool force) -> Result<hub::XetToken> {
    if (offline()) return OfflineError("CAS token for " + repo.ToString());
    Result<hub::XetToken> token = hub_->XetReadToken(repo, commit, force);
    if (!token.ok()) NoteFailure(token.status());
    return token;
  };
}

}  // namespace hubfs::fs
