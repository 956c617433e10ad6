#include "common/fault_file_env.h"

#include <utility>

namespace hubfs {

Status InjectedError(std::string_view what, const std::string& path, int error) {
  const Status st = FileError(what, path, error);
  return Status(st.code(), st.message() + " (injected)");
}

namespace {

// A File whose calls are first checked against the env's rules.
class FaultFile final : public File {
 public:
  FaultFile(FaultFileEnv* env, std::unique_ptr<File> base) : env_(env), base_(std::move(base)) {}

  const std::string& path() const override { return base_->path(); }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (const int err = env_->Check(FileOp::kRead, path()).error) {
      return InjectedError("read", path(), err);
    }
    return base_->Read(buf);
  }

  Status Write(std::span<const uint8_t> data) override {
    const auto d = env_->Check(FileOp::kWrite, path());
    if (d.error == 0) return base_->Write(data);
    if (d.short_write && data.size() > 1) {
      HUBFS_RETURN_IF_ERROR(base_->Write(data.first(data.size() / 2)));
    }
    return InjectedError("write", path(), d.error);
  }

  Status PWrite(uint64_t offset, std::span<const uint8_t> data) override {
    const auto d = env_->Check(FileOp::kWrite, path());
    if (d.error == 0) return base_->PWrite(offset, data);
    if (d.short_write && data.size() > 1) {
      HUBFS_RETURN_IF_ERROR(base_->PWrite(offset, data.first(data.size() / 2)));
    }
    return InjectedError("write", path(), d.error);
  }

  Result<size_t> PRead(uint64_t offset, std::span<uint8_t> buf) override {
    if (const int err = env_->Check(FileOp::kRead, path()).error) {
      return InjectedError("read", path(), err);
    }
    return base_->PRead(offset, buf);
  }

  Status Truncate(uint64_t size) override {
    // Growing a file takes space: it fails like a write.
    if (const int err = env_->Check(FileOp::kWrite, path()).error) {
      return InjectedError("truncate", path(), err);
    }
    return base_->Truncate(size);
  }

  Result<uint64_t> Size() override { return base_->Size(); }

  Status Sync() override {
    if (const int err = env_->Check(FileOp::kSync, path()).error) {
      return InjectedError("fsync", path(), err);
    }
    return base_->Sync();
  }

  Status DataSync() override {
    if (const int err = env_->Check(FileOp::kSync, path()).error) {
      return InjectedError("fdatasync", path(), err);
    }
    return base_->DataSync();
  }

  Status Lock() override {
    if (const int err = env_->Check(FileOp::kLock, path()).error) {
      return InjectedError("lock", path(), err);
    }
    return base_->Lock();
  }

  Result<bool> TryLock() override {
    if (const int err = env_->Check(FileOp::kLock, path()).error) {
      return InjectedError("lock", path(), err);
    }
    return base_->TryLock();
  }

 private:
  FaultFileEnv* const env_;
  const std::unique_ptr<File> base_;
};

}  // namespace

FaultFileEnv::FaultFileEnv(FileEnv* base, uint64_t seed) : base_(base), rng_(seed) {}

void FaultFileEnv::AddRule(FaultRule rule) {
  std::lock_guard lock(mu_);
  Slot slot;
  slot.rule = std::move(rule);
  rules_.push_back(std::move(slot));
}

void FaultFileEnv::ClearRules() {
  std::lock_guard lock(mu_);
  rules_.clear();
}

uint64_t FaultFileEnv::injected() const {
  std::lock_guard lock(mu_);
  return injected_;
}

FaultFileEnv::Decision FaultFileEnv::Check(FileOp op, const std::string& path,
                                           const std::string& other_path) {
  std::lock_guard lock(mu_);
  for (Slot& s : rules_) {
    const FaultRule& r = s.rule;
    if (r.op != op || s.failed >= r.count) continue;
    if (!r.path_contains.empty() && path.find(r.path_contains) == std::string::npos &&
        other_path.find(r.path_contains) == std::string::npos) {
      continue;
    }
    if (s.seen++ < r.skip) continue;
    if (r.probability < 1.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) >= r.probability) {
      continue;
    }
    ++s.failed;
    ++injected_;
    return Decision{r.error, r.short_write && op == FileOp::kWrite};
  }
  return Decision{};
}

Result<std::unique_ptr<File>> FaultFileEnv::Open(const std::string& path, OpenMode mode) {
  if (const int err = Check(FileOp::kOpen, path).error) {
    return InjectedError(mode == OpenMode::kRead ? "open" : "create", path, err);
  }
  HUBFS_ASSIGN_OR_RETURN(auto file, base_->Open(path, mode));
  return std::unique_ptr<File>(new FaultFile(this, std::move(file)));
}

Result<bool> FaultFileEnv::CreateDir(const std::string& path) {
  if (const int err = Check(FileOp::kCreateDir, path).error) {
    return InjectedError("create directory", path, err);
  }
  return base_->CreateDir(path);
}

Status FaultFileEnv::SyncDir(const std::string& path) {
  if (const int err = Check(FileOp::kSyncDir, path).error) return InjectedError("fsync", path, err);
  return base_->SyncDir(path);
}

Result<std::vector<std::string>> FaultFileEnv::ListDir(const std::string& path) {
  if (const int err = Check(FileOp::kListDir, path).error) {
    return InjectedError("read directory", path, err);
  }
  return base_->ListDir(path);
}

Status FaultFileEnv::Rename(const std::string& from, const std::string& to) {
  if (const int err = Check(FileOp::kRename, from, to).error) {
    return InjectedError("rename", from + " to " + to, err);
  }
  return base_->Rename(from, to);
}

Status FaultFileEnv::Remove(const std::string& path) {
  if (const int err = Check(FileOp::kRemove, path).error) return InjectedError("remove", path, err);
  return base_->Remove(path);
}

Result<DiskSpace> FaultFileEnv::StatFs(const std::string& path) {
  if (const int err = Check(FileOp::kStatFs, path).error) return InjectedError("statvfs", path, err);
  return base_->StatFs(path);
}

Result<std::optional<uint32_t>> FaultFileEnv::RestrictMode(const std::string& path,
                                                           uint32_t mode) {
  if (const int err = Check(FileOp::kRestrictMode, path).error) {
    return InjectedError("chmod", path, err);
  }
  return base_->RestrictMode(path, mode);
}

}  // namespace hubfs
