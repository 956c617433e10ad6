#include "fs/content/offline_repo_source.h"

#include <optional>
#include <utility>

#include "common/log.h"
#include "hub/url.h"

namespace hubfs::fs {

bool IsUnreachable(const Status& st) {
  return st.http_status() == 0 &&
         (st.code() == ErrorCode::kUnavailable || st.code() == ErrorCode::kTimeout);
}

OfflineRepoSource::OfflineRepoSource(RepoSource* inner, OfflineOptions options)
    : inner_(inner), options_(std::move(options)), offline_(options_.offline) {}

Status OfflineRepoSource::OfflineError(std::string_view what) const {
  const std::string why = options_.offline ? "offline mode (HF_HUB_OFFLINE)"
                                           : options_.endpoint + " is unreachable";
  return UnavailableError(std::string(what) + ": " + why + " and it is not in the cache");
}

Status OfflineRepoSource::CheckOnline(std::string_view what) const {
  return offline() ? OfflineError(what) : Status::Ok();
}

void OfflineRepoSource::NoteFailure(const Status& st) {
  if (!options_.fail_fast || !IsUnreachable(st)) return;
  if (!offline_.exchange(true)) {
    HUBFS_LOG(kWarning) << options_.endpoint << " is unreachable; serving cached data only";
  }
}

template <typename T, typename Call>
Result<T> OfflineRepoSource::Guarded(std::string_view what, Call&& call) {
  if (offline()) return OfflineError(what);
  Result<T> r = call();
  if (!r.ok()) NoteFailure(r.status());
  return r;
}

Result<RevisionInfo> OfflineRepoSource::ResolveRevision(const hub::RepoId& repo,
                                                        std::string_view revision) {
  // A sha is not recorded: it never moves (RepoView answers one without
  // asking anybody).
  const bool sha = hub::IsCommitSha(revision);
  const std::string what = "resolve " + repo.ToString() + "@" + std::string(revision);
  if (!offline()) {
    Result<RevisionInfo> r = inner_->ResolveRevision(repo, revision);
    if (r.ok()) {
      if (options_.revisions != nullptr && !sha) {
        Status saved = options_.revisions->Save(repo, revision, r->commit);
        if (!saved.ok()) {
          HUBFS_LOG(kWarning) << what << ": not recorded: " << saved;
        }
      }
      return r;
    }
    NoteFailure(r.status());
    // Without a record to fall back to, the failure itself says most.
    if (!IsUnreachable(r.status()) || options_.revisions == nullptr) return r.status();
  }
  RevisionInfo info;
  std::optional<std::string> last =
      options_.revisions != nullptr ? options_.revisions->Load(repo, revision) : std::nullopt;
  if (!last.has_value()) return OfflineError(what);
  info.commit = std::move(*last);
  info.possibly_stale = true;
  return info;
}

Result<std::vector<hub::TreeEntry>> OfflineRepoSource::ListDir(const hub::RepoId& repo,
                                                               std::string_view commit,
                                                               std::string_view dir) {
  return Guarded<std::vector<hub::TreeEntry>>(
      "list " + repo.ToString() + "@" + std::string(commit) + "/" + std::string(dir),
      [&] { return inner_->ListDir(repo, commit, dir); });
}

Result<std::vector<hub::TreeEntry>> OfflineRepoSource::ListRecursive(const hub::RepoId& repo,
                                                                     std::string_view commit,
                                                                     std::string_view dir) {
  return Guarded<std::vector<hub::TreeEntry>>(
      "list " + repo.ToString() + "@" + std::string(commit) + "/" + std::string(dir),
      [&] { return inner_->ListRecursive(repo, commit, dir); });
}

Result<size_t> OfflineRepoSource::Read(const FileContent& file, uint64_t offset,
                                       std::span<uint8_t> out) {
  // A Xet read may be served whole by the chunk cache; its requests ask the
  // CAS token source, which is where offline mode stops them.
  if (file.xet_hash.has_value()) return inner_->Read(file, offset, out);
  return Guarded<size_t>(
      "read " + file.repo.ToString() + "@" + file.commit + "/" + file.path,
      [&] { return inner_->Read(file, offset, out); });
}

Result<size_t> OfflineRepoSource::ReadHeld(const FileContent& file, uint64_t offset, size_t len,
                                           HeldBytes* out, bool pages_kept) {
  // As Read: a Xet read stops at the CAS token source when offline.
  if (file.xet_hash.has_value()) return inner_->ReadHeld(file, offset, len, out, pages_kept);
  return RepoSource::ReadHeld(file, offset, len, out, pages_kept);
}

Result<hub::Refs> OfflineRepoSource::ListRefs(const hub::RepoId& repo) {
  return Guarded<hub::Refs>("list refs of " + repo.ToString(),
                            [&] { return inner_->ListRefs(repo); });
}

Result<std::vector<hub::RepoSummary>> OfflineRepoSource::ListRepos(hub::RepoType type,
                                                                   std::string_view author) {
  return Guarded<std::vector<hub::RepoSummary>>(
      "list repos of " + std::string(author), [&] { return inner_->ListRepos(type, author); });
}

}  // namespace hubfs::fs
