#include "fs/vfs/folder_readahead.h"

#include <algorithm>

namespace hubfs::fs {

FolderReadahead::FolderReadahead(FolderReadaheadOptions options) : options_(options) {}

bool FolderReadahead::OnRead(uint64_t fh, const std::string& dir, const std::string& name,
                             uint64_t offset, uint64_t len, uint64_t size) {
  if (!options_.enabled || size == 0) return false;
  MutexLock lock(&mu_);
  auto it = readers_.find(fh);
  if (it == readers_.end()) {
    if (readers_.size() >= std::max<size_t>(options_.max_handles, 1)) {
      auto oldest = std::min_element(
          readers_.begin(), readers_.end(),
          [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
      readers_.erase(oldest);
    }
    it = readers_.emplace(fh, Reader{0, size, true, false, 0}).first;
  }
  Reader& r = it->second;
  r.last_use = ++tick_;
  if (!r.in_order) return false;
  if (!r.copier && offset > r.furthest + options_.slack) {
    r.in_order = false;  // a seek forward: not a copy
    return false;
  }
  // A copier's furthest byte tells its release whether it read to the end.
  const bool was_whole = r.furthest >= size;
  r.furthest = std::max(r.furthest, std::min(offset + len, size));
  if (r.copier || r.furthest < std::min(size, options_.trigger_bytes)) return false;
  // A file before this one in the directory was read whole: a copy of the
  // folder in listing order.
  auto before = read_whole_.find(dir);
  const bool follows = before != read_whole_.end() && before->second < name;
  if (r.furthest >= size && !was_whole) {
    if (before == read_whole_.end() &&
        read_whole_.size() >= std::max<size_t>(options_.max_handles, 1)) {
      read_whole_.erase(read_whole_.begin());
    }
    read_whole_[dir] = name;
  }
  if (!follows) return false;
  r.copier = true;
  return true;
}

bool FolderReadahead::OnRelease(uint64_t fh) {
  MutexLock lock(&mu_);
  auto it = readers_.find(fh);
  if (it == readers_.end()) return false;
  const bool early = it->second.copier && it->second.furthest < it->second.size;
  readers_.erase(it);
  return early;
}

std::vector<uint64_t> FolderReadahead::Split(std::span<const uint64_t> sizes) const {
  const size_t n = std::min(sizes.size(), options_.max_files);
  std::vector<uint64_t> out(sizes.size(), 0);
  // Water-filling: hand the smallest files what they need while that is
  // less than an equal share of what is left; the others share the rest.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] < sizes[b]; });
  uint64_t left = options_.lead_bytes;
  for (size_t k = 0; k < n; ++k) {
    const uint64_t share = left / (n - k);
    const uint64_t give = std::min(sizes[order[k]], share);
    out[order[k]] = give;
    left -= give;
  }
  return out;
}

std::vector<std::pair<FileContent, uint64_t>> FolderReadahead::NextFiles(
    const Listing& listing, const FileContent& file) const {
  std::vector<std::pair<FileContent, uint64_t>> out;
  const size_t slash = file.path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : file.path.substr(0, slash);
  const std::string_view name =
      slash == std::string::npos ? std::string_view(file.path)
                                 : std::string_view(file.path).substr(slash + 1);
  auto it = std::upper_bound(listing.children.begin(), listing.children.end(), name,
                             [](std::string_view n, const Child& c) { return n < c.name; });
  std::vector<uint64_t> sizes;
  for (; it != listing.children.end() && out.size() < options_.max_files; ++it) {
    const NodeMeta* m = it->meta.get();
    if (m == nullptr || m->is_dir || !m->xet_hash || m->size == 0) continue;
    out.push_back({FileContent{file.repo, file.commit, ChildPath(dir, it->name), m->oid, m->size,
                               m->xet_hash, m->sha256},
                   0});
    sizes.push_back(m->size);
  }
  const std::vector<uint64_t> split = Split(sizes);
  for (size_t i = 0; i < out.size(); ++i) out[i].second = split[i];
  return out;
}

size_t FolderReadahead::handles() const {
  MutexLock lock(&mu_);
  return readers_.size();
}

}  // namespace hubfs::fs
