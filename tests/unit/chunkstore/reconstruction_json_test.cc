// Hostile and malformed reconstruction answers (chunkstore/reconstruction_json.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "chunkstore/reconstruction.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {

// Defined in reconstruction_test.cc: gtest prints a Reconstruction as v2 JSON.
void PrintTo(const Reconstruction& r, std::ostream* os);

namespace {

using ::hubfs::testing::Vectors;
using json = nlohmann::json;

// The vector answer for bytes=100000-700000 (two xorbs, offset 25372).
json ValidAnswer(int version) {
  return Vectors()["upload_example"]["reconstructions"][1][version == 1 ? "v1_response"
                                                                         : "v2_response"];
}

ErrorCode ParseCode(std::string_view body, int version) {
  return ParseReconstructionJson(body, version).status().code();
}
ErrorCode ParseJsonCode(const json& body, int version) {
  return ParseCode(std::string_view(body.dump()), version);
}

constexpr char kX0[] = "ad17095a27452004326bcc3e0563355495753df366eabdb67e85733e5311b27a";
constexpr char kNotHex[] = "gd17095a27452004326bcc3e0563355495753df366eabdb67e85733e5311b27a";
constexpr char kX1[] = "112bcb8bde46583ada9dc682b78e6d9f80b23742627cd8df4810672dd40d4979";

TEST(ReconstructionHostileJson, ValidBaseParses) {
  for (int v : {1, 2}) EXPECT_EQ(ParseJsonCode(ValidAnswer(v), v), ErrorCode::kOk);
}

TEST(ReconstructionHostileJson, EveryTruncationFails) {
  for (int v : {1, 2}) {
    const std::string body = ValidAnswer(v).dump();
    for (size_t n = 0; n < body.size(); ++n) {
      EXPECT_EQ(ParseCode(std::string_view(body).substr(0, n), v), ErrorCode::kCorrupt) << n;
    }
  }
}

TEST(ReconstructionHostileJson, WrongShapesAndTypes) {
  using Mutation = std::function<void(json&)>;
  // Why each case must fail (a substring of the error), so that a case
  // cannot pass by failing for an unrelated reason.
  const std::map<std::string, std::string> why = {
      {"offset string", "non-negative integer"},
      {"offset null", "non-negative integer"},
      {"offset negative", "non-negative integer"},
      {"offset float", "non-negative integer"},
      {"offset past first term", "outside the first term"},
      {"no offset", "missing offset"},
      {"no terms", "missing terms"},
      {"terms object", "unexpected object"},
      {"term array", "unexpected array"},
      {"term number", "must be an object"},
      {"hash number", "must be a string"},
      {"hash short", "not a hash"},
      {"hash long", "too long"},
      {"hash not hex", "not a hash"},
      {"no hash", "incomplete term"},
      {"unpacked string", "non-negative integer"},
      {"unpacked negative", "non-negative integer"},
      {"unpacked zero", "impossible for 5 chunks"},
      {"unpacked too big", "impossible for 5 chunks"},
      {"range array", "unexpected array"},
      {"range start string", "non-negative integer"},
      {"range no end", "without start and end"},
      {"range start == end", "empty chunk range"},
      {"range start > end", "empty chunk range"},
      {"range negative", "non-negative integer"},
      {"range past u32", "chunk index out of range"},
      {"term not covered", "not covered"},
      {"term before fetch", "not covered"},
      {"term xorb unknown", "not covered"},
      {"xorbs array", "unexpected array"},
      {"xorb list object", "unexpected object"},
      {"xorb key bad", "not a hash"},
      {"entry number", "must be an object"},
      {"url number", "must be a string"},
      {"url empty", "empty url"},
      {"url too long", "too long"},
      {"no url", "incomplete xorbs entry"},
      {"ranges object", "unexpected object"},
      {"ranges empty", "without ranges"},
      {"range item number", "must be an object"},
      {"chunks number", "must be an object"},
      {"no bytes", "incomplete xorbs range"},
      {"bytes start > end", "start > end"},
      {"bytes too short", "implausible"},
      {"bytes too long", "implausible"},
      {"bytes huge", "non-negative integer"},
      {"chunks empty", "empty fetch chunk range"},
      {"ranges unsorted", "not sorted"},
      {"no fetch info, terms left", "not covered"},
      {"v1 range missing", "incomplete fetch_info entry"},
      {"v1 url_range array", "unexpected array"},
      {"v1 url_range reversed", "start > end"},
      {"v1 entry with only v2 fields", "incomplete fetch_info entry"},
  };
  const std::vector<std::pair<const char*, Mutation>> v2_cases = {
      {"offset string", [](json& j) { j["offset_into_first_range"] = "0"; }},
      {"offset null", [](json& j) { j["offset_into_first_range"] = nullptr; }},
      {"offset negative", [](json& j) { j["offset_into_first_range"] = -1; }},
      {"offset float", [](json& j) { j["offset_into_first_range"] = 1.5; }},
      {"offset past first term", [](json& j) { j["offset_into_first_range"] = 340509; }},
      {"no offset", [](json& j) { j.erase("offset_into_first_range"); }},
      {"no terms", [](json& j) { j.erase("terms"); }},
      {"terms object", [](json& j) { j["terms"] = json::object(); }},
      {"term array", [](json& j) { j["terms"][0] = json::array(); }},
      {"term number", [](json& j) { j["terms"][0] = 5; }},
      {"hash number", [](json& j) { j["terms"][0]["hash"] = 5; }},
      {"hash short", [](json& j) { j["terms"][0]["hash"] = std::string(kX0).substr(1); }},
      {"hash long", [](json& j) { j["terms"][0]["hash"] = std::string(kX0) + "0"; }},
      {"hash not hex", [](json& j) { j["terms"][0]["hash"] = kNotHex; }},
      {"no hash", [](json& j) { j["terms"][0].erase("hash"); }},
      {"unpacked string", [](json& j) { j["terms"][0]["unpacked_length"] = "340509"; }},
      {"unpacked negative", [](json& j) { j["terms"][0]["unpacked_length"] = -340509; }},
      {"unpacked zero", [](json& j) { j["terms"][1]["unpacked_length"] = 0; }},
      {"unpacked too big", [](json& j) { j["terms"][1]["unpacked_length"] = 5 * 131072 + 1; }},
      {"range array", [](json& j) { j["terms"][0]["range"] = json::array({2, 7}); }},
      {"range start string", [](json& j) { j["terms"][0]["range"]["start"] = "2"; }},
      {"range no end", [](json& j) { j["terms"][0]["range"].erase("end"); }},
      {"range start == end", [](json& j) { j["terms"][0]["range"]["end"] = 2; }},
      {"range start > end", [](json& j) { j["terms"][0]["range"]["start"] = 8; }},
      {"range negative", [](json& j) { j["terms"][0]["range"]["start"] = -1; }},
      {"range past u32", [](json& j) { j["terms"][0]["range"]["end"] = 4294967296ull; }},
      {"term not covered", [](json& j) { j["terms"][1]["range"]["end"] = 6; }},
      {"term before fetch", [](json& j) { j["terms"][0]["range"]["start"] = 1; }},
      {"term xorb unknown",
       [](json& j) { j["terms"][0]["hash"] = std::string(64, '0'); }},
      {"xorbs array", [](json& j) { j["xorbs"] = json::array(); }},
      {"xorb list object", [](json& j) { j["xorbs"][kX0] = json::object(); }},
      {"xorb key bad", [](json& j) {
         j["xorbs"]["zz"] = j["xorbs"][kX0];
         j["xorbs"].erase(kX0);
       }},
      {"entry number", [](json& j) { j["xorbs"][kX0][0] = 1; }},
      {"url number", [](json& j) { j["xorbs"][kX0][0]["url"] = 1; }},
      {"url empty", [](json& j) { j["xorbs"][kX0][0]["url"] = ""; }},
      {"url too long", [](json& j) { j["xorbs"][kX0][0]["url"] = std::string(70000, 'u'); }},
      {"no url", [](json& j) { j["xorbs"][kX0][0].erase("url"); }},
      {"ranges object", [](json& j) { j["xorbs"][kX0][0]["ranges"] = json::object(); }},
      {"ranges empty", [](json& j) { j["xorbs"][kX0][0]["ranges"] = json::array(); }},
      {"range item number", [](json& j) { j["xorbs"][kX0][0]["ranges"][0] = 3; }},
      {"chunks number", [](json& j) { j["xorbs"][kX0][0]["ranges"][0]["chunks"] = 3; }},
      {"no bytes", [](json& j) { j["xorbs"][kX0][0]["ranges"][0].erase("bytes"); }},
      {"bytes start > end",
       [](json& j) { j["xorbs"][kX0][0]["ranges"][0]["bytes"]["start"] = 415193; }},
      {"bytes too short",
       [](json& j) { j["xorbs"][kX0][0]["ranges"][0]["bytes"]["end"] = 74644 + 5 * 9 - 2; }},
      {"bytes too long",
       [](json& j) { j["xorbs"][kX0][0]["ranges"][0]["bytes"]["end"] = 1ull << 40; }},
      {"bytes huge", [](json& j) {
         j["xorbs"][kX0][0]["ranges"][0]["bytes"]["end"] = json::parse("18446744073709551616");
       }},
      {"chunks empty",
       [](json& j) { j["xorbs"][kX0][0]["ranges"][0]["chunks"]["end"] = 2; }},
      {"ranges unsorted", [](json& j) {
         json& ranges = j["xorbs"][kX1][0]["ranges"];
         ranges.push_back(ranges[0]);  // chunks [0,5), bytes [0,363919]
         ranges[0]["chunks"] = {{"start", 6}, {"end", 7}};
         ranges[0]["bytes"] = {{"start", 410051}, {"end", 436431}};
       }},
      {"no fetch info, terms left", [](json& j) { j.erase("xorbs"); }},
  };
  for (const auto& [name, mutate] : v2_cases) {
    json j = ValidAnswer(2);
    mutate(j);
    Status st = ParseReconstructionJson(j.dump(), 2).status();
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << name;
    EXPECT_NE(st.message().find(why.at(name)), std::string::npos) << name << ": " << st;
  }
  // v1-specific shapes.
  const std::vector<std::pair<const char*, Mutation>> v1_cases = {
      {"v1 range missing", [](json& j) { j["fetch_info"][kX0][0].erase("range"); }},
      {"v1 url_range array", [](json& j) { j["fetch_info"][kX0][0]["url_range"] = {1, 2}; }},
      {"v1 url_range reversed",
       [](json& j) { j["fetch_info"][kX0][0]["url_range"] = {{"start", 9}, {"end", 8}}; }},
      {"v1 entry with only v2 fields", [](json& j) {
         j["fetch_info"][kX0][0] = ValidAnswer(2)["xorbs"][kX0][0];
       }},
  };
  for (const auto& [name, mutate] : v1_cases) {
    json j = ValidAnswer(1);
    mutate(j);
    Status st = ParseReconstructionJson(j.dump(), 1).status();
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << name;
    EXPECT_NE(st.message().find(why.at(name)), std::string::npos) << name << ": " << st;
  }
  // An answer of the other version lacks its fetch information.
  EXPECT_EQ(ParseJsonCode(ValidAnswer(1), 2), ErrorCode::kCorrupt);
  EXPECT_EQ(ParseJsonCode(ValidAnswer(2), 1), ErrorCode::kCorrupt);
  EXPECT_EQ(ParseJsonCode(ValidAnswer(2), 3), ErrorCode::kInvalidArgument);
}

TEST(ReconstructionHostileJson, RawTextCases) {
  const std::string t =
      std::string(R"({"hash":")") + kX0 + R"(","unpacked_length":56712,"range":{"start":0,"end":1}})";
  const std::string x = std::string(R"("xorbs":{")") + kX0 +
                        R"(":[{"url":"u","ranges":[{"chunks":{"start":0,"end":1},"bytes":{"start":0,"end":56719}}]}]})";
  const std::string good = R"({"offset_into_first_range":0,"terms":[)" + t + "]," + x + "}";
  ASSERT_EQ(ParseCode(good, 2), ErrorCode::kOk);
  for (const std::string& bad : std::vector<std::string>{
           "", "null", "[]", "5", "\"x\"", "{}", good + " {}", good + "x",
           // duplicate fields and keys
           R"({"offset_into_first_range":0,"offset_into_first_range":0,"terms":[)" + t + "]," + x + "}",
           R"({"offset_into_first_range":0,"terms":[],"terms":[)" + t + "]," + x + "}",
           R"({"offset_into_first_range":0,"terms":[)" + t + "]," + x.substr(0, x.size() - 1) +
               ",\"" + kX0 + R"(":[]}})",
           // numbers the tokenizer turns into floats or negatives
           R"({"offset_into_first_range":1e2,"terms":[)" + t + "]," + x + "}",
           R"({"offset_into_first_range":0.0,"terms":[)" + t + "]," + x + "}",
           R"({"offset_into_first_range":-0.0,"terms":[)" + t + "]," + x + "}",
           R"({"offset_into_first_range":99999999999999999999999,"terms":[)" + t + "]," + x + "}",
           // invalid UTF-8 inside a string, a raw control character
           "{\"offset_into_first_range\":0,\"terms\":[],\"z\":\"\xff\"}",
           "{\"offset_into_first_range\":0,\"terms\":[],\"z\":\"\x01\"}",
           // nonzero offset without terms
           R"({"offset_into_first_range":1,"terms":[]})",
       }) {
    EXPECT_EQ(ParseCode(bad, 2), ErrorCode::kCorrupt) << bad.substr(0, 200);
  }
  EXPECT_EQ(ParseCode(R"({"offset_into_first_range":0,"terms":[]})", 2), ErrorCode::kOk);
  EXPECT_EQ(ParseCode(R"({"offset_into_first_range":-0,"terms":[]})", 2), ErrorCode::kOk);
}

TEST(ReconstructionHostileJson, UnknownFieldsIgnoredAtEveryLevel) {
  const json extra = json::parse(R"({"a":[1,{"b":null},[true,"s",-1.5]],"c":{}})");
  for (int v : {1, 2}) {
    json j = ValidAnswer(v);
    Result<Reconstruction> plain = ParseReconstructionJson(j.dump(), v);
    ASSERT_TRUE(plain.ok());
    j["zz_extra"] = extra;
    j["terms"][0]["zz_extra"] = extra;
    j["terms"][0]["range"]["zz_extra"] = extra;
    if (v == 1) {
      j["fetch_info"][kX0][0]["zz_extra"] = extra;
      j["fetch_info"][kX0][0]["url_range"]["zz_extra"] = extra;
      j["xorbs"] = 17;  // the other version's field
    } else {
      j["xorbs"][kX0][0]["zz_extra"] = extra;
      j["xorbs"][kX0][0]["ranges"][0]["zz_extra"] = extra;
      j["xorbs"][kX0][0]["ranges"][0]["chunks"]["zz_extra"] = extra;
      j["fetch_info"] = "ignored";
    }
    Result<Reconstruction> parsed = ParseReconstructionJson(j.dump(), v);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, *plain);
  }
}

TEST(ReconstructionHostileJson, DeepNestingRejectedWithoutRecursion) {
  for (const char* open_close : {"[]", "{}"}) {
    std::string deep = R"({"offset_into_first_range":0,"terms":[],"x":)";
    const size_t depth = 200000;
    for (size_t i = 0; i < depth; ++i) {
      deep += open_close[0];
      if (open_close[0] == '{') deep += "\"k\":";
    }
    deep += "0";
    deep.append(depth, open_close[1]);
    deep += "}";
    Result<Reconstruction> r = ParseReconstructionJson(deep, 2);
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.status().message().find("deeper"), std::string::npos) << r.status();
  }
  // Moderate nesting inside an unknown field is fine.
  std::string ok = R"({"offset_into_first_range":0,"terms":[],"x":[[[[[[[[0]]]]]]]]})";
  EXPECT_EQ(ParseCode(ok, 2), ErrorCode::kOk);
}

TEST(ReconstructionHostileJson, SizeLimitAndManyTerms) {
  // 100 000 one-chunk terms of one xorb, all covered by a single range.
  const int n = 100000;
  std::string body = R"({"offset_into_first_range":0,"terms":[)";
  for (int i = 0; i < n; ++i) {
    if (i) body += ',';
    body += std::string(R"({"hash":")") + kX1 + R"(","unpacked_length":1,"range":{"start":)" +
            std::to_string(i) + R"(,"end":)" + std::to_string(i + 1) + "}}";
  }
  body += std::string(R"(],"xorbs":{")") + kX1 +
          R"(":[{"url":"u","ranges":[{"chunks":{"start":0,"end":100000},"bytes":{"start":0,"end":899999}}]}]}})";
  Result<Reconstruction> r = ParseReconstructionJson(body, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->terms.size(), static_cast<size_t>(n));
  EXPECT_EQ(r->terms.back().range, (ChunkRange{n - 1, n}));

  ReconstructionParseLimits limits;
  limits.max_body_bytes = body.size() - 1;
  EXPECT_EQ(ParseReconstructionJson(body, 2, limits).status().code(),
            ErrorCode::kResourceExhausted);
  limits.max_body_bytes = body.size();
  EXPECT_TRUE(ParseReconstructionJson(body, 2, limits).ok());
  // The default limit refuses a body past 64 MiB before looking at it.
  EXPECT_EQ(ParseCode(std::string((64u << 20) + 1, ' '), 2), ErrorCode::kResourceExhausted);
}

// The fuzzer's seed answers are valid plans (else they would only exercise
// the error paths).
TEST(ReconstructionHostileJson, FuzzSeedsParse) {
  const std::filesystem::path dir =
      std::filesystem::path(HUBFS_SOURCE_DIR) / "tests/fuzz/corpus/reconstruction";
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json") continue;
    const int version = name.find("_v1") != std::string::npos ? 1 : 2;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string body(std::filesystem::file_size(entry.path()), '\0');
    in.read(body.data(), static_cast<std::streamsize>(body.size()));
    ASSERT_TRUE(in) << name;
    Result<Reconstruction> r = ParseReconstructionJson(body, version);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    ++parsed;
  }
  EXPECT_GE(parsed, 10);
}

}  // namespace
}  // namespace hubfs::chunkstore
