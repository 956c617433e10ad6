#include "fs/content/repo_view.h"

#include <algorithm>
#include <utility>

#include "hub/hub_error.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

Status EntryNotFound(std::string msg) {
  return NotFoundError(std::move(msg)).WithHttp(404, "EntryNotFound");
}

}  // namespace

ContentKind KindOf(const hub::TreeEntry& entry) {
  if (entry.xet_hash.has_value()) return ContentKind::kXet;
  if (entry.lfs.has_value()) return ContentKind::kLegacyLfs;
  return ContentKind::kRegular;
}

RepoView::RepoView(RepoSource* source, OfflineRepoSource* policy, hub::HubClient* hub)
    : source_(source), policy_(policy), hub_(hub) {}

Result<ResolvedRevision> RepoView::Resolve(const hub::RepoId& repo,
                                           const std::optional<std::string>& revision) {
  ResolvedRevision out;
  out.revision = revision.value_or("main");
  if (hub::IsCommitSha(out.revision)) {
    out.commit = out.revision;
    return out;
  }
  HUBFS_ASSIGN_OR_RETURN(RevisionInfo info, source_->ResolveRevision(repo, out.revision));
  out.commit = std::move(info.commit);
  out.possibly_stale = info.possibly_stale;
  return out;
}

Result<std::vector<hub::TreeEntry>> RepoView::List(const hub::RepoId& repo,
                                                   std::string_view commit, std::string_view dir,
                                                   bool recursive) {
  Result<std::vector<hub::TreeEntry>> entries = recursive
                                                    ? source_->ListRecursive(repo, commit, dir)
                                                    : source_->ListDir(repo, commit, dir);
  if (!entries.ok()) return entries;
  // The stack's cache sorts what it stores; a source without one may not.
  std::sort(entries->begin(), entries->end(),
            [](const hub::TreeEntry& a, const hub::TreeEntry& b) { return a.path < b.path; });
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

Result<size_t> RepoView::ReadRegular(const hub::RepoId& repo, std::string_view commit,
                                     const hub::TreeEntry& entry, uint64_t offset,
                                     std::span<uint8_t> out) {
  FileContent file{repo, std::string(commit), entry.path, entry.oid, entry.size,
                   std::nullopt, std::nullopt};
  if (entry.lfs.has_value()) file.sha256 = entry.lfs->sha256;  // not the blob named by oid
  return source_->Read(file, offset, out);
}

CasTokenSource RepoView::CasTokens(const hub::RepoId& repo, std::string commit) {
  return [this, repo, commit = std::move(commit)](bool force) -> Result<hub::XetToken> {
    HUBFS_RETURN_IF_ERROR(policy_->CheckOnline("CAS token for " + repo.ToString()));
    Result<hub::XetToken> token = hub_->XetReadToken(repo, commit, force);
    if (!token.ok()) policy_->NoteFailure(token.status());
    return token;
  };
}

}  // namespace hubfs::fs
