#include "fs/content/revision_store.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "hub/url.h"

namespace hubfs::fs {

std::string RevisionStore::PathFor(const hub::RepoId& repo, std::string_view revision) const {
  return dir_ + "/" + std::string(hub::RepoTypeApiSegment(repo.type)) + "/" + repo.ns + "/" +
         repo.name + "/" + hub::PercentEncode(revision);
}

Status RevisionStore::Save(const hub::RepoId& repo, std::string_view revision,
                           std::string_view commit) const {
  if (!hub::IsCommitSha(commit)) return InvalidArgumentError("not a commit sha");
  namespace sfs = std::filesystem;
  const sfs::path path = PathFor(repo, revision);
  std::error_code ec;
  sfs::create_directories(path.parent_path(), ec);
  if (ec) return IoError("create " + path.parent_path().string() + ": " + ec.message());
  const sfs::path tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." +
                        std::to_string(counter_.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;
    out.flush();
    if (!out) return IoError("write " + tmp.string());
  }
  sfs::rename(tmp, path, ec);
  if (ec) {
    sfs::remove(tmp, ec);
    return IoError("rename to " + path.string());
  }
  return Status::Ok();
}

std::optional<std::string> RevisionStore::Load(const hub::RepoId& repo,
                                               std::string_view revision) const {
  std::ifstream in(PathFor(repo, revision), std::ios::binary);
  if (!in) return std::nullopt;
  char buf[41] = {};
  in.read(buf, 41);
  const std::string sha(buf, static_cast<size_t>(in.gcount()));
  if (!hub::IsCommitSha(sha)) return std::nullopt;
  return sha;
}

Status RevisionStore::Clear() const {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (ec) return IoError("remove " + dir_ + ": " + ec.message());
  return Status::Ok();
}

}  // namespace hubfs::fs
