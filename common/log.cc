#include "common/log.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace hubfs::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

Sink& CurrentSink() {
  static Sink* const sink = new Sink();
  return *sink;
}

std::mutex& StderrMutex() {
  static std::mutex* const mu = new std::mutex();
  return *mu;
}

const char* LevelTag(Level level) {
  switch (level) {
    case Level::kDebug: return "D";
    case Level::kInfo: return "I";
    case Level::kWarning: return "W";
    case Level::kError: return "E";
    case Level::kOff: return "-";
  }
  return "?";
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

// A prefix only starts a token at a word start: "hf_" inside "xhf_" is not
// one, but after '=' or '/' (HF_TOKEN=hf_..., /hf_...) it is.
bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

void SetSink(Sink sink) { CurrentSink() = std::move(sink); }
void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }
Level MinLevel() { return static_cast<Level>(g_min_level.load(std::memory_order_relaxed)); }
bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed) &&
         level != Level::kOff;
}

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") *out = Level::kDebug;
  else if (name == "info") *out = Level::kInfo;
  else if (name == "warning" || name == "warn") *out = Level::kWarning;
  else if (name == "error") *out = Level::kError;
  else if (name == "off") *out = Level::kOff;
  else return false;
  return true;
}

std::string RedactSecrets(std::string_view text) {
  static constexpr std::string_view kPrefixes[] = {"hf_", "xet_", "Bearer ", "bearer ", "token="};
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    for (std::string_view p : kPrefixes) {
      if (text.substr(i, p.size()) != p) continue;
      if (i > 0 && IsWordChar(text[i - 1]) && p != "token=") continue;
      size_t j = i + p.size();
      size_t k = j;
      while (k < text.size() && IsTokenChar(text[k])) ++k;
      if (k == j) continue;  // nothing after the prefix
      out.append(p);
      out.append("<redacted>");
      i = k;
      matched = true;
      break;
    }
    if (!matched) out.push_back(text[i++]);
  }
  return out;
}

Message::Message(Level level, const char* file, int line) : level_(level) {
  std::string_view f(file);
  if (auto pos = f.find_last_of('/'); pos != std::string_view::npos) f.remove_prefix(pos + 1);
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
            1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::snprintf(ts, sizeof ts, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  os_ << LevelTag(level) << ' ' << ts << ' ' << f << ':' << line << "] ";
  // The header (our own source file name, e.g. xet_reader.cc) is not
  // redacted; only what the caller wrote is.
  header_size_ = static_cast<size_t>(os_.tellp());
}

Message::~Message() {
  const std::string raw = os_.str();
  const size_t head = std::min(header_size_, raw.size());
  std::string line = raw.substr(0, head) + RedactSecrets(std::string_view(raw).substr(head));
  const Sink& sink = CurrentSink();
  if (sink) {
    sink(level_, line);
    return;
  }
  std::lock_guard<std::mutex> lock(StderrMutex());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
}

}  // namespace hubfs::log
