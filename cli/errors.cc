#include "cli/errors.h"

#include "hub/hub_error.h"

namespace hubfs::cli {
namespace {

std::string GatedSuffix(const Status& st, const char* text) {
  return hub::HubErrorOf(st) == hub::HubError::kGatedRepo ? text : "";
}

std::string NotFoundMessage(const Status& st, const ErrorSubject& s, const std::string& what) {
  const std::string rev = s.revision.empty() ? "main" : s.revision;
  switch (hub::HubErrorOf(st)) {
    case hub::HubError::kRepoNotFound:
      return "repository " + s.repo + " not found";
    case hub::HubError::kRevisionNotFound:
      return "revision '" + rev + "' not found in " + s.repo;
    case hub::HubError::kEntryNotFound:
      return "no such file or directory: '" + s.path + "' in " + s.repo + "@" + rev;
    default:
      break;
  }
  if (!s.path.empty()) {
    return "no such file or directory: '" + s.path + "' in " + s.repo + "@" + rev;
  }
  return what + " not found (" + st.message() + ")";
}

}  // namespace

UserError ExplainError(const Status& st, const ErrorSubject& s) {
  const std::string what = s.what.empty() ? s.repo : s.what;
  UserError e;
  switch (st.code()) {
    case ErrorCode::kNotFound:
      e.message = NotFoundMessage(st, s, what);
      break;
    case ErrorCode::kUnauthenticated:
      // The Hub does not say whether a private repo exists.
      e.message = what + ": not found or private: authentication required (set HF_TOKEN or log in)" +
                  GatedSuffix(st, " [gated]");
      break;
    case ErrorCode::kPermissionDenied:
      e.message = "access to " + what + " denied" + GatedSuffix(st, " (gated repo)") + ": " +
                  st.message();
      break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      e.message = "cannot reach the Hub: " + st.message();
      break;
    case ErrorCode::kCorrupt:
      e.message = "data failed verification: " + st.message();
      break;
    case ErrorCode::kUnimplemented:
      e.message = st.message();
      break;
    default:
      e.message = what.empty() ? st.ToString() : what + ": " + st.ToString();
      break;
  }
  return e;
}

}  // namespace hubfs::cli
