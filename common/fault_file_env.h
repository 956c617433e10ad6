// FaultFileEnv: a FileEnv for tests that passes every call to another
// FileEnv (usually FileEnv::Default()) unless a rule says to fail it: a full
// disk (ENOSPC), an I/O error (EIO), any errno, or a short write (a prefix of
// the data reaches the file, then the write fails). Rules pick calls by
// operation and path, skip some, fail a number of them, each with a
// probability drawn from a seeded generator, so a failing run replays.
//
//   FaultFileEnv env(FileEnv::Default(), /*seed=*/7);
//   FaultRule rule;
//   rule.op = FileOp::kSync;
//   rule.path_contains = "/unsynced/";
//   rule.error = EIO;
//   env.AddRule(rule);
//   options.env = &env;   // every fsync of a marker now fails with EIO
//
// Injected failures look like real ones: the same Status codes and messages
// as the POSIX env's (common/file_env.h), with "(injected)" appended.
//
// Ownership: the base env is not owned and must outlive this one; Files
// opened through this env must not outlive it.
// Thread-safety: all methods, AddRule and ClearRules included, may be called
// from any thread at once.
#ifndef HUBFS_COMMON_FAULT_FILE_ENV_H_
#define HUBFS_COMMON_FAULT_FILE_ENV_H_

#include <cerrno>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "common/file_env.h"

namespace hubfs {

// The operations a rule can match. kRead covers Read and PRead; kWrite
// covers Write, PWrite and Truncate; kSync
// covers Sync and DataSync; kLock covers Lock and TryLock.
enum class FileOp {
  kOpen,
  kRead,
  kWrite,
  kSync,
  kLock,
  kCreateDir,
  kSyncDir,
  kListDir,
  kRename,
  kRemove,
  kStatFs,
  kRestrictMode,
};

struct FaultRule {
  FileOp op = FileOp::kWrite;
  // Only calls whose path contains this (any path when empty). For Rename,
  // either path.
  std::string path_contains;
  // The errno of the injected failure.
  int error = EIO;
  // kWrite only: write the first half of the data (at least one byte when
  // there is more than one) to the real file before failing.
  bool short_write = false;
  // Let this many matching calls through before failing any.
  uint64_t skip = 0;
  // Then fail this many matching calls; the rule is spent afterwards.
  uint64_t count = std::numeric_limits<uint64_t>::max();
  // Each matching call past `skip` fails with this probability.
  double probability = 1.0;
};

class FaultFileEnv final : public FileEnv {
 public:
  // REQUIRES: base != nullptr, and it outlives this env.
  explicit FaultFileEnv(FileEnv* base, uint64_t seed = 1);

  // Rules are checked in the order added; the first that fires fails the call.
  void AddRule(FaultRule rule);
  void ClearRules();
  // Failures injected so far.
  uint64_t injected() const;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Result<bool> CreateDir(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Result<DiskSpace> StatFs(const std::string& path) override;
  Result<std::optional<uint32_t>> RestrictMode(const std::string& path, uint32_t mode) override;

  // For the Files it opens: the rule that fails this call, if any (copied;
  // error 0 = none). Counts it as injected.
  struct Decision {
    int error = 0;
    bool short_write = false;
  };
  Decision Check(FileOp op, const std::string& path, const std::string& other_path = {});

 private:
  struct Slot {
    FaultRule rule;
    uint64_t seen = 0;
    uint64_t failed = 0;
  };

  FileEnv* const base_;
  mutable std::mutex mu_;
  std::vector<Slot> rules_;  // guarded by mu_
  std::mt19937_64 rng_;      // guarded by mu_
  uint64_t injected_ = 0;    // guarded by mu_
};

// The Status an injected failure returns: FileError(what, path, error) with
// " (injected)" appended.
Status InjectedError(std::string_view what, const std::string& path, int error);

}  // namespace hubfs

#endif  // HUBFS_COMMON_FAULT_FILE_ENV_H_
