#include "fs/content/regular_file.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/hash.h"
#include "common/clock.h"
#include "hub/fake_transport.h"
#include "hub/hub_client.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;

constexpr char kEndpoint[] = "http://hub.test";
constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Serves one file's bytes at its resolve URL, honouring "Range: bytes=a-b",
// with switchable misbehaviour.
class RegularFileTest : public ::testing::Test {
 protected:
  enum class Mode { kGood, kOtherBytes, kIgnoreRange, kLongBody, kDown };

  void SetUp() override {
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.durable = false;
    o.max_bytes = 16 << 20;
    cache_ = std::move(*chunkstore::ChunkCache::Open(o));
    hub::HubClientOptions ho;
    ho.endpoint = kEndpoint;
    hub_ = std::make_unique<hub::HubClient>(&fake_, &clock_, &tokens_, ho);
  }

  Result<hub::HttpResponse> Answer(const hub::RecordedRequest& r) {
    ++requests_;
    if (mode_ == Mode::kDown) return UnavailableError("fake: connection refused");
    hub::HttpResponse resp;
    if (r.url != std::string(kEndpoint) + "/org/repo/resolve/" + kCommit + "/f.txt") {
      resp.status = 404;
      return resp;
    }
    std::string body = content_;
    if (mode_ == Mode::kOtherBytes) body[0] ^= 1;
    auto range = r.headers.Get("Range");
    unsigned long long a = 0, b = 0;
    if (mode_ == Mode::kIgnoreRange || !range ||
        std::sscanf(std::string(*range).c_str(), "bytes=%llu-%llu", &a, &b) != 2) {
      resp.status = 200;
      resp.body = body;
    } else {
      resp.status = 206;
      resp.body = body.substr(a, b - a + 1);
    }
    if (mode_ == Mode::kLongBody) resp.body += "x";
    return resp;
  }

  RegularFile File(bool lfs = false) const {
    return RegularFile{repo_, kCommit, "f.txt",
                       lfs ? std::string(40, 'a') : chunkstore::GitBlobId(Bytes(content_)),
                       content_.size(), lfs};
  }

  std::unique_ptr<RegularFileReader> NewReader(uint64_t max_small, RegularFileHooks hooks = {}) {
    return std::make_unique<RegularFileReader>(hub_.get(), &fake_, &tokens_, cache_.get(),
                                               max_small, std::move(hooks));
  }

  Result<std::string> ReadAt(RegularFileReader& r, const RegularFile& f, uint64_t off,
                             size_t len) {
    std::vector<uint8_t> out(len);
    HUBFS_ASSIGN_OR_RETURN(size_t n, r.Read(f, off, out));
    return std::string(out.begin(), out.begin() + static_cast<ptrdiff_t>(n));
  }

  const hub::RepoId repo_{hub::RepoType::kModel, "org", "repo"};
  const std::string content_ = "the quick brown fox jumps over the lazy dog\n";
  Mode mode_ = Mode::kGood;
  std::atomic<int> requests_{0};
  TempDir dir_;
  FakeClock clock_;
  hub::StaticTokenProvider tokens_{std::string("hf_secret")};
  hub::FakeHttpTransport fake_{[this](const hub::RecordedRequest& r) { return Answer(r); }};
  std::unique_ptr<hub::HubClient> hub_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

TEST_F(RegularFileTest, SmallFileIsFetchedWholeOnceAndServedByRange) {
  auto r = NewReader(1 << 20);
  EXPECT_EQ(ReadAt(*r, File(), 4, 5).value_or("?"), "quick");
  EXPECT_EQ(ReadAt(*r, File(), 40, 100).value_or("?"), "dog\n");  // short at the end
  EXPECT_EQ(ReadAt(*r, File(), 1000, 10).value_or("?"), "");      // past the end
  EXPECT_EQ(requests_.load(), 1);
}

TEST_F(RegularFileTest, ContentNotMatchingTheGitBlobIdIsRefusedAndNotCached) {
  auto r = NewReader(1 << 20);
  mode_ = Mode::kOtherBytes;
  auto bad = ReadAt(*r, File(), 0, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad.status().message().find("git blob id"), std::string::npos) << bad.status();
  mode_ = Mode::kGood;
  EXPECT_EQ(ReadAt(*r, File(), 0, 3).value_or("?"), "the");
  EXPECT_EQ(requests_.load(), 2);  // the bad answer was not cached
}

TEST_F(RegularFileTest, LfsContentIsNotCheckedAgainstThePointersBlobId) {
  auto r = NewReader(1 << 20);
  EXPECT_EQ(ReadAt(*r, File(/*lfs=*/true), 4, 5).value_or("?"), "quick");
}

TEST_F(RegularFileTest, LargeFileIsReadByRange) {
  auto r = NewReader(/*max_small=*/8);
  EXPECT_EQ(ReadAt(*r, File(), 10, 5).value_or("?"), "brown");
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].headers.Get("Range").value_or(""), std::string_view("bytes=10-14"));
  EXPECT_EQ(fake_.requests()[0].headers.Get("Authorization").value_or(""), std::string_view("Bearer hf_secret"));
}

TEST_F(RegularFileTest, WrongLengthsAndIgnoredRangesAreCorrupt) {
  auto r = NewReader(/*max_small=*/8);
  mode_ = Mode::kIgnoreRange;
  auto ignored = ReadAt(*r, File(), 10, 5);
  ASSERT_FALSE(ignored.ok());
  EXPECT_EQ(ignored.status().code(), ErrorCode::kCorrupt) << ignored.status();
  mode_ = Mode::kLongBody;
  auto longer = ReadAt(*r, File(), 10, 5);
  ASSERT_FALSE(longer.ok());
  EXPECT_EQ(longer.status().code(), ErrorCode::kCorrupt) << longer.status();
  // A 200 for a range that is the whole file is fine.
  mode_ = Mode::kIgnoreRange;
  auto whole = NewReader(1 << 20);
  EXPECT_EQ(ReadAt(*whole, File(), 0, 3).value_or("?"), "the");
}

TEST_F(RegularFileTest, HooksSeeTransportErrorsAndMayRefuseToFetch) {
  std::vector<std::string> asked;
  int failures = 0;
  bool refuse = false;
  auto r = NewReader(1 << 20, RegularFileHooks{
                                  [&](std::string_view what) {
                                    asked.emplace_back(what);
                                    return refuse ? UnavailableError("offline") : Status::Ok();
                                  },
                                  [&](const Status&) { ++failures; }});
  mode_ = Mode::kDown;
  auto down = ReadAt(*r, File(), 0, 3);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(failures, 1);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], std::string("read org/repo@") + kCommit + "/f.txt");

  refuse = true;
  mode_ = Mode::kGood;
  const int before = requests_.load();
  auto refused = ReadAt(*r, File(), 0, 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "offline");
  EXPECT_EQ(requests_.load(), before);  // nothing sent
}

}  // namespace
}  // namespace hubfs::fs
