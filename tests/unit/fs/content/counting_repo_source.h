// CountingRepoSource: a RepoSource over another (the fake) that counts the
// calls reaching it and can play an unreachable endpoint, for the tests of
// the layers above it (caching, offline policy). Not thread-safe: for
// single-threaded tests.
#ifndef HUBFS_TESTS_UNIT_FS_CONTENT_COUNTING_REPO_SOURCE_H_
#define HUBFS_TESTS_UNIT_FS_CONTENT_COUNTING_REPO_SOURCE_H_

#include <string>
#include <vector>

#include "fs/content/repo_source.h"

namespace hubfs::fs {

class CountingRepoSource final : public RepoSource {
 public:
  explicit CountingRepoSource(RepoSource* inner) : inner_(inner) {}

  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo,
                                       std::string_view revision) override {
    ++resolves;
    if (down_) return Down();
    return inner_->ResolveRevision(repo, revision);
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override {
    ++lists;
    if (down_) return Down();
    return inner_->ListDir(repo, commit, dir);
  }
  Result<std::vector<hub::TreeEntry>> ListRecursive(const hub::RepoId& repo,
                                                    std::string_view commit,
                                                    std::string_view dir) override {
    ++recursive_lists;
    if (down_) return Down();
    return inner_->ListRecursive(repo, commit, dir);
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    ++reads;
    read_offsets.push_back(offset);
    if (down_) return Down();
    return inner_->Read(file, offset, out);
  }
  Result<hub::Refs> ListRefs(const hub::RepoId& repo) override {
    ++refs;
    if (down_) return Down();
    return inner_->ListRefs(repo);
  }

  // From now on every call fails as a connection refused would (no HTTP
  // status).
  void set_down(bool down) { down_ = down; }
  int calls() const { return resolves + lists + recursive_lists + reads + refs; }

  int resolves = 0;
  int lists = 0;
  int recursive_lists = 0;
  int reads = 0;
  int refs = 0;
  std::vector<uint64_t> read_offsets;

 private:
  static Status Down() { return UnavailableError("fake: connection refused"); }
  RepoSource* const inner_;
  bool down_ = false;
};

}  // namespace hubfs::fs

#endif  // HUBFS_TESTS_UNIT_FS_CONTENT_COUNTING_REPO_SOURCE_H_
