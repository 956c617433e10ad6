// One contract for every RepoSource: the in-memory fake the core's tests use,
// HubRepoSource (over a fake transport answering as the Hub does) and the
// stack the mount and the commands use (CachingRepoSource over
// OfflineRepoSource over HubRepoSource, with a real chunk cache) give the
// same answers for the same repo.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chunkstore/cache.h"
#include "common/clock.h"
#include "fs/content/caching_repo_source.h"
#include "fs/content/offline_repo_source.h"
#include "fs/content/repo_source_hub.h"
#include "fs/content/revision_store.h"
#include "hub/fake_transport.h"
#include "hub/hub_client.h"
#include "hub/settings.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/fs/content/fake_repo_source.h"

namespace hubfs::fs {
namespace {

constexpr char kEndpoint[] = "http://hub.test";

RepoFixture Fixture() {
  RepoFixture f;
  f.files["README.md"] = "# a model\n";
  f.files["config.json"] = "{\"layers\": 2}\n";
  f.files["sub/a.txt"] = "alpha";
  f.files["sub/deeper/b.txt"] = "bravo bravo";
  return f;
}

hub::HttpResponse Json(int status, const nlohmann::json& body, const std::string& code = "") {
  hub::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers.Add("Content-Type", "application/json");
  if (!code.empty()) r.headers.Add("X-Error-Code", code);
  return r;
}

// Answers the Hub API calls HubRepoSource makes, from the fixture.
class HubResponder {
 public:
  explicit HubResponder(RepoFixture f) : f_(std::move(f)) {}

  Result<hub::HttpResponse> operator()(const hub::RecordedRequest& req) const {
    std::string url = req.url;
    const bool recursive = url.find("?recursive=true") != std::string::npos;
    const std::string api = std::string(kEndpoint) + "/api/models/" + f_.repo.Id();
    const std::string resolve = std::string(kEndpoint) + "/" + f_.repo.Id() + "/resolve/";
    if (size_t q = url.find('?'); q != std::string::npos) url.resize(q);
    if (url.rfind(api + "/revision/", 0) == 0) {
      const std::string rev = url.substr(api.size() + 10);
      if (rev != f_.branch && rev != f_.commit) return Json(404, {{"error", "no"}}, "RevisionNotFound");
      return Json(200, {{"sha", f_.commit}, {"lastModified", "2024-05-01T12:34:56.000Z"}});
    }
    if (url == api + "/refs") {
      nlohmann::json branch = {{"name", f_.branch},
                               {"ref", "refs/heads/" + f_.branch},
                               {"targetCommit", f_.commit}};
      return Json(200, {{"branches", {branch}}, {"tags", nlohmann::json::array()},
                        {"converts", nlohmann::json::array()},
                        {"pullRequests", nlohmann::json::array()}});
    }
    if (url.rfind(api + "/tree/", 0) == 0) return Tree(url.substr(api.size() + 6), recursive);
    if (url.rfind(resolve, 0) == 0) return File(url.substr(resolve.size()), req);
    return Json(404, {{"error", "unknown " + url}});
  }

 private:
  Result<hub::HttpResponse> Tree(const std::string& rest, bool recursive) const {
    const size_t slash = rest.find('/');
    const std::string commit = rest.substr(0, slash);
    const std::string dir = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (commit != f_.commit) return Json(404, {{"error", "no"}}, "RevisionNotFound");
    auto children = f_.Children(dir);
    if (!children) return Json(404, {{"error", "no"}}, "EntryNotFound");
    // Recursive: every level below, directories first, as one answer.
    for (size_t i = 0; recursive && i < children->size(); ++i) {
      if ((*children)[i].type != hub::TreeEntry::Type::kDirectory) continue;
      auto below = f_.Children((*children)[i].path);
      if (below) children->insert(children->end(), below->begin(), below->end());
    }
    nlohmann::json out = nlohmann::json::array();
    for (const hub::TreeEntry& e : *children) {
      const bool is_dir = e.type == hub::TreeEntry::Type::kDirectory;
      nlohmann::json j = {{"type", is_dir ? "directory" : "file"}, {"path", e.path}, {"oid", e.oid}};
      j["size"] = e.size;
      out.push_back(j);
    }
    return Json(200, out);
  }

  Result<hub::HttpResponse> File(const std::string& rest, const hub::RecordedRequest& req) const {
    const size_t slash = rest.find('/');
    auto it = f_.files.find(rest.substr(slash + 1));
    if (rest.substr(0, slash) != f_.commit || it == f_.files.end()) {
      return Json(404, {{"error", "no"}}, "EntryNotFound");
    }
    unsigned long long first = 0, last = 0;
    auto range = req.headers.Get("Range");
    if (!range || std::sscanf(std::string(*range).c_str(), "bytes=%llu-%llu", &first, &last) != 2 ||
        last < first || last >= it->second.size()) {
      return Json(416, {{"error", "bad range"}});
    }
    hub::HttpResponse r;
    r.status = 206;
    r.body = it->second.substr(first, last - first + 1);
    return r;
  }

  const RepoFixture f_;
};

// A source under test and what it needs to live.
struct SourceUnderTest {
  std::unique_ptr<chunkstore::cache_testing::TempDir> dir;
  std::unique_ptr<chunkstore::ChunkCache> cache;
  std::unique_ptr<RevisionStore> revisions;
  std::unique_ptr<hub::FakeHttpTransport> transport;
  std::unique_ptr<hub::StaticTokenProvider> tokens;
  std::unique_ptr<hub::HubClient> client;
  std::vector<std::unique_ptr<RepoSource>> below;  // layers under `source`
  std::unique_ptr<RepoSource> source;
};

using Factory = std::function<SourceUnderTest(const RepoFixture&)>;

SourceUnderTest MakeFake(const RepoFixture& f) {
  SourceUnderTest s;
  s.source = std::make_unique<FakeRepoSource>(f);
  return s;
}

SourceUnderTest MakeHub(const RepoFixture& f) {
  SourceUnderTest s;
  s.transport = std::make_unique<hub::FakeHttpTransport>(HubResponder(f));
  s.tokens = std::make_unique<hub::StaticTokenProvider>(std::nullopt);
  hub::HubClientOptions o;
  o.endpoint = kEndpoint;
  s.client = std::make_unique<hub::HubClient>(s.transport.get(), SystemClock::Default(),
                                              s.tokens.get(), o);
  s.source = std::make_unique<HubRepoSource>(s.client.get(), s.transport.get(), s.tokens.get(),
                                             nullptr);
  return s;
}

// As cli/services.h stacks them for a command (fail fast, revisions
// recorded), over a real chunk cache.
SourceUnderTest MakeStack(const RepoFixture& f) {
  SourceUnderTest s = MakeHub(f);
  s.dir = std::make_unique<chunkstore::cache_testing::TempDir>();
  chunkstore::CacheOptions o;
  o.dir = s.dir->Sub("cache");
  o.durable = false;
  o.max_bytes = 64 << 20;
  auto cache = chunkstore::ChunkCache::Open(o);
  EXPECT_TRUE(cache.ok()) << cache.status();
  if (cache.ok()) s.cache = std::move(*cache);
  s.revisions = std::make_unique<RevisionStore>(s.dir->Sub("refs"));
  s.below.push_back(std::move(s.source));
  s.below.push_back(std::make_unique<OfflineRepoSource>(
      s.below.back().get(), OfflineOptions{false, true, s.revisions.get(), kEndpoint}));
  s.source = std::make_unique<CachingRepoSource>(s.below.back().get(), s.cache.get());
  return s;
}

class RepoSourceContractTest : public ::testing::TestWithParam<Factory> {
 protected:
  RepoSourceContractTest() : fixture_(Fixture()), s_(GetParam()(fixture_)) {}
  RepoSource& source() { return *s_.source; }

  FileContent ContentOf(const std::string& path) {
    auto entries = source().ListDir(fixture_.repo, fixture_.commit,
                                    path.find('/') == std::string::npos
                                        ? ""
                                        : path.substr(0, path.rfind('/')));
    EXPECT_TRUE(entries.ok());
    FileContent c{fixture_.repo, fixture_.commit, path, "", 0, std::nullopt, std::nullopt};
    if (!entries.ok()) return c;
    for (const auto& e : *entries) {
      if (e.path == path) {
        c.oid = e.oid;
        c.size = e.size;
      }
    }
    return c;
  }

  RepoFixture fixture_;
  SourceUnderTest s_;
};

TEST_P(RepoSourceContractTest, ResolvesABranchAndASha) {
  for (const std::string& rev : {fixture_.branch, fixture_.commit}) {
    auto r = source().ResolveRevision(fixture_.repo, rev);
    ASSERT_TRUE(r.ok()) << rev << ": " << r.status();
    EXPECT_EQ(r->commit, fixture_.commit);
    EXPECT_EQ(r->commit_time, fixture_.commit_time);
  }
  auto missing = source().ResolveRevision(fixture_.repo, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.status().hub_error_code(), "RevisionNotFound");
}

TEST_P(RepoSourceContractTest, ListsDirectChildrenWithFullPaths) {
  auto root = source().ListDir(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(root.ok()) << root.status();
  std::vector<std::string> paths;
  for (const auto& e : *root) {
    paths.push_back(e.path + (e.type == hub::TreeEntry::Type::kDirectory ? "/" : ""));
  }
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"README.md", "config.json", "sub/"}));
  auto sub = source().ListDir(fixture_.repo, fixture_.commit, "sub");
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->size(), 2u);
  for (const auto& e : *sub) {
    if (e.path == "sub/a.txt") {
      EXPECT_EQ(e.type, hub::TreeEntry::Type::kFile);
      EXPECT_EQ(e.size, 5u);
    } else {
      EXPECT_EQ(e.path, "sub/deeper");
      EXPECT_EQ(e.type, hub::TreeEntry::Type::kDirectory);
    }
  }
  auto missing = source().ListDir(fixture_.repo, fixture_.commit, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
}

TEST_P(RepoSourceContractTest, ReadsAnyRangeShortOnlyAtTheEnd) {
  const FileContent file = ContentOf("sub/deeper/b.txt");
  ASSERT_EQ(file.size, 11u);
  std::string buf(32, '\0');
  auto span = [&](size_t n) { return std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), n); };
  auto n = source().Read(file, 0, span(5));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf.substr(0, *n), "bravo");
  n = source().Read(file, 6, span(32));  // past the end: short
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(buf.substr(0, *n), "bravo");
  n = source().Read(file, 11, span(4));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST_P(RepoSourceContractTest, AnswersFromTheHubAreNotStale) {
  auto r = source().ResolveRevision(fixture_.repo, fixture_.branch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->possibly_stale);
}

TEST_P(RepoSourceContractTest, ListsEveryDescendantRecursively) {
  auto all = source().ListRecursive(fixture_.repo, fixture_.commit, "");
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> paths;
  for (const auto& e : *all) {
    paths.push_back(e.path + (e.type == hub::TreeEntry::Type::kDirectory ? "/" : ""));
  }
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{"README.md", "config.json", "sub/", "sub/a.txt",
                                             "sub/deeper/", "sub/deeper/b.txt"}));
  auto sub = source().ListRecursive(fixture_.repo, fixture_.commit, "sub");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->size(), 3u);
  // Asked again (the stack answers from its cache): the same entries.
  auto again = source().ListRecursive(fixture_.repo, fixture_.commit, "sub");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 3u);
  auto missing = source().ListRecursive(fixture_.repo, fixture_.commit, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
}

TEST_P(RepoSourceContractTest, ListsTheRepoRefs) {
  auto refs = source().ListRefs(fixture_.repo);
  ASSERT_TRUE(refs.ok()) << refs.status();
  ASSERT_EQ(refs->branches.size(), 1u);
  EXPECT_EQ(refs->branches[0].ref, "refs/heads/main");
  EXPECT_EQ(refs->branches[0].target_commit, fixture_.commit);
}

std::string SourceName(const ::testing::TestParamInfo<Factory>& param) {
  static const char* const kNames[] = {"Fake", "Hub", "Stack"};
  return kNames[param.index];
}

INSTANTIATE_TEST_SUITE_P(Sources, RepoSourceContractTest,
                         ::testing::Values(Factory(MakeFake), Factory(MakeHub),
                                           Factory(MakeStack)),
                         SourceName);

}  // namespace
}  // namespace hubfs::fs
