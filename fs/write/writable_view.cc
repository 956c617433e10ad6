#include "fs/write/writable_view.h"

#include <sys/statvfs.h>

#include <algorithm>

#include "common/log.h"

namespace hubfs::fs {

namespace {

constexpr size_t kCopyPiece = 1u << 20;
// Files at least this large (the Hub's LFS threshold: always uploaded
// through Xet) are committed reading the Hub's bytes through.
constexpr uint64_t kReadThroughMin = 10ull << 20;

// A staged file read from its start, as the committer uploads it.
class StagedSource final : public UploadSource {
 public:
  StagedSource(std::string name, std::shared_ptr<StagedFile> file, uint64_t size,
               const std::optional<RemoteFile>& base, std::shared_ptr<WriteStream> stream)
      : name_(std::move(name)), file_(std::move(file)), size_(size), stream_(std::move(stream)) {
    // The local ranges and the generation at one instant: a write after it
    // bumps the generation, and CheckUnchanged refuses what was read.
    const StagedFile::State st = file_->state();
    generation_ = st.generation;
    rewrites_ = st.rewrites;
    if (base && base->xet_hash && base->size > 0 && st.base_limit > 0) {
      EditedFrom e;
      e.xet_hash = *base->xet_hash;
      e.sha256 = base->sha256;
      e.size = base->size;
      // Bytes at or past base_limit are not the base's (zeros or written);
      // local ranges may differ from it (a range filled from the base and
      // not written counts too: that only costs hashing it).
      e.changed_begin = std::min(st.base_limit, size_);
      e.changed_end = 0;
      for (const auto& [b, en] : st.present.Ranges()) {
        if (b >= std::min(st.base_limit, size_)) break;
        e.changed_begin = std::min(e.changed_begin, b);
        e.changed_end = std::max(e.changed_end, en);
      }
      if (st.base_limit < std::max(size_, base->size) || size_ != base->size) {
        e.changed_end = size_;
      }
      e.changed_end = std::min(std::max(e.changed_end, e.changed_begin), size_);
      edited_ = e;
    }
  }
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ >= size_) return size_t{0};
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - pos_));
    // A large file's Hub bytes are read through, not staged: it is read
    // once (Xet chunking). A small one may be read twice (the preupload
    // sample, an inline commit), from the staging file the second time.
    HUBFS_ASSIGN_OR_RETURN(size_t n, size_ >= kReadThroughMin
                                         ? file_->ReadThrough(pos_, buf.first(want))
                                         : file_->Read(pos_, buf.first(want)));
    pos_ += n;
    return n;
  }
  Status Rewind() override {
    pos_ = 0;
    return Status::Ok();
  }
  std::optional<EditedFrom> edited_from() const override { return edited_; }
  std::optional<UploadedAhead> uploaded_ahead() override {
    if (!stream_) return std::nullopt;
    return stream_->Wait(rewrites_, size_);
  }
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset >= size_) return size_t{0};
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - offset));
    return size_ >= kReadThroughMin ? file_->ReadThrough(offset, buf.first(want))
                                    : file_->Read(offset, buf.first(want));
  }
  Status CheckUnchanged(uint64_t bytes_read) const override {
    if (file_->generation() != generation_ || file_->size() != size_ || bytes_read != size_) {
      return Status(ErrorCode::kFailedPrecondition,
                    name_ + " changed while it was being read; it waits for the next commit");
    }
    return Status::Ok();
  }

 private:
  const std::string name_;
  const std::shared_ptr<StagedFile> file_;
  const uint64_t size_;
  const std::shared_ptr<WriteStream> stream_;  // null: not uploaded while written
  uint64_t generation_ = 0;
  uint64_t rewrites_ = 0;
  std::optional<EditedFrom> edited_;
  uint64_t pos_ = 0;
};

// The Hub's bytes of a file, read from its start.
class RemoteSource final : public UploadSource {
 public:
  RemoteSource(std::string name, BaseReader reader, uint64_t size)
      : name_(std::move(name)), reader_(std::move(reader)), size_(size) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ >= size_) return size_t{0};
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - pos_));
    HUBFS_ASSIGN_OR_RETURN(size_t n, reader_(pos_, buf.first(want)));
    if (n == 0) return CorruptError(name_ + ": the Hub's file ended early");
    pos_ += n;
    return n;
  }
  Status Rewind() override {
    pos_ = 0;
    return Status::Ok();
  }
  Status CheckUnchanged(uint64_t bytes_read) const override {
    if (bytes_read != size_) return CorruptError(name_ + ": size differs from the Hub's");
    return Status::Ok();
  }

 private:
  const std::string name_;
  const BaseReader reader_;
  const uint64_t size_;
  uint64_t pos_ = 0;
};

}  // namespace

Result<std::unique_ptr<WritableView>> WritableView::Open(
    FileEnv* env, const std::string& journal_dir, const std::string& budget_path, hub::RepoId repo,
    std::string branch, RepoUploader* uploader, BaseReaderFactory base_readers, Clock* clock,
    WritableViewOptions options) {
  JournalOpenInfo info;
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<WriteJournal> journal,
                         WriteJournal::Open(env, journal_dir, &info));
  if (info.torn_tail || info.stale_staging_files > 0) {
    HUBFS_LOG(kInfo) << "write journal " << journal_dir << ": " << info.records_read
                     << " records, " << info.stale_staging_files
                     << " unacknowledged staging files removed";
  }
  std::unique_ptr<WritableView> v(new WritableView(env, std::move(journal),
                                                   std::move(base_readers), clock, options,
                                                   uploader, repo, branch));
  v->budget_ = std::make_unique<CommitBudget>(env, budget_path, options.commits_per_hour);
  CommitterOptions co;
  co.commit_delay = options.commit_delay;
  co.create_pr = options.create_pr;
  v->committer_ = std::make_unique<WriteCommitter>(v->journal_.get(), &v->mu_, uploader, v.get(),
                                                   v->budget_.get(), std::move(repo),
                                                   std::move(branch), clock, co);
  return v;
}

WritableView::WritableView(FileEnv* env, std::unique_ptr<WriteJournal> journal,
                           BaseReaderFactory readers, Clock* clock, WritableViewOptions options,
                           RepoUploader* uploader, hub::RepoId repo, std::string branch)
    : env_(env),
      uploader_(uploader),
      repo_(std::move(repo)),
      branch_(std::move(branch)),
      base_readers_(std::move(readers)),
      clock_(clock),
      options_(options),
      journal_(std::move(journal)) {}

WritableView::~WritableView() {
  committer_.reset();
  std::map<uint64_t, std::shared_ptr<WriteStream>> streams;
  std::vector<std::shared_ptr<WriteStream>> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.swap(streams_);
    retired.swap(retired_);
  }
  for (auto& [id, s] : streams) s->Cancel();
  // Destroyed here: each joins its thread.
}

bool WritableView::StartStream(uint64_t id) {
  // The commit's target (taking the view's lock, so asked first).
  const std::string target = committer_->target();
  {
    struct statvfs fs;
    if (::statvfs(journal_dir().c_str(), &fs) != 0 ||
        static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < options_.upload_while_writing_min_free) {
      return true;  // hashed at its commit
    }
  }
  std::vector<std::shared_ptr<WriteStream>> done;
  bool started = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done = TakeDoneStreamsLocked();
    std::shared_ptr<StagedFile> file;
    for (const auto& [p, o] : open_) {
      if (o.id == id) file = o.file;
    }
    if (file && streams_.count(id) == 0) {
      if (uploader_->TryReserveAhead()) {
        streams_[id] = std::make_shared<WriteStream>(
            uploader_, repo_, target, options_.create_pr && target == branch_, file);
      } else {
        started = false;  // every slot busy: asked again at a later write
      }
    }
  }
  return started;  // `done` streams are joined here, without the lock
}

std::vector<std::shared_ptr<WriteStream>> WritableView::TakeDoneStreamsLocked() {
  std::vector<std::shared_ptr<WriteStream>> done;
  for (auto it = retired_.begin(); it != retired_.end();) {
    if ((*it)->done()) {
      done.push_back(std::move(*it));
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
  return done;
}

void WritableView::Start() { committer_->Start(); }

Status WritableView::SetBaseIfIdle(const std::string& commit) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!journal_->table().entries().empty() || !open_.empty()) return Status::Ok();
  if (journal_->base_commit() == commit) return Status::Ok();
  return journal_->SetBaseCommit(commit);
}

void WritableView::SetCommitListener(
    std::function<void(const std::string& commit, const std::string& target)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

std::optional<PendingChange> WritableView::Find(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  const PendingChange* c = journal_->table().Find(path);
  if (c == nullptr) return std::nullopt;
  return *c;
}

WritableView::Children WritableView::ChildrenOf(const std::string& dir) const {
  Children out;
  const std::string prefix = dir.empty() ? "" : dir + "/";
  std::lock_guard<std::mutex> lock(mu_);
  const auto& entries = journal_->table().entries();
  for (auto it = entries.lower_bound(prefix); it != entries.end(); ++it) {
    const std::string& p = it->first;
    if (p.compare(0, prefix.size(), prefix) != 0) break;
    const std::string rest = p.substr(prefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      if (it->second.kind == PendingChange::Kind::kDeleted ||
          it->second.kind == PendingChange::Kind::kDeletedDir) {
        out.deleted.insert(rest);
      } else {
        out.added[rest] = it->second;
      }
    } else if (it->second.kind != PendingChange::Kind::kDeleted &&
               it->second.kind != PendingChange::Kind::kDeletedDir) {
      // A change deeper down: its top directory exists here.
      const std::string top = rest.substr(0, slash);
      if (out.added.find(top) == out.added.end()) {
        PendingChange d;
        d.kind = PendingChange::Kind::kNewDir;
        out.added[top] = d;
      }
    }
  }
  return out;
}

void WritableView::SetLocalMtime(const std::string& path, int64_t mtime) {
  std::lock_guard<std::mutex> lock(mu_);
  const PendingChange* c = journal_->table().Find(path);
  const bool live = open_.count(path) != 0 ||
                    (c != nullptr && !c->is_dir() && c->kind != PendingChange::Kind::kDeleted);
  if (live) local_mtime_[path] = mtime;
}

std::optional<int64_t> WritableView::LocalMtime(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = local_mtime_.find(path);
  if (it == local_mtime_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> WritableView::LiveSize(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = open_.find(path); it != open_.end()) return it->second.file->size();
  const PendingChange* c = journal_->table().Find(path);
  if (c == nullptr || c->kind == PendingChange::Kind::kDeleted || c->is_dir()) {
    return std::nullopt;
  }
  if (c->kind == PendingChange::Kind::kStaged) {
    auto it = staged_.find(c->staging_id);
    if (it != staged_.end()) {
      if (auto f = it->second.lock()) return f->size();
    }
  }
  return c->size;
}

Result<std::shared_ptr<StagedFile>> WritableView::StagedLocked(const std::string& path,
                                                               const PendingChange& change) {
  auto it = staged_.find(change.staging_id);
  if (it != staged_.end()) {
    if (auto f = it->second.lock()) return f;
  }
  StagedFileOptions o;
  o.size = change.size;
  if (change.base) {
    o.base_size = change.base_limit;
    for (auto [a, b] : change.local) o.present.Add(a, b);
    HUBFS_ASSIGN_OR_RETURN(o.base, base_readers_(path, *change.base));
  }
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<StagedFile> f,
                         StagedFile::Open(env_, journal_->StagingPath(change.staging_id), o));
  std::shared_ptr<StagedFile> shared(std::move(f));
  staged_[change.staging_id] = shared;
  return shared;
}

Status WritableView::AppendLocked(const std::vector<PendingRecord>& records) {
  // Each change says since when its path has been pending: a path changed
  // again keeps its first time (a rename carries the moved file's).
  std::vector<PendingRecord> stamped = records;
  const int64_t now = clock_->UnixSeconds();
  for (PendingRecord& r : stamped) {
    if (!r.change || r.change->since > 0) continue;
    const PendingChange* before = journal_->table().Find(r.path);
    r.change->since = before != nullptr && before->since > 0 ? before->since : now;
  }
  return journal_->Append(stamped);
}

std::string WritableView::journal_dir() const {
  std::lock_guard<std::mutex> lock(mu_);
  return journal_->dir();
}

void WritableView::RemoveStagingLocked(uint64_t id) {
  for (const auto& [p, c] : journal_->table().entries()) {
    if (c.kind == PendingChange::Kind::kStaged && c.staging_id == id) return;  // still named
  }
  for (const auto& [p, o] : open_) {
    if (o.id == id) return;  // still being written
  }
  staged_.erase(id);
  flushed_generation_.erase(id);
  if (auto it = streams_.find(id); it != streams_.end()) {
    it->second->Cancel();
    retired_.push_back(std::move(it->second));
    streams_.erase(it);
  }
  Status st = env_->Remove(journal_->StagingPath(id));
  if (!st.ok() && st.code() != ErrorCode::kNotFound) {
    HUBFS_LOG(kWarning) << "removing a staging file: " << st;
  }
}

Result<std::shared_ptr<StagedFile>> WritableView::OpenForWrite(const std::string& path,
                                                               std::optional<RemoteFile> remote,
                                                               bool truncate, bool create) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = open_.find(path); it != open_.end()) {
    // Another descriptor has it open: share it, as a local file would.
    if (truncate) HUBFS_RETURN_IF_ERROR(it->second.file->Truncate(0));
    ++it->second.writers;
    return it->second.file;
  }
  const PendingChange* cur_ptr = journal_->table().Find(path);
  std::optional<PendingChange> cur;
  if (cur_ptr != nullptr) cur = *cur_ptr;
  const bool was_remote = cur ? cur->was_remote : remote.has_value();

  std::optional<RemoteFile> base;
  std::shared_ptr<StagedFile> existing;
  if (cur && cur->kind == PendingChange::Kind::kStaged) {
    // Copy on write: the journaled version stays as acknowledged until the
    // new one is flushed, so a crash never commits unacknowledged writes.
    base = cur->base;
    if (!truncate) {
      HUBFS_ASSIGN_OR_RETURN(existing, StagedLocked(path, *cur));
    }
  } else if (cur && cur->kind == PendingChange::Kind::kCopy) {
    base = cur->base;
  } else if (cur && cur->kind == PendingChange::Kind::kDeleted) {
    if (!create) return NotFoundError(path + " was deleted");
  } else if (cur && cur->kind == PendingChange::Kind::kNewDir) {
    return Status(ErrorCode::kFailedPrecondition, path + " is a directory");
  } else if (cur && cur->kind == PendingChange::Kind::kDeletedDir) {
    if (!create) return NotFoundError(path + " was deleted");
  } else if (remote) {
    base = remote;
  } else if (!create) {
    return NotFoundError(path);
  }
  if (truncate) base.reset();

  const uint64_t id = journal_->NewStagingId();
  StagedFileOptions o;
  o.writing = true;
  if (!existing && !base && options_.upload_while_writing_at > 0 && uploader_ != nullptr) {
    // A new (or truncated) file: uploaded while written once it is large
    // enough to be an LFS file, as long as it is only appended to.
    o.append_hook = [this, id] { return StartStream(id); };
    o.append_hook_at = options_.upload_while_writing_at;
  }
  if (existing) {
    o.size = existing->size();
    if (base) {
      o.base_size = existing->base_limit();
      o.present = existing->present();
    }
  } else if (base) {
    o.size = base->size;
    o.base_size = base->size;
  }
  if (base) {
    HUBFS_ASSIGN_OR_RETURN(o.base, base_readers_(path, *base));
  }
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<StagedFile> f,
                         StagedFile::Open(env_, journal_->StagingPath(id), std::move(o)));
  std::shared_ptr<StagedFile> shared(std::move(f));
  if (existing) {
    // Copy the local bytes of the previous version (for an edited Hub file,
    // only what was written; the rest still comes from the Hub).
    RangeSet local;
    if (base) {
      local = existing->present();
    } else {
      local.Add(0, existing->size());
    }
    std::vector<uint8_t> buf;
    for (auto [a, b] : local.Ranges()) {
      for (uint64_t pos = a; pos < b;) {
        buf.resize(static_cast<size_t>(std::min<uint64_t>(kCopyPiece, b - pos)));
        auto n = existing->Read(pos, buf);
        if (!n.ok() || *n == 0) {
          (void)env_->Remove(journal_->StagingPath(id));
          return n.ok() ? CorruptError(path + ": staged file shorter than recorded") : n.status();
        }
        Status st = shared->Write(pos, std::span<const uint8_t>(buf.data(), *n));
        if (!st.ok()) {
          (void)env_->Remove(journal_->StagingPath(id));
          return st;
        }
        pos += *n;
      }
    }
  }
  if (!existing) {
    // A new file, an O_TRUNC, or a first edit of a Hub file: acknowledged
    // when open returns, so journaled now (the file shows at once).
    Status st = AppendLocked(journal_->table().Stage(path, id, shared->size(), base, was_remote,
                                                     shared->present().Ranges(),
                                                     shared->base_limit()));
    if (!st.ok()) {
      (void)env_->Remove(journal_->StagingPath(id));
      return st;
    }
    flushed_generation_[id] = shared->generation();
    if (cur && cur->kind == PendingChange::Kind::kStaged) RemoveStagingLocked(cur->staging_id);
  } else {
    flushed_generation_[id] = UINT64_MAX;  // the first flush journals it
  }
  staged_[id] = shared;
  open_[path] = OpenFile{id, shared, base, was_remote, 1};
  return shared;
}

Result<std::shared_ptr<StagedFile>> WritableView::OpenStagedForRead(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = open_.find(path); it != open_.end()) return it->second.file;
  const PendingChange* c = journal_->table().Find(path);
  if (c == nullptr || c->kind != PendingChange::Kind::kStaged) return NotFoundError(path);
  PendingChange change = *c;
  return StagedLocked(path, change);
}

Status WritableView::Flush(const std::string& path, const std::shared_ptr<StagedFile>& file) {
  for (int attempt = 0;; ++attempt) {
    const uint64_t gen = file->generation();
    // The data first, outside the view's lock (an fdatasync may be slow);
    // under the lock only when writers keep changing the file meanwhile.
    if (attempt < 3) HUBFS_RETURN_IF_ERROR(file->Sync());
    std::lock_guard<std::mutex> lock(mu_);
    if (attempt >= 3) HUBFS_RETURN_IF_ERROR(file->Sync());
    if (file->generation() != gen && attempt < 3) continue;
    auto it = open_.find(path);
    if (it == open_.end() || it->second.file != file) {
      return Status::Ok();  // unlinked or replaced meanwhile: nothing to record
    }
    const OpenFile& of = it->second;
    const PendingChange* c = journal_->table().Find(path);
    const bool named = c != nullptr && c->kind == PendingChange::Kind::kStaged &&
                       c->staging_id == of.id;
    if (flushed_generation_[of.id] == file->generation() && (named || c == nullptr)) {
      // Nothing new since the last flush (which a commit may have taken).
      return Status::Ok();
    }
    std::optional<uint64_t> previous;
    if (c != nullptr && c->kind == PendingChange::Kind::kStaged && c->staging_id != of.id) {
      previous = c->staging_id;
    }
    // No entry: a commit took the last flushed version; the Hub has it now.
    const bool was_remote = c != nullptr ? c->was_remote : true;
    // Writes are answered without this lock: one landing now must either be
    // in the record or leave the generation recorded behind it, so that the
    // next flush journals it (a record of an older size with a newer
    // generation lost the write's extension at the next reopen).
    const StagedFile::State now = file->state();
    HUBFS_RETURN_IF_ERROR(AppendLocked(journal_->table().Stage(
        path, of.id, now.size, of.base, was_remote, now.present.Ranges(), now.base_limit)));
    flushed_generation_[of.id] = now.generation;
    if (previous) RemoveStagingLocked(*previous);
    return Status::Ok();
  }
}

void WritableView::ReleaseWriter(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(path);
    if (it != open_.end() && --it->second.writers <= 0) {
      const uint64_t id = it->second.id;
      it->second.file->SetWriting(false);  // its stream, if any, sees the end
      open_.erase(it);
      RemoveStagingLocked(id);  // only if nothing names it (never flushed, or committed)
    }
  }
  committer_->Notify();
}

Status WritableView::Fsync(const std::string& path, const std::shared_ptr<StagedFile>& file) {
  HUBFS_RETURN_IF_ERROR(Flush(path, file));
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const PendingChange* c = journal_->table().Find(path);
    if (c == nullptr) return Status::Ok();
    seq = c->seq;
    ++fsyncing_[path];
  }
  Status st = committer_->WaitCommitted(path, seq, options_.sync_timeout);
  std::lock_guard<std::mutex> lock(mu_);
  if (--fsyncing_[path] <= 0) fsyncing_.erase(path);
  return st;
}

Status WritableView::Truncate(const std::string& path, std::optional<RemoteFile> remote,
                              uint64_t size) {
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<StagedFile> f,
                         OpenForWrite(path, std::move(remote), size == 0, false));
  Status st = f->Truncate(size);
  if (st.ok()) st = Flush(path, f);
  ReleaseWriter(path);
  return st;
}

Status WritableView::Unlink(const std::string& path, bool was_remote) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const PendingChange* c = journal_->table().Find(path);
    std::optional<uint64_t> staged;
    if (c != nullptr && c->kind == PendingChange::Kind::kStaged) staged = c->staging_id;
    if (c != nullptr) was_remote = c->was_remote;
    // Neither pending nor the Hub's, as far as the caller knew: the change
    // it saw was committed meanwhile (the caller looks again, at the Hub's
    // file now), or another unlink took it first.
    if (c == nullptr && !was_remote) return NotFoundError(path + ": no pending change to remove");
    HUBFS_RETURN_IF_ERROR(AppendLocked(journal_->table().RemoveFile(path, was_remote)));
    local_mtime_.erase(path);
    if (auto it = open_.find(path); it != open_.end()) {
      // Open descriptors keep writing to their file; nothing of it is
      // recorded any more. Its writers stay counted under no name.
      const uint64_t id = it->second.id;
      open_.erase(it);
      RemoveStagingLocked(id);
    }
    if (staged) RemoveStagingLocked(*staged);  // open descriptors keep their file
  }
  committer_->Notify();
  return Status::Ok();
}

Status WritableView::Rename(const std::string& from, const std::string& to,
                            std::optional<RemoteFile> from_remote, bool from_was_remote,
                            bool to_was_remote) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const PendingChange* src = journal_->table().Find(from);
    if (src != nullptr) {
      from_was_remote = src->was_remote;
      from_remote.reset();  // the pending change moves, not the Hub's file
    }
    const PendingChange* dst = journal_->table().Find(to);
    std::optional<uint64_t> replaced;
    if (dst != nullptr) {
      to_was_remote = dst->was_remote;
      if (dst->kind == PendingChange::Kind::kStaged) replaced = dst->staging_id;
    }
    std::optional<OpenFile> moving;
    if (auto it = open_.find(from); it != open_.end()) {
      moving = it->second;  // the file being written follows the name
      open_.erase(it);
    }
    std::optional<OpenFile> overwritten;
    if (auto it = open_.find(to); it != open_.end()) {
      overwritten = it->second;
      open_.erase(it);
    }
    auto records =
        journal_->table().RenameFile(from, to, std::move(from_remote), from_was_remote, to_was_remote);
    Status st = records.empty() && !moving ? NotFoundError(from) : AppendLocked(records);
    if (!st.ok()) {
      if (moving) open_[from] = *moving;
      if (overwritten) open_[to] = *overwritten;
      return st;
    }
    if (moving) open_[to] = *moving;
    local_mtime_.erase(to);
    if (auto m = local_mtime_.find(from); m != local_mtime_.end()) {
      local_mtime_[to] = m->second;
      local_mtime_.erase(m);
    }
    if (overwritten) RemoveStagingLocked(overwritten->id);
    if (replaced) RemoveStagingLocked(*replaced);
  }
  committer_->Notify();
  return Status::Ok();
}

Status WritableView::Mkdir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return AppendLocked(journal_->table().MakeDir(path));
}

Status WritableView::Rmdir(const std::string& path, bool was_remote) {
  std::lock_guard<std::mutex> lock(mu_);
  return AppendLocked(journal_->table().RemoveDir(path, was_remote));
}

Status WritableView::SyncAll(std::chrono::milliseconds timeout) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = journal_->table().last_seq();
  }
  return committer_->WaitCommitted("", seq, timeout);
}

size_t WritableView::Shutdown(std::chrono::milliseconds timeout) {
  return committer_->Shutdown(timeout);
}

CommitterStats WritableView::stats() const { return committer_->stats(); }

std::optional<std::string> WritableView::base_commit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return journal_->base_commit();
}

std::map<std::string, PendingChange> WritableView::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return journal_->table().entries();
}

std::string WritableView::target() const { return committer_->target(); }

Result<std::shared_ptr<UploadSource>> WritableView::OpenStaged(const std::string& path,
                                                               const PendingChange& change) {
  std::shared_ptr<StagedFile> f;
  std::shared_ptr<WriteStream> stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    HUBFS_ASSIGN_OR_RETURN(f, StagedLocked(path, change));
    if (auto it = streams_.find(change.staging_id); it != streams_.end()) stream = it->second;
  }
  return std::shared_ptr<UploadSource>(
      std::make_shared<StagedSource>(path, f, change.size, change.base, std::move(stream)));
}

Result<std::shared_ptr<UploadSource>> WritableView::OpenRemote(const std::string& path,
                                                               const RemoteFile& file) {
  HUBFS_ASSIGN_OR_RETURN(BaseReader reader, base_readers_(path, file));
  return std::shared_ptr<UploadSource>(std::make_shared<RemoteSource>(path, reader, file.size));
}

std::set<std::string> WritableView::BusyPaths() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> out;
  for (const auto& [p, o] : open_) {
    // An fsync'ed file is committed although open. Its flushed version is
    // the table's only when no copy is pending (else the table names the
    // older version, which is what the fsync must not wait for... nor
    // commit in place of the new one).
    const PendingChange* c = journal_->table().Find(p);
    const bool flushed = c != nullptr && c->kind == PendingChange::Kind::kStaged &&
                         c->staging_id == o.id;
    if (fsyncing_.count(p) == 0 || !flushed) out.insert(p);
  }
  return out;
}

void WritableView::Landed(const std::string& commit, const std::string& target,
                          const std::vector<BatchItem>& batch) {
  constexpr size_t kMaxLanded = 1u << 16;
  std::function<void(const std::string&, const std::string&)> listener;
  {
    // Before the view shows the commit: whoever sees it there finds this.
    std::lock_guard<std::mutex> lock(mu_);
    for (const BatchItem& item : batch) {
      if (item.change.kind != PendingChange::Kind::kStaged) {
        landed_.erase(item.path);
        continue;
      }
      if (landed_.size() >= kMaxLanded) landed_.clear();
      landed_[item.path] = commit;
    }
    listener = listener_;
  }
  if (listener) listener(commit, target);
}

void WritableView::OnCommitted(const std::string&, const std::vector<BatchItem>& batch,
                               std::optional<uint64_t> conflict_pr) {
  std::vector<std::shared_ptr<WriteStream>> done;  // joined after the lock is dropped
  std::lock_guard<std::mutex> lock(mu_);
  for (const BatchItem& item : batch) {
    if (conflict_pr) landed_.erase(item.path);
    if (item.change.kind == PendingChange::Kind::kStaged) RemoveStagingLocked(item.change.staging_id);
    // Committed and not changed again: the Hub's time shows from now on.
    if (open_.count(item.path) == 0 && journal_->table().Find(item.path) == nullptr) {
      local_mtime_.erase(item.path);
    }
  }
  done = TakeDoneStreamsLocked();
}

std::optional<std::string> WritableView::LandedCommit(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = landed_.find(path);
  if (it == landed_.end()) return std::nullopt;
  return it->second;
}

}  // namespace hubfs::fs
