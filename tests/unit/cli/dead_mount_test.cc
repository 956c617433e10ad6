#include "cli/dead_mount.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::cli {
namespace {

using chunkstore::cache_testing::TempDir;

constexpr char kMountinfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 22 0:45 / /mnt/a rw,nosuid,nodev,relatime shared:20 - fuse.hubfs hubfs:org/m "
    "rw,user_id=0,group_id=0\n"
    "41 22 0:46 / /mnt/with\\040space rw - fuse.hubfs hubfs:org/n rw\n"
    "42 40 0:47 / /mnt/a rw - fuse.hubfs hubfs:org/o rw\n"
    "43 22 0:48 / /mnt/ab rw,relatime - tmpfs tmpfs rw\n";

TEST(DeadMountTest, FindsTheNewestMountAtAPathInMountinfo) {
  auto a = FindMountIn(kMountinfo, "/mnt/a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->major, 0u);
  EXPECT_EQ(a->minor, 47u);  // stacked: the last line is the visible mount
  EXPECT_EQ(a->fstype, "fuse.hubfs");
  EXPECT_EQ(DevString(*a), "0:47");

  auto sp = FindMountIn(kMountinfo, "/mnt/with space");
  ASSERT_TRUE(sp.has_value());
  EXPECT_EQ(sp->minor, 46u);

  auto ab = FindMountIn(kMountinfo, "/mnt/ab");
  ASSERT_TRUE(ab.has_value());
  EXPECT_EQ(ab->fstype, "tmpfs");

  EXPECT_FALSE(FindMountIn(kMountinfo, "/mnt").has_value());
  EXPECT_FALSE(FindMountIn(kMountinfo, "/mnt/with\\040space").has_value());
  EXPECT_FALSE(FindMountIn("", "/mnt/a").has_value());
  EXPECT_FALSE(FindMountIn("garbage line\n", "/mnt/a").has_value());
}

std::string Status(const char* state, const char* sigpnd = "0000000000000000",
                   const char* shdpnd = "0000000000000000") {
  return std::string("Name:\thubfs\nUmask:\t0022\nState:\t") + state + "\nTgid:\t7\n" +
         "SigQ:\t0/1\nSigPnd:\t" + sigpnd + "\nShdPnd:\t" + shdpnd +
         "\nSigBlk:\t0000000000000000\n";
}

TEST(DeadMountTest, TellsARunningDaemonFromADyingOrGoneOne) {
  const std::string sleeping = Status("S (sleeping)");
  const std::string disk = Status("D (disk sleep)");
  // Healthy: sleeping threads, one in disk sleep (a slow daemon), nothing pending.
  EXPECT_EQ(DaemonLifeFromStatus(sleeping, {sleeping, sleeping, disk}), DaemonLife::kRunning);
  // A signal other than SIGKILL pending (SIGTERM = bit 15) is no death.
  EXPECT_EQ(DaemonLifeFromStatus(sleeping, {Status("S (sleeping)", "0000000000004000")}),
            DaemonLife::kRunning);
  // kill -9 with a thread stuck in the kernel: the main thread a zombie,
  // the stuck thread with SIGKILL (bit 9) pending.
  const std::string zombie = Status("Z (zombie)");
  const std::string stuck = Status("D (disk sleep)", "0000000000000100");
  EXPECT_EQ(DaemonLifeFromStatus(zombie, {zombie, stuck}), DaemonLife::kDying);
  // SIGKILL pending, main thread not yet exited.
  EXPECT_EQ(DaemonLifeFromStatus(sleeping, {sleeping, stuck}), DaemonLife::kDying);
  EXPECT_EQ(DaemonLifeFromStatus(Status("S (sleeping)", "0", "0000000000000100"), {sleeping}),
            DaemonLife::kDying);
  // Exited: a zombie alone, a dead task, or nothing.
  EXPECT_EQ(DaemonLifeFromStatus(zombie, {zombie}), DaemonLife::kGone);
  EXPECT_EQ(DaemonLifeFromStatus(Status("X (dead)"), {Status("X (dead)")}), DaemonLife::kGone);
  EXPECT_EQ(DaemonLifeFromStatus("", {}), DaemonLife::kGone);
  EXPECT_EQ(DaemonLifeFromStatus(sleeping, {}), DaemonLife::kGone);
}

TEST(DeadMountTest, ReadsTheLifeOfRealProcesses) {
  EXPECT_EQ(DaemonLifeOf(getpid()), DaemonLife::kRunning);
  // An exited child not yet reaped: a zombie alone.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  DaemonLife life = DaemonLife::kRunning;
  for (int i = 0; i < 500 && life != DaemonLife::kGone; ++i) {
    life = DaemonLifeOf(child);
    if (life != DaemonLife::kGone) usleep(10000);
  }
  EXPECT_EQ(life, DaemonLife::kGone);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(DaemonLifeOf(child), DaemonLife::kGone);  // reaped
  EXPECT_EQ(DaemonLifeOf(0), DaemonLife::kGone);
}

TEST(DeadMountTest, ReadsAFakeProcTree) {
  TempDir dir;
  const std::string base = dir.path() + "/77";
  std::filesystem::create_directories(base + "/task/77");
  std::filesystem::create_directories(base + "/task/78");
  auto put = [](const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  };
  put(base + "/status", Status("Z (zombie)"));
  put(base + "/task/77/status", Status("Z (zombie)"));
  put(base + "/task/78/status", Status("D (disk sleep)", "0000000000000100"));
  EXPECT_EQ(DaemonLifeOf(77, dir.path()), DaemonLife::kDying);
  std::filesystem::remove_all(base + "/task/78");
  EXPECT_EQ(DaemonLifeOf(77, dir.path()), DaemonLife::kGone);
  EXPECT_EQ(DaemonLifeOf(99, dir.path()), DaemonLife::kGone);
}

TEST(DeadMountTest, MountpointKeyResolvesTheParentOnly) {
  TempDir dir;
  const std::string real = std::filesystem::canonical(dir.path()).string();
  std::filesystem::create_directories(real + "/target");
  std::filesystem::create_symlink(real + "/target", real + "/link");
  // The parent's symlink is resolved; the last component is kept as named
  // (resolving it would stat the mount), also when it does not exist.
  EXPECT_EQ(MountpointKey(real + "/link/mnt"), real + "/target/mnt");
  EXPECT_EQ(MountpointKey(real + "/target/./mnt/"), real + "/target/mnt");
  EXPECT_EQ(MountpointKey(real + "/link"), real + "/link");
  EXPECT_EQ(MountpointKey("/"), "/");
}

TEST(DeadMountTest, NothingToRecoverWhereNoFuseMountIs) {
  TempDir dir;
  DeadMountOutcome out = RecoverDeadMount(dir.path(), {dir.path()});
  EXPECT_EQ(out.kind, DeadMountOutcome::kNothing);
  EXPECT_EQ(out.pid, 0);
  EXPECT_TRUE(out.message.empty());
}

}  // namespace
}  // namespace hubfs::cli
