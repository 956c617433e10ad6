// The operations that change a writable view (create, write, flush, fsync,
// setattr, mkdir, unlink, rmdir, rename). On a read-only mount every one
// answers EROFS. Whatever may touch the disk's journal or the network runs
// on the I/O side; a write only goes to the local staging file, so it is
// answered on the FUSE thread.
#include <fcntl.h>
#include <limits.h>

#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "fs/fuse/fuse_internal.h"

namespace hubfs::fs::fuse_internal {
namespace {

bool Writable(fuse_req_t req) { return Self(req).options.writable; }

void ReplyReadOnly(fuse_req_t req) { fuse_reply_err(req, ErrnoFor(VfsErrc::kReadOnly)); }

// A name longer than a directory entry may be (the kernel leaves the check
// to the filesystem).
bool TooLong(const char* name) { return std::strlen(name) > NAME_MAX; }

void ReplyStatus(fuse_req_t req, const VfsStatus& st, const char* op) {
  if (!st.ok()) return ReplyError(req, st.error(), op);
  fuse_reply_err(req, 0);
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) {
  if (!Writable(req)) return ReplyReadOnly(req);
  if (!S_ISREG(mode) && (mode & S_IFMT) != 0) {
    fuse_reply_err(req, EPERM);  // only regular files exist on the Hub
    return;
  }
  if (TooLong(name)) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  const bool truncate = (fi->flags & O_TRUNC) != 0;
  fuse_file_info copy = *fi;
  Offload(req, "create",
          [req, core = Self(req).core, parent, n = std::string(name), truncate,
           copy](ReplyOnce& once) mutable {
            auto r = core->Create(parent, n, truncate);
            if (!once.Claim()) {
              if (r.ok()) {
                core->Release(r->second.fh);
                core->Forget(r->first.attr.ino, 1);
              }
              return;
            }
            if (!r.ok()) return ReplyError(req, r.error(), "create");
            fuse_entry_param p = ToEntryParam(r->first);
            copy.fh = r->second.fh;
            copy.keep_cache = 0;
            if (fuse_reply_create(req, &p, &copy) != 0) {
              core->Release(r->second.fh);
              core->Forget(p.ino, 1);
            }
          });
}

void OpWrite(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) {
  if (!Writable(req)) return ReplyReadOnly(req);
  if (off < 0) return ReplyError(req, VfsError{VfsErrc::kInvalid, Status()}, "write");
  auto n = Self(req).core->Write(
      fi->fh, static_cast<uint64_t>(off),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), size));
  if (!n.ok()) return ReplyError(req, n.error(), "write");
  fuse_reply_write(req, *n);
}

void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  if (!Writable(req)) {
    fuse_reply_err(req, 0);
    return;
  }
  Offload(req, "flush", [req, core = Self(req).core, fh = fi->fh](ReplyOnce& once) {
    auto st = core->Flush(fh);
    if (once.Claim()) ReplyStatus(req, st, "flush");
  });
}

void OpFsync(fuse_req_t req, fuse_ino_t, int /*datasync*/, fuse_file_info* fi) {
  if (!Writable(req)) {
    fuse_reply_err(req, 0);
    return;
  }
  OffloadLong(req, "fsync", [req, core = Self(req).core, fh = fi->fh](ReplyOnce& once) {
    auto st = core->Fsync(fh);
    if (once.Claim()) ReplyStatus(req, st, "fsync");
  });
}

// fsync of a directory (`hubfs sync MOUNTPOINT` opens the root and fsyncs
// it): everything journaled so far reaches the Hub.
void OpFsyncDir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  if (!Writable(req)) {
    fuse_reply_err(req, 0);
    return;
  }
  OffloadLong(req, "fsyncdir", [req, self = &Self(req)](ReplyOnce& once) {
    auto st = self->core->SyncAll(
        std::chrono::milliseconds(static_cast<int64_t>(self->options.sync_timeout_seconds * 1000)));
    if (once.Claim()) ReplyStatus(req, st, "fsyncdir");
  });
}

void OpSetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  if (!Writable(req)) return ReplyReadOnly(req);
  const uint64_t fh = fi != nullptr ? fi->fh : 0;
  const bool size = (to_set & FUSE_SET_ATTR_SIZE) != 0;
  const uint64_t new_size = size ? static_cast<uint64_t>(attr->st_size) : 0;
  // Modes, owners and atimes are accepted and not kept (docs/SEMANTICS.md):
  // the Hub stores none of them, and cp -p / rsync -a must not fail. The
  // mtime of a changed file is kept until its commit.
  std::optional<int64_t> mtime;
  if ((to_set & FUSE_SET_ATTR_MTIME_NOW) != 0) {
    mtime = static_cast<int64_t>(std::time(nullptr));
  } else if ((to_set & FUSE_SET_ATTR_MTIME) != 0) {
    mtime = static_cast<int64_t>(attr->st_mtim.tv_sec);
  }
  Offload(req, "setattr",
          [req, core = Self(req).core, ino, fh, size, new_size, mtime](ReplyOnce& once) {
            VfsResult<VfsAttr> r = size ? core->SetSize(ino, fh, new_size) : core->GetAttr(ino);
            if (r.ok() && mtime) r = core->SetMtime(ino, *mtime);
            if (!once.Claim()) return;
            if (!r.ok()) return ReplyError(req, r.error(), "setattr");
            struct stat st = ToStat(*r);
            fuse_reply_attr(req, &st, core->AttrTimeout(ino));
          });
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) {
  if (!Writable(req)) return ReplyReadOnly(req);
  if (TooLong(name)) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  Offload(req, "mkdir",
          [req, core = Self(req).core, parent, n = std::string(name)](ReplyOnce& once) {
            auto r = core->Mkdir(parent, n);
            if (!once.Claim()) {
              if (r.ok()) core->Forget(r->attr.ino, 1);
              return;
            }
            if (!r.ok()) return ReplyError(req, r.error(), "mkdir");
            fuse_entry_param p = ToEntryParam(*r);
            if (fuse_reply_entry(req, &p) != 0) core->Forget(p.ino, 1);
          });
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!Writable(req)) return ReplyReadOnly(req);
  Offload(req, "unlink",
          [req, core = Self(req).core, parent, n = std::string(name)](ReplyOnce& once) {
            auto st = core->Unlink(parent, n);
            if (once.Claim()) ReplyStatus(req, st, "unlink");
          });
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!Writable(req)) return ReplyReadOnly(req);
  Offload(req, "rmdir",
          [req, core = Self(req).core, parent, n = std::string(name)](ReplyOnce& once) {
            auto st = core->Rmdir(parent, n);
            if (once.Claim()) ReplyStatus(req, st, "rmdir");
          });
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned flags) {
  if (!Writable(req)) return ReplyReadOnly(req);
  if ((flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) != 0) {
    fuse_reply_err(req, EINVAL);  // RENAME_EXCHANGE, RENAME_WHITEOUT
    return;
  }
  if (TooLong(new_name)) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  const bool no_replace = (flags & RENAME_NOREPLACE) != 0;
  Offload(req, "rename",
          [req, core = Self(req).core, parent, n = std::string(name), new_parent,
           nn = std::string(new_name), no_replace](ReplyOnce& once) {
            auto st = core->Rename(parent, n, new_parent, nn, no_replace);
            if (once.Claim()) ReplyStatus(req, st, "rename");
          });
}

// The Hub stores regular files only: no device nodes, links or extended
// attributes of our own choosing.
void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
  fuse_reply_err(req, Writable(req) ? EPERM : EROFS);
}
void OpSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
  fuse_reply_err(req, Writable(req) ? EPERM : EROFS);
}
void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
  fuse_reply_err(req, Writable(req) ? EPERM : EROFS);
}
void OpSetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  fuse_reply_err(req, Writable(req) ? ENOTSUP : EROFS);
}
void OpRemoveXattr(fuse_req_t req, fuse_ino_t, const char*) {
  fuse_reply_err(req, Writable(req) ? ENOTSUP : EROFS);
}
void OpFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
  // posix_fallocate(3) then writes zeros itself.
  fuse_reply_err(req, Writable(req) ? EOPNOTSUPP : EROFS);
}

}  // namespace

void AddWriteOps(fuse_lowlevel_ops* ops) {
  ops->create = OpCreate;
  ops->write = OpWrite;
  ops->flush = OpFlush;
  ops->fsync = OpFsync;
  ops->fsyncdir = OpFsyncDir;
  ops->setattr = OpSetAttr;
  ops->mknod = OpMknod;
  ops->mkdir = OpMkdir;
  ops->unlink = OpUnlink;
  ops->rmdir = OpRmdir;
  ops->symlink = OpSymlink;
  ops->rename = OpRename;
  ops->link = OpLink;
  ops->setxattr = OpSetXattr;
  ops->removexattr = OpRemoveXattr;
  ops->fallocate = OpFallocate;
}

}  // namespace hubfs::fs::fuse_internal
