// RefsTree: a repo's revisions laid out as directories (design §1), built
// from its refs listing:
//
//   main/  v1.0/  feature/x/         branches and tags; names with '/' nest
//   refs/heads/NAME  refs/tags/NAME  every branch and tag by its full ref
//   refs/pr/N  refs/convert/NAME     pull requests and conversions
//
// When a top-level name is taken twice (a branch and a tag of the same name,
// or a tag "a/b" under a branch "a"), the branch wins; a tag or branch whose
// first segment is "refs" appears only under refs/. Names that are not valid
// file names ("", ".", "..", over 255 bytes) are left out.
//
// Immutable once built; safe to share between threads.
#ifndef HUBFS_FS_VFS_REFS_TREE_H_
#define HUBFS_FS_VFS_REFS_TREE_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_types.h"

namespace hubfs::fs {

// What a revision directory shows: the full ref and where it points.
struct RefTarget {
  std::string ref;     // "refs/heads/main", "refs/tags/v1", "refs/pr/3", ...
  std::string commit;  // 40 hex
};

class RefsTree {
 public:
  struct Entry {
    std::string name;
    std::shared_ptr<const RefTarget> target;  // nullptr: a directory of names
  };

  // Entries of directory `path` ("" = the repo directory) sorted by name, or
  // nullptr when `path` is not a directory of this tree.
  const std::vector<Entry>* Dir(std::string_view path) const;
  // Entry `name` of directory `dir`, or nullptr.
  const Entry* Find(std::string_view dir, std::string_view name) const;
  // The commit `ref` (a full ref) points at, or "" when the ref is gone.
  std::string CommitOf(std::string_view ref) const;
  const std::map<std::string, std::vector<Entry>, std::less<>>& dirs() const { return dirs_; }

  static RefsTree Build(const hub::Refs& refs);

 private:
  std::map<std::string, std::vector<Entry>, std::less<>> dirs_;
  std::map<std::string, std::string, std::less<>> commits_;  // full ref -> commit
};

// A valid single path component: non-empty, not "." or "..", no '/' or NUL,
// at most 255 bytes.
bool ValidFileName(std::string_view name);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_REFS_TREE_H_
