// The libfuse low-level adapter. Model: libfuse's example/passthrough_hp.cc
// at fuse-3.14.0 - compute the answer first, then send exactly one reply; an
// inode lives as long as the kernel's lookup count (forget drops it).
#include "fs/fuse/fuse_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>
#include <memory>
#include <cstring>
#include <span>
#include <vector>

#include "common/log.h"
#include "common/mutex.h"
#include "fs/fuse/fuse_server.h"
#include "fs/fuse/deadlines.h"
#include "fs/fuse/io_pool.h"
#include "fs/fuse/notify_store.h"

namespace hubfs::fs {

int ErrnoFor(VfsErrc code) {
  switch (code) {
    case VfsErrc::kNoEntry: return ENOENT;
    case VfsErrc::kNotDir: return ENOTDIR;
    case VfsErrc::kIsDir: return EISDIR;
    case VfsErrc::kReadOnly: return EROFS;
    case VfsErrc::kNoAttr: return ENODATA;
    case VfsErrc::kRange: return ERANGE;
    case VfsErrc::kBadHandle: return EBADF;
    case VfsErrc::kWouldBlock: return EAGAIN;
    case VfsErrc::kAccess: return EACCES;
    case VfsErrc::kNoSpace: return ENOSPC;
    case VfsErrc::kTimedOut: return EIO;
    case VfsErrc::kIo: return EIO;
    case VfsErrc::kInvalid: return EINVAL;
    // The file changed on the Hub since the change was based on it.
    case VfsErrc::kConflict: return ESTALE;
    case VfsErrc::kNotEmpty: return ENOTEMPTY;
    case VfsErrc::kExists: return EEXIST;
    case VfsErrc::kCrossDevice: return EXDEV;
  }
  return EIO;
}

void FuseServer::Impl::StartNotifier() {
  if (notifier.joinable()) return;
  {
    MutexLock lock(&notify_mu);
    notify_stop = false;
  }
  core->SetInvalidationListener([this] {
    MutexLock lock(&notify_mu);
    notify_pending = true;
    notify_cv.NotifyOne();
  });
  notifier = std::thread([this] { NotifierLoop(); });
}

void FuseServer::Impl::StopNotifier() {
  if (!notifier.joinable()) return;
  core->SetInvalidationListener(nullptr);
  {
    MutexLock lock(&notify_mu);
    notify_stop = true;
    notify_cv.NotifyOne();
  }
  notifier.join();
}

void FuseServer::Impl::NotifierLoop() {
  for (;;) {
    {
      MutexLock lock(&notify_mu);
      while (!notify_pending && !notify_stop) notify_cv.Wait(&notify_mu);
      if (notify_stop) return;
      notify_pending = false;
    }
    std::vector<std::pair<uint64_t, std::string>> stalled;
    {
      MutexLock lock(&notify_mu);
      stalled.swap(stalled_entries);
    }
    // No lock held from here on.
    for (const auto& [parent, name] : stalled) {
      fuse_lowlevel_notify_inval_entry(session, parent, name.data(), name.size());
    }
    for (const auto& inv : core->TakeInvalidations()) {
      int rc = 0;
      if (!inv.name.empty()) {
        rc = fuse_lowlevel_notify_inval_entry(session, inv.parent, inv.name.data(),
                                              inv.name.size());
      } else {
        rc = fuse_lowlevel_notify_inval_inode(session, inv.ino, 0, 0);
      }
      // ENOENT: the kernel did not know it, nothing to drop.
      if (rc != 0 && rc != -ENOENT) {
        HUBFS_LOG(kDebug) << "invalidation failed: " << std::strerror(-rc);
      }
    }
  }
}

namespace {

using Impl = FuseServer::Impl;
using namespace fuse_internal;  // NOLINT: the adapter's shared helpers

// REQUIRES: the caller holds the right to reply (a claimed ReplyOnce or a
// request never handed over).
void ReplyLookup(fuse_req_t req, fuse_ino_t parent, const VfsResult<VfsEntry>& r) {
  Impl& self = Self(req);
  if (!r.ok()) {
    if (r.error().code == VfsErrc::kNoEntry) {
      // A negative entry the kernel caches for the view's TTL.
      fuse_entry_param p;
      std::memset(&p, 0, sizeof(p));
      p.ino = 0;
      p.entry_timeout = self.core->NegativeTimeout(parent);
      fuse_reply_entry(req, &p);
      return;
    }
    ReplyError(req, r.error(), "lookup");
    return;
  }
  fuse_entry_param p = ToEntryParam(*r);
  if (fuse_reply_entry(req, &p) != 0) self.core->Forget(p.ino, 1);  // interrupted
}

// --- operations -------------------------------------------------------------

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* self = static_cast<Impl*>(userdata);
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_PARALLEL_DIROPS);
  // Page feed stores (FUSE_NOTIFY_STORE) came with protocol 7.15.
  self->notify_store_ok.store(conn->proto_major > 7 || conn->proto_minor >= 15,
                              std::memory_order_release);
  want(FUSE_CAP_READDIRPLUS);
  // Not FUSE_CAP_AUTO_INVAL_DATA (libfuse asks for it by default): with it
  // the kernel drops a file's pages whenever a refreshed mtime differs, and
  // a branch view's files show the commit's time, so every commit (or a
  // file committed from here, whose pending mtime gives way to the commit's)
  // dropped the pages of unchanged files. Content never changes under an
  // inode number except in a writable view, which says so itself
  // (VfsCore::KeepCache, MarkPagesStale).
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_AUTO_INVAL_DATA);
  // Not FUSE_CAP_POSIX_ACL: with it the kernel caches an inode's "no ACL", but
  // forgets it whenever attributes arrive (every readdirplus entry, every
  // attribute refresh), so each `ls -l` asked again for every file. Without
  // it, OpGetXattr's ENOTSUP lets ls remember per filesystem that there are
  // no ACLs. Permissions stay checked by the kernel: the mount passes
  // default_permissions itself.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_POSIX_ACL);
  // Every readdir is a readdirplus: attributes come with the listing.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  // The kernel uses min(this, the bdi's read_ahead_kb at this moment); the
  // mount command raises read_ahead_kb before the loop answers INIT.
  conn->max_readahead = self->options.max_readahead;
  conn->max_background = 64;
  conn->congestion_threshold = 48;
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  // No name longer than NAME_MAX exists here (as on a local file system):
  // stat(2) of one says so rather than ENOENT.
  if (std::strlen(name) > NAME_MAX) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  Impl& self = Self(req);
  if (!self.options.test_stall_lookup.empty() && self.options.test_stall_lookup == name) {
    HUBFS_LOG(kWarning) << "test hook: lookup of " << name << " left unanswered";
    MutexLock lock(&self.notify_mu);
    self.stalled_entries.emplace_back(parent, name);
    self.notify_pending = true;
    self.notify_cv.NotifyOne();
    return;  // never answered
  }
  auto r = self.core->Lookup(parent, name, /*may_block=*/false);
  if (!r.ok() && r.error().code == VfsErrc::kWouldBlock) {
    Offload(req, "lookup", [req, core = self.core, parent, n = std::string(name)](ReplyOnce& once) {
      auto late = core->Lookup(parent, n, /*may_block=*/true);
      if (once.Claim()) return ReplyLookup(req, parent, late);
      if (late.ok()) core->Forget(late->attr.ino, 1);  // the kernel got EIO instead
    });
    return;
  }
  ReplyLookup(req, parent, r);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Self(req).core->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Impl& self = Self(req);
  for (size_t i = 0; i < count; ++i) self.core->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

// A branch view whose TTL expired re-resolves on the I/O side; this request
// is answered from what the view of `ino` shows now.
void KickRefresh(Impl& self, fuse_ino_t ino) {
  if (!self.core->RefreshDue(ino)) return;
  if (!self.pool->Submit([core = self.core, ino] { core->RefreshIfDue(ino); })) {
    HUBFS_LOG(kDebug) << "I/O queue full; revision check postponed";
  }
}

void OpGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) {
  Impl& self = Self(req);
  KickRefresh(self, ino);
  auto r = self.core->GetAttr(ino);
  if (!r.ok()) return ReplyError(req, r.error(), "getattr");
  struct stat st = ToStat(*r);
  fuse_reply_attr(req, &st, self.core->AttrTimeout(ino));
}

// Ends `fh`'s registration with the page feed, if it had one.
void ReleaseFed(FuseServer::Impl& self, uint64_t fh, fuse_ino_t ino) {
  {
    MutexLock lock(&self.fed_mu);
    if (self.fed_handles.erase(fh) == 0) return;
  }
  self.feed->Released(ino);
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Impl& self = Self(req);
  bool write = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_APPEND)) != 0;
  KickRefresh(self, ino);
  if (write && self.options.writable) {
    // Opening for writing may fetch nothing, but journals (O_TRUNC) and may
    // list the parent: on the I/O side.
    const bool truncate = (fi->flags & O_TRUNC) != 0;
    fuse_file_info copy = *fi;
    Offload(req, "open", [req, core = self.core, ino, truncate, copy](ReplyOnce& once) mutable {
      auto r = core->OpenWrite(ino, truncate);
      if (!once.Claim()) {
        if (r.ok()) core->Release(r->fh);
        return;
      }
      if (!r.ok()) return ReplyError(req, r.error(), "open");
      copy.fh = r->fh;
      copy.keep_cache = r->keep_cache ? 1 : 0;
      if (fuse_reply_open(req, &copy) != 0) core->Release(r->fh);
    });
    return;
  }
  const bool direct = (fi->flags & O_DIRECT) != 0;
  auto r = self.core->Open(ino, write, direct);
  if (!r.ok()) return ReplyError(req, r.error(), "open");
  fi->fh = r->fh;
  fi->keep_cache = r->keep_cache ? 1 : 0;
  fi->noflush = self.options.writable ? 0 : 1;
  // Swept bytes of this content may go to this inode's pages from now on,
  // unless the opener keeps no pages: storing them would be wasted.
  bool fed = false;
  if (self.feed != nullptr && r->xet_hash && !direct) {
    if (auto hash = chunkstore::Hash::Parse(*r->xet_hash); hash.ok()) {
      {
        MutexLock lock(&self.fed_mu);
        self.fed_handles.insert(r->fh);
      }
      self.feed->Opened(*hash, ino);
      fed = true;
    }
  }
  if (fuse_reply_open(req, fi) != 0) {
    if (fed) ReleaseFed(self, r->fh, ino);
    self.core->Release(r->fh);
  }
}

void OpRead(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) {
  uint64_t fh = fi->fh;
  if (off < 0) return ReplyError(req, VfsError{VfsErrc::kInvalid, Status()}, "read");
  VfsCore* core = Self(req).core;
  // The file's flags as of this read: O_DIRECT may have been set by fcntl
  // after the open, and then the reader keeps no page of this read either.
  const bool direct = (fi->flags & O_DIRECT) != 0;
  Offload(req, "read", [req, core, fh, size, off, direct](ReplyOnce& once) {
    // Answered straight from the memory holding the bytes where it can be
    // (chunks read ahead moments ago, still in the chunk cache's memory):
    // copying them into one reply buffer first was a pass over every byte.
    HeldBytes held;
    auto n = core->ReadHeld(fh, static_cast<uint64_t>(off), size, &held, direct);
    if (!once.Claim()) return;
    if (!n.ok()) return ReplyError(req, n.error(), "read");
    std::vector<iovec> iov;
    iov.reserve(held.pieces().size());
    for (std::span<const uint8_t> piece : held.pieces()) {
      iov.push_back(iovec{const_cast<uint8_t*>(piece.data()), piece.size()});
    }
    // Handed over: the source may count these bytes as read (chunks
    // read through need not wait for the cache's disk).
    if (fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size())) == 0) held.Delivered();
  });
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Impl& self = Self(req);
  if (self.feed != nullptr) ReleaseFed(self, fi->fh, ino);
  if (!self.options.writable) {
    self.core->Release(fi->fh);
    fuse_reply_err(req, 0);
    return;
  }
  // May journal pages written through a mapping since the last flush.
  OffloadLong(req, "release", [req, core = self.core, fh = fi->fh](ReplyOnce& once) {
    core->Release(fh);
    if (once.Claim()) fuse_reply_err(req, 0);
  });
}

void ReplyOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi,
                  const VfsResult<uint64_t>& r) {
  Impl& self = Self(req);
  if (!r.ok()) return ReplyError(req, r.error(), "opendir");
  fi->fh = *r;
  // The kernel caches the entries it reads, and keeps those it has while
  // they are still the directory's (VfsCore::DirCachingFor).
  const VfsCore::DirCaching caching = self.core->DirCachingFor(ino, *r);
  fi->cache_readdir = caching.cache ? 1 : 0;
  fi->keep_cache = caching.keep ? 1 : 0;
  if (fuse_reply_open(req, fi) != 0) {
    if (caching.cache) self.core->DirCachingUnknown(ino, *r);
    self.core->ReleaseDir(*r);
  }
}

void OpOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Impl& self = Self(req);
  auto r = self.core->OpenDir(ino, /*may_block=*/false);
  if (!r.ok() && r.error().code == VfsErrc::kWouldBlock) {
    fuse_file_info copy = *fi;
    Offload(req, "opendir", [req, core = self.core, ino, copy](ReplyOnce& once) mutable {
      auto late = core->OpenDir(ino, /*may_block=*/true);
      if (once.Claim()) return ReplyOpenDir(req, ino, &copy, late);
      if (late.ok()) core->ReleaseDir(*late);
    });
    return;
  }
  ReplyOpenDir(req, ino, fi, r);
}

// Directory offsets: 1 after ".", 2 after "..", then 3 + i after listing
// entry i. "." and ".." carry no inode (ino 0: the kernel takes no lookup
// reference for them), as in passthrough_hp.
void DoReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
               bool plus) {
  Impl& self = Self(req);
  self.dir_reads.fetch_add(1, std::memory_order_relaxed);
  if (off < 0) return ReplyError(req, VfsError{VfsErrc::kInvalid, Status()}, "readdir");
  constexpr size_t kDots = 2;
  std::vector<char> buf(size);
  size_t pos = 0;
  std::vector<uint64_t> referenced;  // dropped again if the reply fails
  for (auto cookie = static_cast<size_t>(off);; ++cookie) {
    auto next = static_cast<off_t>(cookie + 1);
    size_t need = 0;
    if (cookie < kDots) {
      const char* name = cookie == 0 ? "." : "..";
      struct stat st;
      std::memset(&st, 0, sizeof(st));
      st.st_ino = cookie == 0 ? ino : 0xffffffffu;
      st.st_mode = S_IFDIR;
      if (plus) {
        fuse_entry_param p;
        std::memset(&p, 0, sizeof(p));
        p.attr = st;
        need = fuse_add_direntry_plus(req, buf.data() + pos, size - pos, name, &p, next);
      } else {
        need = fuse_add_direntry(req, buf.data() + pos, size - pos, name, &st, next);
      }
      if (need > size - pos) break;
      pos += need;
      continue;
    }
    size_t i = cookie - kDots;
    auto e = self.core->DirEntryAt(fi->fh, i);
    if (!e.ok()) return ReplyError(req, e.error(), "readdir");
    if (!e->has_value()) break;
    const VfsDirEntry& d = **e;
    if (plus) {
      auto entry = self.core->LookupDirEntryAt(fi->fh, i);
      if (!entry.ok()) {
        if (pos > 0) break;  // send what fits; the kernel asks again
        return ReplyError(req, entry.error(), "readdirplus");
      }
      fuse_entry_param p = ToEntryParam(*entry);
      need = fuse_add_direntry_plus(req, buf.data() + pos, size - pos, d.name.c_str(), &p, next);
      if (need > size - pos) {
        self.core->Forget(p.ino, 1);
        break;
      }
      referenced.push_back(p.ino);
    } else {
      struct stat st;
      std::memset(&st, 0, sizeof(st));
      st.st_ino = 0xffffffffu;  // unknown until looked up
      st.st_mode = d.is_dir ? S_IFDIR : S_IFREG;
      need = fuse_add_direntry(req, buf.data() + pos, size - pos, d.name.c_str(), &st, next);
      if (need > size - pos) break;
    }
    pos += need;
  }
  if (fuse_reply_buf(req, buf.data(), pos) != 0) {
    for (uint64_t r : referenced) self.core->Forget(r, 1);
  }
}

void OpReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  DoReadDir(req, ino, size, off, fi, /*plus=*/false);
}

void OpReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   fuse_file_info* fi) {
  DoReadDir(req, ino, size, off, fi, /*plus=*/true);
}

void OpReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Self(req).core->ReleaseDir(fi->fh);
  fuse_reply_err(req, 0);
}

// Only user.* names exist. Any other namespace (security.selinux and the
// POSIX ACLs, which ls -l asks of every file) is ENOTSUP, not ENODATA: ls and
// cp then remember per filesystem that it has none and stop asking, where
// ENODATA cost one upcall per file and name. (ENOSYS would make the kernel
// stop asking for every name, user.hf.* included.)
void OpGetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (std::strncmp(name, "user.", 5) != 0) return (void)fuse_reply_err(req, ENOTSUP);
  auto r = Self(req).core->GetXattr(ino, name);
  if (!r.ok()) return ReplyError(req, r.error(), "getxattr");
  if (size == 0) return (void)fuse_reply_xattr(req, r->size());
  if (size < r->size()) return ReplyError(req, VfsError{VfsErrc::kRange, Status()}, "getxattr");
  fuse_reply_buf(req, r->data(), r->size());
}

void OpListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto r = Self(req).core->ListXattr(ino);
  if (!r.ok()) return ReplyError(req, r.error(), "listxattr");
  std::string joined;
  for (const auto& n : *r) {
    joined += n;
    joined.push_back('\0');
  }
  if (size == 0) return (void)fuse_reply_xattr(req, joined.size());
  if (size < joined.size()) {
    return ReplyError(req, VfsError{VfsErrc::kRange, Status()}, "listxattr");
  }
  fuse_reply_buf(req, joined.data(), joined.size());
}

void OpStatFs(fuse_req_t req, fuse_ino_t) {
  VfsStatFs s = Self(req).core->StatFs();
  struct statvfs st;
  std::memset(&st, 0, sizeof(st));
  st.f_bsize = s.block_size;
  st.f_frsize = s.block_size;
  st.f_blocks = s.blocks;
  st.f_files = s.files;
  st.f_namemax = s.name_max;
  st.f_flag = Self(req).options.writable ? 0 : ST_RDONLY;
  fuse_reply_statfs(req, &st);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof(ops));
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetAttr;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.release = OpRelease;
  ops.opendir = OpOpenDir;
  ops.readdir = OpReadDir;
  ops.readdirplus = OpReadDirPlus;
  ops.releasedir = OpReleaseDir;
  ops.getxattr = OpGetXattr;
  ops.listxattr = OpListXattr;
  ops.statfs = OpStatFs;
  AddWriteOps(&ops);
  return ops;
}

std::string MountOptionString(const FuseServerOptions& o) {
  std::string fsname;
  for (char c : o.fs_name) {
    if (c == ',' || c == '\\') fsname.push_back('\\');
    fsname.push_back(c);
  }
  std::string s = std::string(o.writable ? "rw" : "ro") +
                  ",default_permissions,subtype=hubfs,fsname=" + fsname;
  if (o.allow_other) s += ",allow_other";
  return s;
}

}  // namespace

FuseServer::FuseServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<FuseServer>> FuseServer::Mount(VfsCore* core, FuseServerOptions options) {
  if (options.mountpoint.empty() || options.io_threads == 0 || options.io_queue == 0) {
    return InvalidArgumentError("fuse: mountpoint and I/O pool sizes are required");
  }
  auto impl = std::make_unique<Impl>();
  impl->core = core;
  impl->options = std::move(options);
  std::string opts = MountOptionString(impl->options);
  std::vector<std::string> argv_s{"hubfs", "-o", opts};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops = MakeOps();
  impl->session = fuse_session_new(&args, &ops, sizeof(ops), impl.get());
  // Parsing may have copied the arguments; the session keeps its own.
  fuse_opt_free_args(&args);
  if (impl->session == nullptr) return UnavailableError("fuse: cannot create a session");
  if (fuse_session_mount(impl->session, impl->options.mountpoint.c_str()) != 0) {
    fuse_session_destroy(impl->session);
    impl->session = nullptr;
    return UnavailableError("fuse: cannot mount at " + impl->options.mountpoint +
                            " (is /dev/fuse available and the mountpoint an empty directory?)");
  }
  impl->mounted = true;
  if (impl->options.handle_signals) {
    if (fuse_set_signal_handlers(impl->session) != 0) {
      HUBFS_LOG(kWarning) << "fuse: cannot install signal handlers";
    } else {
      impl->signals_set = true;
    }
  }
  impl->pool = std::make_unique<IoPool>(impl->options.io_threads, impl->options.io_queue);
  impl->deadlines = std::make_unique<DeadlineWatcher>();
  if (!impl->options.writable && impl->options.page_feed_bytes != 0) {
    fuse_session* session = impl->session;
    impl->feed = std::make_unique<PageFeed>(
        [session, raw = impl.get()](uint64_t ino, uint64_t offset, std::span<const iovec> data) {
          if (!raw->notify_store_ok.load(std::memory_order_acquire)) return -ENOSYS;
          // A store waits for pages locked by reads in flight; once the
          // session loop ends (a stop signal) reads still queued in the kernel
          // are not answered until the connection goes, so none is started.
          if (fuse_session_exited(session)) return -ESHUTDOWN;
          // The pieces go to the kernel as they are, gathered by one write.
          return NotifyStoreGather(fuse_session_fd(session), ino, offset, data);
        },
        impl->options.page_feed_bytes);
  }
  return std::unique_ptr<FuseServer>(new FuseServer(std::move(impl)));
}

Status FuseServer::Run() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 1);
  fuse_loop_cfg_set_max_threads(config, impl_->options.max_fuse_threads);
  fuse_loop_cfg_set_idle_threads(config, 4);
  impl_->StartNotifier();
  int rc = fuse_session_loop_mt(impl_->session, config);
  fuse_loop_cfg_destroy(config);
  if (impl_->options.on_session_end) impl_->options.on_session_end();
  // Answer everything handed to the I/O side before the session goes away.
  impl_->pool->Shutdown();
  impl_->deadlines->Stop();
  // After the reads handed to the I/O side are answered: a store under way
  // may wait for one of their pages.
  if (impl_->feed) impl_->feed->Stop();
  impl_->StopNotifier();
  if (impl_->signals_set) {
    fuse_remove_signal_handlers(impl_->session);
    impl_->signals_set = false;
  }
  if (impl_->mounted) {
    fuse_session_unmount(impl_->session);
    impl_->mounted = false;
  }
  if (rc < 0) return IoError("fuse: session loop failed: " + std::string(std::strerror(-rc)));
  return Status();
}

PageSink* FuseServer::page_sink() { return impl_->feed.get(); }

uint64_t FuseServer::page_feed_stored_bytes() const {
  return impl_->feed ? impl_->feed->stats().stored_bytes : 0;
}

uint64_t FuseServer::dir_reads() const {
  return impl_->dir_reads.load(std::memory_order_relaxed);
}

FuseServer::~FuseServer() {
  if (!impl_) return;
  if (impl_->pool) impl_->pool->Shutdown();
  if (impl_->deadlines) impl_->deadlines->Stop();
  if (impl_->feed) impl_->feed->Stop();
  impl_->StopNotifier();
  if (impl_->session != nullptr) {
    if (impl_->signals_set) fuse_remove_signal_handlers(impl_->session);
    if (impl_->mounted) fuse_session_unmount(impl_->session);
    fuse_session_destroy(impl_->session);
  }
}

}  // namespace hubfs::fs
