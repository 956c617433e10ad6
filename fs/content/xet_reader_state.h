// Private to the XetReader implementation (xet_reader*.cc): per-file state
// and read-ahead tasks.
#ifndef HUBFS_FS_CONTENT_XET_READER_STATE_H_
#define HUBFS_FS_CONTENT_XET_READER_STATE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "chunkstore/reconstruction.h"
#include "fs/content/readahead.h"
#include "fs/content/xet_reader.h"

namespace hubfs::fs {

struct XetReader::FileState {
  explicit FileState(const ReadaheadOptions& ra) : streams(ra) {}

  XetFileRef ref;
  std::vector<chunkstore::ReconTerm> terms;
  std::vector<uint64_t> starts;  // file offset of each term

  // Anchors (fs/content/chunk_placement.h): (term index, chunk index in its
  // xorb) → the chunk's file offset, for chunks strictly inside a term;
  // learned from ranged plans and kept in the cached terms. A leaf lock.
  mutable Mutex anchors_mu;
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> anchors GUARDED_BY(anchors_mu);
  // Held while encoding and putting the terms entry with its anchors, so
  // that the fullest set is queued last. Taken before anchors_mu.
  Mutex anchors_put_mu;
  // Anchors the cached terms entry holds (as last put) and whether the set
  // changed since. A file's set is put again only once it has grown by a
  // quarter (XetReader::SaveAnchors): re-encoding the whole set for each new
  // plan made that cost grow with the square of the plans of a file.
  size_t anchors_saved GUARDED_BY(anchors_put_mu) = 0;
  bool anchors_unsaved GUARDED_BY(anchors_put_mu) = false;

  // Read-ahead state.
  Mutex mu;
  CondVar cv;
  ReadaheadStreams streams GUARDED_BY(mu);
  // Read-aheads queued (started = false) or being fetched.
  struct Pending {
    ReadaheadRange range;
    bool started = false;
  };
  std::vector<Pending> pending GUARDED_BY(mu);
  // Bytes of this file's read-ahead (not speculative) queued or running.
  uint64_t held GUARDED_BY(mu) = 0;
  // A thread took on parsing the tensor layout (XetFileRef::tensor_name).
  bool layout_tried GUARDED_BY(mu) = false;
  // Where its segments (header, tensors) start, once parsed; empty otherwise.
  std::vector<uint64_t> tensor_starts GUARDED_BY(mu);
  // A loader reads every tensor (ReadaheadStreams::TakeSweep): the file is
  // read ahead in order from sweep_next on, as speculative segments
  // (XetReader::TopUpSweep).
  bool sweeping GUARDED_BY(mu) = false;
  uint64_t sweep_next GUARDED_BY(mu) = 0;
  // Its last open handle was released (XetReader::Closed): reads still in
  // flight then (the kernel's read-ahead of a mapping just closed) start no
  // sweep, which nobody would stop, until it is opened again.
  bool released GUARDED_BY(mu) = false;

  // Index of the term holding byte `offset`. REQUIRES: offset < ref.size.
  size_t TermAt(uint64_t offset) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), offset);
    return static_cast<size_t>(it - starts.begin()) - 1;
  }
};

struct XetReader::PrefetchTask {
  std::shared_ptr<FileState> state;
  ReadaheadRange range;  // its bytes are held against budget_ until it ends
  // Speculative (XetReader::Speculate) until a reader claims it.
  bool speculative = false;
  uint64_t group = 0;
  // A thread asked its plan ahead (XetReader::ahead_).
  bool plan_asked = false;
  // A segment of a sweep (XetReader::TopUpSweep): read-ahead held in
  // sweep_held_, not in the file's `held`.
  bool sweep = false;
};

struct XetReader::AheadPlan {
  Mutex mu;
  CondVar cv;
  // Asked (a thread is waiting for the answer); or given up before that by
  // the task's own thread, which asks for itself then.
  bool started GUARDED_BY(mu) = false;
  bool dropped GUARDED_BY(mu) = false;
  bool done GUARDED_BY(mu) = false;
  std::optional<Result<chunkstore::Reconstruction>> plan GUARDED_BY(mu);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_XET_READER_STATE_H_
