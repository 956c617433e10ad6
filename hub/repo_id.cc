#include "hub/repo_id.h"

#include <algorithm>

#include "hub/url.h"

namespace hubfs::hub {
namespace {

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool AllIdChars(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(std::min<size_t>(s.size(), 200) + 2);
  out.push_back('\'');
  out.append(s.substr(0, 200));
  out.push_back('\'');
  return out;
}

}  // namespace

std::string_view RepoTypeName(RepoType type) {
  switch (type) {
    case RepoType::kDataset:
      return "dataset";
    case RepoType::kSpace:
      return "space";
    case RepoType::kModel:
      break;
  }
  return "model";
}

std::string_view RepoTypeApiSegment(RepoType type) {
  switch (type) {
    case RepoType::kDataset:
      return "datasets";
    case RepoType::kSpace:
      return "spaces";
    case RepoType::kModel:
      break;
  }
  return "models";
}

std::string_view RepoTypeWebPrefix(RepoType type) {
  switch (type) {
    case RepoType::kDataset:
      return "datasets/";
    case RepoType::kSpace:
      return "spaces/";
    case RepoType::kModel:
      break;
  }
  return "";
}

std::string RepoId::ToString() const { return std::string(RepoTypeWebPrefix(type)) + Id(); }

Status ValidateRepoPart(std::string_view part, bool is_name) {
  const char* what = is_name ? "repo name" : "namespace";
  if (part.empty()) return InvalidArgumentError(std::string(what) + " is empty");
  if (is_name && part.size() > 96) {
    return InvalidArgumentError(std::string(what) + " " + Quote(part) +
                                " is longer than 96 characters");
  }
  if (!is_name && part.size() > 256) {
    return InvalidArgumentError(std::string(what) + " is longer than 256 characters");
  }
  for (char c : part) {
    if (!IsIdChar(c)) {
      return InvalidArgumentError(std::string(what) + " " + Quote(part) +
                                  " may only contain letters, digits, '_', '.' and '-'");
    }
  }
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') {
    return InvalidArgumentError(std::string(what) + " " + Quote(part) +
                                " may not start or end with '-' or '.'");
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return InvalidArgumentError(std::string(what) + " " + Quote(part) +
                                " may not contain '--' or '..'");
  }
  if (is_name && part.size() >= 4 && part.substr(part.size() - 4) == ".git") {
    return InvalidArgumentError(std::string(what) + " " + Quote(part) + " may not end with '.git'");
  }
  return Status::Ok();
}

Status ValidateNamespace(std::string_view ns) { return ValidateRepoPart(ns, /*is_name=*/false); }

Result<RepoId> ParseRepoId(RepoType type, std::string_view id) {
  size_t slash = id.find('/');
  if (slash == std::string_view::npos || id.find('/', slash + 1) != std::string_view::npos) {
    return InvalidArgumentError("repo id " + Quote(id) + " must be 'namespace/name'");
  }
  RepoId r;
  r.type = type;
  r.ns = std::string(id.substr(0, slash));
  r.name = std::string(id.substr(slash + 1));
  HUBFS_RETURN_IF_ERROR(ValidateRepoPart(r.ns, false));
  HUBFS_RETURN_IF_ERROR(ValidateRepoPart(r.name, true));
  return r;
}

Status ValidateRevision(std::string_view revision) {
  if (revision.empty()) return InvalidArgumentError("revision is empty");
  if (revision.size() > 255) return InvalidArgumentError("revision is longer than 255 bytes");
  for (char c : revision) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgumentError("revision contains a control character");
    }
  }
  if (revision.find("..") != std::string_view::npos || revision.front() == '/' ||
      revision.back() == '/') {
    return InvalidArgumentError("revision " + Quote(revision) + " is not a valid ref name");
  }
  return Status::Ok();
}

bool IsCommitSha(std::string_view s) { return IsLowerHex(s, 40); }
bool IsHex64(std::string_view s) { return IsLowerHex(s, 64); }

Status ValidateRepoPath(std::string_view path) {
  if (path.empty()) return InvalidArgumentError("path is empty");
  if (path.size() > 4096) return InvalidArgumentError("path is longer than 4096 bytes");
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgumentError("path contains a control character");
    }
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return InvalidArgumentError("path " + Quote(path) + " has an empty, '.' or '..' component");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<Source> ParseSource(std::string_view source) {
  std::string_view s = source;
  if (s.substr(0, 5) == "hf://") s.remove_prefix(5);
  Source out;
  if (s.substr(0, 9) == "datasets/") {
    out.repo.type = RepoType::kDataset;
    s.remove_prefix(9);
  } else if (s.substr(0, 7) == "spaces/") {
    out.repo.type = RepoType::kSpace;
    s.remove_prefix(7);
  } else if (s.substr(0, 7) == "models/") {
    s.remove_prefix(7);
  }
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgumentError("source " + Quote(source) +
                                " must name a repo as 'namespace/name'");
  }
  out.repo.ns = std::string(s.substr(0, slash));
  s.remove_prefix(slash + 1);
  size_t end = s.find_first_of("@/");
  out.repo.name = std::string(s.substr(0, end));
  s = end == std::string_view::npos ? std::string_view() : s.substr(end);
  HUBFS_RETURN_IF_ERROR(
      ValidateRepoPart(out.repo.ns, false).WithContext("source " + Quote(source)));
  HUBFS_RETURN_IF_ERROR(
      ValidateRepoPart(out.repo.name, true).WithContext("source " + Quote(source)));

  if (!s.empty() && s.front() == '@') {
    s.remove_prefix(1);
    // refs/pr/N and refs/convert/NAME keep their slashes.
    std::string_view raw_rev;
    auto seg = [](std::string_view v, size_t i) -> std::string_view {
      size_t start = 0;
      for (size_t k = 0; k < i; ++k) {
        size_t p = v.find('/', start);
        if (p == std::string_view::npos) return {};
        start = p + 1;
      }
      return v.substr(start, v.find('/', start) - start);
    };
    bool special = seg(s, 0) == "refs" && ((seg(s, 1) == "pr" && AllDigits(seg(s, 2))) ||
                                           (seg(s, 1) == "convert" && AllIdChars(seg(s, 2))));
    size_t rev_end;
    if (special) {
      rev_end = 5 + seg(s, 1).size() + 1 + seg(s, 2).size();
      if (rev_end > s.size()) rev_end = s.size();
    } else {
      rev_end = s.find('/');
      if (rev_end == std::string_view::npos) rev_end = s.size();
    }
    raw_rev = s.substr(0, rev_end);
    s.remove_prefix(rev_end);
    Result<std::string> rev =
        special ? Result<std::string>(std::string(raw_rev)) : PercentDecode(raw_rev);
    if (!rev.ok()) return rev.status().WithContext("revision in " + Quote(source));
    HUBFS_RETURN_IF_ERROR(ValidateRevision(*rev).WithContext("source " + Quote(source)));
    out.revision = std::move(rev).value();
  }
  if (!s.empty()) {
    // s starts with '/'.
    std::string_view sub = s.substr(1);
    while (!sub.empty() && sub.back() == '/') sub.remove_suffix(1);
    if (!sub.empty()) {
      HUBFS_RETURN_IF_ERROR(ValidateRepoPath(sub).WithContext("source " + Quote(source)));
      out.subdir = std::string(sub);
    }
  }
  return out;
}

}  // namespace hubfs::hub
