// FileEnv::Default() (POSIX) and FaultFileEnv.
#include "common/file_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/fault_file_env.h"

namespace hubfs {
namespace {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/hubfs-env-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

int Mode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string ReadAll(FileEnv* env, const std::string& path) {
  auto f = env->Open(path, OpenMode::kRead);
  if (!f.ok()) return "<" + f.status().ToString() + ">";
  std::string out;
  uint8_t buf[7];  // small, so Read is called several times
  for (;;) {
    auto n = (*f)->Read(buf);
    if (!n.ok()) return "<" + n.status().ToString() + ">";
    if (*n == 0) return out;
    out.append(reinterpret_cast<const char*>(buf), *n);
  }
}

FaultRule Rule(FileOp op, int error, std::string path_contains = "") {
  FaultRule r;
  r.op = op;
  r.error = error;
  r.path_contains = std::move(path_contains);
  return r;
}

Status WriteFile(FileEnv* env, const std::string& path, const std::string& text) {
  HUBFS_ASSIGN_OR_RETURN(auto f, env->Open(path, OpenMode::kReadWrite));
  return f->Write(AsBytes(text));
}

TEST(FileEnvTest, CreatesPrivateDirsAndFiles) {
  TempDir tmp;
  FileEnv* env = FileEnv::Default();
  const mode_t old_umask = ::umask(022);
  auto made = env->CreateDir(tmp.Sub("d"));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(*made);
  auto again = env->CreateDir(tmp.Sub("d"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  ASSERT_TRUE(WriteFile(env, tmp.Sub("d/f"), "x").ok());
  auto fresh = env->Open(tmp.Sub("d/g"), OpenMode::kCreateNew);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ::umask(old_umask);
  EXPECT_EQ(Mode(tmp.Sub("d")), 0700);
  EXPECT_EQ(Mode(tmp.Sub("d/f")), 0600);
  EXPECT_EQ(Mode(tmp.Sub("d/g")), 0600);
}

TEST(FileEnvTest, ErrorsCarryCodePathAndReason) {
  TempDir tmp;
  FileEnv* env = FileEnv::Default();
  auto missing = env->Open(tmp.Sub("nope"), OpenMode::kRead);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "open " + tmp.Sub("nope") + ": No such file or directory");
  ASSERT_TRUE(WriteFile(env, tmp.Sub("f"), "x").ok());
  EXPECT_EQ(env->Open(tmp.Sub("f"), OpenMode::kCreateNew).status().code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(env->CreateDir(tmp.Sub("a/b")).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(env->Remove(tmp.Sub("nope")).code(), ErrorCode::kNotFound);
  EXPECT_EQ(env->ListDir(tmp.Sub("nope")).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(FileError("write", "/x", ENOSPC).code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(FileError("write", "/x", EDQUOT).code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(FileError("write", "/x", EIO).code(), ErrorCode::kIo);
  EXPECT_EQ(FileError("write", "/x", EIO).message(), "write /x: Input/output error");
}

TEST(FileEnvTest, ReadWritePWriteSyncRenameRemoveList) {
  TempDir tmp;
  FileEnv* env = FileEnv::Default();
  {
    auto f = env->Open(tmp.Sub("a"), OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Write(AsBytes("hello, world")).ok());
    ASSERT_TRUE((*f)->PWrite(7, AsBytes("WORLD")).ok());
    ASSERT_TRUE((*f)->Write(AsBytes("!")).ok());  // PWrite did not move the position
    EXPECT_TRUE((*f)->Sync().ok());
    EXPECT_TRUE((*f)->DataSync().ok());
    EXPECT_EQ((*f)->path(), tmp.Sub("a"));
  }
  EXPECT_EQ(ReadAll(env, tmp.Sub("a")), "hello, WORLD!");
  ASSERT_TRUE(env->Rename(tmp.Sub("a"), tmp.Sub("b")).ok());
  EXPECT_EQ(ReadAll(env, tmp.Sub("b")), "hello, WORLD!");
  ASSERT_TRUE(WriteFile(env, tmp.Sub("c"), "").ok());
  auto names = env->ListDir(tmp.Sub(""));
  ASSERT_TRUE(names.ok()) << names.status();
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(env->SyncDir(tmp.Sub("")).ok());
  EXPECT_TRUE(env->Remove(tmp.Sub("b")).ok());
  EXPECT_EQ(ReadAll(env, tmp.Sub("b")).rfind("<not_found", 0), 0u);
  auto space = env->StatFs(tmp.Sub(""));
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->total_bytes);
}

TEST(FileEnvTest, LockBelongsToTheOpenFile) {
  TempDir tmp;
  FileEnv* env = FileEnv::Default();
  auto a = env->Open(tmp.Sub("lock"), OpenMode::kReadWrite);
  auto b = env->Open(tmp.Sub("lock"), OpenMode::kReadWrite);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Lock().ok());
  auto got = (*b)->TryLock();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(*got);  // same process, another open file: conflicts
  a->reset();          // closing releases it
  got = (*b)->TryLock();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got);
}

TEST(FileEnvTest, RestrictModeOnlyNarrows) {
  TempDir tmp;
  FileEnv* env = FileEnv::Default();
  ASSERT_TRUE(env->CreateDir(tmp.Sub("d")).ok());
  ASSERT_EQ(::chmod(tmp.Sub("d").c_str(), 0755), 0);
  auto old = env->RestrictMode(tmp.Sub("d"), kPrivateDirMode);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(*old, std::optional<uint32_t>(0755));
  EXPECT_EQ(Mode(tmp.Sub("d")), 0700);
  old = env->RestrictMode(tmp.Sub("d"), kPrivateDirMode);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());  // already private: untouched
  ASSERT_TRUE(WriteFile(env, tmp.Sub("f"), "x").ok());
  ASSERT_EQ(::chmod(tmp.Sub("f").c_str(), 0400), 0);
  old = env->RestrictMode(tmp.Sub("f"), kPrivateFileMode);
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
  EXPECT_EQ(Mode(tmp.Sub("f")), 0400);  // tighter modes are kept
  EXPECT_EQ(env->RestrictMode(tmp.Sub("nope"), 0700).status().code(), ErrorCode::kNotFound);
}

TEST(FaultFileEnvTest, FailsMatchingCallsAfterSkipForCount) {
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 1);
  FaultRule rule = Rule(FileOp::kWrite, ENOSPC, "/data");
  rule.skip = 1;
  rule.count = 2;
  env.AddRule(rule);
  auto f = env.Open(tmp.Sub("data"), OpenMode::kCreateNew);
  auto other = env.Open(tmp.Sub("other"), OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok() && other.ok());
  EXPECT_TRUE((*f)->Write(AsBytes("a")).ok());  // skipped
  const Status st = (*f)->Write(AsBytes("b"));
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "write " + tmp.Sub("data") + ": No space left on device (injected)");
  EXPECT_TRUE((*other)->Write(AsBytes("x")).ok());  // another path
  EXPECT_FALSE((*f)->PWrite(0, AsBytes("c")).ok());
  EXPECT_TRUE((*f)->Write(AsBytes("d")).ok());  // the rule is spent
  EXPECT_EQ(env.injected(), 2u);
  EXPECT_EQ(ReadAll(FileEnv::Default(), tmp.Sub("data")), "ad");
}

TEST(FaultFileEnvTest, ShortWriteLeavesAPrefix) {
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 1);
  FaultRule rule = Rule(FileOp::kWrite, EIO);
  rule.short_write = true;
  rule.count = 1;
  env.AddRule(rule);
  auto f = env.Open(tmp.Sub("f"), OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok());
  const Status st = (*f)->Write(AsBytes("0123456789"));
  EXPECT_EQ(st.code(), ErrorCode::kIo);
  EXPECT_EQ(ReadAll(FileEnv::Default(), tmp.Sub("f")), "01234");
}

TEST(FaultFileEnvTest, EveryOperationCanFail) {
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 1);
  ASSERT_TRUE(WriteFile(&env, tmp.Sub("f"), "x").ok());
  auto f = env.Open(tmp.Sub("f"), OpenMode::kReadWrite);
  ASSERT_TRUE(f.ok());
  for (FileOp op : {FileOp::kOpen, FileOp::kRead, FileOp::kSync, FileOp::kLock,
                    FileOp::kCreateDir, FileOp::kSyncDir, FileOp::kListDir, FileOp::kRename,
                    FileOp::kRemove, FileOp::kStatFs, FileOp::kRestrictMode}) {
    env.AddRule(Rule(op, EIO));
  }
  uint8_t buf[4];
  EXPECT_EQ(env.Open(tmp.Sub("f"), OpenMode::kRead).status().code(), ErrorCode::kIo);
  EXPECT_EQ((*f)->Read(buf).status().code(), ErrorCode::kIo);
  EXPECT_EQ((*f)->Sync().code(), ErrorCode::kIo);
  EXPECT_EQ((*f)->DataSync().code(), ErrorCode::kIo);
  EXPECT_EQ((*f)->Lock().code(), ErrorCode::kIo);
  EXPECT_EQ((*f)->TryLock().status().code(), ErrorCode::kIo);
  EXPECT_EQ(env.CreateDir(tmp.Sub("d")).status().code(), ErrorCode::kIo);
  EXPECT_EQ(env.SyncDir(tmp.Sub("")).code(), ErrorCode::kIo);
  EXPECT_EQ(env.ListDir(tmp.Sub("")).status().code(), ErrorCode::kIo);
  EXPECT_EQ(env.Rename(tmp.Sub("f"), tmp.Sub("g")).code(), ErrorCode::kIo);
  EXPECT_EQ(env.Remove(tmp.Sub("f")).code(), ErrorCode::kIo);
  EXPECT_EQ(env.StatFs(tmp.Sub("")).status().code(), ErrorCode::kIo);
  EXPECT_EQ(env.RestrictMode(tmp.Sub("f"), 0600).status().code(), ErrorCode::kIo);
  EXPECT_EQ(env.injected(), 13u);
  // Nothing reached the file system.
  EXPECT_EQ(ReadAll(FileEnv::Default(), tmp.Sub("f")), "x");
  env.ClearRules();
  EXPECT_TRUE(env.Rename(tmp.Sub("f"), tmp.Sub("g")).ok());
}

TEST(FaultFileEnvTest, RenameMatchesEitherPath) {
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 1);
  env.AddRule(Rule(FileOp::kRename, EIO, "/target"));
  ASSERT_TRUE(WriteFile(&env, tmp.Sub("a"), "x").ok());
  EXPECT_FALSE(env.Rename(tmp.Sub("a"), tmp.Sub("target")).ok());
  EXPECT_TRUE(env.Rename(tmp.Sub("a"), tmp.Sub("b")).ok());
}

// Which calls a probabilistic rule fails depends only on the seed.
TEST(FaultFileEnvTest, ProbabilityIsSeeded) {
  TempDir tmp;
  ASSERT_TRUE(WriteFile(FileEnv::Default(), tmp.Sub("f"), "x").ok());
  auto pattern = [&](uint64_t seed) {
    FaultFileEnv env(FileEnv::Default(), seed);
    FaultRule rule = Rule(FileOp::kStatFs, EIO);
    rule.probability = 0.5;
    env.AddRule(rule);
    std::string out;
    for (int i = 0; i < 200; ++i) out += env.StatFs(tmp.Sub("f")).ok() ? '.' : 'x';
    return out;
  };
  const std::string a = pattern(42);
  EXPECT_EQ(a, pattern(42));
  EXPECT_NE(a, pattern(43));
  const auto failures = std::count(a.begin(), a.end(), 'x');
  EXPECT_GT(failures, 60);
  EXPECT_LT(failures, 140);
}

}  // namespace
}  // namespace hubfs
