#include "hub/settings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "hub/url.h"

extern char** environ;

namespace hubfs::hub {
namespace {

constexpr size_t kMaxTokenFileBytes = 64u << 10;

std::optional<std::string> NonEmpty(const Environment& env, std::string_view name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

Result<std::string> ExpandHome(const Environment& env, std::string path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    auto home = NonEmpty(env, "HOME");
    if (!home) return InvalidArgumentError("cannot expand '~': HOME is not set");
    path = *home + path.substr(1);
  }
  return path;
}

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

bool IsTruthy(std::string_view value) {
  std::string v;
  for (char c : value) v.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string UserAgent() { return std::string("hubfs/") + HUBFS_VERSION; }

std::optional<std::string> CleanToken(std::string_view raw) {
  std::string t;
  for (char c : raw) {
    if (c != '\r' && c != '\n') t.push_back(c);
  }
  size_t b = t.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  size_t e = t.find_last_not_of(" \t");
  return t.substr(b, e - b + 1);
}

Result<Settings> LoadSettings(const Environment& env) {
  Settings s;
  if (auto ep = NonEmpty(env, "HF_ENDPOINT")) {
    s.endpoint = *ep;
  } else if (auto staging = NonEmpty(env, "HUGGINGFACE_CO_STAGING");
             staging && IsTruthy(*staging)) {
    s.endpoint = "https://hub-ci.huggingface.co";
  } else {
    s.endpoint = "https://huggingface.co";
  }
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  if (Result<ParsedUrl> p = ParseUrl(s.endpoint); !p.ok()) {
    return InvalidArgumentError("HF_ENDPOINT '" + s.endpoint +
                                "' is not an http(s) URL: " + p.status().message());
  }

  if (auto home = NonEmpty(env, "HF_HOME")) {
    HUBFS_ASSIGN_OR_RETURN(s.hf_home, ExpandHome(env, *home));
  } else if (auto xdg = NonEmpty(env, "XDG_CACHE_HOME")) {
    HUBFS_ASSIGN_OR_RETURN(s.hf_home, ExpandHome(env, *xdg + "/huggingface"));
  } else {
    auto user_home = NonEmpty(env, "HOME");
    if (!user_home) return InvalidArgumentError("neither HF_HOME nor HOME is set");
    s.hf_home = *user_home + "/.cache/huggingface";
  }
  while (s.hf_home.size() > 1 && s.hf_home.back() == '/') s.hf_home.pop_back();

  if (auto tp = NonEmpty(env, "HF_TOKEN_PATH")) {
    HUBFS_ASSIGN_OR_RETURN(s.token_path, ExpandHome(env, *tp));
  } else {
    s.token_path = s.hf_home + "/token";
  }
  if (auto sc = NonEmpty(env, "HUBFS_SHARED_CACHE")) s.shared_cache = std::string(*sc);
  if (auto cd = NonEmpty(env, "HUBFS_CACHE_DIR")) {
    HUBFS_ASSIGN_OR_RETURN(s.cache_dir, ExpandHome(env, *cd));
  } else {
    s.cache_dir = s.hf_home + "/hubfs";
  }

  for (std::string_view name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    if (auto t = NonEmpty(env, name)) {
      if (auto clean = CleanToken(*t)) {
        s.env_token = std::move(clean);
        break;
      }
    }
  }
  for (std::string_view name : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) {
    if (auto v = NonEmpty(env, name); v && IsTruthy(*v)) s.offline = true;
  }
  s.user_agent = UserAgent();
  return s;
}

bool EnvOrFileTokenProvider::SafeToUse(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const bool foreign = st.st_uid != ::geteuid() && st.st_uid != 0;
  if (foreign || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    if (!warned_unsafe_.exchange(true)) {
      HUBFS_LOG(kError) << "token file " << token_path_ << " ignored: "
                        << (foreign ? "it belongs to another user (uid " +
                                          std::to_string(st.st_uid) + ")"
                                    : std::string("other users may write it"))
                        << "; make it yours and chmod 600 it";
    }
    return false;
  }
  if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0 && !warned_readable_.exchange(true)) {
    HUBFS_LOG(kWarning) << "token file " << token_path_
                        << " is readable by other users; chmod 600 it";
  }
  return true;
}

std::optional<std::string> EnvOrFileTokenProvider::HubToken() {
  if (env_token_) return env_token_;
  int fd = ::open(token_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  if (!SafeToUse(fd)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string data;
  char buf[4096];
  bool too_big = false;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxTokenFileBytes) {
      too_big = true;
      break;
    }
  }
  ::close(fd);
  if (too_big) {
    HUBFS_LOG(kWarning) << "token file " << token_path_ << " is larger than " << kMaxTokenFileBytes
                        << " bytes; ignored";
    return std::nullopt;
  }
  return CleanToken(data);
}

}  // namespace hubfs::hub
