#include "cli/services.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace hubfs::cli {
namespace {

using std::chrono::milliseconds;

TEST(NetworkPolicyTest, RetriesUntilTheDeadlineWithAThirdPerAttempt) {
  const hub::HubServicesOptions o = NetworkPolicy(30);
  EXPECT_EQ(o.retry.max_attempts, 0);  // the deadline bounds the retries
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(10'000));
  EXPECT_EQ(o.transport.stall_timeout, milliseconds(10'000));
  EXPECT_EQ(o.retry.attempt_timeout, milliseconds(10'000));
  EXPECT_EQ(o.retry.initial_backoff, milliseconds(200));
  EXPECT_EQ(o.retry.max_backoff, milliseconds(2000));
  EXPECT_EQ(o.retry.default_deadline, milliseconds(60'000));
  EXPECT_GT(o.retry.circuit.failures_to_open, 0);
  EXPECT_EQ(o.retry.circuit.quiet_window, milliseconds(5000));  // a restart is no outage
}

TEST(NetworkPolicyTest, ShortDeadlinesKeepASecondPerAttempt) {
  const hub::HubServicesOptions o = NetworkPolicy(2);
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(1000));
  EXPECT_EQ(o.retry.default_deadline, milliseconds(60'000));
  EXPECT_EQ(o.retry.circuit.quiet_window, milliseconds(1000));
}

TEST(NetworkPolicyTest, LongWorkGetsTwiceALongIoTimeout) {
  EXPECT_EQ(LongOperationTimeout(30), milliseconds(60'000));
  EXPECT_EQ(LongOperationTimeout(100), milliseconds(200'000));
  EXPECT_EQ(NetworkPolicy(100).retry.default_deadline, milliseconds(200'000));
}

class PrepareCacheDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cachedir-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(PrepareCacheDirTest, CreatesTheDirectoryAndLeavesNoProbeBehind) {
  const std::filesystem::path dir = root_ / "a" / "b";
  ASSERT_TRUE(PrepareCacheDir(dir.string()).ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST_F(PrepareCacheDirTest, RefusesADirectoryWhereNoFileCanBeCreated) {
  // Not a directory at all: creating it fails (a read-only file system is
  // exercised by the fault matrix, which mounts one).
  std::ofstream(root_ / "file") << "x";
  Status s = PrepareCacheDir((root_ / "file" / "cache").string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_NE(s.message().find("cache dir " + (root_ / "file" / "cache").string() +
                             " is not writable ("),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--cache-dir"), std::string::npos);
}

}  // namespace
}  // namespace hubfs::cli
