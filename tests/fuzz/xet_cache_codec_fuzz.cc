// Fuzzes what the Xet reader keeps in the chunk cache (fs/xet_cache_codec.h):
// file terms and learned xorb layouts. Input: 8 bytes of expected file size,
// then the payload. Decoded terms must re-encode to the very payload bytes
// and keep the documented bounds; decoded layouts must re-encode and decode
// to the same layout (record starts where a length is known), and merge with themselves unchanged.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fs/content/xet_cache_codec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs;
  using namespace hubfs::fs;
  if (size < 8) return 0;
  uint64_t file_size = 0;
  std::memcpy(&file_size, data, 8);
  std::span<const uint8_t> payload(data + 8, size - 8);

  Result<std::vector<chunkstore::ReconTerm>> terms = DecodeTerms(payload, file_size);
  if (terms.ok()) {
    uint64_t sum = 0;
    for (const chunkstore::ReconTerm& t : *terms) {
      FUZZ_CHECK(t.range.start < t.range.end);
      FUZZ_CHECK(t.unpacked_length > 0);
      FUZZ_CHECK(sum + t.unpacked_length >= sum);
      sum += t.unpacked_length;
    }
    FUZZ_CHECK(sum == file_size);
    std::vector<uint8_t> again = EncodeTerms(*terms, file_size);
    FUZZ_CHECK(again.size() == payload.size());
    FUZZ_CHECK(std::memcmp(again.data(), payload.data(), again.size()) == 0);
  } else {
    FUZZ_CHECK(terms.status().code() == ErrorCode::kCorrupt);
  }

  Result<LearnedLayout> layout = DecodeLayout(payload);
  if (layout.ok()) {
    FUZZ_CHECK(layout->lengths.size() <= kMaxLayoutChunks);
    FUZZ_CHECK(layout->record_starts.size() == layout->lengths.size());
    Result<LearnedLayout> back = DecodeLayout(EncodeLayout(*layout));
    FUZZ_CHECK(back.ok());
    // Record starts mean something only where the length is known.
    FUZZ_CHECK(back->lengths == layout->lengths && back->count_known == layout->count_known);
    for (size_t k = 0; k < layout->lengths.size(); ++k) {
      if (layout->lengths[k] != 0) FUZZ_CHECK(back->record_starts[k] == layout->record_starts[k]);
    }
    FUZZ_CHECK(EncodeLayout(*back) == EncodeLayout(*layout));
    LearnedLayout merged = *layout;
    bool changed = true;
    FUZZ_CHECK(merged.Merge(*layout, &changed));
    FUZZ_CHECK(!changed);
  } else {
    FUZZ_CHECK(layout.status().code() == ErrorCode::kCorrupt);
  }
  return 0;
}
