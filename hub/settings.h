// Settings as huggingface_hub users know them (HF_ENDPOINT, HF_TOKEN,
// HF_TOKEN_PATH, HF_HOME, HF_HUB_OFFLINE), read from an injected environment
// map so tests never touch the real one, and the Hub token source that
// re-reads the token file on demand so a rotated token is picked up.
#ifndef HUBFS_HUB_SETTINGS_H_
#define HUBFS_HUB_SETTINGS_H_

#include <functional>
#include <map>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::hub {

using Environment = std::map<std::string, std::string, std::less<>>;

// A snapshot of the process environment. For main(); library code takes an
// Environment argument instead.
Environment ProcessEnvironment();

// "1", "ON", "YES", "TRUE" in any case (huggingface_hub's rule).
bool IsTruthy(std::string_view value);

// "hubfs/<version>".
std::string UserAgent();

struct Settings {
  // HF_ENDPOINT without trailing '/'; default https://huggingface.co
  // (https://hub-ci.huggingface.co when HUGGINGFACE_CO_STAGING is true).
  std::string endpoint;
  // HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
  std::string hf_home;
  // HF_TOKEN_PATH, else $HF_HOME/token.
  std::string token_path;
  // HF_TOKEN, else HUGGING_FACE_HUB_TOKEN; an empty value falls through.
  std::optional<std::string> env_token;
  // HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is true: no request is sent.
  bool offline = false;
  // HUBFS_CACHE_DIR, else $HF_HOME/hubfs.
  std::string cache_dir;
  // HUBFS_SHARED_CACHE: the chunk tier shared by a cluster,
  // memcached://HOST:PORT[,HOST:PORT...]; "" = none.
  std::string shared_cache;
  std::string user_agent;
};

// Reads the settings from `env`. A leading "~/" in paths expands to $HOME.
// Errors: kInvalidArgument for an HF_ENDPOINT that is not an http(s) URL, or
// when no home directory can be found for a default path.
Result<Settings> LoadSettings(const Environment& env);

// Supplies the Hub token for each request. Thread-safe.
class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  // The current token, or nullopt to send none.
  virtual std::optional<std::string> HubToken() = 0;
};

// A fixed token (or none).
class StaticTokenProvider final : public TokenProvider {
 public:
  explicit StaticTokenProvider(std::optional<std::string> token) : token_(std::move(token)) {}
  std::optional<std::string> HubToken() override { return token_; }

 private:
  const std::optional<std::string> token_;
};

// The huggingface_hub discovery order: the environment token if set, else
// the token file, read again on every call (it is a few bytes; a rotated or
// newly written token takes effect at once). CR/LF are removed and
// surrounding spaces trimmed; an empty, missing, unreadable or oversized
// (> 64 KiB) file means no token. So does a file that another user owns
// (root excepted) or that group or others may write: someone else could
// choose the identity we act as (an error is logged once). A file others
// may read is used, with a warning once (the official clients write 0644).
class EnvOrFileTokenProvider final : public TokenProvider {
 public:
  explicit EnvOrFileTokenProvider(const Settings& settings)
      : env_token_(settings.env_token), token_path_(settings.token_path) {}
  std::optional<std::string> HubToken() override;

 private:
  // False (and logged once) when the open file's owner or mode is unsafe.
  bool SafeToUse(int fd);

  const std::optional<std::string> env_token_;
  const std::string token_path_;
  std::atomic<bool> warned_unsafe_{false};
  std::atomic<bool> warned_readable_{false};
};

// Removes every CR/LF and trims spaces and tabs; nullopt when nothing is left.
std::optional<std::string> CleanToken(std::string_view raw);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_SETTINGS_H_
