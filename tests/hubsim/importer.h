// `hubsim import`: commits a local folder into a repo of a data dir, offline
// (for fixtures and the demo). LFS files (the rule of lfs_rule.h) are chunked
// with FileHasher, packed into xorbs with XorbBuilder and registered exactly
// like an upload; other files become git blobs.
#ifndef HUBFS_TESTS_HUBSIM_IMPORTER_H_
#define HUBFS_TESTS_HUBSIM_IMPORTER_H_

#include <string>

#include "common/status.h"

namespace hubfs::hubsim {

struct ImportOptions {
  std::string data_dir;
  std::string user;  // author and owner of a created repo (default: the namespace)
  std::string repo;  // [models/|datasets/|spaces/]ns/name[@branch]
  std::string local_dir;
  std::string message;        // commit title
  bool make_private = false;  // for a repo created by this import
};

// Returns the new commit id. Not safe to run while a server uses the same
// data dir with the same repo (no cross-process lock).
Result<std::string> ImportFolder(const ImportOptions& opts);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_IMPORTER_H_
