// HubError: the Hub's X-Error-Code header, parsed once into an enum so that
// callers switch on it instead of comparing strings. The raw value travels in
// Status::hub_error_code() (spec/hub-api.md: error responses).
#ifndef HUBFS_HUB_HUB_ERROR_H_
#define HUBFS_HUB_HUB_ERROR_H_

#include <string_view>

#include "common/status.h"

namespace hubfs::hub {

enum class HubError {
  kNone,              // no X-Error-Code
  kRepoNotFound,      // also sent with 401 for a private repo without a token
  kRevisionNotFound,  // branch, tag or commit
  kEntryNotFound,     // a path in a revision
  kGatedRepo,         // the user has not accepted the repo's conditions
  kOther,             // a code this version does not know
};

// The enum for an X-Error-Code value ("" gives kNone).
HubError ParseHubError(std::string_view code);
// The enum for the code a Status carries.
HubError HubErrorOf(const Status& status);
// The header value ("RepoNotFound"; "" for kNone, "other" for kOther).
std::string_view HubErrorName(HubError error);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HUB_ERROR_H_
