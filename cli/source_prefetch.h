// `hubfs prefetch SOURCE...` without a mount: the files of a repo (or a
// folder or file in it) read whole, verified, into a cache dir's chunk
// cache, as `hubfs cat` would read them, so that a later mount (or `cat`)
// of the same revision from that cache dir finds them cached.
#ifndef HUBFS_CLI_SOURCE_PREFETCH_H_
#define HUBFS_CLI_SOURCE_PREFETCH_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace hubfs::cli {

struct SourcePrefetch {
  std::string cache_dir;  // where the chunks go
  struct Entry {
    std::string path;  // SOURCE as given, joined with the file's path under it
    uint64_t size = 0;
  };
  std::vector<Entry> files;
  // Reads file i whole into the cache (thread-safe; files are read in
  // parallel), adding bytes to *done as they arrive; stops early when *stop
  // is set. Returns "" or the error, one line.
  std::function<std::string(size_t i, std::atomic<uint64_t>* done, const std::atomic<bool>* stop)>
      read;
  // Writes what is queued for the cache to disk. "" or the error.
  std::function<std::string()> finish;
  std::shared_ptr<void> keep;  // what read and finish use
};

// Resolves `source` ([hf://][TYPE/]NS/NAME[@REV][/PATH]) and lists the files
// under it (all of the revision without a PATH). `cache_dir`: --cache-dir,
// else $HUBFS_CACHE_DIR / the default. Errors explained for the user.
Result<SourcePrefetch> OpenSourcePrefetch(const std::string& source,
                                          const std::optional<std::string>& cache_dir);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_SOURCE_PREFETCH_H_
