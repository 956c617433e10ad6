// PageSink: where the Xet reader hands bytes of a file that it fetched for
// no read in particular (a sweep of a tensor file, XetReader::TopUpSweep),
// so that they reach the kernel's page cache of the open files with that
// content before a reader asks for them (the FUSE server stores them with
// fuse_lowlevel_notify_store). A loader reading the file through a mapping
// then finds its pages in memory instead of sending a read per fault.
//
// Thread-safety: implementations are thread-safe; Store never blocks on
// the kernel (it queues, or drops what it cannot queue).
#ifndef HUBFS_FS_CONTENT_PAGE_SINK_H_
#define HUBFS_FS_CONTENT_PAGE_SINK_H_

#include <cstdint>

#include "chunkstore/hash.h"
#include "fs/content/held_bytes.h"

namespace hubfs::fs {

class PageSink {
 public:
  virtual ~PageSink() = default;
  // Whether a file with this content is open (bytes for it would be used).
  virtual bool Wants(const chunkstore::Hash& file) = 0;
  // Bytes [offset, offset + bytes.size()) of every open file with content
  // `file`, checked like any read's bytes, held (chunks in the chunk cache's
  // memory, or a buffer of their own) until the sink is done with them. The
  // sink calls bytes.Delivered() once they reached the page cache (the
  // chunks they hold count as read, as a read's reply), and never when it
  // dropped them.
  virtual void Store(const chunkstore::Hash& file, uint64_t offset, HeldBytes bytes) = 0;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_PAGE_SINK_H_
