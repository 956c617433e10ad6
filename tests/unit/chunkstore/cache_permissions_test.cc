// The cache's local files: private modes for a new cache and for one left
// looser by older versions, and failures of its own file work (through a
// FaultFileEnv) reported as errors.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <utility>

#include "chunkstore/cache.h"
#include "common/fault_file_env.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;

CacheOptions Options(const std::string& dir, bool durable = false, FileEnv* env = nullptr) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = 64 << 20;
  o.durable = durable;
  o.env = env;
  return o;
}

// Permission bits of a path, or -1 when it does not exist.
int Mode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

FaultRule Rule(FileOp op, int error, std::string path_contains = "") {
  FaultRule r;
  r.op = op;
  r.error = error;
  r.path_contains = std::move(path_contains);
  return r;
}

bool HaveBootId() { return std::ifstream("/proc/sys/kernel/random/boot_id").good(); }

TEST(CachePermissionsTest, NewCacheIsPrivate) {
  TempDir tmp;
  const std::string dir = tmp.Sub("cache");
  {
    auto c = ChunkCache::Open(Options(dir));
    ASSERT_TRUE(c.ok()) << c.status();
    (*c)->PutChunk(XorbFor(1), 0, Bytes(1, 1000));
    ASSERT_TRUE((*c)->Flush().ok());
    EXPECT_EQ(Mode(dir), 0700);
    EXPECT_EQ(Mode(dir + "/data.mdb"), 0600);
    EXPECT_EQ(Mode(dir + "/lock.mdb"), 0600);
    if (HaveBootId()) {
      // A not-durable writer holds a marker while it has unsynced writes.
      EXPECT_EQ(Mode(dir + "/open.lock"), 0600);
      EXPECT_EQ(Mode(dir + "/unsynced"), 0700);
    }
  }
}

TEST(CachePermissionsTest, LooseExistingCacheIsNarrowedOnOpen) {
  TempDir tmp;
  const std::string dir = tmp.Sub("cache");
  {
    auto c = ChunkCache::Open(Options(dir));
    ASSERT_TRUE(c.ok()) << c.status();
    (*c)->PutChunk(XorbFor(1), 0, Bytes(1, 1000));
    ASSERT_TRUE((*c)->Flush().ok());
  }
  // What older versions left: 0755 directories, 0644 files.
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir + "/data.mdb").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((dir + "/lock.mdb").c_str(), 0664), 0);
  const bool markers = Mode(dir + "/unsynced") >= 0;
  if (markers) {
    ASSERT_EQ(::chmod((dir + "/unsynced").c_str(), 0755), 0);
    ASSERT_EQ(::chmod((dir + "/open.lock").c_str(), 0644), 0);
  }
  auto c = ChunkCache::Open(Options(dir));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Mode(dir), 0700);
  EXPECT_EQ(Mode(dir + "/data.mdb"), 0600);
  EXPECT_EQ(Mode(dir + "/lock.mdb"), 0600);
  if (markers) {
    EXPECT_EQ(Mode(dir + "/unsynced"), 0700);
    EXPECT_EQ(Mode(dir + "/open.lock"), 0600);
  }
  // The entries are still there.
  auto got = (*c)->GetChunk(XorbFor(1), 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

// The marker that must be on disk before a not-durable cache writes cannot
// be created: the first write of a new cache happens at open (its format
// version), so Open fails with the disk's error, and nothing crashes.
TEST(CachePermissionsTest, MarkerCreateFailureFailsOpenCleanly) {
  if (!HaveBootId()) GTEST_SKIP() << "no boot id: the cache uses no markers";
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 7);
  env.AddRule(Rule(FileOp::kOpen, ENOSPC, "/unsynced/"));
  auto c = ChunkCache::Open(Options(tmp.Sub("cache"), false, &env));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kResourceExhausted) << c.status();
  EXPECT_NE(c.status().message().find("/unsynced/"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("No space left on device"), std::string::npos)
      << c.status();
  EXPECT_EQ(env.injected(), 1u);
}

// An existing cache opens without writing; the first Put needs a marker,
// whose fsync fails: the write is lost and Flush reports why, the half-made
// marker is gone, and once the disk recovers writes go through again.
TEST(CachePermissionsTest, MarkerSyncFailureIsAWriteError) {
  if (!HaveBootId()) GTEST_SKIP() << "no boot id: the cache uses no markers";
  TempDir tmp;
  const std::string dir = tmp.Sub("cache");
  { ASSERT_TRUE(ChunkCache::Open(Options(dir)).ok()); }
  FaultFileEnv env(FileEnv::Default(), 7);
  FaultRule rule = Rule(FileOp::kSync, EIO, "/unsynced/");
  rule.count = 1;
  env.AddRule(rule);
  auto c = ChunkCache::Open(Options(dir, false, &env));
  ASSERT_TRUE(c.ok()) << c.status();
  (*c)->PutChunk(XorbFor(1), 0, Bytes(1, 1000));
  const Status st = (*c)->Flush();
  EXPECT_EQ(st.code(), ErrorCode::kIo) << st;
  EXPECT_NE(st.message().find("Input/output error"), std::string::npos) << st;
  EXPECT_EQ((*c)->Stats().write_errors, 1u);
  EXPECT_EQ(env.injected(), 1u);
  auto entries = FileEnv::Default()->ListDir(dir + "/unsynced");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_TRUE(entries->empty());
  // The rule is spent: the next write creates its marker and commits.
  (*c)->PutChunk(XorbFor(2), 0, Bytes(2, 1000));
  EXPECT_TRUE((*c)->Flush().ok());
  auto got = (*c)->GetChunk(XorbFor(2), 0);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

// A durable cache uses no markers; failing its directory creation is an
// I/O error naming the directory.
TEST(CachePermissionsTest, CacheDirCreateFailureIsReported) {
  TempDir tmp;
  FaultFileEnv env(FileEnv::Default(), 7);
  env.AddRule(Rule(FileOp::kCreateDir, EIO));
  auto c = ChunkCache::Open(Options(tmp.Sub("cache"), true, &env));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kIo);
  EXPECT_NE(c.status().message().find(tmp.Sub("cache")), std::string::npos) << c.status();
}

}  // namespace
}  // namespace hubfs::chunkstore
