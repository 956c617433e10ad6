// Fuzzes chunk-cache entry decoding (chunkstore/cache_format.h). Input: one
// byte with the key length (mod 64), the key, then the stored value. A value
// that decodes must verify, decode the same way through DecodeVerified and
// survive a re-encode; any value encoded here must decode to its payload, and
// a single changed byte of it must be refused.
#include <algorithm>
#include <optional>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache_format.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::chunkstore;
namespace cf = hubfs::chunkstore::cache_format;

// Entries are written under the kind their key names (the verifier checks it).
void RoundTrip(std::string_view key, std::span<const uint8_t> payload, cf::Codec codec,
               uint8_t flip_at) {
  const std::optional<CacheKind> kind = cf::KeyKind(key);
  if (!kind) return;
  Result<std::vector<uint8_t>> enc = cf::EncodeValue(key, *kind, payload, codec);
  FUZZ_CHECK(enc.ok());
  FUZZ_CHECK(enc->size() >= cf::kHeaderSize);
  FUZZ_CHECK(cf::VerifyValue(key, *enc).ok());
  Result<std::vector<uint8_t>> dec = cf::DecodeValue(key, *enc);
  FUZZ_CHECK(dec.ok());
  FUZZ_CHECK(std::equal(dec->begin(), dec->end(), payload.begin(), payload.end()));
  std::vector<uint8_t> bad = *enc;
  bad[flip_at % bad.size()] ^= 0x01;
  FUZZ_CHECK(!cf::DecodeValue(key, bad).ok());
  // The same bytes under another key are refused.
  FUZZ_CHECK(!cf::DecodeValue(std::string(key) + "x", *enc).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t key_len = std::min<size_t>(data[0] % 64, size - 1);
  std::string_view key(reinterpret_cast<const char*>(data) + 1, key_len);
  std::span<const uint8_t> stored(data + 1 + key_len, size - 1 - key_len);

  Result<std::vector<uint8_t>> dec = cf::DecodeValue(key, stored);
  if (dec.ok()) {
    FUZZ_CHECK(dec->size() <= cf::kMaxDecodedSize);
    FUZZ_CHECK(cf::VerifyValue(key, stored).ok());
    Result<std::vector<uint8_t>> again = cf::DecodeVerified(stored);
    FUZZ_CHECK(again.ok() && *again == *dec);
    FUZZ_CHECK(cf::KeyKind(key).has_value());
    RoundTrip(key, *dec, cf::kCodecNone, data[0]);
  } else {
    FUZZ_CHECK(dec.status().code() == ErrorCode::kCorrupt);
  }
  (void)cf::DescribeKey(key);
  (void)cf::KeyKind(key);
  // The stored bytes as a payload, both codecs.
  RoundTrip(key, stored, cf::kCodecNone, data[0]);
  RoundTrip(key, stored, cf::kCodecZstd, data[0]);
  return 0;
}
