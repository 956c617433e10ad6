// Feeds arbitrary bytes to WriteJournal::Open as the journal file of a fresh
// directory (fs/write/journal.h). The first input byte picks the framing:
// even, the rest is the raw file; odd, the rest is split at '\n' and every
// piece but the last is framed with a correct length and checksum (the last
// stays raw: a torn or damaged tail), so that the fuzzer reaches the record
// decoder. An accepted journal must reopen to the same state with nothing
// torn, hand out staging ids no change uses, and leave only its own files.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>

#include "chunkstore/cache_checksum.h"
#include "common/file_env.h"
#include "common/log.h"
#include "fs/write/journal.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::fs;

void PutU32(std::string* out, uint32_t v) {
  for (int s = 0; s < 32; s += 8) out->push_back(static_cast<char>((v >> s) & 0xff));
}

std::string Frame(std::string_view payload) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  PutU32(&out, chunkstore::cache_format::Crc32c(
                   0, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}));
  out.append(payload);
  return out;
}

const std::filesystem::path& Root() {
  static const std::filesystem::path root = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "journal_fuzz.XXXXXX").string();
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
    std::atexit([] { std::filesystem::remove_all(Root()); });
    return std::filesystem::path(tmpl);
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const bool quiet = [] {
    log::SetMinLevel(log::Level::kOff);
    return true;
  }();
  (void)quiet;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  if (data[0] % 2 == 0) {
    file = rest;
  } else {
    size_t nl;
    while ((nl = rest.find('\n')) != std::string_view::npos) {
      file += Frame(rest.substr(0, nl));
      rest.remove_prefix(nl + 1);
    }
    file += rest;
  }
  const std::filesystem::path dir = Root() / "j";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "staging");
  {
    std::ofstream(dir / "journal", std::ios::binary) << file;
    std::ofstream(dir / "staging" / "7", std::ios::binary) << "x";
  }
  FileEnv* env = FileEnv::Default();
  JournalOpenInfo info;
  Result<std::unique_ptr<WriteJournal>> j = WriteJournal::Open(env, dir.string(), &info);
  if (!j.ok()) {
    FUZZ_CHECK(j.status().code() == ErrorCode::kCorrupt);
    return 0;
  }
  const std::map<std::string, PendingChange> entries = (*j)->table().entries();
  const uint64_t seq = (*j)->table().last_seq();
  const auto base = (*j)->base_commit();
  const auto pr = (*j)->pr_number();
  uint64_t max_staging = 0;
  for (const auto& [path, c] : entries) {
    if (c.kind == PendingChange::Kind::kStaged) max_staging = std::max(max_staging, c.staging_id);
  }
  const uint64_t fresh = (*j)->NewStagingId();
  FUZZ_CHECK(fresh > max_staging && fresh > 7);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = std::filesystem::relative(e.path(), dir).string();
    // "reserve": the journal's space reserve (fs/write/journal.h).
    FUZZ_CHECK(rel == "lock" || rel == "journal" || rel == "reserve" || rel == "staging" ||
               rel == "staging/7");
  }
  j->reset();
  JournalOpenInfo info2;
  Result<std::unique_ptr<WriteJournal>> again = WriteJournal::Open(env, dir.string(), &info2);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(!info2.torn_tail);
  FUZZ_CHECK((*again)->table().entries() == entries);
  FUZZ_CHECK((*again)->table().last_seq() == seq);
  FUZZ_CHECK((*again)->base_commit() == base && (*again)->pr_number() == pr);
  return 0;
}
