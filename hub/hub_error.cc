#include "hub/hub_error.h"

namespace hubfs::hub {

HubError ParseHubError(std::string_view code) {
  if (code.empty()) return HubError::kNone;
  if (code == "RepoNotFound") return HubError::kRepoNotFound;
  if (code == "RevisionNotFound") return HubError::kRevisionNotFound;
  if (code == "EntryNotFound") return HubError::kEntryNotFound;
  if (code == "GatedRepo") return HubError::kGatedRepo;
  return HubError::kOther;
}

HubError HubErrorOf(const Status& status) { return ParseHubError(status.hub_error_code()); }

std::string_view HubErrorName(HubError error) {
  switch (error) {
    case HubError::kNone: return "";
    case HubError::kRepoNotFound: return "RepoNotFound";
    case HubError::kRevisionNotFound: return "RevisionNotFound";
    case HubError::kEntryNotFound: return "EntryNotFound";
    case HubError::kGatedRepo: return "GatedRepo";
    case HubError::kOther: return "other";
  }
  return "other";
}

}  // namespace hubfs::hub
