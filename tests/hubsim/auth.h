// Credentials: Hub users (from --user NAME:TOKEN), Xet CAS tokens (stateless,
// HMAC-signed, scoped to a repo and revision, expiring) and presigned data
// URLs (HMAC over the xorb, the allowed byte ranges and the expiry). The
// secret lives in the data dir, so tokens and URLs survive a restart.
#ifndef HUBFS_TESTS_HUBSIM_AUTH_H_
#define HUBFS_TESTS_HUBSIM_AUTH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::hubsim {

struct User {
  std::string name;
};

// Immutable after construction; thread-safe.
class Users {
 public:
  // Adds "NAME:TOKEN". Errors: kInvalidArgument when malformed or the token
  // does not start with "hf_".
  Status Add(std::string_view spec);
  // The user a bearer token belongs to, or nullopt.
  std::optional<User> Find(std::string_view token) const;

 private:
  std::map<std::string, User, std::less<>> by_token_;
};

enum class Scope { kRead, kWrite };

struct XetTokenClaims {
  std::string repo;      // "model/ns/name"
  std::string revision;  // as requested
  Scope scope = Scope::kRead;
  int64_t exp = 0;  // unix seconds
};

// Signs and checks tokens and URLs with one secret. Thread-safe (immutable).
class Signer {
 public:
  explicit Signer(std::string secret) : secret_(std::move(secret)) {}

  // "xet_<base64url(claims)>.<hmac>"
  std::string IssueXetToken(const XetTokenClaims& claims) const;
  // Errors: kUnauthenticated (malformed, bad signature, expired at `now`).
  Result<XetTokenClaims> VerifyXetToken(std::string_view token, int64_t now) const;

  // Signature of a data URL for `object` (e.g. "xorb/<hash>") allowing the
  // exact ranges `ranges` ("a-b,c-d") until `exp`.
  std::string SignData(std::string_view object, std::string_view ranges, int64_t exp) const;
  bool CheckData(std::string_view object, std::string_view ranges, int64_t exp,
                 std::string_view sig) const;

 private:
  std::string secret_;
};

// Loads DIR/secret, creating it on first use.
Result<std::string> LoadOrCreateSecret(const std::string& data_dir);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_AUTH_H_
