// NotifyStoreGather: FUSE_NOTIFY_STORE with the data gathered from several
// pieces of memory in one write to the session's device (libfuse's
// fuse_lowlevel_notify_store copies a buffer of several pieces into one
// first: a pass over every byte). Not for use outside fs/fuse.
#ifndef HUBFS_FS_FUSE_NOTIFY_STORE_H_
#define HUBFS_FS_FUSE_NOTIFY_STORE_H_

#include <sys/uio.h>

#include <cstdint>
#include <span>

struct fuse_session;

namespace hubfs::fs {

// Puts the bytes `data` gathers into the page cache of inode `ino` at
// `offset` (the kernel's answer: 0, or a negative errno such as -ENOENT for
// an inode it forgot). The kernel must speak protocol 7.15 or later.
int NotifyStoreGather(fuse_session* session, uint64_t ino, uint64_t offset,
                      std::span<const iovec> data);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_NOTIFY_STORE_H_
