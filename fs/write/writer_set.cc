#include "fs/write/writer_set.h"

#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace hubfs::fs {
namespace {

using nlohmann::json;

constexpr char kTargetFile[] = "target";
constexpr size_t kMaxTargetBytes = 64 << 10;

bool Denial(const Status& st) {
  return st.code() == ErrorCode::kPermissionDenied || st.code() == ErrorCode::kUnauthenticated;
}

std::optional<hub::RepoType> TypeNamed(const std::string& name) {
  for (hub::RepoType t : {hub::RepoType::kModel, hub::RepoType::kDataset, hub::RepoType::kSpace}) {
    if (hub::RepoTypeName(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace

WriterSet::WriterSet(FileEnv* env, RepoUploader* uploader, Clock* clock, std::string root,
                     std::string endpoint, WritableViewOptions options, WriterSetHooks hooks)
    : env_(env),
      uploader_(uploader),
      clock_(clock),
      root_(std::move(root)),
      endpoint_(std::move(endpoint)),
      options_(options),
      hooks_(std::move(hooks)) {
  (void)env_->CreateDir(root_);
}

WriterSet::~WriterSet() {
  std::map<Key, std::unique_ptr<WritableView>> views;
  {
    std::lock_guard<std::mutex> lock(mu_);
    views.swap(views_);
  }
  views.clear();  // stops the committers, without mu_ held
}

void WriterSet::SetOnOpen(
    std::function<void(const hub::RepoId&, const std::string&, WritableView*)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.on_open = std::move(f);
}

WriterSet::Key WriterSet::KeyOf(const hub::RepoId& repo, const std::string& branch) {
  return {std::string(hub::RepoTypeName(repo.type)) + "/" + repo.Id(), branch};
}

WritableView* WriterSet::Find(const hub::RepoId& repo, const std::string& branch) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = views_.find(KeyOf(repo, branch));
  return it == views_.end() ? nullptr : it->second.get();
}

Result<WritableView*> WriterSet::Open(const hub::RepoId& repo, const std::string& branch,
                                      const std::string& base_commit, bool check_access) {
  const Key key = KeyOf(repo, branch);
  const std::string what = repo.ToString() + "@" + branch;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      auto it = views_.find(key);
      if (it != views_.end()) return it->second.get();
      if (opening_.count(key) == 0) break;
      opened_.wait(lock);
    }
    if (check_access) {
      auto d = denied_.find(key.first);
      if (d != denied_.end() && clock_->Now() < d->second) {
        return Status(ErrorCode::kPermissionDenied, what + ": no write access");
      }
    }
    opening_.insert(key);
  }
  struct Done {
    WriterSet* set;
    Key key;
    ~Done() {
      {
        std::lock_guard<std::mutex> lock(set->mu_);
        set->opening_.erase(key);
      }
      set->opened_.notify_all();
    }
  } done{this, key};
  if (check_access) {
    Status st = hooks_.check_access(repo, branch);
    if (Denial(st)) {
      HUBFS_LOG(kWarning) << what << ": no write access (" << st
                          << "); writes to it answer EACCES";
      std::lock_guard<std::mutex> lock(mu_);
      denied_[key.first] = clock_->Now() + kDeniedFor;
      return Status(ErrorCode::kPermissionDenied, what + ": no write access");
    }
    if (!st.ok()) return st;
  }
  const std::string dir = hooks_.journal_dir(repo, branch);
  HUBFS_ASSIGN_OR_RETURN(
      std::unique_ptr<WritableView> view,
      WritableView::Open(env_, dir, hooks_.budget_path(repo), repo, branch, uploader_,
                         hooks_.base_readers(repo, branch), clock_, options_));
  if (Status st = WriteTarget(env_, dir, JournalTarget{endpoint_, repo, branch}); !st.ok()) {
    // Only a later mount's Resume needs it; this one works without.
    HUBFS_LOG(kWarning) << what << ": journal target file: " << st;
  }
  if (!base_commit.empty()) HUBFS_RETURN_IF_ERROR(view->SetBaseIfIdle(base_commit));
  std::function<void(const hub::RepoId&, const std::string&, WritableView*)> on_open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    on_open = hooks_.on_open;
  }
  if (on_open) on_open(repo, branch, view.get());
  view->Start();
  const size_t pending = view->Pending().size();
  HUBFS_LOG(kInfo) << what << ": writable, journal " << dir
                   << (pending > 0 ? ", " + std::to_string(pending) + " change(s) pending" : "");
  WritableView* out = view.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    views_[key] = std::move(view);
    repos_[key] = repo;
  }
  if (hooks_.on_opened) hooks_.on_opened();
  return out;
}

size_t WriterSet::Resume(const std::function<bool(const hub::RepoId&)>& want) {
  auto names = env_->ListDir(root_);
  if (!names.ok()) return 0;
  size_t opened = 0;
  for (const std::string& name : *names) {
    const std::string dir = root_ + "/" + name;
    auto target = ReadTarget(env_, dir);
    if (!target.ok() || target->endpoint != endpoint_ || !want(target->repo)) continue;
    auto snap = WriteJournal::ReadSnapshot(env_, dir);
    if (!snap.ok() || snap->table.entries().empty()) continue;
    // Its own directory, as Open will compute it: a copy elsewhere is not ours.
    if (hooks_.journal_dir(target->repo, target->branch) != dir) continue;
    auto view = Open(target->repo, target->branch, "", /*check_access=*/false);
    if (view.ok()) {
      ++opened;
    } else {
      HUBFS_LOG(kWarning) << target->repo.ToString() << "@" << target->branch
                          << ": pending changes not resumed: " << view.status();
    }
  }
  return opened;
}

size_t WriterSet::ResumeBranches(const hub::RepoId& repo,
                                 const std::vector<std::string>& branches) {
  size_t opened = 0;
  for (const std::string& branch : branches) {
    if (Find(repo, branch) != nullptr) continue;
    auto snap = WriteJournal::ReadSnapshot(env_, hooks_.journal_dir(repo, branch));
    if (!snap.ok() || snap->table.entries().empty()) continue;
    auto view = Open(repo, branch, "", /*check_access=*/false);
    if (view.ok()) {
      ++opened;
    } else {
      HUBFS_LOG(kWarning) << repo.ToString() << "@" << branch
                          << ": pending changes not resumed: " << view.status();
    }
  }
  return opened;
}

std::vector<WriterSet::Entry> WriterSet::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry> out;
  for (const auto& [key, view] : views_) {
    out.push_back(Entry{repos_.at(key), key.second, view.get()});
  }
  return out;
}

Status WriterSet::SyncAll(std::chrono::milliseconds timeout) {
  const auto deadline = clock_->Now() + timeout;
  Status first;
  for (const Entry& e : All()) {
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - clock_->Now()));
    Status st = e.view->SyncAll(left);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

size_t WriterSet::Shutdown(std::chrono::milliseconds timeout) {
  std::vector<Entry> all = All();
  std::vector<size_t> left(all.size(), 0);
  std::vector<std::thread> threads;
  threads.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    threads.emplace_back([&, i] { left[i] = all[i].view->Shutdown(timeout); });
  }
  size_t total = 0;
  for (size_t i = 0; i < threads.size(); ++i) {
    threads[i].join();
    total += left[i];
    if (left[i] > 0) {
      HUBFS_LOG(kWarning) << left[i] << " change(s) to " << all[i].repo.ToString() << "@"
                          << all[i].branch << " not committed at unmount; they stay journaled "
                          << "for the next --rw mount";
    }
  }
  return total;
}

Status WriterSet::WriteTarget(FileEnv* env, const std::string& dir, const JournalTarget& t) {
  const std::string body = json{{"endpoint", t.endpoint},
                                {"type", std::string(hub::RepoTypeName(t.repo.type))},
                                {"repo", t.repo.Id()},
                                {"branch", t.branch}}
                               .dump() +
                           "\n";
  const std::string path = dir + "/" + kTargetFile;
  if (auto old = ReadTarget(env, dir); old.ok() && old->endpoint == t.endpoint &&
                                        old->repo == t.repo && old->branch == t.branch) {
    return Status::Ok();
  }
  const std::string tmp = path + ".tmp";
  {
    HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, env->Open(tmp, OpenMode::kReadWrite));
    HUBFS_RETURN_IF_ERROR(f->Truncate(0));
    HUBFS_RETURN_IF_ERROR(f->Write(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size())));
    HUBFS_RETURN_IF_ERROR(f->DataSync());
  }
  return env->Rename(tmp, path);
}

Result<JournalTarget> WriterSet::ReadTarget(FileEnv* env, const std::string& dir) {
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<File> f,
                         env->Open(dir + "/" + kTargetFile, OpenMode::kRead));
  std::string text(kMaxTargetBytes, '\0');
  HUBFS_ASSIGN_OR_RETURN(size_t n, f->PRead(0, std::span<uint8_t>(
                                                   reinterpret_cast<uint8_t*>(text.data()),
                                                   text.size())));
  text.resize(n);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["endpoint"].is_string() || !j["type"].is_string() ||
      !j["repo"].is_string() || !j["branch"].is_string()) {
    return CorruptError(dir + ": bad target file");
  }
  auto type = TypeNamed(j["type"].get<std::string>());
  if (!type) return CorruptError(dir + ": bad repo type in target file");
  HUBFS_ASSIGN_OR_RETURN(hub::RepoId repo, hub::ParseRepoId(*type, j["repo"].get<std::string>()));
  const std::string branch = j["branch"].get<std::string>();
  HUBFS_RETURN_IF_ERROR(hub::ValidateRevision(branch));
  return JournalTarget{j["endpoint"].get<std::string>(), std::move(repo), branch};
}

}  // namespace hubfs::fs
