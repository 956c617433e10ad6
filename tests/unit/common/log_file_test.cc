#include "common/log_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace hubfs::log {
namespace {

class RotatingLogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "logfile.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/hubfs.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static uint64_t SizeOf(const std::string& path) {
    std::error_code ec;
    auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : n;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(RotatingLogFileTest, AppendsLinesWithNewlines) {
  auto log = RotatingLogFile::Open(path_, 1 << 20);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Write("first");
  (*log)->Write("second");
  EXPECT_EQ(Slurp(path_), "first\nsecond\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(RotatingLogFileTest, KeepsAppendingToAnExistingFile) {
  { std::ofstream(path_) << "old\n"; }
  auto log = RotatingLogFile::Open(path_, 1 << 20);
  ASSERT_TRUE(log.ok());
  (*log)->Write("new");
  EXPECT_EQ(Slurp(path_), "old\nnew\n");
}

TEST_F(RotatingLogFileTest, RotatesAtTheBoundAndKeepsOneOldFile) {
  const uint64_t bound = 1000;
  auto log = RotatingLogFile::Open(path_, bound);
  ASSERT_TRUE(log.ok());
  const std::string line(99, 'x');  // 100 bytes with the newline
  for (int i = 0; i < 95; ++i) {
    (*log)->Write(line);
    ASSERT_LE(SizeOf(path_), bound) << "after line " << i;
    ASSERT_LE(SizeOf(path_ + ".1"), bound);
  }
  // 9500 bytes written: the current file holds the tail, .1 the file before.
  EXPECT_EQ(SizeOf(path_), 500u);
  EXPECT_EQ(SizeOf(path_ + ".1"), 1000u);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".2"));
}

TEST_F(RotatingLogFileTest, FollowsARotationByAnotherWriter) {
  auto a = RotatingLogFile::Open(path_, 250);
  auto b = RotatingLogFile::Open(path_, 250);
  ASSERT_TRUE(a.ok() && b.ok());
  (*a)->Write(std::string(99, 'a'));
  (*b)->Write(std::string(99, 'b'));
  (*a)->Write(std::string(99, 'a'));  // 300 > 250: a rotates
  // b still holds the old file open; its next line must land in the new file.
  (*b)->Write("after");
  const std::string current = Slurp(path_);
  EXPECT_EQ(current, std::string(99, 'a') + "\nafter\n");
  EXPECT_EQ(Slurp(path_ + ".1"), std::string(99, 'a') + "\n" + std::string(99, 'b') + "\n");
}

TEST_F(RotatingLogFileTest, ConcurrentWritersNeverInterleaveWithinALine) {
  auto log = RotatingLogFile::Open(path_, 1 << 20);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) (*log)->Write(std::string(50, static_cast<char>('a' + t)));
    });
  }
  for (auto& th : threads) th.join();
  std::istringstream in(Slurp(path_));
  std::string l;
  int lines = 0;
  while (std::getline(in, l)) {
    ++lines;
    ASSERT_EQ(l.size(), 50u);
    ASSERT_EQ(l.find_first_not_of(l[0]), std::string::npos) << l;
  }
  EXPECT_EQ(lines, 2000);
}

TEST_F(RotatingLogFileTest, OpenFailsClearlyInAMissingDirectory) {
  auto log = RotatingLogFile::Open(dir_ + "/no/such/dir/hubfs.log", 1000);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("no/such/dir"), std::string::npos);
}

}  // namespace
}  // namespace hubfs::log
