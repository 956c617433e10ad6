// Types the kernel-free filesystem core (VfsCore) answers with. The FUSE
// adapter turns a VfsErrc into an errno in exactly one function; nothing in
// the core knows about errno values.
#ifndef HUBFS_FS_VFS_TYPES_H_
#define HUBFS_FS_VFS_TYPES_H_

#include <cassert>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "common/status.h"

namespace hubfs::fs {

// Why a filesystem operation failed, in filesystem terms.
enum class VfsErrc {
  kNoEntry,      // no such name / stale inode
  kNotDir,       // a directory operation on a file
  kIsDir,        // a file operation on a directory
  kReadOnly,     // any change to a read-only view
  kNoAttr,       // no such extended attribute
  kRange,        // a reply buffer too small for the value
  kBadHandle,    // unknown file or directory handle
  kWouldBlock,   // the answer needs the network; retry with may_block
  kAccess,       // the Hub refused (401/403)
  kNoSpace,      // a bound was hit (inode table, rate limit)
  kTimedOut,     // a network deadline passed
  kIo,           // the source failed (network down, corrupt data, bug)
  kInvalid,      // malformed argument
};

// Lowercase name for logs ("no_entry").
const char* VfsErrcName(VfsErrc code);

struct VfsError {
  VfsErrc code = VfsErrc::kIo;
  Status cause;  // what the source reported, for logs; may be OK
};

// Maps a source error (hub, CAS, cache) to the filesystem condition it means.
VfsError VfsErrorFromStatus(const Status& status);

// A value or a VfsError.
template <typename T>
class [[nodiscard]] VfsResult {
 public:
  VfsResult(VfsError error) : v_(std::move(error)) {}      // NOLINT(implicit)
  VfsResult(VfsErrc code) : v_(VfsError{code, Status()}) {}  // NOLINT(implicit)
  VfsResult(T value) : v_(std::move(value)) {}             // NOLINT(implicit)
  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok()
  const VfsError& error() const { return std::get<VfsError>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<VfsError, T> v_;
};

struct VfsOk {};
using VfsStatus = VfsResult<VfsOk>;

// What stat(2) shows. Times are Unix seconds.
struct VfsAttr {
  uint64_t ino = 0;
  bool is_dir = false;
  uint32_t mode = 0;  // permission bits only (0444 / 0555)
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units
  int64_t mtime = 0;
};

// The answer to a lookup: the attributes and how long the kernel may cache
// them. The caller owes one Forget for each successful lookup.
struct VfsEntry {
  VfsAttr attr;
  double entry_timeout = 0;
  double attr_timeout = 0;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_TYPES_H_
