// Fuzzes the write journal's record payloads (fs/write/pending_table.h
// DecodeRecord). A decoded record must name a path inside the repo,
// re-encode and decode to the same value, and apply to a table as described.
#include <cstdint>
#include <string>
#include <string_view>

#include "fs/write/pending_table.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// "/" + path + "/", built by appending.
std::string Slashed(std::string_view path) {
  std::string out(1, '/');
  out.append(path);
  out.push_back('/');
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs;
  using namespace hubfs::fs;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<PendingRecord> r = DecodeRecord(text);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == ErrorCode::kCorrupt);
    return 0;
  }
  // A relative path inside the repo: no NUL, no empty, "." or ".." component.
  FUZZ_CHECK(!r->path.empty() && r->path.size() <= 4096);
  FUZZ_CHECK(r->path.find('\0') == std::string::npos);
  const std::string slashed = Slashed(r->path);
  FUZZ_CHECK(slashed.find("//") == std::string::npos);
  FUZZ_CHECK(slashed.find("/./") == std::string::npos && slashed.find("/../") == std::string::npos);
  if (r->change) {
    FUZZ_CHECK(r->change->seq == r->seq);
    if (r->change->kind == PendingChange::Kind::kCopy) FUZZ_CHECK(r->change->base.has_value());
  }
  const std::string again = EncodeRecord(*r);
  Result<PendingRecord> back = DecodeRecord(again);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == *r);
  FUZZ_CHECK(EncodeRecord(*back) == again);

  PendingTable table;
  table.Apply(*r);
  FUZZ_CHECK(table.last_seq() == r->seq);
  const PendingChange* found = table.Find(r->path);
  FUZZ_CHECK((found != nullptr) == r->change.has_value());
  if (found) FUZZ_CHECK(*found == *r->change);
  return 0;
}
