// Fuzzes the shard parser: any input either fails cleanly or parses into a
// shard that serializes and parses back to the same content.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "chunkstore/shard.h"

namespace {
void Check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs::chunkstore;
  using hubfs::Result;
  Result<Shard> shard = ParseShard(std::span<const uint8_t>(data, size));
  if (!shard.ok()) return 0;
  for (const ShardFile& f : shard->files) {
    Check(f.verification.empty() || f.verification.size() == f.terms.size());
    for (const ShardTerm& t : f.terms) Check(t.chunk_start < t.chunk_end);
  }
  std::vector<uint8_t> bytes = SerializeShard(*shard);
  Check(bytes.size() <= size);  // lookup tables and nothing else may be dropped
  Result<Shard> back = ParseShard(bytes);
  Check(back.ok());
  Check(back->files == shard->files && back->xorbs == shard->xorbs);
  Check(back->footer.has_value() == shard->footer.has_value());
  if (shard->footer) {
    Check(back->footer->hmac_key == shard->footer->hmac_key);
    Check(back->footer->creation_timestamp == shard->footer->creation_timestamp);
    Check(back->footer->key_expiry == shard->footer->key_expiry);
  }
  return 0;
}
