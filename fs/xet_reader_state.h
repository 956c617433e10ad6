// Private to the XetReader implementation (xet_reader*.cc): per-file state
// and read-ahead tasks.
#ifndef HUBFS_FS_XET_READER_STATE_H_
#define HUBFS_FS_XET_READER_STATE_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "chunkstore/reconstruction.h"
#include "fs/xet_reader.h"

namespace hubfs::fs {

struct XetReader::FileState {
  XetFileRef ref;
  std::vector<chunkstore::ReconTerm> terms;
  std::vector<uint64_t> starts;  // file offset of each term
  std::atomic<uint64_t> last_end{~uint64_t{0}};

  // Read-ahead state.
  std::mutex mu;
  std::condition_variable cv;
  bool prefetching = false;  // GUARDED_BY(mu)
  uint64_t pf_start = 0;     // GUARDED_BY(mu): the running prefetch
  uint64_t pf_end = 0;       // GUARDED_BY(mu)
  uint64_t ahead_end = 0;    // GUARDED_BY(mu): end of what was fetched (or is being) ahead

  // Index of the term holding byte `offset`. REQUIRES: offset < ref.size.
  size_t TermAt(uint64_t offset) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), offset);
    return static_cast<size_t>(it - starts.begin()) - 1;
  }
};

struct XetReader::PrefetchTask {
  std::shared_ptr<FileState> state;
  uint64_t start = 0;
  uint64_t end = 0;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_XET_READER_STATE_H_
