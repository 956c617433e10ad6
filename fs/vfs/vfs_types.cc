#include "fs/vfs/vfs_types.h"

#include "hub/hub_error.h"

namespace hubfs::fs {

const char* VfsErrcName(VfsErrc code) {
  switch (code) {
    case VfsErrc::kNoEntry: return "no_entry";
    case VfsErrc::kNotDir: return "not_dir";
    case VfsErrc::kIsDir: return "is_dir";
    case VfsErrc::kReadOnly: return "read_only";
    case VfsErrc::kNoAttr: return "no_attr";
    case VfsErrc::kRange: return "range";
    case VfsErrc::kBadHandle: return "bad_handle";
    case VfsErrc::kWouldBlock: return "would_block";
    case VfsErrc::kAccess: return "access";
    case VfsErrc::kNoSpace: return "no_space";
    case VfsErrc::kTimedOut: return "timed_out";
    case VfsErrc::kIo: return "io";
    case VfsErrc::kInvalid: return "invalid";
    case VfsErrc::kConflict: return "conflict";
    case VfsErrc::kNotEmpty: return "not_empty";
    case VfsErrc::kExists: return "exists";
    case VfsErrc::kCrossDevice: return "cross_device";
  }
  return "unknown";
}

VfsError VfsErrorFromStatus(const Status& status) {
  // The Hub answers an anonymous request for a missing repo with 401 (it
  // does not reveal whether a private one exists) but names the condition:
  // RepoNotFound is "no such name" to a filesystem, whatever the status. A
  // 401 without it (a bad token) or GatedRepo stays "access denied".
  switch (hub::HubErrorOf(status)) {
    case hub::HubError::kRepoNotFound:
    case hub::HubError::kRevisionNotFound:
    case hub::HubError::kEntryNotFound:
      return VfsError{VfsErrc::kNoEntry, status};
    default:
      break;
  }
  VfsErrc code = VfsErrc::kIo;
  switch (status.code()) {
    case ErrorCode::kNotFound: code = VfsErrc::kNoEntry; break;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied: code = VfsErrc::kAccess; break;
    case ErrorCode::kTimeout: code = VfsErrc::kTimedOut; break;
    // A server refusing our request (400) is an I/O error to the caller,
    // whose own arguments were fine.
    case ErrorCode::kInvalidArgument:
      code = status.http_status() != 0 ? VfsErrc::kIo : VfsErrc::kInvalid;
      break;
    // The Hub refused a change made against an older state (409, 412).
    case ErrorCode::kConflict: code = VfsErrc::kConflict; break;
    case ErrorCode::kFailedPrecondition:
      code = status.http_status() == 412 ? VfsErrc::kConflict : VfsErrc::kIo;
      break;
    // A rate limit (429) was retried as long as the deadline allowed: a
    // plain I/O error, never "try again". A local disk full is ENOSPC.
    case ErrorCode::kResourceExhausted:
      code = status.http_status() != 0 ? VfsErrc::kIo : VfsErrc::kNoSpace;
      break;
    default: code = VfsErrc::kIo; break;
  }
  return VfsError{code, status};
}

}  // namespace hubfs::fs
