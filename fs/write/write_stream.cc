#include "fs/write/write_stream.h"

#include "common/log.h"

namespace hubfs::fs {

WriteStream::WriteStream(RepoUploader* uploader, hub::RepoId repo, std::string revision,
                         bool create_pr, std::shared_ptr<StagedFile> file)
    : uploader_(uploader),
      repo_(std::move(repo)),
      revision_(std::move(revision)),
      create_pr_(create_pr),
      rewrites_(file->rewrites()),
      path_(file->path()),
      file_(std::move(file)) {
  thread_ = std::thread([this] { Run(); });
}

WriteStream::~WriteStream() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

void WriteStream::Cancel() {
  cancel_ = true;
  std::shared_ptr<StagedFile> file;
  {
    // Released now, not when an upload under way ends: an unlinked file's
    // space comes back at once.
    std::lock_guard<std::mutex> lock(mu_);
    file = std::move(file_);
  }
  if (file) file->CancelTailReads();
}

bool WriteStream::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

void WriteStream::Run() {
  uint64_t pos = 0;
  auto read = [this, &pos](std::span<uint8_t> buf) -> Result<size_t> {
    std::shared_ptr<StagedFile> file;
    {
      std::lock_guard<std::mutex> lock(mu_);
      file = file_;
    }
    if (!file) return Status(ErrorCode::kCancelled, "upload of " + path_ + " cancelled");
    HUBFS_ASSIGN_OR_RETURN(size_t n, file->ReadTail(pos, buf, rewrites_, &cancel_));
    pos += n;
    return n;
  };
  Result<UploadedAhead> up = uploader_->UploadAhead(repo_, revision_, create_pr_, read);
  if (!up.ok() && up.status().code() != ErrorCode::kCancelled) {
    // Not an error of the mount: the commit hashes the file itself.
    HUBFS_LOG(kInfo) << "upload of " << path_ << " while it was written: " << up.status()
                     << " (it is uploaded at its commit instead)";
  }
  uploader_->ReleaseAhead();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (up.ok()) result_ = std::move(*up);
    done_ = true;
    file_.reset();  // the staging file closes unless a descriptor or a commit still uses it
  }
  cv_.notify_all();
}

std::optional<UploadedAhead> WriteStream::Wait(uint64_t rewrites, uint64_t size) {
  if (rewrites != rewrites_) return std::nullopt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Still being written: the stream has not seen its end (an fsync of an
    // open file must not wait for the writer's close).
    if (!done_ && file_ && file_->writing()) return std::nullopt;
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  if (!result_ || result_->file.size != size) return std::nullopt;
  return result_;
}

}  // namespace hubfs::fs
