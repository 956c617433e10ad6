// Fuzzes the CAS client's multipart/byteranges splitting
// (hub/cas_client.h ParseMultipartByteranges). Input: one byte with the
// number of ranges (1-4), two bytes per range (first offset, length - 1),
// then the Content-Type line up to '\n', then the body. An accepted answer
// has one buffer per range, each exactly as long as its range and taken from
// the body.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hub/cas_client.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs;
  using namespace hubfs::hub;
  if (size < 1) return 0;
  const size_t count = 1 + data[0] % 4;
  if (size < 1 + 2 * count) return 0;
  std::vector<ByteRange> ranges;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t first = data[1 + 2 * i];
    ranges.push_back({first, first + data[2 + 2 * i]});
  }
  std::string_view rest(reinterpret_cast<const char*>(data) + 1 + 2 * count, size - 1 - 2 * count);
  const size_t nl = rest.find('\n');
  std::string_view content_type = rest.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  Result<std::vector<std::string>> parts = ParseMultipartByteranges(content_type, body, ranges);
  if (!parts.ok()) {
    FUZZ_CHECK(parts.status().code() == ErrorCode::kCorrupt);
    return 0;
  }
  FUZZ_CHECK(parts->size() == ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    FUZZ_CHECK((*parts)[i].size() == ranges[i].size());
    FUZZ_CHECK(body.find((*parts)[i]) != std::string_view::npos);
  }
  return 0;
}
