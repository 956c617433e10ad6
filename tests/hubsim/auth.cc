#include "tests/hubsim/auth.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

Status Users::Add(std::string_view spec) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return InvalidArgumentError("--user wants NAME:TOKEN");
  std::string name(spec.substr(0, colon));
  std::string token(spec.substr(colon + 1));
  if (token.rfind("hf_", 0) != 0 || token.size() < 4)
    return InvalidArgumentError("user tokens must look like hf_...");
  by_token_[token] = User{name};
  return Status::Ok();
}

std::optional<User> Users::Find(std::string_view token) const {
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return std::nullopt;
  return it->second;
}

std::string Signer::IssueXetToken(const XetTokenClaims& c) const {
  nlohmann::json j = {{"r", c.repo},
                      {"v", c.revision},
                      {"s", c.scope == Scope::kWrite ? "write" : "read"},
                      {"e", c.exp}};
  std::string payload = Base64UrlEncode(j.dump());
  return "xet_" + payload + "." + HmacHex(secret_, "xet|" + payload).substr(0, 40);
}

Result<XetTokenClaims> Signer::VerifyXetToken(std::string_view token, int64_t now) const {
  auto bad = [](const char* why) { return Status(ErrorCode::kUnauthenticated, why); };
  if (token.size() > 4096 || token.rfind("xet_", 0) != 0) return bad("not a xet token");
  token.remove_prefix(4);
  size_t dot = token.rfind('.');
  if (dot == std::string_view::npos) return bad("malformed token");
  std::string payload(token.substr(0, dot));
  if (!SafeEquals(token.substr(dot + 1), HmacHex(secret_, "xet|" + payload).substr(0, 40)))
    return bad("bad token signature");
  auto raw = Base64UrlDecode(payload);
  if (!raw) return bad("malformed token");
  auto j = nlohmann::json::parse(*raw, nullptr, false);
  if (!j.is_object() || !j["r"].is_string() || !j["v"].is_string() || !j["s"].is_string() ||
      !j["e"].is_number_integer())
    return bad("malformed token");
  XetTokenClaims c;
  c.repo = j["r"].get<std::string>();
  c.revision = j["v"].get<std::string>();
  c.scope = j["s"].get<std::string>() == "write" ? Scope::kWrite : Scope::kRead;
  c.exp = j["e"].get<int64_t>();
  if (c.exp <= now) return bad("token expired");
  return c;
}

std::string Signer::SignData(std::string_view object, std::string_view ranges, int64_t exp) const {
  std::string msg = "data|";
  msg += object;
  msg += '|';
  msg += ranges;
  msg += '|' + std::to_string(exp);
  return HmacHex(secret_, msg).substr(0, 32);
}

bool Signer::CheckData(std::string_view object, std::string_view ranges, int64_t exp,
                       std::string_view sig) const {
  return SafeEquals(sig, SignData(object, ranges, exp));
}

Result<std::string> LoadOrCreateSecret(const std::string& data_dir) {
  std::filesystem::path p = std::filesystem::path(data_dir) / "secret";
  auto existing = ReadFile(p, 4096);
  if (existing.ok() && existing->size() >= 32) return *existing;
  std::string secret = RandomHex(32);
  HUBFS_RETURN_IF_ERROR(WriteFileAtomic(p, secret));
  return secret;
}

}  // namespace hubfs::hubsim
