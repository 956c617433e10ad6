#include "common/status.h"

#include <algorithm>

namespace hubfs {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kOutOfRange: return "out_of_range";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kUnimplemented: return "unimplemented";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

namespace {
const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}
}  // namespace

Status::Status(ErrorCode code, std::string message) {
  if (code == ErrorCode::kOk) return;
  rep_ = std::make_shared<const Rep>(Rep{code, std::move(message), 0, {}});
}

const std::string& Status::message() const { return rep_ ? rep_->message : EmptyString(); }

const std::string& Status::hub_error_code() const {
  return rep_ ? rep_->hub_error_code : EmptyString();
}

std::optional<std::chrono::seconds> Status::retry_after() const {
  if (!rep_ || rep_->retry_after_s < 0) return std::nullopt;
  return std::chrono::seconds(rep_->retry_after_s);
}

Status Status::WithHttp(int http_status, std::string hub_error_code) const {
  if (ok()) return *this;
  Status out;
  out.rep_ = std::make_shared<const Rep>(Rep{rep_->code, rep_->message, http_status,
                                             std::move(hub_error_code), rep_->retry_after_s});
  return out;
}

Status Status::WithRetryAfter(std::chrono::seconds wait) const {
  if (ok()) return *this;
  Rep rep = *rep_;
  rep.retry_after_s = std::max<int64_t>(0, wait.count());
  Status out;
  out.rep_ = std::make_shared<const Rep>(std::move(rep));
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status out;
  std::string msg(context);
  msg += ": ";
  msg += rep_->message;
  out.rep_ = std::make_shared<const Rep>(Rep{rep_->code, std::move(msg), rep_->http_status,
                                             rep_->hub_error_code, rep_->retry_after_s});
  return out;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(ErrorCodeName(code()));
  s += ": ";
  s += message();
  if (http_status() != 0) {
    s += " (HTTP " + std::to_string(http_status());
    if (!hub_error_code().empty()) s += ", " + hub_error_code();
    s += ")";
  }
  return s;
}

std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

Status InvalidArgumentError(std::string msg) {
  return Status(ErrorCode::kInvalidArgument, std::move(msg));
}
Status NotFoundError(std::string msg) { return Status(ErrorCode::kNotFound, std::move(msg)); }
Status CorruptError(std::string msg) { return Status(ErrorCode::kCorrupt, std::move(msg)); }
Status IoError(std::string msg) { return Status(ErrorCode::kIo, std::move(msg)); }
Status InternalError(std::string msg) { return Status(ErrorCode::kInternal, std::move(msg)); }
Status UnavailableError(std::string msg) { return Status(ErrorCode::kUnavailable, std::move(msg)); }
Status OutOfRangeError(std::string msg) { return Status(ErrorCode::kOutOfRange, std::move(msg)); }
Status ResourceExhaustedError(std::string msg) {
  return Status(ErrorCode::kResourceExhausted, std::move(msg));
}
Status UnimplementedError(std::string msg) {
  return Status(ErrorCode::kUnimplemented, std::move(msg));
}

}  // namespace hubfs
