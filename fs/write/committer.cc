#include "fs/write/committer.h"

#include <algorithm>
#include <charconv>
#include <deque>

#include "common/log.h"

namespace hubfs::fs {

// ---- CommitBudget ------------------------------------------------------

// The longest pause a budget answer can impose: the budget's window.
constexpr std::chrono::seconds kMaxBudgetWait{3600};

CommitBudget::CommitBudget(FileEnv* env, std::string path, int per_hour)
    : env_(env), path_(std::move(path)), per_hour_(per_hour) {}

namespace {

// The budget file: one line per commit (its unix time), and "b<T>" while
// the Hub refused commits until T (its 429 counts for every mount).
struct BudgetFile {
  std::deque<int64_t> times;
  int64_t blocked_until = 0;
};

BudgetFile ParseBudget(const std::string& text, int64_t now) {
  BudgetFile b;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const bool block = start < end && text[start] == 'b';
    int64_t t = 0;
    auto [p, ec] = std::from_chars(text.data() + start + block, text.data() + end, t);
    if (ec == std::errc() && p == text.data() + end) {
      if (block && t > now && t <= now + 86400) b.blocked_until = std::max(b.blocked_until, t);
      if (!block && t > now - 3600 && t <= now + 60) b.times.push_back(t);
    }
    start = end + 1;
  }
  std::sort(b.times.begin(), b.times.end());
  return b;
}

std::string FormatBudget(const BudgetFile& b) {
  std::string out;
  if (b.blocked_until > 0) {
    out.push_back('b');
    out.append(std::to_string(b.blocked_until));
    out.push_back('\n');
  }
  for (int64_t t : b.times) {
    out.append(std::to_string(t));
    out.push_back('\n');
  }
  return out;
}

// Runs `update` on the budget file's content under its lock; writes the
// result back when `update` returns true.
template <typename Fn>
Status UpdateBudgetFile(FileEnv* env, const std::string& path, int64_t now, Fn update) {
  HUBFS_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kReadWrite));
  HUBFS_RETURN_IF_ERROR(f->Lock());  // released when f closes
  std::string text;
  std::vector<uint8_t> buf(4096);
  for (uint64_t off = 0;;) {
    HUBFS_ASSIGN_OR_RETURN(size_t n, f->PRead(off, buf));
    if (n == 0) break;
    text.append(reinterpret_cast<const char*>(buf.data()), n);
    off += n;
    if (text.size() > (1u << 20)) break;  // a damaged file: start over below
  }
  BudgetFile b = ParseBudget(text, now);
  if (!update(&b)) return Status::Ok();
  // Written over the old content, then cut to length: the file (a few KiB
  // at most) keeps the blocks it has, so a full disk cannot fail the write
  // half-way and leave the budget empty, which truncating first could.
  const std::string out = FormatBudget(b);
  HUBFS_RETURN_IF_ERROR(f->PWrite(
      0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size())));
  return f->Truncate(out.size());
}

}  // namespace

Result<std::chrono::seconds> CommitBudget::TryTake(int64_t now) {
  int64_t wait = 0;
  HUBFS_RETURN_IF_ERROR(UpdateBudgetFile(env_, path_, now, [&](BudgetFile* b) {
    if (b->blocked_until > now) {
      wait = b->blocked_until - now;
      return false;
    }
    if (static_cast<int>(b->times.size()) >= per_hour_) {
      wait = std::max<int64_t>(
          1, b->times[b->times.size() - static_cast<size_t>(per_hour_)] + 3600 - now);
      return false;
    }
    // Half the budget goes at once; the rest is spread over the hour, so a
    // steady writer (an app that fsyncs often) commits every few tens of
    // seconds instead of using the budget up in minutes and then waiting
    // for the better part of an hour.
    const int burst = std::max(1, per_hour_ / 2);
    if (static_cast<int>(b->times.size()) >= burst && per_hour_ > burst && !b->times.empty()) {
      const int64_t spacing = (3600 + (per_hour_ - burst) - 1) / (per_hour_ - burst);
      const int64_t next = b->times.back() + spacing;
      if (next > now) {
        wait = next - now;
        return false;
      }
    }
    b->times.push_back(now);
    return true;
  }));
  return std::chrono::seconds(wait);
}

Status CommitBudget::Block(int64_t now, std::chrono::seconds wait) {
  return UpdateBudgetFile(env_, path_, now, [&](BudgetFile* b) {
    b->blocked_until = std::max(b->blocked_until, now + wait.count());
    // The refused commit's budget entry was never used.
    if (!b->times.empty()) b->times.pop_back();
    return true;
  });
}

// ---- WriteCommitter ----------------------------------------------------

WriteCommitter::WriteCommitter(WriteJournal* journal, std::mutex* journal_mu,
                               RepoUploader* uploader, CommitSources* sources,
                               CommitBudget* budget, hub::RepoId repo, std::string branch,
                               Clock* clock, CommitterOptions options)
    : journal_(journal),
      journal_mu_(journal_mu),
      uploader_(uploader),
      sources_(sources),
      budget_(budget),
      repo_(std::move(repo)),
      branch_(std::move(branch)),
      clock_(clock),
      options_(options) {}

WriteCommitter::~WriteCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WriteCommitter::Start() {
  thread_ = std::thread([this] { Run(); });
  Notify();  // changes left in the journal by an earlier run
}

void WriteCommitter::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_notify_) first_notify_ = clock_->Now();
  }
  cv_.notify_all();
}

std::string WriteCommitter::target() const {
  std::lock_guard<std::mutex> lock(*journal_mu_);
  if (options_.create_pr && journal_->pr_number()) {
    return "refs/pr/" + std::to_string(*journal_->pr_number());
  }
  return branch_;
}

CommitterStats WriteCommitter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool WriteCommitter::DoneLocked(const std::string& path, uint64_t seq) const {
  std::lock_guard<std::mutex> jl(*journal_mu_);
  if (!path.empty()) {
    const PendingChange* c = journal_->table().Find(path);
    return c == nullptr || c->seq > seq || c->is_dir();
  }
  for (const auto& [p, c] : journal_->table().entries()) {
    if (!c.is_dir() && c.seq <= seq) return false;
  }
  return true;
}

Status WriteCommitter::WaitCommitted(const std::string& path, uint64_t seq,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  struct Done {
    int* n;
    ~Done() { --*n; }
  } done{&waiters_};  // with mu_ held: every return below holds the lock
  if (!first_notify_) first_notify_ = clock_->Now();
  cv_.notify_all();
  const uint64_t conflicts_before = stats_.conflict_prs;
  for (;;) {
    if (path.empty() && stats_.conflict_prs > conflicts_before) {
      return Status(ErrorCode::kConflict,
                    "a change went to pull request #" +
                        std::to_string(stats_.last_conflict_pr.value_or(0)) +
                        ": its path changed upstream");
    }
    if (!path.empty()) {
      auto it = conflicted_.find(path);
      if (it != conflicted_.end() && seq <= it->second.second) {
        return Status(ErrorCode::kConflict,
                      "'" + path + "' changed upstream; the change went to pull request #" +
                          std::to_string(it->second.first));
      }
    }
    if (DoneLocked(path, seq)) return Status::Ok();
    if (stop_) return UnavailableError("the mount is stopping; the change stays journaled");
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && !DoneLocked(path, seq)) {
      std::string why = stats_.last_error.empty() ? "" : " (last error: " + stats_.last_error + ")";
      if (stats_.paused_until > 0) {
        why += " (commits paused for the repo's commit budget: " + stats_.pause_reason + ")";
      }
      return Status(ErrorCode::kTimeout,
                    "not committed within the time allowed; the change stays journaled" + why);
    }
  }
}

size_t WriteCommitter::Shutdown(std::chrono::milliseconds timeout) {
  (void)WaitCommitted("", UINT64_MAX, timeout);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> jl(*journal_mu_);
  size_t left = 0;
  for (const auto& [p, c] : journal_->table().entries()) {
    left += !c.is_dir();
  }
  return left;
}

void WriteCommitter::Run() {
  std::chrono::milliseconds backoff = options_.retry_initial;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!first_notify_) {
      cv_.wait(lock);
      continue;
    }
    // Not a sliding window: the first change since the last commit sets
    // the time; later ones do not push it back.
    const auto due = *first_notify_ + options_.commit_delay;
    if (const auto now = clock_->Now(); waiters_ == 0 && now < due) {
      // Woken early by a waiter (fsync) or a stop.
      cv_.wait_for(lock, std::min<Clock::Duration>(due - now, std::chrono::milliseconds(200)));
      continue;
    }
    first_notify_.reset();
    lock.unlock();
    Status error;
    const bool did = CommitOnce(&error);
    lock.lock();
    // Paced: the Hub's 429, or the budget file (no HTTP status). A 503's
    // Retry-After is a failure like others, waited for at least as long.
    if (!error.ok() && error.retry_after() &&
        (error.http_status() == 429 || error.http_status() == 0)) {
      // The repo's commit budget: wait what the Hub (or the budget file)
      // says, not a backoff; the changes stay journaled meanwhile.
      // At most the budget's window: a server asking for longer is wrong.
      const auto wait = std::min<std::chrono::seconds>(*error.retry_after(), kMaxBudgetWait) +
                        std::chrono::seconds(1);
      stats_.paused_until = clock_->UnixSeconds() + wait.count();
      stats_.pause_reason = error.ToString();
      HUBFS_LOG(kInfo) << "commits to " << repo_.ToString() << "@" << branch_ << " paused for "
                       << wait.count() << " s: " << error;
      if (!first_notify_) first_notify_ = clock_->Now();
      lock.unlock();
      SleepUnlessStopped(wait);
      lock.lock();
      stats_.paused_until = 0;
      stats_.pause_reason.clear();
      continue;
    }
    if (!error.ok()) {
      ++stats_.failures;
      stats_.last_error = error.ToString();
      HUBFS_LOG(kWarning) << "commit to " << repo_.ToString() << "@" << branch_
                          << " failed (retrying in " << backoff.count() << " ms): " << error;
      if (error.code() == ErrorCode::kNotFound && backoff == options_.retry_initial) {
        // Deleted upstream, most likely: nothing is dropped; the commits
        // go on once the branch exists again.
        HUBFS_LOG(kWarning) << "the branch " << branch_ << " of " << repo_.ToString()
                            << " is gone upstream; its changes stay journaled (hubfs pending) "
                            << "and are committed if it comes back";
      }
      if (!first_notify_) first_notify_ = clock_->Now();
      lock.unlock();
      SleepUnlessStopped(std::max<std::chrono::milliseconds>(
          backoff, error.retry_after().value_or(std::chrono::seconds(0))));
      lock.lock();
      backoff = std::min(backoff * 2, options_.retry_max);
      continue;
    }
    backoff = options_.retry_initial;
    if (did) {
      // More may have become committable while this batch went up.
      bool more = false;
      {
        std::lock_guard<std::mutex> jl(*journal_mu_);
        for (const auto& [p, c] : journal_->table().entries()) {
          more |= !c.is_dir();
        }
      }
      if (more && !first_notify_) first_notify_ = clock_->Now();
    } else if (waiters_ > 0) {
      // Nothing committable although someone waits (its files are busy):
      // wait for a Notify rather than spin.
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
    cv_.notify_all();
  }
}

void WriteCommitter::SleepUnlessStopped(std::chrono::milliseconds wait) {
  // Interruptible by stop_ only through short sleeps (the clock may be fake).
  for (auto waited = std::chrono::milliseconds(0); waited < wait;
       waited += std::chrono::milliseconds(100)) {
    clock_->SleepFor(std::chrono::milliseconds(100));
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
  }
}

bool WriteCommitter::CommitOnce(Status* error) {
  std::vector<BatchItem> batch;
  std::optional<uint64_t> pr;
  std::optional<std::string> base;
  {
    std::set<std::string> busy = sources_->BusyPaths();
    std::lock_guard<std::mutex> jl(*journal_mu_);
    batch = journal_->table().TakeBatch(journal_->table().last_seq(), busy);
    pr = journal_->pr_number();
    base = journal_->base_commit();
  }
  if (batch.empty()) return false;

  auto wait = budget_->TryTake(clock_->UnixSeconds());
  if (!wait.ok()) {
    // The budget file is the mounts' own bookkeeping. When it cannot be
    // written (a full or failing disk) the commit goes ahead unpaced - the
    // Hub's 429 still paces it - rather than hold acknowledged changes
    // back, and with them the staging space their commit frees.
    HUBFS_LOG(kWarning) << "commit budget file: " << wait.status() << "; committing without it";
  } else if (wait->count() > 0) {
    *error = ResourceExhaustedError("commit budget of the repo: next commit in " +
                                    std::to_string(wait->count()) + " s")
                 .WithRetryAfter(*wait);
    return true;
  }

  UploadPlan plan;
  plan.repo = repo_;
  plan.revision = branch_;
  if (options_.create_pr) {
    if (pr) {
      plan.revision = "refs/pr/" + std::to_string(*pr);
    } else {
      plan.create_pr = true;
    }
  } else {
    plan.conflict_to_pr = true;
    // The changes were made against the view's base: never committed over
    // what others changed since.
    plan.parent_commit = base;
  }
  for (const BatchItem& item : batch) {
    switch (item.change.kind) {
      case PendingChange::Kind::kStaged: {
        auto src = sources_->OpenStaged(item.path, item.change);
        if (!src.ok()) {
          *error = src.status();
          return true;
        }
        plan.files.push_back({item.path, "", *src});
        break;
      }
      case PendingChange::Kind::kCopy:
        if (item.change.base && item.change.base->sha256) {
          plan.copies.push_back({item.path, *item.change.base->sha256});
        } else if (item.change.base) {
          auto src = sources_->OpenRemote(item.path, *item.change.base);
          if (!src.ok()) {
            *error = src.status();
            return true;
          }
          plan.files.push_back({item.path, "", *src});
        }
        break;
      case PendingChange::Kind::kDeleted:
        plan.deletes.push_back(item.path);
        break;
      case PendingChange::Kind::kNewDir:
      case PendingChange::Kind::kDeletedDir:
        break;
    }
  }
  Result<UploadReport> report = uploader_->Upload(plan);
  if (!report.ok()) {
    *error = report.status();
    if (const auto hub_wait = error->retry_after(); hub_wait && error->http_status() == 429) {
      // Every mount of the repo from this cache holds off as long as this
      // one (Run: Retry-After + 1 s).
      Status st = budget_->Block(clock_->UnixSeconds(),
                                 std::min<std::chrono::seconds>(*hub_wait, kMaxBudgetWait) +
                                     std::chrono::seconds(1));
      if (!st.ok()) {
        HUBFS_LOG(kWarning) << "commit budget file: " << st;
      }
    }
    return true;
  }
  if (report->committed && !report->conflict_pr) {
    // --create-pr: the mount shows the pull request from its first commit on.
    std::string target = plan.revision;
    if (plan.create_pr && report->commit.pr_number) {
      target = "refs/pr/" + std::to_string(*report->commit.pr_number);
    }
    if (!plan.create_pr || report->commit.pr_number) {
      sources_->Landed(report->commit.commit_oid, target, batch);
    }
  }
  {
    std::lock_guard<std::mutex> jl(*journal_mu_);
    Status st = journal_->Append(journal_->table().Committed(
        batch, report->committed && !report->conflict_pr));
    if (st.ok() && report->committed && !report->conflict_pr && !plan.create_pr) {
      st = journal_->SetBaseCommit(report->commit.commit_oid);
    }
    if (st.ok() && plan.create_pr && report->commit.pr_number) {
      st = journal_->SetPrNumber(*report->commit.pr_number);
    }
    if (!st.ok()) {
      // The commit landed but the journal could not say so: the next run
      // sees the changes already on the Hub (preupload oids, landed checks).
      *error = st.WithContext("recording a landed commit");
    }
  }
  sources_->OnCommitted(report->commit.commit_oid, batch, report->conflict_pr);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.edits_hashed += report->edited_files;
  stats_.uploaded_while_written += report->ahead_files;
  if (report->committed) {
    ++stats_.commits;
    stats_.last_commit = report->commit.commit_oid;
  }
  if (report->conflict_pr) {
    ++stats_.conflict_prs;
    stats_.last_conflict_pr = report->conflict_pr;
    for (const BatchItem& item : batch) {
      conflicted_[item.path] = {*report->conflict_pr, item.change.seq};
    }
    HUBFS_LOG(kWarning) << "the branch " << branch_ << " of " << repo_.ToString()
                        << " changed upstream where this mount changed it; the change went to "
                        << report->commit.pr_url.value_or("a pull request");
  }
  stats_.last_error.clear();
  return true;
}

}  // namespace hubfs::fs
