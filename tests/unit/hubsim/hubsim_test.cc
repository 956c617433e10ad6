// Unit tests of hubsim's pieces that need no network: the LFS rule, revision
// and range parsing, fault determinism, the repo store (commits, 412,
// conflicts, restart) and the CAS store's upload validation.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "chunkstore/file_hasher.h"
#include "chunkstore/shard.h"
#include "chunkstore/xorb.h"
#include "tests/hubsim/cas_store.h"
#include "tests/hubsim/commit_budget.h"
#include "tests/hubsim/faults.h"
#include "tests/hubsim/hostile.h"
#include "tests/hubsim/http_util.h"
#include "tests/hubsim/hub_api.h"
#include "tests/hubsim/lfs_rule.h"
#include "tests/hubsim/repos.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {
namespace {

namespace fs = std::filesystem;
using chunkstore::Hash;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("hubsim-test-" + RandomHex(8));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(CommitBudget, SlidingWindowPerRepo) {
  EXPECT_FALSE(ParseCommitBudget("0").ok());
  EXPECT_FALSE(ParseCommitBudget("3/x").ok());
  EXPECT_EQ(ParseCommitBudget("").value().commits, 0);
  CommitBudget b;
  EXPECT_FALSE(b.Wait("r", 100).has_value());  // off by default
  b.Set(ParseCommitBudget("2/10").value());
  b.Record("r", 100);
  EXPECT_FALSE(b.Wait("r", 101).has_value());
  b.Record("r", 103);
  EXPECT_EQ(b.Wait("r", 104), 6);              // the first leaves the window at 110
  EXPECT_FALSE(b.Wait("other", 104).has_value());
  EXPECT_FALSE(b.Wait("r", 110).has_value());
}

TEST(Util, GitBlobOidMatchesGit) {
  // `printf 'hello world\n' | git hash-object --stdin`
  EXPECT_EQ(GitBlobOid("hello world\n"), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad");
  EXPECT_EQ(GitBlobOid(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST(Util, LfsPointerText) {
  std::string p = LfsPointer(std::string(64, 'a'), 12);
  EXPECT_EQ(p, "version https://git-lfs.github.com/spec/v1\noid sha256:" + std::string(64, 'a') +
                   "\nsize 12\n");
}

TEST(Util, Base64RoundTripAndRejects) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64Decode("a$bc").has_value());
  EXPECT_FALSE(Base64Decode("a").has_value());
}

TEST(LfsRule, PatternsSizeAndBinarySample) {
  LfsRule rule(DefaultGitAttributes() + "data/** filter=lfs diff=lfs merge=lfs -text\n");
  EXPECT_TRUE(rule.IsLfs("model.safetensors", 10, "text"));
  EXPECT_TRUE(rule.IsLfs("deep/dir/w.bin", 10, "text"));
  EXPECT_TRUE(rule.IsLfs("saved_model/a/b/c.pb2", 10, "text"));
  EXPECT_TRUE(rule.IsLfs("data/x/y.txt", 10, "text"));
  EXPECT_FALSE(rule.IsLfs("README.md", 100, "# title"));
  EXPECT_TRUE(rule.IsLfs("README.md", kLfsSizeThreshold, "# title"));
  EXPECT_TRUE(rule.IsLfs("a.txt", 3, std::string("a\0b", 3)));
  EXPECT_FALSE(rule.IsLfs("empty.bin", 0, ""));  // empty files are always regular
  // A NUL past the first 512 bytes does not count.
  EXPECT_FALSE(rule.IsLfs("a.txt", 600, std::string(512, 'x') + std::string(1, '\0')));
}

TEST(LfsRule, GlobDialect) {
  EXPECT_TRUE(GitAttributesPatternMatches("*.bin", "a/b/c.bin"));
  EXPECT_FALSE(GitAttributesPatternMatches("dir/*.bin", "dir/sub/c.bin"));
  EXPECT_TRUE(GitAttributesPatternMatches("dir/**/*.bin", "dir/sub/c.bin"));
  EXPECT_TRUE(GitAttributesPatternMatches("dir/**/*.bin", "dir/c.bin"));
  EXPECT_TRUE(GitAttributesPatternMatches("[ab]?.txt", "ax.txt"));
  EXPECT_FALSE(GitAttributesPatternMatches("[!ab]?.txt", "ax.txt"));
  LfsRule unset("*.bin filter=lfs\nkeep.bin -filter\n");
  EXPECT_FALSE(unset.MatchesPattern("keep.bin"));
  EXPECT_TRUE(unset.MatchesPattern("other.bin"));
}

TEST(Routing, RevisionAndPathSplitting) {
  auto s = SplitRevisionAndPath({"refs", "pr", "3", "a", "b.txt"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "refs/pr/3");
  EXPECT_EQ(s->second, "a/b.txt");
  s = SplitRevisionAndPath({"refs%2Fpr%2F3", "dir%2Ffile.txt"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "refs/pr/3");
  EXPECT_EQ(s->second, "dir/file.txt");
  s = SplitRevisionAndPath({"feature%2Fx", "%C3%BC%20x"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "feature/x");
  EXPECT_EQ(s->second, "\xc3\xbc x");
  s = SplitRevisionAndPath({"refs", "convert", "parquet", "f"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "refs/convert/parquet");
  EXPECT_FALSE(SplitRevisionAndPath({"main", "bad%zz"}));
  EXPECT_FALSE(SplitRevisionAndPath({}));
}

TEST(Ranges, ParseByteRanges) {
  bool unsat = false;
  auto r = ParseByteRanges("bytes=0-0", 10, &unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].first, 0u);
  EXPECT_EQ((*r)[0].last, 0u);
  r = ParseByteRanges("bytes=5-", 10, &unsat);
  EXPECT_EQ((*r)[0].last, 9u);
  r = ParseByteRanges("bytes=-3", 10, &unsat);
  EXPECT_EQ((*r)[0].first, 7u);
  r = ParseByteRanges("bytes=2-100", 10, &unsat);
  EXPECT_EQ((*r)[0].last, 9u);  // clamped
  r = ParseByteRanges("bytes=1-2, 5-6", 10, &unsat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
  r = ParseByteRanges("bytes=10-", 10, &unsat);
  EXPECT_TRUE(unsat);
  for (const char* bad : {"bytes=3-2", "items=0-1", "bytes=", "bytes=a-b", "bytes=-0",
                          "bytes=99999999999999999999-1"})
    EXPECT_FALSE(ParseByteRanges(bad, 10, &unsat)) << bad;
  EXPECT_FALSE(ParseByteRanges("bytes=0-0,0-0,0-0", 10, &unsat, 2));
}

TEST(Hostile, SpecNamesKnownKindsOnly) {
  auto kinds = ParseHostileSpec("name-dotdot,slow,,other-branch");
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  EXPECT_EQ(*kinds, (std::set<std::string>{"name-dotdot", "other-branch", "slow"}));
  auto none = ParseHostileSpec("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(ParseHostileSpec("slow,bogus").ok());
  Hostile h;
  EXPECT_FALSE(h.Any());
  h.Set(*kinds);
  EXPECT_TRUE(h.Has("slow"));
  EXPECT_FALSE(h.Has("bomb"));
}

TEST(Faults, DeterministicPerAttemptAndSeed) {
  auto spec = ParseFaultSpec("error=0.5,seed=7");
  ASSERT_TRUE(spec.ok());
  Faults a, b;
  a.Set(*spec);
  b.Set(*spec);
  int errors = 0;
  bool retry_succeeds = false;
  for (int i = 0; i < 200; ++i) {
    std::string path = "/p" + std::to_string(i);
    auto first = a.Decide("data", "xorb-data", path, "bytes=0-9");
    EXPECT_EQ(first.kind, b.Decide("data", "xorb-data", path, "bytes=0-9").kind);
    if (first.kind != FaultKind::kNone) {
      ++errors;
      // Some retry of a failed request succeeds within a few attempts.
      for (int k = 0; k < 10; ++k)
        if (a.Decide("data", "xorb-data", path, "bytes=0-9").kind == FaultKind::kNone)
          retry_succeeds = true;
    }
  }
  EXPECT_GT(errors, 60);
  EXPECT_LT(errors, 140);
  EXPECT_TRUE(retry_succeeds);
  auto only = ParseFaultSpec("error=1,only=cas");
  ASSERT_TRUE(only.ok());
  a.Set(*only);
  EXPECT_EQ(a.Decide("hub", "tree", "/x", "").kind, FaultKind::kNone);
  EXPECT_NE(a.Decide("cas", "reconstruction", "/x", "").kind, FaultKind::kNone);
  EXPECT_FALSE(ParseFaultSpec("error=2").ok());
  EXPECT_FALSE(ParseFaultSpec("bogus=1").ok());
  EXPECT_FALSE(ParseFaultSpec("error=0.6,reset=0.6").ok());
  auto lat = ParseFaultSpec("latency=2ms,token_ttl=5");
  ASSERT_TRUE(lat.ok());
  EXPECT_EQ(lat->latency_us, 2000);
  EXPECT_EQ(lat->token_ttl, 5);
  auto rate = ParseFaultSpec("rate=50M,only=data");
  ASSERT_TRUE(rate.ok());
  EXPECT_EQ(rate->rate, 50'000'000u);
  a.Set(*rate);
  EXPECT_EQ(a.DataTime(25'000'000).count(), 500'000);
  EXPECT_EQ(ParseFaultSpec("rate=2k")->rate, 2000u);
  EXPECT_FALSE(ParseFaultSpec("rate=0").ok());
  EXPECT_FALSE(ParseFaultSpec("rate=fast").ok());
  a.Set(*ParseFaultSpec("rate=50M,only=cas"));
  EXPECT_EQ(a.DataTime(25'000'000).count(), 0) << "data is not among the origins";
  auto up = ParseFaultSpec("uprate=100M");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->uprate, 100'000'000u);
  EXPECT_EQ(up->rate, 0u);
  a.Set(*up);
  EXPECT_EQ(a.UploadTime(50'000'000).count(), 500'000);
  EXPECT_EQ(a.DataTime(50'000'000).count(), 0);
  a.Set(*ParseFaultSpec("uprate=100M,only=data"));
  EXPECT_EQ(a.UploadTime(50'000'000).count(), 0) << "cas is not among the origins";
  EXPECT_FALSE(ParseFaultSpec("uprate=0").ok());
}

TreeEntry Regular(const std::string& content) {
  TreeEntry e;
  e.oid = GitBlobOid(content);
  e.size = content.size();
  return e;
}

TEST(RepoStore, CommitsParentsConflictsAndRestart) {
  TempDir dir;
  int64_t now = 1'700'000'000;
  RepoKey key{RepoType::kDataset, "ns/repo"};
  std::string first, second;
  {
    RepoStore store(dir.path(), [&] { return now; });
    ASSERT_TRUE(store.Create(key, false, "ns", {{".gitattributes", Regular("x")}}).ok());
    EXPECT_EQ(store.Create(key, false, "ns", {}).status().code(), ErrorCode::kAlreadyExists);
    first = store.Get(key)->refs.branches.at("main");
    CommitRequest req;
    req.target = "main";
    req.title = "add";
    req.parent_commit = first.substr(0, 7);
    req.changes.push_back({FileChange::kPut, "a/b.txt", Regular("hello")});
    auto r = store.ApplyCommit(key, req);
    ASSERT_TRUE(r.ok()) << r.status();
    second = r->commit_id;
    EXPECT_NE(second, first);
    // Stale parent → 412, nothing changes.
    auto stale = store.ApplyCommit(key, req);
    EXPECT_EQ(stale.status().http_status(), 412);
    EXPECT_EQ(store.Get(key)->refs.branches.at("main"), second);
    // A file where a directory is → refused.
    CommitRequest clash;
    clash.target = "main";
    clash.changes.push_back({FileChange::kPut, "a", Regular("x")});
    EXPECT_EQ(store.ApplyCommit(key, clash).status().http_status(), 422);
    // Deleting a missing file → 404 EntryNotFound.
    CommitRequest del;
    del.target = "main";
    del.changes.push_back({FileChange::kDeleteFile, "nope", {}});
    EXPECT_EQ(store.ApplyCommit(key, del).status().hub_error_code(), "EntryNotFound");
    // PR from main.
    CommitRequest pr;
    pr.target = "main";
    pr.create_pr = true;
    pr.changes.push_back({FileChange::kPut, "p.txt", Regular("p")});
    auto prr = store.ApplyCommit(key, pr);
    ASSERT_TRUE(prr.ok());
    EXPECT_EQ(prr->pr_number, 1u);
    EXPECT_EQ(store.Get(key)->refs.branches.at("main"), second);
    ASSERT_TRUE(store.CreateBranch(key, "feature/x", "refs/pr/1", false).ok());
    EXPECT_FALSE(store.CreateBranch(key, "refs/pr/5", "main", false).ok());
    EXPECT_EQ(store.CreateBranch(key, "feature/x", "main", false).code(),
              ErrorCode::kAlreadyExists);
    ASSERT_TRUE(store.CreateTag(key, "v1", second.substr(0, 7)).ok());
  }
  // A new store over the same dir sees everything.
  RepoStore store(dir.path(), [&] { return now; });
  EXPECT_EQ((*store.Resolve(key, "main"))->id, second);
  EXPECT_EQ((*store.Resolve(key, "v1"))->id, second);
  EXPECT_EQ((*store.Resolve(key, first))->id, first);
  EXPECT_TRUE((*store.Resolve(key, "refs/pr/1"))->tree.count("p.txt"));
  EXPECT_TRUE((*store.Resolve(key, "feature/x"))->tree.count("p.txt"));
  EXPECT_EQ(store.Resolve(key, "nope").status().hub_error_code(), "RevisionNotFound");
  EXPECT_EQ(store.Resolve(RepoKey{RepoType::kModel, "ns/repo"}, "main").status().hub_error_code(),
            "RepoNotFound");
  const Commit& c = **store.Resolve(key, "main");
  EXPECT_TRUE(c.HasDir("a"));
  EXPECT_FALSE(c.HasDir("a/b.txt"));
  EXPECT_EQ(c.tree.at("a/b.txt").last_commit, second);
}

TEST(RepoStore, LfsObjectsBelongToRepos) {
  TempDir dir;
  int64_t now = 1'700'000'000;
  RepoKey a{RepoType::kModel, "ns/a"}, b{RepoType::kModel, "ns/b"};
  const std::string sha1(64, '1'), sha2(64, '2'), sha3(64, '3');
  TreeEntry lfs;
  lfs.sha256 = sha1;
  lfs.size = 5;
  lfs.oid = GitBlobOid(LfsPointer(sha1, 5));
  {
    RepoStore store(dir.path(), [&] { return now; });
    // Committed at creation (import) → a's; b has nothing.
    ASSERT_TRUE(store.Create(a, false, "ns", {{"w.bin", lfs}}).ok());
    ASSERT_TRUE(store.Create(b, false, "ns", {}).ok());
    EXPECT_TRUE(store.HasLfsObject(a, sha1));
    EXPECT_FALSE(store.HasLfsObject(b, sha1));
    // Committed later → b's too; granted by an upload → a's only.
    CommitRequest req;
    req.target = "main";
    TreeEntry lfs2 = lfs;
    lfs2.sha256 = sha2;
    req.changes.push_back({FileChange::kPut, "x.bin", lfs2});
    ASSERT_TRUE(store.ApplyCommit(b, req).ok());
    EXPECT_TRUE(store.HasLfsObject(b, sha2));
    EXPECT_FALSE(store.HasLfsObject(a, sha2));
    ASSERT_TRUE(store.GrantLfsObjects(a, {sha3, "not-a-sha"}).ok());
    EXPECT_TRUE(store.HasLfsObject(a, sha3));
    EXPECT_FALSE(store.HasLfsObject(b, sha3));
    EXPECT_FALSE(store.HasLfsObject(a, "not-a-sha"));
    EXPECT_EQ(store.GrantLfsObjects(RepoKey{RepoType::kModel, "ns/none"}, {sha3}).code(),
              ErrorCode::kNotFound);
  }
  // Persistent; gone with the repo.
  RepoStore store(dir.path(), [&] { return now; });
  EXPECT_TRUE(store.HasLfsObject(a, sha3));
  ASSERT_TRUE(store.Delete(a).ok());
  EXPECT_FALSE(store.HasLfsObject(a, sha1));
  ASSERT_TRUE(store.Create(a, false, "ns", {}).ok());
  EXPECT_FALSE(store.HasLfsObject(a, sha1));
}

TEST(RepoPaths, Validation) {
  for (const char* ok : {"a", "a/b.txt", "ü dir/x y#.txt", ".gitattributes"})
    EXPECT_TRUE(ValidRepoPath(ok)) << ok;
  for (const char* bad :
       {"", "/a", "a//b", "./a", "a/../b", "..", ".git/config", "a/.cache/x", "..\\x", "a\nb"})
    EXPECT_FALSE(ValidRepoPath(bad)) << bad;
  EXPECT_TRUE(ValidRepoPart("my-model.v2"));
  for (const char* bad : {"", "-a", "a-", "a--b", "a..b", "x.git", "a b", "a/b"})
    EXPECT_FALSE(ValidRepoPart(bad)) << bad;
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Chunks `data`, packs it into one xorb and returns (xorb, shard bytes).
std::pair<chunkstore::XorbBuilder::Xorb, chunkstore::Shard> Pack(const std::vector<uint8_t>& data) {
  chunkstore::FileHasher hasher(true);
  hasher.Update(data);
  hasher.Finish();
  chunkstore::XorbBuilder builder(chunkstore::CompressionPolicy::kLz4);
  std::vector<Hash> hashes;
  for (const auto& c : hasher.chunks()) {
    EXPECT_TRUE(
        builder.Add(c.hash, std::span<const uint8_t>(data.data() + c.offset, c.length)).ok());
    hashes.push_back(c.hash);
  }
  auto xorb = builder.Finish();
  chunkstore::Shard shard;
  chunkstore::ShardFile f;
  f.file_hash = hasher.file_hash();
  f.terms.push_back({xorb.info.hash, static_cast<uint32_t>(data.size()), 0,
                     static_cast<uint32_t>(hashes.size())});
  f.verification.push_back(chunkstore::VerificationHash(hashes));
  f.sha256 = chunkstore::Sha256AsHash(*hasher.sha256());
  shard.files.push_back(f);
  shard.xorbs.push_back(chunkstore::ShardXorbFromInfo(xorb.info));
  return {std::move(xorb), std::move(shard)};
}

TEST(CasStore, UploadValidationAndRegistration) {
  TempDir dir;
  CasStore cas(dir.path(), chunkstore::Key{});
  auto data = RandomBytes(300'000, 1);
  auto [xorb, shard] = Pack(data);
  std::vector<uint8_t> shard_bytes = chunkstore::SerializeShard(shard);

  // Shard before its xorb: refused, nothing registered.
  EXPECT_EQ(cas.PutShard(shard_bytes, 0).status().http_status(), 400);
  // Corrupt xorb body / wrong hash: refused, nothing stored.
  auto bad = xorb.body;
  bad[bad.size() / 2] ^= 0x40;
  EXPECT_EQ(cas.PutXorb(xorb.info.hash, bad).status().http_status(), 400);
  Hash other = xorb.info.hash;
  other.bytes[0] ^= 1;
  EXPECT_EQ(cas.PutXorb(other, xorb.body).status().http_status(), 400);
  EXPECT_FALSE(cas.GetXorb(xorb.info.hash).ok());

  auto inserted = cas.PutXorb(xorb.info.hash, xorb.body);
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_TRUE(*inserted);
  EXPECT_FALSE(*cas.PutXorb(xorb.info.hash, xorb.body));  // already there

  // Tampered shards: wrong verification hash, wrong file hash, wrong term bytes.
  auto tampered = shard;
  tampered.files[0].verification[0].bytes[3] ^= 1;
  EXPECT_EQ(cas.PutShard(chunkstore::SerializeShard(tampered), 0).status().http_status(), 400);
  tampered = shard;
  tampered.files[0].file_hash.bytes[3] ^= 1;
  EXPECT_EQ(cas.PutShard(chunkstore::SerializeShard(tampered), 0).status().http_status(), 400);
  tampered = shard;
  tampered.files[0].terms[0].unpacked_bytes += 1;
  EXPECT_EQ(cas.PutShard(chunkstore::SerializeShard(tampered), 0).status().http_status(), 400);
  tampered = shard;
  tampered.xorbs[0].chunks[0].length += 1;
  EXPECT_EQ(cas.PutShard(chunkstore::SerializeShard(tampered), 0).status().http_status(), 400);
  std::string sha =
      Sha256Hex(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  EXPECT_FALSE(cas.FindSha256(sha).has_value());

  auto ok = cas.PutShard(shard_bytes, 0);
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto target = cas.FindSha256(sha);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->xet_hash, shard.files[0].file_hash.ToString());
  EXPECT_EQ(target->size, data.size());

  // The stored file decodes back to the data, at any range.
  auto file = cas.GetFile(shard.files[0].file_hash);
  ASSERT_TRUE(file.ok());
  std::string out;
  ASSERT_TRUE(cas.ReadFileRange(**file, 0, data.size(), &out).ok());
  EXPECT_EQ(out, std::string(data.begin(), data.end()));
  out.clear();
  ASSERT_TRUE(cas.ReadFileRange(**file, 100'000, 100'010, &out).ok());
  EXPECT_EQ(out, std::string(data.begin() + 100'000, data.begin() + 100'010));

  // Global dedup: the first chunk of the file finds its xorb.
  chunkstore::FileHasher h(false);
  h.Update(data);
  h.Finish();
  auto dedup = cas.DedupShard(h.chunks()[0].hash, 1000);
  ASSERT_TRUE(dedup.ok());
  auto parsed = chunkstore::ParseShard(*dedup);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->xorbs.size(), 1u);
  EXPECT_EQ(parsed->xorbs[0].xorb_hash, xorb.info.hash);
  EXPECT_FALSE(cas.DedupShard(Hash{}, 1000).ok());
}

}  // namespace
}  // namespace hubfs::hubsim
