// Repo types, repo ids and the source syntax users type:
//   [hf://][datasets/|spaces/|models/]ns/name[@rev][/subdir]
// `refs/pr/N` and `refs/convert/NAME` may keep their slashes; any other
// revision containing '/' is written with %2F and decoded after splitting.
#ifndef HUBFS_HUB_REPO_ID_H_
#define HUBFS_HUB_REPO_ID_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::hub {

enum class RepoType { kModel, kDataset, kSpace };

// "model", "dataset", "space".
std::string_view RepoTypeName(RepoType type);
// API route segment: "models", "datasets", "spaces".
std::string_view RepoTypeApiSegment(RepoType type);
// Web/file route prefix: "", "datasets/", "spaces/".
std::string_view RepoTypeWebPrefix(RepoType type);

struct RepoId {
  RepoType type = RepoType::kModel;
  std::string ns;  // namespace (user or organisation)
  std::string name;

  // "ns/name", as used in URLs (the slash stays literal).
  std::string Id() const { return ns + "/" + name; }
  // "datasets/ns/name" or "ns/name" for models: the user-facing spelling.
  std::string ToString() const;
  friend bool operator==(const RepoId&, const RepoId&) = default;
};

// Checks one namespace or name part (hub-api.md §1): characters
// [A-Za-z0-9_.-]; not starting or ending with '-' or '.'; no "--" or "..";
// a name is 1-96 characters and does not end in ".git". `what` names the part
// in the error ("namespace", "name"). Errors: kInvalidArgument.
Status ValidateRepoPart(std::string_view part, bool is_name);

// Parses "ns/name" for the given type. Errors: kInvalidArgument with the
// reason.
Result<RepoId> ParseRepoId(RepoType type, std::string_view id);

// A namespace alone (for listing a user's repos). Errors: kInvalidArgument.
Status ValidateNamespace(std::string_view ns);

// Checks a revision: non-empty, at most 255 bytes, no control characters,
// no "..", not starting or ending with '/'. Errors: kInvalidArgument.
Status ValidateRevision(std::string_view revision);

// 40 lowercase hex characters: a full commit sha (immutable).
bool IsCommitSha(std::string_view s);
// 64 lowercase hex characters (Xet hashes, sha256).
bool IsHex64(std::string_view s);

struct Source {
  RepoId repo;
  std::optional<std::string> revision;  // decoded; nullopt = default branch
  std::string subdir;                   // "" or "a/b" (no leading/trailing '/')
};

// Parses the source syntax above. Errors: kInvalidArgument with a message
// that names the offending part.
Result<Source> ParseSource(std::string_view source);

// Checks a path inside a repo: relative, no empty, "." or ".." segments, no
// NUL or control characters, at most 4096 bytes. Errors: kInvalidArgument.
Status ValidateRepoPath(std::string_view path);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_REPO_ID_H_
