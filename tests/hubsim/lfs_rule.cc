#include "tests/hubsim/lfs_rule.h"

#include "tests/hubsim/util.h"

namespace hubfs::hubsim {
namespace {

// Matches pattern p against string s. Recursion depth is bounded by the
// pattern length (patterns come from .gitattributes lines ≤ 1 KiB).
bool Match(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**") {
      std::string_view rest = p.substr(2);
      if (!rest.empty() && rest[0] == '/') {
        // "**/" matches zero or more whole directories.
        std::string_view after = rest.substr(1);
        if (Match(after, s)) return true;
        for (size_t i = 0; i < s.size(); ++i)
          if (s[i] == '/' && Match(after, s.substr(i + 1))) return true;
        return false;
      }
      for (size_t i = 0; i <= s.size(); ++i)
        if (Match(rest, s.substr(i))) return true;
      return false;
    }
    char c = p[0];
    if (c == '*') {
      std::string_view rest = p.substr(1);
      for (size_t i = 0; i <= s.size(); ++i) {
        if (Match(rest, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') break;
      }
      return false;
    }
    if (s.empty()) return false;
    if (c == '?') {
      if (s[0] == '/') return false;
    } else if (c == '[') {
      size_t close = p.find(']', 2);
      if (close == std::string_view::npos) {
        if (s[0] != '[') return false;
      } else {
        std::string_view cls = p.substr(1, close - 1);
        bool negate = !cls.empty() && (cls[0] == '!' || cls[0] == '^');
        if (negate) cls.remove_prefix(1);
        bool found = false;
        for (size_t i = 0; i < cls.size(); ++i) {
          if (i + 2 < cls.size() && cls[i + 1] == '-') {
            if (s[0] >= cls[i] && s[0] <= cls[i + 2]) found = true;
            i += 2;
          } else if (cls[i] == s[0]) {
            found = true;
          }
        }
        if (found == negate || s[0] == '/') return false;
        p.remove_prefix(close + 1);
        s.remove_prefix(1);
        continue;
      }
    } else if (c == '\\' && p.size() > 1) {
      if (s[0] != p[1]) return false;
      p.remove_prefix(1);
    } else if (c != s[0]) {
      return false;
    }
    p.remove_prefix(1);
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

std::string DefaultGitAttributes() {
  static const char* kPatterns[] = {"*.7z",          "*.arrow",
                                    "*.bin",         "*.bz2",
                                    "*.ckpt",        "*.ftz",
                                    "*.gz",          "*.h5",
                                    "*.joblib",      "*.lfs.*",
                                    "*.mlmodel",     "*.model",
                                    "*.msgpack",     "*.npy",
                                    "*.npz",         "*.onnx",
                                    "*.ot",          "*.parquet",
                                    "*.pb",          "*.pickle",
                                    "*.pkl",         "*.pt",
                                    "*.pth",         "*.rar",
                                    "*.safetensors", "saved_model/**/*",
                                    "*.tar.*",       "*.tar",
                                    "*.tflite",      "*.tgz",
                                    "*.wasm",        "*.xz",
                                    "*.zip",         "*.zst",
                                    "*tfevents*",    "*.gguf"};
  std::string out;
  for (const char* p : kPatterns) {
    out += p;
    out += " filter=lfs diff=lfs merge=lfs -text\n";
  }
  return out;
}

bool GitAttributesPatternMatches(std::string_view pattern, std::string_view path) {
  if (pattern.empty()) return false;
  if (pattern[0] == '/') pattern.remove_prefix(1);
  if (pattern.find('/') == std::string_view::npos) {
    size_t slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    return Match(pattern, base);
  }
  return Match(pattern, path);
}

LfsRule::LfsRule(std::string_view gitattributes) {
  for (std::string_view line : Split(gitattributes, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#' || line.size() > 1024) continue;
    // First whitespace-separated token is the pattern; attributes follow.
    size_t ws = line.find_first_of(" \t");
    if (ws == std::string_view::npos) continue;
    std::string_view pattern = line.substr(0, ws);
    std::string_view attrs = line.substr(ws);
    bool lfs = false, unset = false;
    for (std::string_view a : Split(attrs, ' ')) {
      while (!a.empty() && a.front() == '\t') a.remove_prefix(1);
      if (a == "filter=lfs") lfs = true;
      if (a == "-filter" || a == "!filter") unset = true;
    }
    if (lfs || unset) patterns_.emplace_back(std::string(pattern), lfs);
  }
}

bool LfsRule::MatchesPattern(std::string_view path) const {
  bool lfs = false;
  for (const auto& [pattern, is_lfs] : patterns_)  // later lines win, as in git
    if (GitAttributesPatternMatches(pattern, path)) lfs = is_lfs;
  return lfs;
}

bool LfsRule::IsLfs(std::string_view path, uint64_t size, std::string_view sample) const {
  if (size == 0) return false;
  if (MatchesPattern(path) || size >= kLfsSizeThreshold) return true;
  return sample.substr(0, 512).find('\0') != std::string_view::npos;
}

}  // namespace hubfs::hubsim
