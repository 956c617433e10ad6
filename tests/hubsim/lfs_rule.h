// The one rule deciding whether a file is stored through LFS/Xet or as a git
// blob, shared by preupload and import: a `.gitattributes` pattern with
// `filter=lfs`, a size of at least 10 MiB, or a NUL byte in the first 512 bytes.
#ifndef HUBFS_TESTS_HUBSIM_LFS_RULE_H_
#define HUBFS_TESTS_HUBSIM_LFS_RULE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hubfs::hubsim {

inline constexpr uint64_t kLfsSizeThreshold = 10ull << 20;

// The `.gitattributes` a new repo starts with (the Hub's usual LFS patterns).
std::string DefaultGitAttributes();

// Glob match in the gitattributes dialect: `*` and `?` never match '/',
// `**` matches across directories, `[...]` classes. Patterns without '/' are
// matched against the basename, others against the whole path.
bool GitAttributesPatternMatches(std::string_view pattern, std::string_view path);

class LfsRule {
 public:
  // Collects the `filter=lfs` patterns of a .gitattributes text.
  explicit LfsRule(std::string_view gitattributes);

  bool MatchesPattern(std::string_view path) const;
  // `sample` = the first (up to) 512 bytes of the content.
  bool IsLfs(std::string_view path, uint64_t size, std::string_view sample) const;

 private:
  std::vector<std::pair<std::string, bool>> patterns_;  // pattern, lfs (false = -filter)
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_LFS_RULE_H_
