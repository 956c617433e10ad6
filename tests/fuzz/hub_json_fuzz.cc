// Fuzzes the Hub's JSON answers (hub/hub_json.h): tree and paths-info
// entries, revision, refs, Xet token and repo lists. Every parser runs on
// every input; what one accepts must hold the promises of hub_types.h (safe
// paths, hex ids, bounded counts, a token usable in a header).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_json.h"
#include "hub/repo_id.h"
#include "hub/url.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::hub;

constexpr size_t kMaxEntries = 64;

void CheckTree(std::string_view body) {
  Result<std::vector<TreeEntry>> entries = ParseTreeEntries(body, kMaxEntries);
  if (!entries.ok()) {
    FUZZ_CHECK(entries.status().code() == ErrorCode::kCorrupt ||
               entries.status().code() == ErrorCode::kResourceExhausted);
    return;
  }
  FUZZ_CHECK(entries->size() <= kMaxEntries);
  for (const TreeEntry& e : *entries) {
    FUZZ_CHECK(ValidateRepoPath(e.path).ok());
    FUZZ_CHECK(e.path.find('\0') == std::string::npos);
    if (e.lfs) FUZZ_CHECK(IsHex64(e.lfs->sha256));
    if (e.xet_hash) FUZZ_CHECK(IsHex64(*e.xet_hash));
  }
  // A tighter bound refuses what the looser one accepted when it is exceeded.
  if (!entries->empty()) {
    Result<std::vector<TreeEntry>> none = ParseTreeEntries(body, 0);
    FUZZ_CHECK(!none.ok() && none.status().code() == ErrorCode::kResourceExhausted);
  }
}

void CheckRevision(std::string_view body) {
  Result<RevisionMeta> meta = ParseRevision(body);
  if (meta.ok()) FUZZ_CHECK(IsCommitSha(meta->sha));
  // A flag or an error, never a crash or an exception.
  (void)ParseRepoPrivate(body).ok();
}

void CheckRefs(std::string_view body) {
  Result<Refs> refs = ParseRefs(body);
  if (!refs.ok()) return;
  for (const auto* list : {&refs->branches, &refs->tags, &refs->converts, &refs->pull_requests}) {
    for (const GitRef& r : *list) FUZZ_CHECK(IsCommitSha(r.target_commit));
  }
}

void CheckToken(std::string_view body) {
  Result<XetToken> token = ParseXetToken(body);
  if (!token.ok()) return;
  FUZZ_CHECK(!token->access_token.empty());
  FUZZ_CHECK(token->access_token.find_first_of("\r\n \t") == std::string::npos);
  FUZZ_CHECK(token->cas_url.empty() || token->cas_url.back() != '/');
  FUZZ_CHECK(ParseUrl(token->cas_url).ok());
}

void CheckRepoList(std::string_view body) {
  Result<std::vector<RepoSummary>> repos = ParseRepoList(body, kMaxEntries);
  if (!repos.ok()) return;
  FUZZ_CHECK(repos->size() <= kMaxEntries);
  for (const RepoSummary& r : *repos) {
    FUZZ_CHECK(ParseRepoId(RepoType::kModel, r.id).ok());
    if (r.sha) FUZZ_CHECK(IsCommitSha(*r.sha));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  CheckTree(body);
  CheckRevision(body);
  CheckRefs(body);
  CheckToken(body);
  CheckRepoList(body);
  return 0;
}
