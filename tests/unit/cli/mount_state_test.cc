#include "cli/mount_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::cli {
namespace {

using chunkstore::cache_testing::TempDir;

TEST(MountStateTest, ReaderGaugesRoundTripThroughTheStateFile) {
  TempDir dir;
  fs::XetReaderStats st;
  st.reads = 10;
  st.warm_reads = 4;
  st.reconstructions = 6;
  st.data_fetches = 7;
  st.data_bytes = 123456;
  st.fetches_in_flight = 3;
  st.readahead_in_flight = 5u << 20;
  st.memory_limit = 128u << 20;
  st.readahead_peak = 40u << 20;
  st.speculative_files = 6;
  st.speculative_bytes = 96u << 20;
  st.speculative_cancelled = 2;
  st.tensor_sweeps = 1;
  st.tensor_sweep_bytes = 700u << 20;
  st.sweeps_stopped = 3;
  st.round_trip_us = 51234;
  st.far_origin = true;
  MountState s;
  s.pid = getpid();  // alive: the record is kept
  s.cache_dir = dir.path();
  s.mountpoint = "/mnt/x";
  FillReaderStats(st, &s);
  s.tensor_sweep_stored = 600u << 20;  // from the page feed, not the reader
  EXPECT_GT(s.updated, 0);
  ASSERT_TRUE(WriteMountState(s));

  // The file names the gauges (what `hubfs status` and scripts read).
  std::ifstream in(MountStatePath(dir.path(), s.pid));
  std::stringstream buf;
  buf << in.rdbuf();
  auto j = nlohmann::json::parse(buf.str());
  EXPECT_EQ(j["fetches_in_flight"].get<uint64_t>(), 3u);
  EXPECT_EQ(j["plans"].get<uint64_t>(), 6u);
  EXPECT_EQ(j["readahead_bytes"].get<uint64_t>(), 5u << 20);
  EXPECT_EQ(j["memory_limit"].get<uint64_t>(), 128u << 20);
  EXPECT_EQ(j["readahead_peak"].get<uint64_t>(), 40u << 20);
  EXPECT_EQ(j["folder_files"].get<uint64_t>(), 6u);
  EXPECT_EQ(j["folder_bytes"].get<uint64_t>(), 96u << 20);
  EXPECT_EQ(j["folder_cancelled"].get<uint64_t>(), 2u);
  EXPECT_EQ(j["tensor_sweeps"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["tensor_sweep_bytes"].get<uint64_t>(), 700u << 20);
  EXPECT_EQ(j["tensor_sweep_stored"].get<uint64_t>(), 600u << 20);
  EXPECT_EQ(j["sweeps_stopped"].get<uint64_t>(), 3u);
  EXPECT_EQ(j["round_trip_us"].get<uint64_t>(), 51234u);
  EXPECT_TRUE(j["far_origin"].get<bool>());

  std::vector<MountState> got = ReadMountStates(dir.path());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].mountpoint, "/mnt/x");
  EXPECT_EQ(got[0].reads, 10u);
  EXPECT_EQ(got[0].plans, 6u);
  EXPECT_EQ(got[0].data_bytes, 123456u);
  EXPECT_EQ(got[0].fetches_in_flight, 3u);
  EXPECT_EQ(got[0].readahead_bytes, 5u << 20);
  EXPECT_EQ(got[0].memory_limit, 128u << 20);
  EXPECT_EQ(got[0].readahead_peak, 40u << 20);
  EXPECT_EQ(got[0].folder_files, 6u);
  EXPECT_EQ(got[0].folder_bytes, 96u << 20);
  EXPECT_EQ(got[0].folder_cancelled, 2u);
  EXPECT_EQ(got[0].tensor_sweeps, 1u);
  EXPECT_EQ(got[0].tensor_sweep_bytes, 700u << 20);
  EXPECT_EQ(got[0].tensor_sweep_stored, 600u << 20);
  EXPECT_EQ(got[0].sweeps_stopped, 3u);
  EXPECT_EQ(got[0].round_trip_us, 51234u);
  EXPECT_TRUE(got[0].far_origin);
}

TEST(MountStateTest, TheWriteSideRoundTrips) {
  TempDir dir;
  MountState s;
  s.pid = getpid();
  s.cache_dir = dir.path();
  s.mountpoint = "/mnt/w";
  s.writable = true;
  s.write_target = "main";
  s.pending = 12;
  s.commits_paused_until = 1796486113;
  s.commit_pause_reason = "resource_exhausted: commit: HTTP 429";
  s.journal_dir = dir.path() + "/write/me-m-0123";
  ASSERT_TRUE(WriteMountState(s));
  std::vector<MountState> got = ReadMountStates(dir.path());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].writable);
  EXPECT_EQ(got[0].pending, 12u);
  EXPECT_EQ(got[0].commits_paused_until, 1796486113);
  EXPECT_EQ(got[0].commit_pause_reason, s.commit_pause_reason);
  EXPECT_EQ(got[0].journal_dir, s.journal_dir);
  // Found by mountpoint among the records of the dirs given.
  auto by_mountpoint = FindMountStates({dir.path()});
  ASSERT_EQ(by_mountpoint.count("/mnt/w"), 1u);
  EXPECT_EQ(by_mountpoint["/mnt/w"].journal_dir, s.journal_dir);
}

TEST(MountStateTest, EveryWritableViewRoundTrips) {
  TempDir dir;
  MountState s;
  s.pid = getpid();
  s.cache_dir = dir.path();
  s.mountpoint = "/mnt/revs";
  s.writable = true;
  WriteViewState main;
  main.repo = "me/m";
  main.branch = "main";
  main.target = "main";
  main.journal_dir = dir.path() + "/write/me-m-0123";
  main.pending = 2;
  WriteViewState pr;
  pr.repo = "datasets/me/d";
  pr.branch = "refs/pr/3";
  pr.target = "refs/pr/3";
  pr.journal_dir = dir.path() + "/write/datasets-me-d-4567";
  pr.commits = 5;
  pr.conflict_prs = 1;
  pr.last_commit_error = "unavailable: HTTP 503";
  pr.commits_paused_until = 1796486113;
  pr.commit_pause_reason = "budget";
  s.write_views = {main, pr};
  ASSERT_TRUE(WriteMountState(s));
  std::vector<MountState> got = ReadMountStates(dir.path());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].write_views.size(), 2u);
  const WriteViewState& a = got[0].write_views[0];
  const WriteViewState& b = got[0].write_views[1];
  EXPECT_EQ(a.repo, "me/m");
  EXPECT_EQ(a.branch, "main");
  EXPECT_EQ(a.journal_dir, main.journal_dir);
  EXPECT_EQ(a.pending, 2u);
  EXPECT_EQ(b.repo, "datasets/me/d");
  EXPECT_EQ(b.branch, "refs/pr/3");
  EXPECT_EQ(b.target, "refs/pr/3");
  EXPECT_EQ(b.journal_dir, pr.journal_dir);
  EXPECT_EQ(b.commits, 5u);
  EXPECT_EQ(b.conflict_prs, 1u);
  EXPECT_EQ(b.last_commit_error, pr.last_commit_error);
  EXPECT_EQ(b.commits_paused_until, 1796486113);
  EXPECT_EQ(b.commit_pause_reason, "budget");
}

TEST(MountStateTest, ReaderStatsOfAFreshReaderAreSane) {
  // The gauges a mount reports before any read: nothing in flight, the
  // default budget.
  MountState s;
  fs::XetReaderStats st;
  st.memory_limit = fs::XetReaderOptions{}.memory_limit;
  FillReaderStats(st, &s);
  EXPECT_EQ(s.fetches_in_flight, 0u);
  EXPECT_EQ(s.readahead_bytes, 0u);
  EXPECT_EQ(s.memory_limit, 128u << 20);
}

TEST(MountStateTest, ProcessRecordsOfGoneProcessesAreRemovedAndDamagedOnesSkipped) {
  TempDir dir;
  const std::string d = dir.path() + "/records";
  ASSERT_TRUE(WriteProcessRecord(d, getpid(), {{"pid", getpid()}, {"n", 7}, {"s", "x"}}));
  // A pid that cannot run (beyond pid_max): its record goes away when read.
  const pid_t gone = 1 << 30;
  ASSERT_TRUE(WriteProcessRecord(d, gone, {{"pid", gone}}));
  std::ofstream(d + "/123.json") << "{\"pid\": 12";  // half written
  std::ofstream(d + "/124.json") << "{\"pid\": \"x\"}";
  auto records = ReadLiveProcessRecords(d);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(RecordNumber(records[0], "n"), 7u);
  EXPECT_EQ(RecordString(records[0], "s"), "x");
  EXPECT_EQ(RecordString(records[0], "n"), "");  // another type
  EXPECT_EQ(RecordNumber(records[0], "missing"), 0u);
  EXPECT_FALSE(std::filesystem::exists(d + "/" + std::to_string(gone) + ".json"));
  EXPECT_TRUE(std::filesystem::exists(d + "/123.json"));  // skipped, not removed
  EXPECT_FALSE(std::filesystem::exists(d + "/" + std::to_string(getpid()) + ".json.tmp"));
  EXPECT_TRUE(ReadLiveProcessRecords(dir.path() + "/none").empty());
}

TEST(MountStateTest, ParseMemoryLimit) {
  EXPECT_EQ(ParseMemoryLimit("512M"), 512ull << 20);
  EXPECT_EQ(ParseMemoryLimit("1G"), 1ull << 30);
  EXPECT_EQ(ParseMemoryLimit("8192k"), 8ull << 20);
  EXPECT_EQ(ParseMemoryLimit("16777216"), 16ull << 20);
  EXPECT_EQ(ParseMemoryLimit("1M"), std::nullopt);  // below the minimum
  EXPECT_EQ(ParseMemoryLimit(""), std::nullopt);
  EXPECT_EQ(ParseMemoryLimit("M"), std::nullopt);
  EXPECT_EQ(ParseMemoryLimit("1.5G"), std::nullopt);
  EXPECT_EQ(ParseMemoryLimit("-5M"), std::nullopt);
  EXPECT_EQ(ParseMemoryLimit("99999999999999999999G"), std::nullopt);
}

}  // namespace
}  // namespace hubfs::cli
