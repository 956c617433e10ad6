#include "fs/vfs/handle_table.h"

#include <utility>

namespace hubfs::fs {

HandleTable::HandleTable(size_t max_handles) : max_handles_(max_handles) {}

bool HandleTable::FullLocked() const { return files_.size() + dirs_.size() >= max_handles_; }

VfsResult<uint64_t> HandleTable::AddFile(FileHandle handle) {
  MutexLock lock(&mu_);
  if (FullLocked()) return VfsErrc::kNoSpace;
  const uint64_t fh = next_fh_++;
  files_.emplace(fh, std::move(handle));
  return fh;
}

VfsResult<uint64_t> HandleTable::AddDir(DirHandle handle) {
  MutexLock lock(&mu_);
  if (FullLocked()) return VfsErrc::kNoSpace;
  const uint64_t dh = next_fh_++;
  dirs_.emplace(dh, std::move(handle));
  return dh;
}

VfsResult<FileHandle> HandleTable::File(uint64_t fh) const {
  MutexLock lock(&mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return VfsErrc::kBadHandle;
  return it->second;
}

VfsResult<DirHandle> HandleTable::Dir(uint64_t dh) const {
  MutexLock lock(&mu_);
  auto it = dirs_.find(dh);
  if (it == dirs_.end()) return VfsErrc::kBadHandle;
  return it->second;
}

std::optional<uint32_t> HandleTable::RemoveFile(uint64_t fh) {
  MutexLock lock(&mu_);
  auto it = files_.find(fh);
  if (it == files_.end()) return std::nullopt;
  const uint32_t view = it->second.view;
  files_.erase(it);
  return view;
}

std::optional<uint32_t> HandleTable::RemoveDir(uint64_t dh) {
  MutexLock lock(&mu_);
  auto it = dirs_.find(dh);
  if (it == dirs_.end()) return std::nullopt;
  const uint32_t view = it->second.view;
  dirs_.erase(it);
  return view;
}

}  // namespace hubfs::fs
