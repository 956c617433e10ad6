#include "hub/repo_id.h"

#include <gtest/gtest.h>

#include <vector>

namespace hubfs::hub {
namespace {

TEST(RepoIdTest, ValidIds) {
  for (std::string id : {"openai-community/gpt2", "a/b", "org_1/name.v2", "A.b/c-d_e"}) {
    EXPECT_TRUE(ParseRepoId(RepoType::kModel, id).ok()) << id;
  }
  auto r = ParseRepoId(RepoType::kDataset, "org/data");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Id(), "org/data");
  EXPECT_EQ(r->ToString(), "datasets/org/data");
}

TEST(RepoIdTest, InvalidIds) {
  for (std::string id : std::vector<std::string>{
           "gpt2", "a/b/c", "/b", "a/", "-a/b", "a/b-", ".a/b", "a/b.", "a--x/b", "a/b..c",
           "a/b.git", "a b/c", "a/b\xc3\xa9", "a/" + std::string(97, 'n')}) {
    auto r = ParseRepoId(RepoType::kModel, id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(ParseRepoId(RepoType::kModel, "a/" + std::string(96, 'n')).ok());
}

TEST(RepoIdTest, ParseSourcePlain) {
  auto s = ParseSource("openai-community/gpt2");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repo.type, RepoType::kModel);
  EXPECT_EQ(s->repo.Id(), "openai-community/gpt2");
  EXPECT_FALSE(s->revision.has_value());
  EXPECT_EQ(s->subdir, "");
}

TEST(RepoIdTest, ParseSourceWithTypeRevisionAndSubdir) {
  auto s = ParseSource("hf://datasets/org/data@v1.0/train/part");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repo.type, RepoType::kDataset);
  EXPECT_EQ(s->repo.Id(), "org/data");
  EXPECT_EQ(s->revision, "v1.0");
  EXPECT_EQ(s->subdir, "train/part");

  auto sp = ParseSource("spaces/u/app/");
  ASSERT_TRUE(sp.ok());
  EXPECT_EQ(sp->repo.type, RepoType::kSpace);
  EXPECT_EQ(sp->subdir, "");
  EXPECT_EQ(ParseSource("models/u/m")->repo.type, RepoType::kModel);
}

TEST(RepoIdTest, SpecialRefsKeepSlashes) {
  auto pr = ParseSource("org/model@refs/pr/3/sub");
  ASSERT_TRUE(pr.ok()) << pr.status();
  EXPECT_EQ(pr->revision, "refs/pr/3");
  EXPECT_EQ(pr->subdir, "sub");
  auto conv = ParseSource("datasets/org/d@refs/convert/parquet");
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->revision, "refs/convert/parquet");
  EXPECT_EQ(conv->subdir, "");
  // Not special: "refs/pr/x" is the revision "refs" and subdir "pr/x".
  auto other = ParseSource("org/model@refs/pr/x");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->revision, "refs");
  EXPECT_EQ(other->subdir, "pr/x");
}

TEST(RepoIdTest, EncodedSlashRevisionIsDecoded) {
  auto s = ParseSource("org/model@feature%2Fx/dir");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->revision, "feature/x");
  EXPECT_EQ(s->subdir, "dir");
  auto pr = ParseSource("org/model@refs%2Fpr%2F1");
  EXPECT_EQ(pr->revision, "refs/pr/1");
}

TEST(RepoIdTest, AtInsideSubdirIsLiteral) {
  auto s = ParseSource("org/model/dir/@file.txt");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->revision.has_value());
  EXPECT_EQ(s->subdir, "dir/@file.txt");
}

TEST(RepoIdTest, BadSources) {
  for (std::string src : {"", "gpt2", "hf://", "datasets/onlyns", "org/model@", "org/model@%zz",
                          "org/model/../x", "org/model//x", "o--o/m", "org/model@a..b"}) {
    auto s = ParseSource(src);
    ASSERT_FALSE(s.ok()) << src;
    EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument) << src;
  }
}

TEST(RepoIdTest, HexHelpers) {
  EXPECT_TRUE(IsCommitSha(std::string(40, 'a')));
  EXPECT_FALSE(IsCommitSha(std::string(40, 'A')));
  EXPECT_FALSE(IsCommitSha(std::string(39, 'a')));
  EXPECT_TRUE(IsHex64(std::string(64, '0')));
  EXPECT_FALSE(IsHex64(std::string(64, 'g')));
}

}  // namespace
}  // namespace hubfs::hub
