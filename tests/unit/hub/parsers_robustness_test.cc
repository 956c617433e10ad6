// Untrusted input never crashes a parser: deterministic random and mutated
// inputs through every parser of hub/ (run under ASan/UBSan in CI builds).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "hub/cas_client.h"
#include "hub/http.h"
#include "hub/hub_json.h"
#include "hub/link_header.h"
#include "hub/repo_id.h"
#include "hub/retry.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

const std::vector<std::string> kSeeds = {
    R"([{"type":"file","oid":"fca7","size":313,"path":"config.json"},)"
    R"({"type":"directory","oid":"aa53","size":0,"path":"sub/dir"},)"
    R"({"type":"file","oid":"ba5d","size":4,"path":"m.bin","lfs":{"oid":")" +
        std::string(64, 'a') + R"(","size":4,"pointerSize":134},"xetHash":")" +
        std::string(64, 'b') + R"(","lastCommit":{"id":"x","title":"t","date":"d"}}])",
    R"({"branches":[{"name":"main","ref":"refs/heads/main","targetCommit":")" +
        std::string(40, 'c') + R"("}],"tags":[],"converts":[]})",
    R"({"accessToken":"xet_a","exp":1848535668,"casUrl":"https://cas.example"})",
    R"([{"id":"org/a","private":false,"lastModified":"2024"}])",
    "--b\r\nContent-Range: bytes 0-2/20\r\n\r\nabc\r\n--b\r\nContent-Range: bytes 10-12/20\r\n\r\n"
    "klm\r\n--b--\r\n",
    "<https://h/a?c=1>; rel=\"next\", <https://c/r>; rel=\"xet-auth\"",
    "hf://datasets/org/data@refs/pr/3/train/x",
};

std::string Mutate(const std::string& s, std::mt19937_64& rng) {
  std::string out = s;
  int edits = 1 + static_cast<int>(rng() % 8);
  static const std::string kInteresting = "{}[]\":,-0123456789/@%\r\n\\ ae";
  for (int i = 0; i < edits; ++i) {
    size_t pos = out.empty() ? 0 : rng() % out.size();
    switch (rng() % 4) {
      case 0:
        if (!out.empty()) out.erase(pos, 1 + rng() % 4);
        break;
      case 1:
        out.insert(pos, 1, kInteresting[rng() % kInteresting.size()]);
        break;
      case 2:
        if (!out.empty()) out[pos] = static_cast<char>(rng());
        break;
      default:
        out = out.substr(0, pos);
        break;
    }
  }
  return out;
}

TEST(ParsersRobustnessTest, MutatedInputsNeverCrash) {
  std::mt19937_64 rng(20261128);
  const std::vector<ByteRange> ranges = {{0, 2}, {10, 12}};
  size_t accepted = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const std::string& seed = kSeeds[static_cast<size_t>(iter) % kSeeds.size()];
    std::string in = iter < static_cast<int>(kSeeds.size()) ? seed : Mutate(seed, rng);
    accepted += ParseTreeEntries(in, 100).ok();
    accepted += ParseRevision(in).ok();
    accepted += ParseRepoPrivate(in).ok();
    accepted += ParseRefs(in).ok();
    accepted += ParseXetToken(in).ok();
    accepted += ParseRepoList(in, 100).ok();
    accepted += ParseMultipartByteranges("multipart/byteranges; boundary=b", in, ranges).ok();
    accepted += ParseLinkHeader(in).size();
    accepted += ParseContentRange(in).ok();
    accepted += ParseSource(in).ok();
    accepted += ParseUrl(in).ok();
    accepted += PercentDecode(in).ok();
    accepted += ParseRetryAfter(in, 0).has_value();
    accepted += ParseRateLimitWait(in).has_value();
    HttpResponse r;
    r.status = 400 + static_cast<int>(rng() % 200);
    r.body = in;
    EXPECT_FALSE(StatusFromResponse(r, "ctx").ok());
  }
  // The unmutated seeds were accepted, so the parsers were really exercised.
  EXPECT_GT(accepted, kSeeds.size());
}

TEST(ParsersRobustnessTest, DeepNestingAndHugeNumbers) {
  std::string deep(200000, '[');
  EXPECT_FALSE(ParseTreeEntries(deep, 100).ok());
  std::string nested = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_FALSE(ParseTreeEntries(nested, 100).ok());
  EXPECT_FALSE(ParseTreeEntries(R"([{"type":"file","oid":"1","size":1e400,"path":"x"}])", 10).ok());
  EXPECT_FALSE(
      ParseTreeEntries(R"([{"type":"file","oid":"1","size":18446744073709551616,"path":"x"}])", 10)
          .ok());
  EXPECT_FALSE(ParseContentRange("bytes 0-99999999999999999999999/1").ok());
}

}  // namespace
}  // namespace hubfs::hub
