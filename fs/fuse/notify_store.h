// NotifyStoreGather: FUSE_NOTIFY_STORE with the data gathered from several
// pieces of memory in one write to the FUSE device (libfuse's
// fuse_lowlevel_notify_store copies a buffer of several pieces into one
// first: a pass over every byte). Not for use outside fs/fuse.
#ifndef HUBFS_FS_FUSE_NOTIFY_STORE_H_
#define HUBFS_FS_FUSE_NOTIFY_STORE_H_

#include <sys/uio.h>

#include <cstdint>
#include <span>

namespace hubfs::fs {

// Writes to `fd` (the session's /dev/fuse: fuse_session_fd) the message
// that puts the bytes `data` gathers into the page cache of inode `ino` at
// `offset`: one writev (pieces beyond what one writev takes are copied into
// one). Returns 0, or a negative errno (the kernel's answer, e.g. -ENOENT
// for an inode it forgot). The kernel must speak protocol 7.15 or later.
int NotifyStoreGather(int fd, uint64_t ino, uint64_t offset, std::span<const iovec> data);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_NOTIFY_STORE_H_
