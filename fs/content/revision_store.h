// RevisionStore: the last commit seen for each branch or tag, persisted in
// the cache directory so that an offline run (HF_HUB_OFFLINE=1, or an
// unreachable endpoint) can still resolve `@main` to the commit whose data is
// cached. One small file per (repo, revision):
//   <dir>/<type>s/<ns>/<name>/<percent-encoded revision>   40 hex, no newline
// written to a temporary file and renamed, so readers never see half a sha.
#ifndef HUBFS_FS_CONTENT_REVISION_STORE_H_
#define HUBFS_FS_CONTENT_REVISION_STORE_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

class RevisionStore {
 public:
  // `dir` is created on the first Save.
  explicit RevisionStore(std::string dir) : dir_(std::move(dir)) {}

  // Records that `revision` of `repo` pointed at `commit`. Thread-safe (and
  // safe across processes: last rename wins). Errors: kInvalidArgument (not a
  // 40-hex sha), kIo.
  Status Save(const hub::RepoId& repo, std::string_view revision, std::string_view commit) const;

  // The last commit saved for `revision`, or nullopt. A file that does not
  // hold a 40-hex sha is ignored. Thread-safe.
  std::optional<std::string> Load(const hub::RepoId& repo, std::string_view revision) const;

  // Removes every record. Errors: kIo.
  Status Clear() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string PathFor(const hub::RepoId& repo, std::string_view revision) const;
  const std::string dir_;
  mutable std::atomic<uint64_t> counter_{0};  // temporary file names
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REVISION_STORE_H_
