#include "fs/vfs/refs_tree.h"

#include <algorithm>

namespace hubfs::fs {
namespace {

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// A tree of names while it is being built: a node is a revision (target set)
// or a directory.
struct Node {
  std::map<std::string, Node> children;
  std::shared_ptr<const RefTarget> target;
};

// Adds `path` -> target unless a segment is invalid or the place is taken
// (first come wins).
void Insert(Node* root, std::string_view path, const std::shared_ptr<const RefTarget>& target) {
  std::vector<std::string> segs = Split(path);
  if (!std::all_of(segs.begin(), segs.end(), [](const std::string& s) { return ValidFileName(s); })) {
    return;
  }
  Node* node = root;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    auto it = node->children.find(segs[i]);
    if (it != node->children.end() && it->second.target) return;  // a revision is there
    node = &node->children[segs[i]];
  }
  if (node->children.count(segs.back()) != 0) return;
  node->children[segs.back()].target = target;
}

void Flatten(const Node& node, const std::string& path,
             std::map<std::string, std::vector<RefsTree::Entry>, std::less<>>* out) {
  auto& entries = (*out)[path];
  for (const auto& [name, child] : node.children) {  // std::map: sorted
    entries.push_back(RefsTree::Entry{name, child.target});
    if (!child.target) Flatten(child, path.empty() ? name : path + "/" + name, out);
  }
}

}  // namespace

bool ValidFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

RefsTree RefsTree::Build(const hub::Refs& refs) {
  RefsTree tree;
  Node root;
  auto add = [&](const hub::GitRef& r, const std::string& full) {
    auto target = std::make_shared<RefTarget>(RefTarget{full, r.target_commit});
    tree.commits_[full] = r.target_commit;
    return target;
  };
  // refs/ first: its subdirectories are fixed, a branch named "refs/..."
  // must not land among them.
  std::vector<std::pair<std::string, std::shared_ptr<const RefTarget>>> top;
  for (const auto& b : refs.branches) {
    auto t = add(b, "refs/heads/" + b.name);
    Insert(&root, t->ref, t);
    top.emplace_back(b.name, t);
  }
  for (const auto& tg : refs.tags) {
    auto t = add(tg, "refs/tags/" + tg.name);
    Insert(&root, t->ref, t);
    top.emplace_back(tg.name, t);
  }
  for (const auto& p : refs.pull_requests) {
    auto t = add(p, "refs/pr/" + p.name);
    Insert(&root, t->ref, t);
  }
  for (const auto& c : refs.converts) {
    auto t = add(c, "refs/convert/" + c.name);
    Insert(&root, t->ref, t);
  }
  // Branches before tags (the order of `top`): the branch wins a shared name.
  for (const auto& [name, target] : top) {
    if (name == "refs" || name.rfind("refs/", 0) == 0) continue;
    Insert(&root, name, target);
  }
  Flatten(root, "", &tree.dirs_);
  return tree;
}

const std::vector<RefsTree::Entry>* RefsTree::Dir(std::string_view path) const {
  auto it = dirs_.find(path);
  return it == dirs_.end() ? nullptr : &it->second;
}

const RefsTree::Entry* RefsTree::Find(std::string_view dir, std::string_view name) const {
  const auto* entries = Dir(dir);
  if (entries == nullptr) return nullptr;
  auto it = std::lower_bound(entries->begin(), entries->end(), name,
                             [](const Entry& e, std::string_view n) { return e.name < n; });
  if (it == entries->end() || it->name != name) return nullptr;
  return &*it;
}

std::string RefsTree::CommitOf(std::string_view ref) const {
  auto it = commits_.find(ref);
  return it == commits_.end() ? std::string() : it->second;
}

}  // namespace hubfs::fs
