#include "fs/write/staged_file.h"

#include <algorithm>
#include <vector>

namespace hubfs::fs {

namespace {
// Base reads are done in pieces of this size at most.
constexpr uint64_t kFillPiece = 8u << 20;
}  // namespace

Result<std::unique_ptr<StagedFile>> StagedFile::Open(FileEnv* env, const std::string& path,
                                                     StagedFileOptions options) {
  if (options.base_size > 0 && !options.base) {
    return InvalidArgumentError("staged file " + path + ": a base size without a base reader");
  }
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env->Open(path, OpenMode::kReadWrite));
  HUBFS_RETURN_IF_ERROR(file->Truncate(options.size));
  return std::unique_ptr<StagedFile>(new StagedFile(std::move(file), path, std::move(options)));
}

StagedFile::StagedFile(std::unique_ptr<File> file, std::string path, StagedFileOptions options)
    : path_(std::move(path)),
      base_(std::move(options.base)),
      file_(std::move(file)),
      size_(options.size),
      base_limit_(std::min(options.base_size, options.size)),
      present_(std::move(options.present)),
      writing_(options.writing),
      append_hook_(std::move(options.append_hook)),
      append_hook_at_(options.append_hook_at) {
  // Bytes past the base are zeros: local from the start.
  present_.Add(base_limit_, size_);
}

uint64_t StagedFile::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

StagedFile::State StagedFile::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return State{generation_.load(), rewrites_.load(), size_, present_, base_limit_};
}

RangeSet StagedFile::present() const {
  std::lock_guard<std::mutex> lock(mu_);
  return present_;
}

uint64_t StagedFile::base_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return base_limit_;
}

Status StagedFile::Fill(uint64_t begin, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = std::min(end, base_limit_);
    missing = present_.Missing(begin, end);
  }
  std::vector<uint8_t> buf;
  for (auto [a, b] : missing) {
    for (uint64_t pos = a; pos < b;) {
      const uint64_t n = std::min(b - pos, kFillPiece);
      buf.resize(n);
      HUBFS_ASSIGN_OR_RETURN(size_t got, base_(pos, buf));
      if (got != n) {
        return CorruptError("staged file " + path_ + ": the Hub's version ended at " +
                            std::to_string(pos + got) + ", expected " + std::to_string(pos + n));
      }
      std::lock_guard<std::mutex> lock(mu_);
      // Only what is still missing: a write may have landed meanwhile, and
      // a truncate may have moved the base limit.
      for (auto [x, y] : present_.Missing(pos, std::min(pos + n, base_limit_))) {
        HUBFS_RETURN_IF_ERROR(file_->PWrite(
            x, std::span<const uint8_t>(buf.data() + (x - pos), static_cast<size_t>(y - x))));
        present_.Add(x, y);
      }
      pos += n;
    }
  }
  return Status::Ok();
}

Result<size_t> StagedFile::Read(uint64_t offset, std::span<uint8_t> out) {
  uint64_t end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (offset >= size_) return size_t{0};
    end = std::min<uint64_t>(size_, offset + out.size());
  }
  HUBFS_RETURN_IF_ERROR(Fill(offset, end));
  std::lock_guard<std::mutex> lock(mu_);
  end = std::min(end, size_);
  if (offset >= end) return size_t{0};
  const auto want = static_cast<size_t>(end - offset);
  HUBFS_ASSIGN_OR_RETURN(size_t got, file_->PRead(offset, out.first(want)));
  // The staging file is sized to size_, so a short read means it changed
  // under us (it should not): fill with zeros rather than return garbage.
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(got), out.begin() + want, uint8_t{0});
  return want;
}

Result<size_t> StagedFile::ReadThrough(uint64_t offset, std::span<uint8_t> out) {
  size_t want;
  std::vector<std::pair<uint64_t, uint64_t>> from_base;
  {
    // The local bytes (and zeros past the base) now; the ranges still the
    // base's are read below without the lock.
    std::lock_guard<std::mutex> lock(mu_);
    if (offset >= size_) return size_t{0};
    const uint64_t end = std::min<uint64_t>(size_, offset + out.size());
    want = static_cast<size_t>(end - offset);
    // Only the local ranges are read from the staging file: reading its
    // holes (an edited Hub file is mostly holes) would make the kernel zero
    // and cache a page for every byte the base provides anyway.
    const std::vector<std::pair<uint64_t, uint64_t>> missing = present_.Missing(offset, end);
    uint64_t pos = offset;
    auto read_local = [&](uint64_t a, uint64_t b) -> Status {
      if (a >= b) return Status::Ok();
      std::span<uint8_t> dst =
          out.subspan(static_cast<size_t>(a - offset), static_cast<size_t>(b - a));
      HUBFS_ASSIGN_OR_RETURN(size_t got, file_->PRead(a, dst));
      std::fill(dst.begin() + static_cast<std::ptrdiff_t>(got), dst.end(), uint8_t{0});
      return Status::Ok();
    };
    for (auto [a, b] : missing) {
      HUBFS_RETURN_IF_ERROR(read_local(pos, a));
      // Missing bytes past the base's end are zeros (not expected: a
      // truncate or extension marks them local), never stale base bytes.
      if (b > base_limit_) {
        const uint64_t z = std::max(a, base_limit_);
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(z - offset),
                  out.begin() + static_cast<std::ptrdiff_t>(b - offset), uint8_t{0});
      }
      if (a < base_limit_) from_base.emplace_back(a, std::min(b, base_limit_));
      pos = b;
    }
    HUBFS_RETURN_IF_ERROR(read_local(pos, end));
  }
  for (auto [a, b] : from_base) {
    std::span<uint8_t> dst = out.subspan(static_cast<size_t>(a - offset), static_cast<size_t>(b - a));
    HUBFS_ASSIGN_OR_RETURN(size_t got, base_(a, dst));
    if (got != dst.size()) {
      return CorruptError("staged file " + path_ + ": the Hub's version ended at " +
                          std::to_string(a + got) + ", expected " + std::to_string(b));
    }
  }
  return want;
}

Status StagedFile::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return Status::Ok();
  std::function<bool()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    HUBFS_RETURN_IF_ERROR(file_->PWrite(offset, data));
    const uint64_t end = offset + data.size();
    if (offset < size_) ++rewrites_;
    if (offset > size_) present_.Add(size_, offset);  // the gap reads as zeros
    if (end > size_) {
      // Bytes past the old end are never the base's again.
      base_limit_ = std::min(base_limit_, size_);
      size_ = end;
    }
    present_.Add(offset, end);
    ++generation_;
    tail_cv_.notify_all();
    if (append_hook_ && end >= append_hook_at_ && rewrites_.load() == 0) hook = append_hook_;
  }
  if (hook && hook()) {
    std::lock_guard<std::mutex> lock(mu_);
    append_hook_ = nullptr;
  }
  return Status::Ok();
}

void StagedFile::SetWriting(bool writing) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = writing;
  tail_cv_.notify_all();
}

bool StagedFile::writing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writing_;
}

void StagedFile::CancelTailReads() {
  std::lock_guard<std::mutex> lock(mu_);
  tail_cv_.notify_all();
}

Result<size_t> StagedFile::ReadTail(uint64_t offset, std::span<uint8_t> out, uint64_t rewrites,
                                    const std::atomic<bool>* cancel) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cancel->load() || rewrites_.load() != rewrites) {
      return Status(ErrorCode::kCancelled,
                    "staged file " + path_ + " changed below its end, or the read was cancelled");
    }
    if (base_limit_ > 0) return InvalidArgumentError("tail read of an edited file " + path_);
    // A whole buffer when the writer has written it; what there is once
    // nobody writes any more.
    if (size_ >= offset + out.size() || (!writing_ && size_ >= offset)) break;
    tail_cv_.wait(lock);
  }
  const auto want = static_cast<size_t>(std::min<uint64_t>(size_ - offset, out.size()));
  if (want == 0) return size_t{0};
  HUBFS_ASSIGN_OR_RETURN(size_t got, file_->PRead(offset, out.first(want)));
  if (got != want) return CorruptError("staged file " + path_ + " is shorter than its size");
  return want;
}

Status StagedFile::Truncate(uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  HUBFS_RETURN_IF_ERROR(file_->Truncate(size));
  if (size < size_) ++rewrites_;
  tail_cv_.notify_all();
  if (size < size_) {
    present_.TruncateAt(size);
    base_limit_ = std::min(base_limit_, size);
  } else {
    base_limit_ = std::min(base_limit_, size_);
    present_.Add(size_, size);
  }
  size_ = size;
  ++generation_;
  return Status::Ok();
}

Status StagedFile::Sync() {
  std::lock_guard<std::mutex> lock(mu_);
  return file_->DataSync();
}

Status StagedFile::FillAll() {
  uint64_t end;
  {
    std::lock_guard<std::mutex> lock(mu_);
    end = size_;
  }
  return Fill(0, end);
}

}  // namespace hubfs::fs
