// Logging facade.
//
//   HUBFS_LOG(kInfo) << "mounted " << repo;
//
// Lines go to one process-wide sink (stderr by default; the daemon points it
// at a file). The sink and the minimum level are set once by main() before
// threads start; everything else only reads them. Every line passes through
// RedactSecrets(), so a Hub token (hf_...), a Xet token or an Authorization
// header value never reaches a log even if a caller formats one by mistake.
#ifndef HUBFS_COMMON_LOG_H_
#define HUBFS_COMMON_LOG_H_

#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace hubfs::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Receives one formatted, redacted line without a trailing newline.
// Must be thread-safe.
using Sink = std::function<void(Level, std::string_view line)>;

// Replaces the sink (nullptr restores stderr). Not thread-safe: call before
// starting threads.
void SetSink(Sink sink);
void SetMinLevel(Level level);
Level MinLevel();
bool Enabled(Level level);

// Parses "debug", "info", "warning"/"warn", "error", "off". Returns false on
// an unknown name.
bool ParseLevel(std::string_view name, Level* out);

// Masks secrets in `text`: "hf_" tokens, "xet_" tokens, and whatever follows
// "Bearer " or "token=". Idempotent.
std::string RedactSecrets(std::string_view text);

// One log statement; emits on destruction.
class Message {
 public:
  Message(Level level, const char* file, int line);
  ~Message();
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  std::ostream& stream() { return os_; }

 private:
  Level level_;
  size_t header_size_ = 0;
  std::ostringstream os_;
};

}  // namespace hubfs::log

#define HUBFS_LOG(level)                                          \
  if (!::hubfs::log::Enabled(::hubfs::log::Level::level)) {       \
  } else                                                          \
    ::hubfs::log::Message(::hubfs::log::Level::level, __FILE__, __LINE__).stream()

#endif  // HUBFS_COMMON_LOG_H_
