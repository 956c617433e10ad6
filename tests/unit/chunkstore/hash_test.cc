#include "chunkstore/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/chunkstore/chunking_inputs.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::Unhex;
using ::hubfs::testing::Vectors;

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Hash MustParse(std::string_view canonical) {
  auto r = Hash::Parse(canonical);
  EXPECT_TRUE(r.ok()) << canonical << ": " << r.status();
  return r.ok() ? *r : Hash{};
}

Key ElvishKey() {
  const std::string s = "whats the Elvish word for friend";
  Key k{};
  EXPECT_EQ(s.size(), k.size());
  std::copy_n(s.begin(), k.size(), k.begin());
  return k;
}

std::vector<MerkleNode> Leaves(const nlohmann::json& list, const char* size_field) {
  std::vector<MerkleNode> out;
  for (const auto& n : list) out.push_back({MustParse(n.at("hash").get<std::string>()), n.at(size_field)});
  return out;
}

// --- §2.1 canonical string ----------------------------------------------------

TEST(HashTest, HexConversionVectors) {
  const auto& cases = Vectors().at("hash_hex_conversion");
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    const std::string raw = c.at("raw_bytes_hex");
    const std::string canonical = c.at("canonical_hex");
    auto from_raw = Hash::FromRawHex(raw);
    ASSERT_TRUE(from_raw.ok()) << from_raw.status();
    EXPECT_EQ(from_raw->ToString(), canonical);
    EXPECT_EQ(from_raw->ToRawHex(), raw);

    Hash parsed = MustParse(canonical);
    EXPECT_EQ(parsed.ToRawHex(), raw);
    EXPECT_EQ(parsed, *from_raw);

    // Upper case is accepted; output is always lower case.
    Hash parsed_upper = MustParse(Upper(canonical));
    EXPECT_EQ(parsed_upper, parsed);
    EXPECT_EQ(parsed_upper.ToString(), canonical);
    auto raw_upper = Hash::FromRawHex(Upper(raw));
    ASSERT_TRUE(raw_upper.ok());
    EXPECT_EQ(*raw_upper, parsed);
  }
}

TEST(HashTest, CanonicalFormReversesEachGroup) {
  Hash h;
  for (int i = 0; i < 32; ++i) h.bytes[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(h.ToString(), "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918");
  EXPECT_EQ(h.FirstU64(), 0x0706050403020100ULL);
  EXPECT_EQ(h.LastU64(), 0x1f1e1d1c1b1a1918ULL);
}

TEST(HashTest, ParseRejectsMalformed) {
  const std::string good(64, 'a');
  EXPECT_TRUE(Hash::Parse(good).ok());
  EXPECT_FALSE(Hash::Parse(good.substr(1)).ok());
  EXPECT_FALSE(Hash::Parse(good + "a").ok());
  EXPECT_FALSE(Hash::Parse("").ok());
  std::string bad = good;
  bad[40] = 'g';
  EXPECT_EQ(Hash::Parse(bad).status().code(), ErrorCode::kInvalidArgument);
  bad[40] = ' ';
  EXPECT_FALSE(Hash::Parse(bad).ok());
  EXPECT_FALSE(Hash::FromRawHex(good.substr(2)).ok());
  EXPECT_FALSE(ParseHex("abc").ok());
  EXPECT_FALSE(ParseHex("zz").ok());
  auto ok = ParseHex("00fFA0");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<uint8_t>{0x00, 0xff, 0xa0}));
}

TEST(HashTest, IsZero) {
  Hash h;
  EXPECT_TRUE(h.IsZero());
  h.bytes[31] = 1;
  EXPECT_FALSE(h.IsZero());
}

// --- §2.2 keyed BLAKE3 ------------------------------------------------------

TEST(HashTest, KeysMatchSpec) {
  EXPECT_EQ(HexLower(kDataKey), "6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229");
  EXPECT_EQ(HexLower(kInternalNodeKey),
            "017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f");
  EXPECT_EQ(HexLower(kVerificationKey),
            "7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3");
  EXPECT_EQ(HexLower(kZeroKey), std::string(64, '0'));
}

TEST(HashTest, Blake3KeyedExamples) {
  const auto& cases = Vectors().at("blake3_keyed_examples");
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    std::vector<uint8_t> msg = Unhex(c.at("message_hex").get<std::string>());
    SCOPED_TRACE(msg.size());
    EXPECT_EQ(KeyedBlake3(kDataKey, msg).ToRawHex(), c.at("raw_digest_DATA_KEY_hex"));
    EXPECT_EQ(KeyedBlake3(kInternalNodeKey, msg).ToRawHex(),
              c.at("raw_digest_INTERNAL_NODE_KEY_hex"));
    EXPECT_EQ(KeyedBlake3(kVerificationKey, msg).ToRawHex(),
              c.at("raw_digest_VERIFICATION_KEY_hex"));
    EXPECT_EQ(KeyedBlake3(kZeroKey, msg).ToRawHex(), c.at("raw_digest_ZERO_KEY_hex"));
    EXPECT_EQ(ChunkHash(msg).ToString(), c.at("chunk_hash_DATA_KEY"));
  }
}

TEST(HashTest, HelloWorldChunkHash) {
  const std::string hello = "hello world";
  EXPECT_EQ(ChunkHash(AsBytes(hello)).ToString(),
            "4e39378b9d359f118190557a1f44130219a54e5fcfa07bd96cf50b466fe651b1");
}

TEST(HashTest, Blake3KeyedLengths) {
  const auto& cases = Vectors().at("blake3_keyed_lengths").at("cases");
  ASSERT_EQ(cases.size(), 26u);
  const std::pair<const char*, Key> keys[] = {{"DATA_KEY", kDataKey},
                                              {"INTERNAL_NODE_KEY", kInternalNodeKey},
                                              {"VERIFICATION_KEY", kVerificationKey},
                                              {"ELVISH_KEY", ElvishKey()}};
  int checked = 0;
  for (const auto& c : cases) {
    const size_t length = c.at("length");
    std::vector<uint8_t> msg(length);
    for (size_t i = 0; i < length; ++i) msg[i] = static_cast<uint8_t>(i % 251);
    for (const auto& [name, key] : keys) {
      SCOPED_TRACE(std::string(name) + " length " + std::to_string(length));
      EXPECT_EQ(KeyedBlake3(key, msg).ToRawHex(), c.at(name));
      // The incremental hasher gives the same digest for uneven pieces.
      KeyedHasher inc(key);
      for (size_t off = 0; off < length;) {
        size_t n = std::min<size_t>(length - off, 1 + (off * 7) % 3001);
        inc.Update({msg.data() + off, n});
        off += n;
      }
      EXPECT_EQ(inc.Finalize().ToRawHex(), c.at(name));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 26 * 4);
}

TEST(HashTest, KeyedHasherResetStartsOver) {
  KeyedHasher h(kDataKey);
  const std::string a = "some earlier data";
  h.Update(AsBytes(a));
  h.Reset();
  const std::string hello = "hello world";
  h.Update(AsBytes(hello));
  EXPECT_EQ(h.Finalize(), ChunkHash(AsBytes(hello)));
}

// --- §2.4 Merkle root -------------------------------------------------------

TEST(HashTest, MerkleWorkedExamples) {
  const auto& cases = Vectors().at("merkle_worked_examples");
  ASSERT_EQ(cases.size(), 5u);
  int texts = 0;
  for (const auto& c : cases) {
    std::vector<MerkleNode> leaves = Leaves(c.at("leaves"), "length");
    SCOPED_TRACE(leaves.size());
    const auto& mods = c.at("leaf_last_u64_mod_4");
    ASSERT_EQ(mods.size(), leaves.size());
    for (size_t i = 0; i < leaves.size(); ++i) {
      EXPECT_EQ(leaves[i].hash.LastU64() % 4, mods[i].get<uint64_t>()) << i;
      // §2.1: for m = 4 this is byte[24] & 3.
      EXPECT_EQ(leaves[i].hash.bytes[24] & 3, mods[i].get<int>()) << i;
    }
    EXPECT_EQ(MerkleRoot(leaves).ToString(), c.at("xorb_hash"));
    EXPECT_EQ(XorbHash(leaves).ToString(), c.at("xorb_hash"));
    EXPECT_EQ(FileHash(leaves).ToString(), c.at("file_hash"));
    if (c.contains("root_node_input_text")) {
      const std::string text = c.at("root_node_input_text");
      EXPECT_EQ(MerkleNodeText(leaves), text);
      EXPECT_EQ(MerkleGroupSize(leaves), leaves.size());
      MerkleNode parent = MerkleParent(leaves);
      EXPECT_EQ(parent.hash, KeyedBlake3(kInternalNodeKey, AsBytes(text)));
      EXPECT_EQ(parent.hash.ToString(), c.at("xorb_hash"));
      uint64_t total = 0;
      for (const auto& l : leaves) total += l.size;
      EXPECT_EQ(parent.size, total);
      ++texts;
    }
  }
  EXPECT_GE(texts, 3);
}

TEST(HashTest, MerkleNodeTextFormat) {
  Hash h;
  h.bytes[0] = 0xab;
  std::vector<MerkleNode> group = {{h, 0}, {Hash{}, 18446744073709551615ULL}};
  EXPECT_EQ(MerkleNodeText(group),
            "00000000000000ab000000000000000000000000000000000000000000000000 : 0\n" +
                std::string(64, '0') + " : 18446744073709551615\n");
}

Hash WithMod4(uint8_t low_bits, uint8_t tag) {
  Hash h;
  h.bytes[0] = tag;
  h.bytes[24] = low_bits;
  return h;
}

TEST(HashTest, MerkleGroupCutRule) {
  // r[0] and r[1] never cut; the first i >= 2 with hash mod 4 == 0 ends the group.
  std::vector<MerkleNode> level;
  for (int i = 0; i < 12; ++i) level.push_back({WithMod4(1, static_cast<uint8_t>(i)), 1});
  EXPECT_EQ(MerkleGroupSize(std::span(level).first(0)), 0u);
  EXPECT_EQ(MerkleGroupSize(std::span(level).first(1)), 1u);
  EXPECT_EQ(MerkleGroupSize(std::span(level).first(2)), 2u);
  EXPECT_EQ(MerkleGroupSize(std::span(level).first(5)), 5u);  // no cut: min(9, n)
  EXPECT_EQ(MerkleGroupSize(level), 9u);                      // no cut: 9
  level[0].hash = WithMod4(0, 0);
  level[1].hash = WithMod4(4, 1);
  EXPECT_EQ(MerkleGroupSize(level), 9u);  // mod 4 == 0 at 0 and 1 is ignored
  level[5].hash = WithMod4(8, 5);
  EXPECT_EQ(MerkleGroupSize(level), 6u);
  level[2].hash = WithMod4(0, 2);
  EXPECT_EQ(MerkleGroupSize(level), 3u);
  level[9].hash = WithMod4(0, 9);
  level[2].hash = WithMod4(2, 2);
  level[5].hash = WithMod4(3, 5);
  EXPECT_EQ(MerkleGroupSize(level), 9u);  // a match at index 9 is past the 9-node limit
}

TEST(HashTest, MerkleRootOfTwoLevels) {
  // 12 leaves without cuts: groups of 9 and 3, then one root over both parents.
  std::vector<MerkleNode> leaves;
  for (int i = 0; i < 12; ++i) leaves.push_back({WithMod4(1, static_cast<uint8_t>(i)), 10});
  MerkleNode a = MerkleParent(std::span(leaves).first(9));
  MerkleNode b = MerkleParent(std::span(leaves).subspan(9));
  EXPECT_EQ(a.size, 90u);
  EXPECT_EQ(b.size, 30u);
  std::vector<MerkleNode> top = {a, b};
  EXPECT_EQ(MerkleRoot(leaves), MerkleParent(top).hash);
  EXPECT_EQ(MerkleRoot({}), Hash{});
  EXPECT_EQ(MerkleRoot(std::span(leaves).first(1)), leaves[0].hash);
}

std::vector<MerkleNode> RandomLeaves(size_t n, uint64_t seed, int cut_percent) {
  std::mt19937_64 rng(seed);
  std::vector<MerkleNode> out;
  for (size_t i = 0; i < n; ++i) {
    Hash h;
    for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
    // Choose whether hash mod 4 == 0 (a cut candidate) with the given odds.
    h.bytes[24] = static_cast<uint8_t>((h.bytes[24] & ~3) |
                                       (static_cast<int>(rng() % 100) < cut_percent ? 0 : 1));
    out.push_back({h, rng() % 131073});
  }
  return out;
}

TEST(HashTest, MerkleBuilderMatchesMerkleRoot) {
  for (int cut_percent : {0, 10, 25, 60, 100}) {
    auto leaves = RandomLeaves(300, 1000 + cut_percent, cut_percent);
    MerkleBuilder b;
    EXPECT_EQ(b.Root(), Hash{});
    for (size_t n = 1; n <= leaves.size(); ++n) {
      b.Add(leaves[n - 1]);
      ASSERT_EQ(b.Root(), MerkleRoot(std::span(leaves).first(n)))
          << "cut% " << cut_percent << " n " << n;
    }
    EXPECT_EQ(b.leaf_count(), leaves.size());
  }
  auto many = RandomLeaves(20000, 7, 25);
  MerkleBuilder b;
  for (const auto& l : many) b.Add(l);
  EXPECT_EQ(b.Root(), MerkleRoot(many));
}

TEST(HashTest, AggregatedHashReference) {
  const auto& cases = Vectors().at("official_xet_core_tests").at("aggregated_hash_reference").at("cases");
  ASSERT_EQ(cases.size(), 18u);
  int salted = 0;
  for (const auto& c : cases) {
    std::vector<MerkleNode> nodes = Leaves(c.at("nodes"), "size");
    SCOPED_TRACE(nodes.size());
    EXPECT_EQ(XorbHash(nodes).ToString(), c.at("xorb_hash"));
    MerkleBuilder builder;
    for (const auto& n : nodes) builder.Add(n);
    EXPECT_EQ(builder.Root().ToString(), c.at("xorb_hash"));
    for (const auto& s : c.at("file_hashes_with_salt")) {
      Hash salt = MustParse(s.at("salt").get<std::string>());
      Key key{};
      std::copy(salt.bytes.begin(), salt.bytes.end(), key.begin());
      EXPECT_EQ(FileHashWithSalt(nodes, key).ToString(), s.at("file_hash"));
      if (salt.IsZero()) {
        EXPECT_EQ(FileHash(nodes).ToString(), s.at("file_hash"));
      }
      ++salted;
    }
  }
  EXPECT_EQ(salted, 18 * 3);
}

// --- §2.6 - §2.8 ------------------------------------------------------------

TEST(HashTest, FileHashOfEmptyAndSingleChunk) {
  EXPECT_TRUE(FileHash({}).IsZero());
  Hash c = MustParse("5172754957e374dc2df59777900a19a1e8ab244b20bfd3afb8e7093b6e17b3ee");
  std::vector<MerkleNode> one = {{c, 1}};
  EXPECT_EQ(FileHash(one).ToString(),
            "d024de8ec187a7cd6a37891f455315523dab603d538c5dee11ecb8a2b579ed8e");
  EXPECT_EQ(FileHash(one), KeyedBlake3(kZeroKey, c.bytes));
}

TEST(HashTest, VerificationHashConcatenatesRawHashes) {
  std::vector<Hash> hs = {MustParse(std::string(64, '1')), MustParse(std::string(64, 'f'))};
  std::vector<uint8_t> concat;
  for (const Hash& h : hs) concat.insert(concat.end(), h.bytes.begin(), h.bytes.end());
  EXPECT_EQ(VerificationHash(hs), KeyedBlake3(kVerificationKey, concat));
  EXPECT_NE(VerificationHash(hs), VerificationHash(std::span(hs).first(1)));
}

TEST(HashTest, KeyedChunkHashHashesRawBytes) {
  Key k{};
  k[3] = 9;
  Hash h = ChunkHash(AsBytes(std::string("x")));
  EXPECT_EQ(KeyedChunkHash(k, h), KeyedBlake3(k, h.bytes));
  EXPECT_NE(KeyedChunkHash(k, h), KeyedChunkHash(kZeroKey, h));
}

// §2.1 / §5.6: "mod 1024 == 0" means byte[24] == 0 and byte[25] & 3 == 0.
bool EligibleByBytes(const Hash& h) { return h.bytes[24] == 0 && (h.bytes[25] & 3) == 0; }

TEST(HashTest, GlobalDedupEligibility) {
  Hash h;
  h.bytes[24] = 0;
  h.bytes[25] = 4;  // LastU64 = 1024
  h.bytes[31] = 0x80;
  EXPECT_TRUE(IsGlobalDedupEligible(h));
  h.bytes[25] = 2;  // 512
  EXPECT_FALSE(IsGlobalDedupEligible(h));
  h.bytes[25] = 0;
  h.bytes[24] = 1;
  EXPECT_FALSE(IsGlobalDedupEligible(h));
  EXPECT_TRUE(IsGlobalDedupCandidate(0, h));  // the first chunk always
  EXPECT_FALSE(IsGlobalDedupCandidate(1, h));

  // Real chunk hashes: find some eligible ones among the hashes of small
  // messages and compare with the byte rule.
  int eligible = 0;
  for (uint32_t i = 0; i < 8192; ++i) {
    uint8_t msg[4] = {static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8), 0x5a, 0xa5};
    Hash c = ChunkHash(msg);
    ASSERT_EQ(IsGlobalDedupEligible(c), EligibleByBytes(c)) << i;
    eligible += IsGlobalDedupEligible(c) ? 1 : 0;
    EXPECT_EQ(IsGlobalDedupCandidate(i % 3, c), i % 3 == 0 || EligibleByBytes(c));
  }
  EXPECT_GT(eligible, 0);
  EXPECT_LT(eligible, 40);  // ~8 expected
}

// --- §2.9 SHA-256 -----------------------------------------------------------

TEST(HashTest, Sha256Known) {
  EXPECT_EQ(HexLower(Sha256Digest({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string abc = "abc";
  EXPECT_EQ(HexLower(Sha256Digest(AsBytes(abc))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 s;
  s.Update(AsBytes(std::string("a")));
  s.Update(AsBytes(std::string("bc")));
  EXPECT_EQ(s.Finalize(), Sha256Digest(AsBytes(abc)));
  // Finalize leaves a fresh context behind.
  EXPECT_EQ(HexLower(s.Finalize()), HexLower(Sha256Digest({})));
}

TEST(HashTest, Sha256AsHashCanonicalIsPlainHex) {
  const std::string abc = "abc";
  auto digest = Sha256Digest(AsBytes(abc));
  Hash h = Sha256AsHash(digest);
  EXPECT_EQ(h.ToString(), HexLower(digest));
  EXPECT_NE(h.ToRawHex(), HexLower(digest));  // raw bytes are group-reversed
  EXPECT_EQ(HashAsSha256(h), digest);
  EXPECT_EQ(MustParse(HexLower(digest)), h);
}

TEST(HashTest, Sha256AsHashAsStoredInUploadShard) {
  // The upload example's shard carries the file's SHA-256 in its metadata
  // extension as the raw bytes of Sha256AsHash.
  const auto& up = Vectors().at("upload_example");
  auto digest_raw = Unhex(up.at("input_sha256").get<std::string>());
  ASSERT_EQ(digest_raw.size(), 32u);
  std::array<uint8_t, 32> digest{};
  std::copy(digest_raw.begin(), digest_raw.end(), digest.begin());
  const std::string shard = up.at("shard_upload_no_footer_hex");
  const std::string stored = Sha256AsHash(digest).ToRawHex();
  size_t pos = shard.find(stored);
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(pos % 2, 0u);
  EXPECT_EQ(shard.find(HexLower(digest)), std::string::npos);
}

}  // namespace
}  // namespace hubfs::chunkstore

namespace hubfs::chunkstore {
namespace {

// Values from `git hash-object`.
TEST(GitBlobIdTest, MatchesGit) {
  EXPECT_EQ(GitBlobId({}), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  const std::string hello = "hello world";
  EXPECT_EQ(GitBlobId(std::span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(hello.data()), hello.size())),
            "95d09f2b10159347eece71399a7e2e907ea3df4f");
}

}  // namespace
}  // namespace hubfs::chunkstore
