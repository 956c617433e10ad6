#include "tests/hubsim/commit_budget.h"

#include <algorithm>
#include <charconv>

namespace hubfs::hubsim {

Result<CommitBudgetSpec> ParseCommitBudget(std::string_view spec) {
  CommitBudgetSpec out;
  while (!spec.empty() && (spec.back() == '\n' || spec.back() == ' ')) spec.remove_suffix(1);
  if (spec.empty()) return out;
  auto num = [](std::string_view v, int64_t* n) {
    auto r = std::from_chars(v.data(), v.data() + v.size(), *n);
    return r.ec == std::errc() && r.ptr == v.data() + v.size() && *n > 0 && *n <= 1'000'000;
  };
  const size_t slash = spec.find('/');
  if (!num(spec.substr(0, slash), &out.commits) ||
      (slash != std::string_view::npos && !num(spec.substr(slash + 1), &out.window))) {
    return InvalidArgumentError("bad commit budget '" + std::string(spec) +
                                "' (want N or N/SECONDS, both positive)");
  }
  out.text = std::string(spec);
  return out;
}

void CommitBudget::Set(CommitBudgetSpec spec) {
  std::lock_guard<std::mutex> l(mu_);
  spec_ = std::move(spec);
  times_.clear();
}

CommitBudgetSpec CommitBudget::Get() const {
  std::lock_guard<std::mutex> l(mu_);
  return spec_;
}

void CommitBudget::PruneLocked(std::deque<int64_t>* times, int64_t now) const {
  while (!times->empty() && times->front() <= now - spec_.window) times->pop_front();
}

std::optional<int64_t> CommitBudget::Wait(const std::string& repo, int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  if (spec_.commits <= 0) return std::nullopt;
  auto& times = times_[repo];
  PruneLocked(&times, now);
  if (static_cast<int64_t>(times.size()) < spec_.commits) return std::nullopt;
  // The oldest commit in the window leaves it at front + window.
  return std::max<int64_t>(1, times.front() + spec_.window - now);
}

void CommitBudget::Record(const std::string& repo, int64_t now) {
  std::lock_guard<std::mutex> l(mu_);
  if (spec_.commits <= 0) return;
  auto& times = times_[repo];
  PruneLocked(&times, now);
  times.push_back(now);
}

}  // namespace hubfs::hubsim
