#include "fs/vfs/inode_table.h"

namespace hubfs::fs {

InodeTable::InodeTable(size_t max_inodes) : max_inodes_(max_inodes) {}

uint64_t InodeTable::AddRoot(uint32_t view, std::string path,
                             std::shared_ptr<const NodeMeta> meta) {
  MutexLock lock(&mu_);
  uint64_t ino = next_ino_++;
  by_path_[Key(view, path)] = ino;
  ++per_view_[view];
  nodes_[ino] = Node{InodeInfo{ino, view, std::move(path), std::move(meta)}, 1, true};
  return ino;
}

VfsResult<uint64_t> InodeTable::Ref(uint32_t view, const std::string& path,
                                    std::shared_ptr<const NodeMeta> meta) {
  MutexLock lock(&mu_);
  Key key(view, path);
  auto it = by_path_.find(key);
  if (it != by_path_.end()) {
    Node& node = nodes_.at(it->second);
    if (node.info.meta->oid == meta->oid && node.info.meta->is_dir == meta->is_dir) {
      ++node.nlookup;
      return node.info.ino;
    }
    // A directory is the same directory whatever it holds: its tree oid
    // changes with every commit under it, its number must not. The kernel
    // keeps one dentry per directory inode; a new number for the parent
    // while a child keeps its own puts the child's inode under two parents,
    // and a lookup racing a rename then fails with ESTALE (d_splice_alias).
    if (node.info.meta->is_dir && meta->is_dir) {
      node.info.meta = std::move(meta);
      ++node.nlookup;
      return node.info.ino;
    }
    // Changed content: the old inode lives on for its holders, unnamed.
    by_path_.erase(it);
  }
  if (nodes_.size() >= max_inodes_) return VfsErrc::kNoSpace;
  uint64_t ino = next_ino_++;
  by_path_[key] = ino;
  ++per_view_[view];
  nodes_[ino] = Node{InodeInfo{ino, view, path, std::move(meta)}, 1, false};
  return ino;
}

VfsStatus InodeTable::Update(uint64_t ino, std::shared_ptr<const NodeMeta> meta) {
  MutexLock lock(&mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return VfsErrc::kNoEntry;
  it->second.info.meta = std::move(meta);
  return VfsOk{};
}

void InodeTable::UnnameLocked(const Key& key) {
  auto it = by_path_.find(key);
  if (it == by_path_.end()) return;
  // The inode keeps its path for its holders; it is no longer found by name.
  by_path_.erase(it);
}

VfsStatus InodeTable::Rename(uint32_t view, const std::string& from, const std::string& to) {
  MutexLock lock(&mu_);
  auto src = by_path_.find(Key(view, from));
  if (src == by_path_.end()) return VfsErrc::kNoEntry;
  if (nodes_.at(src->second).pinned) return VfsErrc::kInvalid;
  const std::string from_prefix = from + "/";
  if (to == from || to.compare(0, from_prefix.size(), from_prefix) == 0) return VfsErrc::kInvalid;
  // The entry itself and every live name under it, in path order.
  std::vector<std::pair<std::string, uint64_t>> moved{{from, src->second}};
  for (auto it = by_path_.lower_bound(Key(view, from_prefix)); it != by_path_.end(); ++it) {
    const auto& [v, path] = it->first;
    if (v != view || path.compare(0, from_prefix.size(), from_prefix) != 0) break;
    moved.emplace_back(path, it->second);
  }
  // Whatever held the new names loses them (a rename replaces its target).
  const std::string to_prefix = to + "/";
  std::vector<Key> replaced{Key(view, to)};
  for (auto it = by_path_.lower_bound(Key(view, to_prefix)); it != by_path_.end(); ++it) {
    const auto& [v, path] = it->first;
    if (v != view || path.compare(0, to_prefix.size(), to_prefix) != 0) break;
    replaced.push_back(it->first);
  }
  for (const Key& k : replaced) UnnameLocked(k);
  for (const auto& [path, ino] : moved) {
    by_path_.erase(Key(view, path));
    std::string renamed = to + path.substr(from.size());
    nodes_.at(ino).info.path = renamed;
    by_path_[Key(view, std::move(renamed))] = ino;
  }
  return VfsOk{};
}

void InodeTable::Unname(uint32_t view, const std::string& path) {
  MutexLock lock(&mu_);
  UnnameLocked(Key{view, path});
}

std::optional<uint32_t> InodeTable::Forget(uint64_t ino, uint64_t n) {
  MutexLock lock(&mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second.pinned) return std::nullopt;
  Node& node = it->second;
  node.nlookup = n >= node.nlookup ? 0 : node.nlookup - n;
  if (node.nlookup > 0) return std::nullopt;
  const uint32_t view = node.info.view;
  auto p = by_path_.find(Key(view, node.info.path));
  if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
  nodes_.erase(it);
  auto v = per_view_.find(view);
  if (v != per_view_.end() && --v->second == 0) per_view_.erase(v);
  return view;
}

size_t InodeTable::CountInView(uint32_t view) const {
  MutexLock lock(&mu_);
  auto it = per_view_.find(view);
  return it == per_view_.end() ? 0 : it->second;
}

VfsResult<InodeInfo> InodeTable::Get(uint64_t ino) const {
  MutexLock lock(&mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return VfsErrc::kNoEntry;
  return it->second.info;
}

uint64_t InodeTable::Find(uint32_t view, const std::string& path) const {
  MutexLock lock(&mu_);
  auto it = by_path_.find(Key{view, path});
  return it == by_path_.end() ? 0 : it->second;
}

std::vector<std::string> InodeTable::ChildNames(uint32_t view, const std::string& dir) const {
  const std::string prefix = dir.empty() ? "" : dir + "/";
  std::vector<std::string> out;
  MutexLock lock(&mu_);
  for (auto it = by_path_.lower_bound(Key(view, prefix)); it != by_path_.end(); ++it) {
    const auto& [v, path] = it->first;
    if (v != view || path.compare(0, prefix.size(), prefix) != 0) break;
    if (path.size() == prefix.size()) continue;  // the directory itself (root)
    if (path.find('/', prefix.size()) != std::string::npos) continue;  // deeper
    out.push_back(path.substr(prefix.size()));
  }
  return out;
}

size_t InodeTable::size() const {
  MutexLock lock(&mu_);
  return nodes_.size();
}

}  // namespace hubfs::fs
