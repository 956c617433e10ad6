// Fuzzes the shard parser: any input either fails cleanly or parses into a
// shard that serializes and parses back to the same content.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "chunkstore/shard.h"

// Aborts with the failed condition, so that a crash report says which.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs::chunkstore;
  using hubfs::Result;
  Result<Shard> shard = ParseShard(std::span<const uint8_t>(data, size));
  if (!shard.ok()) return 0;
  for (const ShardFile& f : shard->files) {
    FUZZ_CHECK(f.verification.empty() || f.verification.size() == f.terms.size());
    for (const ShardTerm& t : f.terms) FUZZ_CHECK(t.chunk_start < t.chunk_end);
  }
  std::vector<uint8_t> bytes = SerializeShard(*shard);
  FUZZ_CHECK(bytes.size() <= size);  // lookup tables and nothing else may be dropped
  Result<Shard> back = ParseShard(bytes);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->files == shard->files && back->xorbs == shard->xorbs);
  FUZZ_CHECK(back->footer.has_value() == shard->footer.has_value());
  if (shard->footer) {
    FUZZ_CHECK(back->footer->hmac_key == shard->footer->hmac_key);
    FUZZ_CHECK(back->footer->creation_timestamp == shard->footer->creation_timestamp);
    FUZZ_CHECK(back->footer->key_expiry == shard->footer->key_expiry);
  }
  return 0;
}
