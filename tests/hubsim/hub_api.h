// The Hub API listener: repos, refs, commits, trees, paths-info, resolve/raw,
// Xet tokens, preupload, LFS batch, NDJSON commits, and the admin routes
// (faults, counters). Routing works on the raw request target, split on
// literal '/' before decoding, as spec/hub-api.md §1 requires.
#ifndef HUBFS_TESTS_HUBSIM_HUB_API_H_
#define HUBFS_TESTS_HUBSIM_HUB_API_H_

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/hubsim/services.h"

namespace hubfs::hubsim {

class HubApi {
 public:
  explicit HubApi(Services& s) : s_(s) {}
  // Handles any request of the Hub listener. Thread-safe.
  void Handle(const httplib::Request& req, httplib::Response& res);
  // Route class for counters and faults ("resolve", "tree", …).
  static std::string RouteClass(const httplib::Request& req);

 private:
  // Per-request state.
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    std::optional<User> user;
    std::string hub;  // this origin, "http://host:port"
  };
  struct RepoRef {
    RepoKey key;
    RepoMeta meta;
  };

  // Loads a repo and checks access; on failure the response is already sent.
  std::optional<RepoRef> OpenRepo(Call& c, RepoType type, const std::string& ns,
                                  const std::string& name, bool write);
  bool CanAccess(const Call& c, const RepoMeta& meta) const;
  std::string CasOrigin(const Call& c) const;
  std::string DataOrigin(const Call& c) const;
  std::string RepoUrl(const Call& c, const RepoKey& key) const;

  void Dispatch(Call& c);
  void DispatchRepoApi(Call& c, RepoType type, const std::vector<std::string>& seg);
  void DispatchFileRoute(Call& c, const std::vector<std::string>& seg);
  void HandleAdmin(Call& c, const std::vector<std::string>& seg);

  // hub_repos.cc
  void CreateRepo(Call& c);
  void DeleteRepo(Call& c);
  void ListRepos(Call& c, RepoType type);
  void RepoInfo(Call& c, const RepoRef& r, const std::string& rev);
  void RepoSettings(Call& c, const RepoRef& r);
  void ListRefs(Call& c, const RepoRef& r);
  void ListCommits(Call& c, const RepoRef& r, const std::string& rev);
  void Branch(Call& c, const RepoRef& r, const std::string& name);
  void Tag(Call& c, const RepoRef& r, const std::string& rev);
  void CreateDiscussion(Call& c, const RepoRef& r);
  // GET …/discussions/{num}: the details of pull request num.
  void DiscussionDetails(Call& c, const RepoRef& r, const std::string& num);
  void ValidateYaml(Call& c);
  void WhoAmI(Call& c);

  // hub_files.cc
  void Tree(Call& c, const RepoRef& r, const std::vector<std::string>& rest);
  void PathsInfo(Call& c, const RepoRef& r, const std::string& rev);
  void Resolve(Call& c, const RepoRef& r, const std::vector<std::string>& rest, bool raw);
  nlohmann::json EntryJson(const Commit& commit, const std::string& path, const TreeEntry* file,
                           bool expand);

  // hub_commit.cc
  void XetToken(Call& c, const RepoRef& r, const std::string& rev, bool write);
  void Preupload(Call& c, const RepoRef& r, const std::string& rev);
  void LfsBatch(Call& c, const RepoRef& r);
  // POST …/lfs-files/duplicate: the source repo's LFS objects become the target's.
  void LfsDuplicate(Call& c, const RepoRef& src);
  // PUT /lfs-objects/{type}/{ns}/{name}/{sha256}?size=&e=&s= (classic LFS upload).
  void LfsPut(Call& c, const std::vector<std::string>& seg);
  void CommitNdjson(Call& c, const RepoRef& r, const std::string& rev);
  void SendCommitBudgetExceeded(Call& c, int64_t wait);
  nlohmann::json IssueXetToken(const Call& c, const RepoRef& r, const std::string& rev, bool write);

  // Rendered tree pages. A page is a pure function of (origin, repo, commit,
  // dir, flags, cursor), and commits are immutable, so pages never go stale.
  struct TreePage {
    std::string body, link;
  };
  std::optional<TreePage> CachedPage(const std::string& key);
  void StorePage(const std::string& key, TreePage page);

  Services& s_;
  std::mutex page_mu_;
  std::map<std::string, TreePage> pages_;  // GUARDED_BY(page_mu_)
  std::deque<std::string> page_order_;     // GUARDED_BY(page_mu_), oldest first
};

// Splits `rest` (raw segments after /tree/ or /resolve/) into the revision
// and the path (spec/hub-api.md §1). nullopt when an escape is malformed.
std::optional<std::pair<std::string, std::string>> SplitRevisionAndPath(
    const std::vector<std::string>& rest);
// Joins raw segments with '/' and percent-decodes. nullopt when malformed.
std::optional<std::string> DecodeJoined(const std::vector<std::string>& seg, size_t from);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_HUB_API_H_
