// Records of running `hubfs prefetch` processes, so that `hubfs status` can
// show them: <cache_dir>/prefetch/<pid>.json (the cache dir of the mount
// being warmed), rewritten about once a second and removed at exit.
#ifndef HUBFS_CLI_PREFETCH_STATE_H_
#define HUBFS_CLI_PREFETCH_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hubfs::cli {

struct PrefetchState {
  pid_t pid = 0;
  std::string mountpoint;  // absolute
  std::string cache_dir;
  std::string paths;       // as given, space-separated (for display)
  uint64_t files_total = 0;
  uint64_t files_done = 0;
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  int64_t started = 0;     // unix seconds
  int64_t updated = 0;
};

// Writes atomically (temporary file + rename). Returns false on failure.
bool WritePrefetchState(const PrefetchState& state);
void RemovePrefetchState(const std::string& cache_dir, pid_t pid);
// Records under <cache_dir>/prefetch whose pid is alive; those of dead pids
// are removed (best effort).
std::vector<PrefetchState> ReadPrefetchStates(const std::string& cache_dir);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_PREFETCH_STATE_H_
