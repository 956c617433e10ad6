// The one table from an error to what the user sees: the exit status and a
// one-line message, for every command and for the mount's start-up. (The
// mount's answers to the kernel are chosen by fs/fuse's ErrnoFor.)
#ifndef HUBFS_CLI_ERRORS_H_
#define HUBFS_CLI_ERRORS_H_

#include <string>

#include "common/status.h"

namespace hubfs::cli {

// What the failed operation was about.
struct ErrorSubject {
  std::string repo;      // "org/name"
  std::string revision;  // as named ("" = the default branch, shown as "main")
  std::string path;      // inside the repo ("" = none)
  // How to name the whole thing ("org/name@rev/sub"); "" = repo.
  std::string what;
};

struct UserError {
  int exit_status = 1;
  std::string message;
};

// Exit status of a usage error (bad arguments); errors from below exit 1.
inline constexpr int kUsageExitStatus = 2;

UserError ExplainError(const Status& status, const ErrorSubject& subject);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_ERRORS_H_
