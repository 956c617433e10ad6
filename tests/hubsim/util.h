// Small helpers shared by hubsim: hashing (SHA-1, HMAC), encodings (hex,
// base64, URL percent-encoding), atomic file writes and time formatting.
#ifndef HUBFS_TESTS_HUBSIM_UTIL_H_
#define HUBFS_TESTS_HUBSIM_UTIL_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubfs::hubsim {

std::string Sha1Hex(std::string_view data);
// Git blob id: sha1("blob <n>\0" + content).
std::string GitBlobOid(std::string_view content);
// The LFS pointer text git stores for an LFS file.
std::string LfsPointer(std::string_view sha256_hex, uint64_t size);
std::string Sha256Hex(std::string_view data);
// HMAC-SHA256 of `data` under `key`, lowercase hex.
std::string HmacHex(std::string_view key, std::string_view data);
// Constant-time comparison.
bool SafeEquals(std::string_view a, std::string_view b);
std::string RandomHex(size_t bytes);

std::string Base64Encode(std::string_view data);
// Standard alphabet, padding optional; whitespace not accepted.
std::optional<std::string> Base64Decode(std::string_view in);
std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view in);

// Percent-decodes `in` ('+' stays '+'). nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view in);
// Percent-encodes everything except unreserved characters, and '/' when keep_slash.
std::string PercentEncode(std::string_view in, bool keep_slash);

bool IsHex(std::string_view s);
bool IsLowerHex(std::string_view s, size_t len);

// Writes `data` to `path` atomically (temp file in the same directory, fsync-less
// rename). Creates parent directories.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data);
// Reads a whole file; kNotFound when absent, kResourceExhausted beyond max_size.
Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_size = 1ull << 30);

// "2024-05-01T12:00:00.000Z"
std::string IsoTime(int64_t unix_seconds);

// Splits on `sep`, keeping empty pieces.
std::vector<std::string_view> Split(std::string_view s, char sep);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_UTIL_H_
