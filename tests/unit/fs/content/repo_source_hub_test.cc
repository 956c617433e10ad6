#include "fs/content/repo_source_hub.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hub/fake_transport.h"

namespace hubfs::fs {
namespace {

TEST(ParseIsoTimeTest, ParsesHubDates) {
  EXPECT_EQ(ParseIsoTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIsoTime("2024-05-01T12:34:56.000Z"), 1714566896);
  EXPECT_EQ(ParseIsoTime("2024-05-01T12:34:56Z"), 1714566896);
}

TEST(ParseIsoTimeTest, RejectsMalformedDates) {
  EXPECT_FALSE(ParseIsoTime(""));
  EXPECT_FALSE(ParseIsoTime("yesterday"));
  EXPECT_FALSE(ParseIsoTime("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseIsoTime("2024-05-01X12:34:56Z"));
  EXPECT_FALSE(ParseIsoTime("1969-12-31T23:59:59Z"));
  EXPECT_FALSE(ParseIsoTime(std::string(100, '2')));
}

// Each reconstruction goes to the CAS with a token of the repo its file was
// read from; a hash never noted is refused without a request.
TEST(PerRepoXetCasTest, AsksWithTheTokenOfTheFilesRepo) {
  hub::FakeHttpTransport transport([](const hub::RecordedRequest&) -> Result<hub::HttpResponse> {
    hub::HttpResponse resp;
    resp.status = 404;
    return resp;
  });
  std::vector<std::string> asked;
  PerRepoXetCas cas(&transport, [&asked](const hub::RepoId& repo, const std::string& commit,
                                         bool) -> Result<hub::XetToken> {
    asked.push_back(repo.ToString() + "@" + commit);
    return hub::XetToken{"tok-" + repo.name, 4102444800, "http://cas.test"};
  });
  const std::string h1(64, 'a'), h2(64, 'b'), h3(64, 'c');
  hub::RepoId a{hub::RepoType::kModel, "org", "a"};
  hub::RepoId b{hub::RepoType::kDataset, "org", "b"};
  cas.NoteFile(h1, a, "1111111111111111111111111111111111111111");
  cas.NoteFile(h2, b, "2222222222222222222222222222222222222222");
  EXPECT_FALSE(cas.GetReconstruction(*chunkstore::Hash::Parse(h1), std::nullopt).ok());
  EXPECT_FALSE(cas.GetReconstruction(*chunkstore::Hash::Parse(h2), std::nullopt).ok());
  auto unknown = cas.GetReconstruction(*chunkstore::Hash::Parse(h3), std::nullopt);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kNotFound);
  auto requests = transport.requests();
  ASSERT_GE(requests.size(), 2u);
  std::vector<std::string> auths;
  for (const auto& r : requests) {
    EXPECT_NE(r.url.find("/reconstructions/"), std::string::npos) << r.url;
    auths.emplace_back(r.headers.Get("Authorization").value_or(""));
  }
  EXPECT_EQ(auths.front(), "Bearer tok-a");
  EXPECT_EQ(auths.back(), "Bearer tok-b");
  EXPECT_EQ(asked.front(), "org/a@1111111111111111111111111111111111111111");
  EXPECT_EQ(asked.back(), "datasets/org/b@2222222222222222222222222222222222222222");
  for (const auto& r : requests) EXPECT_EQ(r.url.find(h3), std::string::npos);
}

}  // namespace
}  // namespace hubfs::fs
