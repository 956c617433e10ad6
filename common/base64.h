// Standard base64 (RFC 4648 §4, with padding), for inline file contents in
// commits and the preupload samples.
#ifndef HUBFS_COMMON_BASE64_H_
#define HUBFS_COMMON_BASE64_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs {

std::string Base64Encode(std::span<const uint8_t> data);
inline std::string Base64Encode(std::string_view data) {
  return Base64Encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                               data.size()));
}

// Strict decoding: length a multiple of 4, padding only at the end, no
// whitespace. Errors: kInvalidArgument.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace hubfs

#endif  // HUBFS_COMMON_BASE64_H_
