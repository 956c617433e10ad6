// The Hub's commit budget: at most N commits per window (3600 s on the Hub,
// about 128) to one repo; past it a commit answers 429 with Retry-After and
// RateLimit headers. Off unless set (`--commit-budget N[/SECONDS]` or
// `POST /admin/commit-budget`).
#ifndef HUBFS_TESTS_HUBSIM_COMMIT_BUDGET_H_
#define HUBFS_TESTS_HUBSIM_COMMIT_BUDGET_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::hubsim {

struct CommitBudgetSpec {
  int64_t commits = 0;  // 0: no limit
  int64_t window = 3600;
  std::string text;  // as given ("" when off)
};

// "N" or "N/SECONDS"; "" turns the limit off. Errors: kInvalidArgument.
Result<CommitBudgetSpec> ParseCommitBudget(std::string_view spec);

// Thread-safe. A sliding window of commit times per repo.
class CommitBudget {
 public:
  void Set(CommitBudgetSpec spec);
  CommitBudgetSpec Get() const;
  // Seconds until `repo` may commit again at `now`, or nullopt when it may
  // now (nothing is recorded: Record does that once the commit landed).
  std::optional<int64_t> Wait(const std::string& repo, int64_t now);
  void Record(const std::string& repo, int64_t now);

 private:
  void PruneLocked(std::deque<int64_t>* times, int64_t now) const;

  mutable std::mutex mu_;
  CommitBudgetSpec spec_;                              // GUARDED_BY(mu_)
  std::map<std::string, std::deque<int64_t>> times_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_COMMIT_BUDGET_H_
