// Fuzzes the syntax users type and the Hub echoes: sources
// ([hf://][type/]ns/name[@rev][/subdir]), repo ids, revisions and repo paths.
// Whatever a parser accepts must satisfy the validators, and a parsed source
// written back out (revision percent-encoded) must parse to the same value.
#include <cstdint>
#include <string>
#include <string_view>

#include "hub/repo_id.h"
#include "hub/url.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::hub;

void CheckPath(std::string_view in) {
  if (!ValidateRepoPath(in).ok()) return;
  FUZZ_CHECK(!in.empty() && in.size() <= 4096);
  FUZZ_CHECK(in.front() != '/' && in.back() != '/');
  FUZZ_CHECK(in.find('\0') == std::string_view::npos);
  FUZZ_CHECK(in.find("//") == std::string_view::npos);
  std::string slashed(1, '/');
  slashed.append(in);
  slashed.push_back('/');
  FUZZ_CHECK(slashed.find("/../") == std::string::npos);
  FUZZ_CHECK(slashed.find("/./") == std::string::npos);
}

void CheckRevision(std::string_view in) {
  if (!ValidateRevision(in).ok()) return;
  FUZZ_CHECK(!in.empty() && in.size() <= 255);
  FUZZ_CHECK(in.find("..") == std::string_view::npos);
  FUZZ_CHECK(in.front() != '/' && in.back() != '/');
  for (char c : in) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20);
}

void CheckRepoId(std::string_view in) {
  for (RepoType type : {RepoType::kModel, RepoType::kDataset, RepoType::kSpace}) {
    Result<RepoId> id = ParseRepoId(type, in);
    if (!id.ok()) continue;
    FUZZ_CHECK(id->type == type);
    FUZZ_CHECK(id->Id() == in);
    FUZZ_CHECK(ValidateRepoPart(id->ns, false).ok() && ValidateRepoPart(id->name, true).ok());
    FUZZ_CHECK(!id->name.empty() && id->name.size() <= 96);
  }
  if (IsCommitSha(in)) FUZZ_CHECK(in.size() == 40);
  if (IsHex64(in)) FUZZ_CHECK(in.size() == 64);
}

void CheckSource(std::string_view in) {
  Result<Source> src = ParseSource(in);
  if (!src.ok()) {
    FUZZ_CHECK(!src.status().ToString().empty());
    return;
  }
  FUZZ_CHECK(ValidateRepoPart(src->repo.ns, false).ok());
  FUZZ_CHECK(ValidateRepoPart(src->repo.name, true).ok());
  if (src->revision) FUZZ_CHECK(ValidateRevision(*src->revision).ok());
  if (!src->subdir.empty()) FUZZ_CHECK(ValidateRepoPath(src->subdir).ok());
  // Written back with the type spelled out (a model repo may live in a
  // namespace called "datasets") and the revision percent-encoded: the same
  // source.
  std::string again(RepoTypeApiSegment(src->repo.type));
  again.push_back('/');
  again.append(src->repo.Id());
  if (src->revision) {
    again.push_back('@');
    again.append(PercentEncode(*src->revision));
  }
  if (!src->subdir.empty()) {
    again.push_back('/');
    again.append(src->subdir);
  }
  Result<Source> back = ParseSource(again);
  if (!back.ok()) std::fprintf(stderr, "reparse of '%s': %s\n", again.c_str(),
                               back.status().ToString().c_str());
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->repo == src->repo);
  FUZZ_CHECK(back->revision == src->revision);
  FUZZ_CHECK(back->subdir == src->subdir);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckSource(in);
  CheckRepoId(in);
  CheckRevision(in);
  CheckPath(in);
  return 0;
}
