// CachingRepoSource over the fake: what it answers from the chunk cache
// never reaches the source below it, also from a new stack over the same
// cache with that source down.
#include "fs/content/caching_repo_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/fs/content/counting_repo_source.h"
#include "tests/unit/fs/content/fake_repo_source.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;

class CachingRepoSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.files["README.md"] = "# a model\n";
    fixture_.files["sub/a.txt"] = "alpha";
    fixture_.files["sub/deeper/b.txt"] = "bravo bravo";
    fake_ = std::make_unique<FakeRepoSource>(fixture_);
    counting_ = std::make_unique<CountingRepoSource>(fake_.get());
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub("cache");
    o.durable = false;
    o.max_bytes = 64 << 20;
    auto cache = chunkstore::ChunkCache::Open(o);
    ASSERT_TRUE(cache.ok()) << cache.status();
    cache_ = std::move(*cache);
  }

  FileContent File(const std::string& path) {
    const std::string& content = fixture_.files.at(path);
    const std::string oid = chunkstore::GitBlobId(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(content.data()), content.size()));
    return FileContent{fixture_.repo, fixture_.commit, path, oid, content.size(),
                       std::nullopt, std::nullopt};
  }

  static std::string ReadAll(RepoSource& s, const FileContent& f, uint64_t offset, size_t n) {
    std::string buf(n, '\0');
    auto got = s.Read(f, offset, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), n));
    if (!got.ok()) return "error: " + got.status().ToString();
    buf.resize(*got);
    return buf;
  }

  RepoFixture fixture_;
  TempDir dir_;
  std::unique_ptr<FakeRepoSource> fake_;
  std::unique_ptr<CountingRepoSource> counting_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
};

TEST_F(CachingRepoSourceTest, AListingIsAskedForOncePerCommitAndDir) {
  CachingRepoSource caching(counting_.get(), cache_.get());
  auto root = caching.ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_EQ(root->size(), 2u);
  auto again = caching.ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size(), 2u);
  EXPECT_EQ(counting_->lists, 1);  // the hit did not reach the source
  ASSERT_TRUE(caching.ListDir(fixture_.repo, fixture_.commit, "sub").ok());
  EXPECT_EQ(counting_->lists, 2);  // another dir is another key

  // A new stack over the same cache, its source down: still answered.
  ASSERT_TRUE(cache_->Flush().ok());
  counting_->set_down(true);
  CachingRepoSource later(counting_.get(), cache_.get());
  auto sub = later.ListDir(fixture_.repo, fixture_.commit, "sub");
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->size(), 2u);
  EXPECT_EQ((*sub)[0].path, "sub/a.txt");  // sorted by path
  EXPECT_EQ((*sub)[1].path, "sub/deeper");
  EXPECT_EQ(counting_->lists, 2);
}

TEST_F(CachingRepoSourceTest, ErrorsAreNotCached) {
  CachingRepoSource caching(counting_.get(), cache_.get());
  for (int i = 0; i < 2; ++i) {
    auto missing = caching.ListDir(fixture_.repo, fixture_.commit, "nope");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  }
  EXPECT_EQ(counting_->lists, 2);
}

TEST_F(CachingRepoSourceTest, ABranchNameIsNeverACacheKey) {
  RepoFixture by_name = fixture_;
  by_name.commit = "main";  // a source that lists a tree by branch name
  FakeRepoSource fake(by_name);
  CountingRepoSource counting(&fake);
  CachingRepoSource caching(&counting, cache_.get());
  for (int i = 0; i < 2; ++i) {
    auto root = caching.ListDir(fixture_.repo, "main", "");
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(root->size(), 2u);
  }
  EXPECT_EQ(counting.lists, 2);  // the branch may have moved in between
}

TEST_F(CachingRepoSourceTest, RecursiveListingsAreKeptApartFromDirectOnes) {
  CachingRepoSource caching(counting_.get(), cache_.get());
  auto all = caching.ListRecursive(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 5u);
  EXPECT_EQ(counting_->recursive_lists, 1);
  EXPECT_EQ(counting_->lists, 0);
  auto root = caching.ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->size(), 2u);  // not the recursive answer under the same dir
  EXPECT_EQ(counting_->lists, 1);
  ASSERT_TRUE(caching.ListRecursive(fixture_.repo, fixture_.commit, "").ok());
  ASSERT_TRUE(caching.ListDir(fixture_.repo, fixture_.commit, "").ok());
  EXPECT_EQ(counting_->recursive_lists, 1);
  EXPECT_EQ(counting_->lists, 1);
}

TEST_F(CachingRepoSourceTest, ASmallFileIsReadWholeOnceThenServedAtAnyOffset) {
  CachingRepoSource caching(counting_.get(), cache_.get());
  const FileContent b = File("sub/deeper/b.txt");
  EXPECT_EQ(ReadAll(caching, b, 6, 3), "bra");
  EXPECT_EQ(counting_->reads, 1);
  EXPECT_EQ(counting_->read_offsets, std::vector<uint64_t>{0});  // whole, from 0
  EXPECT_EQ(ReadAll(caching, b, 0, 100), "bravo bravo");
  EXPECT_EQ(ReadAll(caching, b, 11, 4), "");
  EXPECT_EQ(counting_->reads, 1);

  ASSERT_TRUE(cache_->Flush().ok());
  counting_->set_down(true);
  CachingRepoSource later(counting_.get(), cache_.get());
  EXPECT_EQ(ReadAll(later, b, 6, 5), "bravo");
  EXPECT_EQ(counting_->reads, 1);
}

TEST_F(CachingRepoSourceTest, LargeAndXetFilesGoToTheSourceBelowEachTime) {
  CachingOptions o;
  o.max_small_file_bytes = 8;
  CachingRepoSource caching(counting_.get(), cache_.get(), o);
  const FileContent b = File("sub/deeper/b.txt");  // 11 bytes > 8
  EXPECT_EQ(ReadAll(caching, b, 6, 5), "bravo");
  EXPECT_EQ(ReadAll(caching, b, 6, 5), "bravo");
  EXPECT_EQ(counting_->read_offsets, (std::vector<uint64_t>{6, 6}));  // the range asked

  FileContent x = File("sub/a.txt");  // small, but read through the Xet reader
  x.xet_hash = std::string(64, 'a');
  EXPECT_EQ(ReadAll(caching, x, 1, 2), "lp");
  EXPECT_EQ(ReadAll(caching, x, 1, 2), "lp");
  EXPECT_EQ(counting_->reads, 4);
}

TEST_F(CachingRepoSourceTest, WithoutACacheEverythingPassesThrough) {
  CachingRepoSource caching(counting_.get(), nullptr);
  ASSERT_TRUE(caching.ListDir(fixture_.repo, fixture_.commit, "").ok());
  ASSERT_TRUE(caching.ListDir(fixture_.repo, fixture_.commit, "").ok());
  EXPECT_EQ(ReadAll(caching, File("README.md"), 2, 1), "a");
  EXPECT_EQ(ReadAll(caching, File("README.md"), 2, 1), "a");
  auto rev = caching.ResolveRevision(fixture_.repo, fixture_.branch);
  ASSERT_TRUE(rev.ok()) << rev.status();
  EXPECT_EQ(rev->commit, fixture_.commit);
  EXPECT_EQ(counting_->lists, 2);
  EXPECT_EQ(counting_->reads, 2);
  EXPECT_EQ(counting_->resolves, 1);
}

// Holds every Read until released, counting them; thread-safe.
class HeldSource final : public RepoSource {
 public:
  explicit HeldSource(RepoSource* inner) : inner_(inner) {}
  Result<RevisionInfo> ResolveRevision(const hub::RepoId& repo, std::string_view rev) override {
    return inner_->ResolveRevision(repo, rev);
  }
  Result<std::vector<hub::TreeEntry>> ListDir(const hub::RepoId& repo, std::string_view commit,
                                              std::string_view dir) override {
    return inner_->ListDir(repo, commit, dir);
  }
  Result<size_t> Read(const FileContent& file, uint64_t offset, std::span<uint8_t> out) override {
    ++reads;
    released_.wait();
    return inner_->Read(file, offset, out);
  }
  void Release() { release_.set_value(); }
  std::atomic<int> reads{0};

 private:
  RepoSource* const inner_;
  std::promise<void> release_;
  std::shared_future<void> released_{release_.get_future().share()};
};

TEST_F(CachingRepoSourceTest, ConcurrentFirstReadsOfAFileShareOneWholeRead) {
  HeldSource held(fake_.get());
  CachingRepoSource caching(&held, cache_.get());
  const FileContent b = File("sub/deeper/b.txt");
  std::vector<std::future<std::string>> readers;
  for (uint64_t off = 0; off < 4; ++off) {
    readers.push_back(std::async(std::launch::async, [&, off] { return ReadAll(caching, b, off, 2); }));
  }
  // Let all four arrive while the first whole read is held (a late one
  // finds the file cached: one read either way).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  held.Release();
  EXPECT_EQ(readers[0].get(), "br");
  EXPECT_EQ(readers[1].get(), "ra");
  EXPECT_EQ(readers[2].get(), "av");
  EXPECT_EQ(readers[3].get(), "vo");
  EXPECT_EQ(held.reads.load(), 1);
}

}  // namespace
}  // namespace hubfs::fs
