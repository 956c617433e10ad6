#include "fs/content/repo_source_hub.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "fs/content/tensor_layout.h"
#include "hub/url.h"

namespace hubfs::fs {

std::optional<int64_t> ParseIsoTime(std::string_view s) {
  if (s.size() < 19 || s.size() > 40) return std::nullopt;
  std::string str(s);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char t = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &t, &h, &mi, &sec) != 7 ||
      (t != 'T' && t != ' ') || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
      mi > 59 || sec > 60) {
    return std::nullopt;
  }
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

PerRepoXetCas::PerRepoXetCas(hub::HttpTransport* transport, TokenFor tokens, size_t max_repos,
                             size_t max_files)
    : transport_(transport),
      tokens_(std::move(tokens)),
      data_(transport,
            [](bool) -> Result<hub::XetToken> {
              return InternalError("data fetches need no CAS token");
            }),
      files_(std::max<size_t>(1, max_files)),
      repos_(std::max<size_t>(1, max_repos)) {}

void PerRepoXetCas::NoteFile(const std::string& xet_hash, const hub::RepoId& repo,
                             const std::string& commit) {
  MutexLock lock(&mu_);
  if (auto* known = files_.Get(xet_hash); known != nullptr && known->repo == repo) return;
  files_.Put(xet_hash, Origin{repo, commit});
}

Result<chunkstore::Reconstruction> PerRepoXetCas::GetReconstruction(
    const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) {
  std::shared_ptr<HttpXetCas> cas;
  {
    MutexLock lock(&mu_);
    auto* origin = files_.Get(file_hash.ToString());
    if (origin == nullptr) {
      return NotFoundError("reconstruction of " + file_hash.ToString() + ": no repo known");
    }
    const std::string key = origin->repo.ToString();
    if (auto* hit = repos_.Get(key)) {
      cas = *hit;
    } else {
      Origin o = *origin;
      cas = std::make_shared<HttpXetCas>(transport_, [tokens = tokens_, o](bool force) {
        return tokens(o.repo, o.commit, force);
      });
      repos_.Put(key, cas);
    }
  }
  return cas->GetReconstruction(file_hash, range);
}

Result<std::vector<uint8_t>> PerRepoXetCas::FetchData(
    const std::string& url, const chunkstore::ByteRangeInclusive& range) {
  return data_.FetchData(url, range);
}

Status PerRepoXetCas::FetchDataInto(const std::string& url,
                                    const chunkstore::ByteRangeInclusive& range,
                                    std::vector<uint8_t>* out) {
  return data_.FetchDataInto(url, range, out);
}

HubRepoSource::HubRepoSource(hub::HubClient* client, hub::HttpTransport* transport,
                             hub::TokenProvider* tokens, XetReader* xet)
    : client_(client),
      xet_(xet),
      regular_(client, transport, tokens, /*cache=*/nullptr, kSmallFileBytes) {}

Result<RevisionInfo> HubRepoSource::ResolveRevision(const hub::RepoId& repo,
                                                    std::string_view revision) {
  HUBFS_ASSIGN_OR_RETURN(hub::RevisionMeta meta, client_->ResolveRevisionMeta(repo, revision));
  RevisionInfo info;
  info.commit = std::move(meta.sha);
  info.commit_time = ParseIsoTime(meta.last_modified).value_or(0);
  return info;
}

Result<std::vector<hub::TreeEntry>> HubRepoSource::ListDir(const hub::RepoId& repo,
                                                           std::string_view commit,
                                                           std::string_view dir) {
  return client_->ListTree(repo, commit, dir, hub::TreeOptions{});
}

Result<std::vector<hub::TreeEntry>> HubRepoSource::ListRecursive(const hub::RepoId& repo,
                                                                 std::string_view commit,
                                                                 std::string_view dir) {
  hub::TreeOptions options;
  options.recursive = true;
  return client_->ListTree(repo, commit, dir, options);
}

Result<size_t> HubRepoSource::Read(const FileContent& file, uint64_t offset,
                                   std::span<uint8_t> out) {
  if (offset >= file.size || out.empty()) return size_t{0};
  size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset));
  if (file.xet_hash) {
    if (xet_ == nullptr) return UnimplementedError("read " + file.path + ": no Xet reader");
    HUBFS_ASSIGN_OR_RETURN(XetFileRef ref, XetRefOf(file));
    return xet_->Read(ref, offset, out.first(want));
  }
  return regular_.Read(
      RegularFile{file.repo, file.commit, file.path, file.oid, file.size, file.sha256.has_value()},
      offset, out.first(want));
}

Result<size_t> HubRepoSource::ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                                       HeldBytes* out, bool pages_kept) {
  if (!file.xet_hash || xet_ == nullptr) {
    return RepoSource::ReadHeld(file, offset, len, out, pages_kept);
  }
  if (offset >= file.size || len == 0) return size_t{0};
  HUBFS_ASSIGN_OR_RETURN(XetFileRef ref, XetRefOf(file));
  return xet_->ReadHeld(ref, offset, len, out, pages_kept);
}

Result<XetFileRef> HubRepoSource::XetRefOf(const FileContent& file) {
  HUBFS_ASSIGN_OR_RETURN(chunkstore::Hash hash, chunkstore::Hash::Parse(*file.xet_hash));
  if (routing_ != nullptr) routing_->NoteFile(hash.ToString(), file.repo, file.commit);
  return XetFileRef{hash, file.size, std::nullopt, IsTensorFileName(file.path)};
}

XetReader* HubRepoSource::XetHintTarget(const FileContent& file, XetFileRef* ref) {
  if (xet_ == nullptr || !file.xet_hash) return nullptr;
  Result<XetFileRef> r = XetRefOf(file);
  if (!r.ok()) return nullptr;
  *ref = *r;
  return xet_;
}

void HubRepoSource::Speculate(const FileContent& file, uint64_t bytes, uint64_t group) {
  XetFileRef ref;
  if (XetReader* xet = XetHintTarget(file, &ref)) xet->Speculate(ref, bytes, group);
}

void HubRepoSource::CancelSpeculation(uint64_t group) {
  if (xet_ != nullptr) xet_->CancelSpeculation(group);
}

void HubRepoSource::Opened(const FileContent& file) {
  XetFileRef ref;
  if (XetReader* xet = XetHintTarget(file, &ref)) xet->Opened(ref);
}

void HubRepoSource::Closed(const FileContent& file) {
  XetFileRef ref;
  if (XetReader* xet = XetHintTarget(file, &ref)) xet->Closed(ref);
}

Result<hub::Refs> HubRepoSource::ListRefs(const hub::RepoId& repo) {
  return client_->ListRefs(repo, /*include_prs=*/true);
}

Result<std::vector<hub::RepoSummary>> HubRepoSource::ListRepos(hub::RepoType type,
                                                               std::string_view author) {
  return client_->ListRepos(type, author);
}

}  // namespace hubfs::fs
