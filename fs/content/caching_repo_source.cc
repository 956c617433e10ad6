#include "fs/content/caching_repo_source.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

using json = nlohmann::json;

// Recursive listings share the listing table with plain ones; a control
// character (never valid in a repo path) keeps their keys apart.
constexpr char kRecursivePrefix[] = "\x01R:";

void SortByPath(std::vector<hub::TreeEntry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const hub::TreeEntry& a, const hub::TreeEntry& b) { return a.path < b.path; });
}

}  // namespace

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

CachingRepoSource::CachingRepoSource(RepoSource* inner, chunkstore::ChunkCache* cache,
                                     CachingOptions options)
    : inner_(inner), cache_(cache), options_(options) {}

Result<RevisionInfo> CachingRepoSource::ResolveRevision(const hub::RepoId& repo,
                                                        std::string_view revision) {
  return inner_->ResolveRevision(repo, revision);
}

Result<std::vector<hub::TreeEntry>> CachingRepoSource::ListDir(const hub::RepoId& repo,
                                                               std::string_view commit,
                                                               std::string_view dir) {
  return Cached(repo, commit, dir, /*recursive=*/false);
}

Result<std::vector<hub::TreeEntry>> CachingRepoSource::ListRecursive(const hub::RepoId& repo,
                                                                     std::string_view commit,
                                                                     std::string_view dir) {
  return Cached(repo, commit, dir, /*recursive=*/true);
}

Result<std::vector<hub::TreeEntry>> CachingRepoSource::Cached(const hub::RepoId& repo,
                                                              std::string_view commit,
                                                              std::string_view dir,
                                                              bool recursive) {
  const std::string key = recursive ? kRecursivePrefix + std::string(dir) : std::string(dir);
  // A branch name is not a key: its tree moves.
  const bool cacheable = cache_ != nullptr && hub::IsCommitSha(commit);
  if (cacheable) {
    auto cached = cache_->GetListing(commit, key);
    if (cached.ok() && cached->has_value()) {
      auto entries = DecodeListing(**cached);
      if (entries.ok()) return entries;
      HUBFS_LOG(kWarning) << "list " << repo.ToString() << "@" << commit << "/" << dir
                          << ": ignoring cached listing: " << entries.status();
    }
  }
  Result<std::vector<hub::TreeEntry>> entries = recursive
                                                    ? inner_->ListRecursive(repo, commit, dir)
                                                    : inner_->ListDir(repo, commit, dir);
  if (!entries.ok()) return entries;
  SortByPath(&*entries);
  if (cacheable) cache_->PutListing(commit, key, EncodeListing(*entries));
  return entries;
}

Result<size_t> CachingRepoSource::Read(const FileContent& file, uint64_t offset,
                                       std::span<uint8_t> out) {
  const bool small = !file.xet_hash.has_value() && !file.oid.empty() &&
                     file.size <= options_.max_small_file_bytes;
  if (cache_ == nullptr || !small) return inner_->Read(file, offset, out);
  if (offset >= file.size || out.empty()) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset));
  Bytes whole;
  auto cached = cache_->GetSmallFile(file.oid);
  if (cached.ok() && cached->has_value() && (*cached)->size() == file.size) {
    whole = std::make_shared<const std::vector<uint8_t>>(std::move(**cached));
  } else {
    // Keyed by the file, not the oid alone: a failure (a repo this token
    // cannot read) is no answer for another file with the same content.
    const std::string key =
        file.repo.ToString() + "@" + file.commit + "/" + file.path + "#" + file.oid;
    HUBFS_ASSIGN_OR_RETURN(whole,
                           whole_reads_.Do(key, [&] { return WholeFile(file); }, nullptr));
  }
  std::copy_n(whole->data() + offset, n, out.data());
  return n;
}

Result<size_t> CachingRepoSource::ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                                           HeldBytes* out, bool pages_kept) {
  // Xet files and large ones pass through (see Read); small ones are copied
  // out of their cached whole.
  if (cache_ == nullptr || file.xet_hash.has_value() || file.oid.empty() ||
      file.size > options_.max_small_file_bytes) {
    return inner_->ReadHeld(file, offset, len, out, pages_kept);
  }
  return RepoSource::ReadHeld(file, offset, len, out, pages_kept);
}

// The inner source checks a whole small file against its git blob id (see
// kSmallFileBytes), so what is cached here is what the tree names. Cached
// before the shared read ends, so a reader arriving after it finds it.
Result<CachingRepoSource::Bytes> CachingRepoSource::WholeFile(const FileContent& file) {
  std::vector<uint8_t> whole(static_cast<size_t>(file.size));
  for (size_t done = 0; done < whole.size();) {
    HUBFS_ASSIGN_OR_RETURN(size_t n,
                           inner_->Read(file, done, std::span<uint8_t>(whole).subspan(done)));
    if (n == 0) {
      return CorruptError("read " + file.repo.ToString() + "@" + file.commit + "/" + file.path +
                          ": ended at " + std::to_string(done) + " of " +
                          std::to_string(file.size) + " bytes");
    }
    done += n;
  }
  cache_->PutSmallFile(file.oid, whole);
  return std::make_shared<const std::vector<uint8_t>>(std::move(whole));
}

Result<hub::Refs> CachingRepoSource::ListRefs(const hub::RepoId& repo) {
  return inner_->ListRefs(repo);
}

Result<std::vector<hub::RepoSummary>> CachingRepoSource::ListRepos(hub::RepoType type,
                                                                   std::string_view author) {
  return inner_->ListRepos(type, author);
}

}  // namespace hubfs::fs
