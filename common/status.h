// Status and Result<T>: how every fallible operation in hubfs reports failure.
//
// A Status is cheap to copy when OK (no allocation). An error carries a code,
// a human-readable message (with context added as it travels up: "list tree
// org/name@main: " + inner), and, for errors that came from HTTP, the status
// code and the Hub's X-Error-Code. Exceptions never cross module edges; errno
// is chosen in exactly one place (the FUSE adapter).
#ifndef HUBFS_COMMON_STATUS_H_
#define HUBFS_COMMON_STATUS_H_

#include <cassert>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hubfs {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // caller passed something malformed (bad repo id, bad range)
  kNotFound,            // repo, revision, path or object does not exist
  kAlreadyExists,
  kPermissionDenied,    // authenticated but not allowed (403)
  kUnauthenticated,     // no or bad credentials (401)
  kFailedPrecondition,  // e.g. stale parent commit (412), read-only view
  kConflict,            // 409
  kOutOfRange,          // range past end of file (416)
  kCorrupt,             // data failed validation: bad hash, bad length, bad format
  kResourceExhausted,   // rate limited, disk full, a bound was hit
  kUnavailable,         // server unreachable or 5xx after retries; offline
  kTimeout,             // a deadline passed
  kCancelled,
  kUnimplemented,
  kIo,                  // local I/O failed
  kInternal,            // a bug in hubfs
};

// Stable lowercase name of a code ("not_found"), for logs and JSON.
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  ErrorCode code() const { return rep_ ? rep_->code : ErrorCode::kOk; }
  // Empty for OK.
  const std::string& message() const;
  // HTTP status that produced this error, or 0.
  int http_status() const { return rep_ ? rep_->http_status : 0; }
  // The Hub's X-Error-Code header value (e.g. "EntryNotFound"), or empty.
  const std::string& hub_error_code() const;

  // How long the server asked to wait before trying again (Retry-After or
  // RateLimit of a 429/503), or nullopt.
  std::optional<std::chrono::seconds> retry_after() const;

  // Returns a copy with HTTP details attached.
  Status WithHttp(int http_status, std::string hub_error_code = {}) const;
  // Returns a copy that carries the server's wait (retry_after()).
  Status WithRetryAfter(std::chrono::seconds wait) const;
  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status WithContext(std::string_view context) const;

  // "not_found: list tree org/name@main: ..." (or "ok").
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    ErrorCode code;
    std::string message;
    int http_status = 0;
    std::string hub_error_code;
    int64_t retry_after_s = -1;  // -1: none
  };
  std::shared_ptr<const Rep> rep_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

// Shorthands for the common codes.
Status InvalidArgumentError(std::string msg);
Status NotFoundError(std::string msg);
Status CorruptError(std::string msg);
Status IoError(std::string msg);
Status InternalError(std::string msg);
Status UnavailableError(std::string msg);
Status OutOfRangeError(std::string msg);
Status ResourceExhaustedError(std::string msg);
Status UnimplementedError(std::string msg);

// Result<T>: a T or a non-OK Status, shaped like absl::StatusOr.
template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok()
  Result(Status status) : v_(std::move(status)) {  // NOLINT(implicit)
    assert(!std::get<Status>(v_).ok());
    if (std::get<Status>(v_).ok()) v_ = InternalError("Result constructed from OK status");
  }
  Result(T value) : v_(std::move(value)) {}  // NOLINT(implicit)
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, Status> &&
             !std::is_same_v<std::decay_t<U>, T> && !std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT(implicit)

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK status when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace hubfs

// Propagates a non-OK Status from an expression returning Status.
#define HUBFS_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::hubfs::Status _st = (expr);                \
    if (!_st.ok()) return _st;                   \
  } while (0)

#define HUBFS_CONCAT_INNER_(a, b) a##b
#define HUBFS_CONCAT_(a, b) HUBFS_CONCAT_INNER_(a, b)

// HUBFS_ASSIGN_OR_RETURN(auto x, Foo()); — declares x from a Result or returns its Status.
#define HUBFS_ASSIGN_OR_RETURN(lhs, expr) \
  HUBFS_ASSIGN_OR_RETURN_IMPL_(HUBFS_CONCAT_(_res_, __LINE__), lhs, expr)
#define HUBFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // HUBFS_COMMON_STATUS_H_
