#include "fs/write/staged_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "common/fault_file_env.h"

namespace hubfs::fs {
namespace {

class StagedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hubfs-staged-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::mt19937 rng(3);
    base_.resize(300'000);
    for (auto& b : base_) b = static_cast<uint8_t>(rng());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StagedFileOptions WithBase(uint64_t size) {
    StagedFileOptions o;
    o.size = size;
    o.base_size = base_.size();
    o.base = [this](uint64_t off, std::span<uint8_t> out) -> Result<size_t> {
      base_reads_ += out.size();
      size_t n = off >= base_.size() ? 0 : std::min<size_t>(out.size(), base_.size() - off);
      std::copy(base_.begin() + off, base_.begin() + off + n, out.begin());
      return n;
    };
    return o;
  }

  std::vector<uint8_t> ReadAll(StagedFile* f) {
    std::vector<uint8_t> out(f->size());
    auto n = f->Read(0, out);
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, out.size());
    return out;
  }

  std::filesystem::path dir_;
  std::vector<uint8_t> base_;
  std::atomic<uint64_t> base_reads_{0};
};

TEST_F(StagedFileTest, AReadThroughTakesHubBytesWithoutStagingThem) {
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "s1").string(), WithBase(base_.size()));
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<uint8_t> patch(1000, 0xab);
  ASSERT_TRUE((*f)->Write(150'000, patch).ok());
  const RangeSet local = (*f)->present();
  const uint64_t gen = (*f)->generation();
  auto want = base_;
  std::copy(patch.begin(), patch.end(), want.begin() + 150'000);
  // In pieces, as the committer reads: the Hub's bytes and the local ones.
  std::vector<uint8_t> got;
  std::vector<uint8_t> piece(64 * 1024);
  for (uint64_t pos = 0;;) {
    auto n = (*f)->ReadThrough(pos, piece);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got.insert(got.end(), piece.begin(), piece.begin() + static_cast<std::ptrdiff_t>(*n));
    pos += *n;
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(base_reads_.load(), base_.size() - patch.size());
  // Nothing staged: the file holds only what was written, unchanged.
  EXPECT_EQ((*f)->present(), local);
  EXPECT_EQ((*f)->generation(), gen);
  EXPECT_LE(std::filesystem::file_size(dir_ / "s1"), base_.size());  // sparse, never filled
  // A truncate below the Hub's size and an extension: zeros past it, never Hub bytes.
  ASSERT_TRUE((*f)->Truncate(100).ok());
  ASSERT_TRUE((*f)->Truncate(200).ok());
  std::vector<uint8_t> tail(200);
  ASSERT_EQ((*f)->ReadThrough(0, tail).value(), 200u);
  EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 100, base_.begin()));
  EXPECT_TRUE(std::all_of(tail.begin() + 100, tail.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(StagedFileTest, OpeningAHubFileReadsNothingUntilAsked) {
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "s1").string(), WithBase(base_.size()));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(base_reads_.load(), 0u);
  // An in-place edit in the middle: still nothing read from the Hub.
  std::vector<uint8_t> patch(1000, 0xab);
  ASSERT_TRUE((*f)->Write(150'000, patch).ok());
  EXPECT_EQ(base_reads_.load(), 0u);
  // A read around the edit fetches only the bytes it lacks, once.
  std::vector<uint8_t> out(3000);
  ASSERT_TRUE((*f)->Read(149'000, out).ok());
  EXPECT_EQ(base_reads_.load(), 2000u);
  ASSERT_TRUE((*f)->Read(149'000, out).ok());
  EXPECT_EQ(base_reads_.load(), 2000u);
  auto want = base_;
  std::copy(patch.begin(), patch.end(), want.begin() + 150'000);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), want.begin() + 149'000));
  EXPECT_EQ(ReadAll(f->get()), want);
  EXPECT_EQ(base_reads_.load(), base_.size() - patch.size());
}

TEST_F(StagedFileTest, TruncateBelowTheHubSizeThenGrowReadsZeros) {
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "s2").string(), WithBase(base_.size()));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Truncate(1000).ok());
  ASSERT_TRUE((*f)->Truncate(5000).ok());
  auto all = ReadAll(f->get());
  ASSERT_EQ(all.size(), 5000u);
  EXPECT_TRUE(std::equal(all.begin(), all.begin() + 1000, base_.begin()));
  EXPECT_TRUE(std::all_of(all.begin() + 1000, all.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(StagedFileTest, AgreesWithAModelUnderRandomOperations) {
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "s3").string(), WithBase(base_.size()));
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> model = base_;
  std::mt19937 rng(11);
  for (int step = 0; step < 400; ++step) {
    const int op = static_cast<int>(rng() % 10);
    const uint64_t off = rng() % 400'000;
    if (op < 5) {
      std::vector<uint8_t> data(1 + rng() % 5000, static_cast<uint8_t>(step));
      ASSERT_TRUE((*f)->Write(off, data).ok());
      if (model.size() < off + data.size()) model.resize(off + data.size(), 0);
      std::copy(data.begin(), data.end(), model.begin() + off);
    } else if (op < 7) {
      ASSERT_TRUE((*f)->Truncate(off).ok());
      model.resize(off, 0);
    } else {
      // Both ways the committer and FUSE reads take: staging the Hub's
      // bytes, or reading them through (local ranges, holes, base).
      std::vector<uint8_t> out(1 + rng() % 20'000);
      auto n = step % 2 ? (*f)->Read(off, out) : (*f)->ReadThrough(off, out);
      ASSERT_TRUE(n.ok());
      const size_t want = off >= model.size() ? 0 : std::min(out.size(), model.size() - off);
      ASSERT_EQ(*n, want) << step;
      ASSERT_TRUE(std::equal(out.begin(), out.begin() + want, model.begin() + off)) << step;
    }
    ASSERT_EQ((*f)->size(), model.size());
  }
  EXPECT_EQ(ReadAll(f->get()), model);
  EXPECT_GT((*f)->generation(), 0u);
}

TEST_F(StagedFileTest, AReopenedStagingFileKeepsItsLocalBytes) {
  const auto path = (dir_ / "s4").string();
  RangeSet present;
  uint64_t limit = 0;
  {
    auto f = StagedFile::Open(FileEnv::Default(), path, WithBase(base_.size()));
    ASSERT_TRUE(f.ok());
    std::vector<uint8_t> patch(100, 0x11);
    ASSERT_TRUE((*f)->Write(10, patch).ok());
    ASSERT_TRUE((*f)->Sync().ok());
    present = (*f)->present();
    limit = (*f)->base_limit();
  }
  StagedFileOptions o = WithBase(base_.size());
  o.base_size = limit;
  o.present = present;
  auto f = StagedFile::Open(FileEnv::Default(), path, o);
  ASSERT_TRUE(f.ok());
  auto all = ReadAll(f->get());
  auto want = base_;
  std::fill(want.begin() + 10, want.begin() + 110, 0x11);
  EXPECT_EQ(all, want);
}

TEST_F(StagedFileTest, AFullDiskFailsTheWriteCleanly) {
  FaultFileEnv env(FileEnv::Default());
  auto f = StagedFile::Open(&env, (dir_ / "s5").string(), WithBase(base_.size()));
  ASSERT_TRUE(f.ok());
  FaultRule full;
  full.op = FileOp::kWrite;
  full.error = ENOSPC;
  env.AddRule(full);
  std::vector<uint8_t> data(10, 1);
  Status st = (*f)->Write(0, data);
  EXPECT_EQ(st.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ((*f)->generation(), 0u);
  env.ClearRules();
  auto all = ReadAll(f->get());
  EXPECT_EQ(all, base_);  // the failed write left nothing behind
}

TEST_F(StagedFileTest, ABaseThatEndsEarlyIsAnError) {
  StagedFileOptions o = WithBase(base_.size());
  o.base_size = base_.size() + 100;  // claims more than it has
  o.size = o.base_size;
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "s6").string(), o);
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> out(200);
  auto n = (*f)->Read(base_.size() - 100, out);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), ErrorCode::kCorrupt);
}


// A tail reader follows its writer: it waits for bytes that are not there
// yet, gets what is left once nobody writes, and stops at any change that is
// not an append.
TEST_F(StagedFileTest, ATailReadWaitsForTheWriterAndSeesTheEnd) {
  StagedFileOptions o;
  o.writing = true;
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "tail").string(), std::move(o));
  ASSERT_TRUE(f.ok()) << f.status();
  StagedFile* file = f->get();
  const std::atomic<bool> cancel{false};
  std::vector<uint8_t> got;
  Status reader_status;
  std::atomic<bool> finished{false};
  std::thread reader([&] {
    std::vector<uint8_t> buf(1000);
    for (;;) {
      auto n = file->ReadTail(got.size(), buf, 0, &cancel);
      if (!n.ok() || *n == 0) {
        if (!n.ok()) reader_status = n.status();
        finished = true;
        return;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  });
  std::vector<uint8_t> want;
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> piece(333, static_cast<uint8_t>(i));
    ASSERT_TRUE(file->Write(want.size(), piece).ok());
    want.insert(want.end(), piece.begin(), piece.end());
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Still being written: the reader waits at the end (or for a whole buffer).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(finished.load());
  file->SetWriting(false);
  reader.join();
  EXPECT_TRUE(reader_status.ok()) << reader_status;
  EXPECT_EQ(got, want);
  EXPECT_EQ(file->rewrites(), 0u);
}

TEST_F(StagedFileTest, ATailReadStopsAtARewriteATruncateOrACancel) {
  const std::atomic<bool> no{false};
  std::vector<uint8_t> buf(100);
  std::vector<uint8_t> data(1000, 7);
  // Appends, a gap past the end and a growing truncate are not rewrites.
  StagedFileOptions o;
  o.writing = true;
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "t1").string(), std::move(o));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Write(0, data).ok());
  ASSERT_TRUE((*f)->Write(2000, data).ok());
  ASSERT_TRUE((*f)->Truncate(4000).ok());
  EXPECT_EQ((*f)->rewrites(), 0u);
  auto n = (*f)->ReadTail(1000, buf, 0, &no);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf, std::vector<uint8_t>(100, 0));  // the gap reads as zeros
  // A write below the end.
  ASSERT_TRUE((*f)->Write(10, std::span<const uint8_t>(data.data(), 5)).ok());
  EXPECT_EQ((*f)->rewrites(), 1u);
  EXPECT_EQ((*f)->ReadTail(100, buf, 0, &no).status().code(), ErrorCode::kCancelled);
  // A shrinking truncate.
  ASSERT_TRUE((*f)->Truncate(500).ok());
  EXPECT_EQ((*f)->rewrites(), 2u);
  EXPECT_EQ((*f)->ReadTail(100, buf, 1, &no).status().code(), ErrorCode::kCancelled);
  // A reader waiting at the end wakes up for its cancel flag.
  std::atomic<bool> cancel{false};
  Status waited;
  std::thread reader([&] { waited = (*f)->ReadTail(500, buf, 2, &cancel).status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  cancel = true;
  (*f)->CancelTailReads();
  reader.join();
  EXPECT_EQ(waited.code(), ErrorCode::kCancelled);
}

// The append hook runs once the file reaches its size, while it has only
// been appended to, until it says it is done.
TEST_F(StagedFileTest, TheAppendHookRunsPastItsSizeUntilItIsDone) {
  int calls = 0;
  StagedFileOptions o;
  o.writing = true;
  o.append_hook_at = 1000;
  o.append_hook = [&calls] { return ++calls >= 2; };
  auto f = StagedFile::Open(FileEnv::Default(), (dir_ / "hook").string(), std::move(o));
  ASSERT_TRUE(f.ok());
  std::vector<uint8_t> piece(400, 1);
  for (uint64_t at = 0; at < 4000; at += piece.size()) ASSERT_TRUE((*f)->Write(at, piece).ok());
  EXPECT_EQ(calls, 2);  // at 1200 (false: asked again), at 1600 (true: done)

  int rewritten_calls = 0;
  StagedFileOptions o2;
  o2.writing = true;
  o2.append_hook_at = 1000;
  o2.append_hook = [&rewritten_calls] { return ++rewritten_calls > 0; };
  auto g = StagedFile::Open(FileEnv::Default(), (dir_ / "hook2").string(), std::move(o2));
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE((*g)->Write(0, piece).ok());
  ASSERT_TRUE((*g)->Write(0, piece).ok());  // a rewrite: never streamed
  for (uint64_t at = 400; at < 4000; at += piece.size()) ASSERT_TRUE((*g)->Write(at, piece).ok());
  EXPECT_EQ(rewritten_calls, 0);
}

}  // namespace
}  // namespace hubfs::fs
