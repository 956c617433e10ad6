// InvalidationQueue: kernel cache entries to drop (after a branch view or a
// refs list moved), queued by the core's parts and taken by the FUSE
// adapter, which a listener wakes.
//
// Thread-safety: thread-safe; the listener is called with no lock held.
#ifndef HUBFS_FS_VFS_INVALIDATION_QUEUE_H_
#define HUBFS_FS_VFS_INVALIDATION_QUEUE_H_

#include <functional>
#include <vector>

#include "common/mutex.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

class InvalidationQueue {
 public:
  void SetListener(std::function<void()> listener) EXCLUDES(mu_);
  // Appends `items` (nothing when empty) and calls the listener.
  void Queue(std::vector<VfsInvalidation> items) EXCLUDES(mu_);
  // Everything queued so far, oldest first.
  std::vector<VfsInvalidation> Take() EXCLUDES(mu_);

 private:
  Mutex mu_;
  std::vector<VfsInvalidation> items_ GUARDED_BY(mu_);
  std::function<void()> listener_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_INVALIDATION_QUEUE_H_
