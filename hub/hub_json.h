// Defensive parsers for the Hub's JSON answers. Bodies are untrusted: each
// parser checks types, formats and counts and returns kCorrupt with the
// reason instead of throwing or trusting. nlohmann_json stays in the .cc.
#ifndef HUBFS_HUB_HUB_JSON_H_
#define HUBFS_HUB_HUB_JSON_H_

#include <string_view>
#include <vector>

#include "common/status.h"
#include "hub/hub_types.h"

namespace hubfs::hub {

// A JSON array of tree entries (tree listing page or paths-info answer).
// Entries of an unknown type are skipped. At most `max_entries` are
// accepted. Errors: kCorrupt, kResourceExhausted (too many entries).
Result<std::vector<TreeEntry>> ParseTreeEntries(std::string_view body, size_t max_entries);

// {"sha": "<40 hex>", ...} from /revision/{rev}. Errors: kCorrupt.
Result<RevisionMeta> ParseRevision(std::string_view body);
// The `private` flag of a repo info answer (asked with expand=private). An
// answer without a boolean flag is kCorrupt: the caller cannot tell.
Result<bool> ParseRepoPrivate(std::string_view body);

// {"branches":[...],"tags":[...],"converts":[...],"pullRequests":[...]}.
// Errors: kCorrupt.
Result<Refs> ParseRefs(std::string_view body);

// {"accessToken","exp","casUrl"}. Errors: kCorrupt.
Result<XetToken> ParseXetToken(std::string_view body);

// A JSON array of repo infos. Errors: kCorrupt, kResourceExhausted.
Result<std::vector<RepoSummary>> ParseRepoList(std::string_view body, size_t max_entries);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HUB_JSON_H_
