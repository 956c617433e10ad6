#include "chunkstore/shard.h"

#include <gtest/gtest.h>

#include <cstring>

#include "chunkstore/chunker.h"
#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::Vectors;

const nlohmann::json& Upload() { return Vectors()["upload_example"]; }

std::vector<uint8_t> Hex(const std::string& s) {
  auto r = ParseHex(s);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::vector<uint8_t>{};
}

Hash H(const nlohmann::json& canonical) {
  auto r = Hash::Parse(canonical.get<std::string>());
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : Hash{};
}

void PutU32(std::vector<uint8_t>* b, size_t at, uint32_t v) { std::memcpy(b->data() + at, &v, 4); }
void PutU64(std::vector<uint8_t>* b, size_t at, uint64_t v) { std::memcpy(b->data() + at, &v, 8); }

// The upload example of the vectors, rebuilt from its input (§9).
struct UploadExample {
  std::vector<XorbBuilder::Xorb> xorbs;
  Shard shard;  // no footer
};

const UploadExample& BuildUploadExample() {
  static const UploadExample* const example = [] {
    auto* ex = new UploadExample();
    const std::vector<uint8_t> input = SplitMix64Bytes(42, 1 << 20);
    const std::vector<size_t> lengths = ChunkLengths(input);
    std::vector<MerkleNode> all;
    std::vector<Hash> hashes;
    size_t offset = 0;
    XorbBuilder builder(CompressionPolicy::kNone);
    for (size_t i = 0; i < lengths.size(); ++i) {
      std::span<const uint8_t> chunk(input.data() + offset, lengths[i]);
      offset += lengths[i];
      Hash h = ChunkHash(chunk);
      all.push_back({h, lengths[i]});
      hashes.push_back(h);
      if (i == 7) ex->xorbs.push_back(builder.Finish());  // chunks [0,7) | [7,17)
      EXPECT_TRUE(builder.Add(h, chunk).ok());
    }
    ex->xorbs.push_back(builder.Finish());
    ShardFile file;
    file.file_hash = FileHash(all);
    size_t first = 0;
    for (const auto& x : ex->xorbs) {
      const uint32_t n = static_cast<uint32_t>(x.info.chunks.size());
      file.terms.push_back({x.info.hash, static_cast<uint32_t>(x.info.unpacked_size), 0, n});
      file.verification.push_back(
          VerificationHash(std::span<const Hash>(hashes).subspan(first, n)));
      first += n;
    }
    file.sha256 = Sha256AsHash(Sha256Digest(input));
    ex->shard.files.push_back(file);
    for (const auto& x : ex->xorbs) ex->shard.xorbs.push_back(ShardXorbFromInfo(x.info));
    return ex;
  }();
  return *example;
}

TEST(ShardVectorTest, UploadExampleXorbs) {
  const UploadExample& ex = BuildUploadExample();
  const auto& v = Upload();
  ASSERT_EQ(ex.xorbs.size(), 2u);
  ASSERT_EQ(v["xorbs"].size(), 2u);
  EXPECT_EQ(ex.shard.files[0].file_hash.ToString(), v["file_hash"].get<std::string>());
  for (size_t i = 0; i < 2; ++i) {
    const auto& want = v["xorbs"][i];
    const auto& x = ex.xorbs[i];
    EXPECT_EQ(x.info.hash.ToString(), want["xorb_hash"].get<std::string>());
    EXPECT_EQ(x.info.chunks.size(), want["num_chunks"].get<size_t>());
    EXPECT_EQ(x.info.unpacked_size, want["unpacked_bytes"].get<uint64_t>());
    EXPECT_EQ(x.body.size(), want["body_len_scheme_none"].get<size_t>());
    EXPECT_EQ(HexLower(Sha256Digest(x.body)), want["body_sha256_scheme_none"].get<std::string>());
    const auto& offsets = want["chunk_boundary_offsets_scheme_none"];
    ASSERT_EQ(offsets.size(), x.info.chunks.size());
    for (size_t k = 0; k < offsets.size(); ++k) {
      EXPECT_EQ(x.info.chunks[k].record_end, offsets[k].get<uint32_t>());
    }
    // The server-side validation reaches the same result.
    Result<XorbInfo> parsed = ParseXorb(x.body);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->hash, x.info.hash);
    const auto& term = v["file_terms"][i];
    EXPECT_EQ(ex.shard.files[0].terms[i].xorb_hash.ToString(),
              term["xorb_hash"].get<std::string>());
    EXPECT_EQ(ex.shard.files[0].terms[i].chunk_end, term["chunk_index_end"].get<uint32_t>());
    EXPECT_EQ(ex.shard.files[0].terms[i].unpacked_bytes,
              term["unpacked_segment_bytes"].get<uint32_t>());
    EXPECT_EQ(ex.shard.files[0].verification[i].ToString(),
              term["verification_range_hash"].get<std::string>());
  }
  EXPECT_EQ(HashAsSha256(*ex.shard.files[0].sha256), Sha256Digest(SplitMix64Bytes(42, 1 << 20)));
  EXPECT_EQ(ex.shard.files[0].sha256->ToString(), v["input_sha256"].get<std::string>());
}

TEST(ShardVectorTest, UploadShardWithoutFooterByteForByte) {
  const UploadExample& ex = BuildUploadExample();
  std::vector<uint8_t> bytes = SerializeShard(ex.shard);
  EXPECT_EQ(bytes.size(), Upload()["shard_upload_no_footer_len"].get<size_t>());
  EXPECT_EQ(HexLower(bytes), Upload()["shard_upload_no_footer_hex"].get<std::string>());
  Result<Shard> parsed = ParseShard(Hex(Upload()["shard_upload_no_footer_hex"]));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->footer.has_value());
  EXPECT_EQ(*parsed, ex.shard);
}

TEST(ShardVectorTest, UploadShardWithFooterByteForByte) {
  Shard shard = BuildUploadExample().shard;
  ShardFooter f;
  f.creation_timestamp = 1700000000;
  shard.footer = f;
  std::vector<uint8_t> bytes = SerializeShard(shard);
  EXPECT_EQ(HexLower(bytes), Upload()["shard_with_footer_hex"].get<std::string>());
  Result<Shard> parsed = ParseShard(Hex(Upload()["shard_with_footer_hex"]));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->footer.has_value());
  const ShardFooter& pf = *parsed->footer;
  EXPECT_EQ(pf.creation_timestamp, 1700000000u);
  EXPECT_EQ(pf.cas_info_offset, 384u);
  EXPECT_EQ(pf.footer_offset, 1344u);
  EXPECT_EQ(pf.materialized_bytes, 1048576u);
  EXPECT_EQ(pf.stored_bytes, 1048576u);
  EXPECT_EQ(pf.stored_bytes_on_disk, 415193u + 633519u);
  EXPECT_EQ(parsed->files, shard.files);
  EXPECT_EQ(parsed->xorbs, shard.xorbs);
  EXPECT_EQ(SerializeShard(*parsed), bytes);
}

TEST(ShardVectorTest, GlobalDedupResponse) {
  const auto& v = Upload()["global_dedup_response_example"];
  const Key key = H(v["hmac_key"]).bytes;
  const UploadExample& ex = BuildUploadExample();

  Result<Shard> parsed = ParseShard(Hex(v["shard_hex"]));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->files.empty());
  ASSERT_EQ(parsed->xorbs.size(), 2u);
  ASSERT_TRUE(parsed->footer.has_value());
  EXPECT_EQ(parsed->footer->hmac_key, key);
  EXPECT_EQ(parsed->footer->cas_info_offset, 96u);
  const auto& keyed = v["keyed_chunk_hashes_xorb0"];
  ASSERT_EQ(keyed.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    const Hash plain = ex.xorbs[0].info.chunks[i].hash;
    EXPECT_EQ(parsed->xorbs[0].chunks[i].hash.ToString(), keyed[i].get<std::string>());
    EXPECT_EQ(KeyedChunkHash(key, plain), parsed->xorbs[0].chunks[i].hash);
    EXPECT_NE(plain, parsed->xorbs[0].chunks[i].hash);
  }
  // Written byte for byte from the plain xorb descriptions.
  std::vector<uint8_t> written = SerializeDedupShard(
      ex.shard.xorbs, key, parsed->footer->creation_timestamp, parsed->footer->key_expiry);
  EXPECT_EQ(parsed->footer->creation_timestamp, 1700000000u);
  EXPECT_EQ(parsed->footer->key_expiry, 1700604800u);
  EXPECT_EQ(HexLower(written), v["shard_hex"].get<std::string>());
  // The file-lookup offset lies past the CAS section: at the footer.
  EXPECT_EQ(parsed->footer->file_lookup_offset, parsed->footer->footer_offset);
}

TEST(ShardTest, DedupShardWithZeroKeyKeepsPlainHashes) {
  const UploadExample& ex = BuildUploadExample();
  Result<Shard> parsed = ParseShard(SerializeDedupShard(ex.shard.xorbs, kZeroKey, 5, 0));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->xorbs, ex.shard.xorbs);
  EXPECT_EQ(parsed->footer->creation_timestamp, 5u);
}

TEST(ShardTest, RoundTripManyFilesWithoutVerification) {
  Shard shard;
  for (uint32_t i = 0; i < 5; ++i) {
    ShardFile f;
    f.file_hash = ChunkHash(SplitMix64Bytes(i, 10));
    for (uint32_t t = 0; t < i; ++t) f.terms.push_back({f.file_hash, 100 * t + 1, t, t + 2});
    if (i % 2 == 0) f.sha256 = ChunkHash(SplitMix64Bytes(i, 11));
    shard.files.push_back(f);
  }
  ShardXorb x;
  x.xorb_hash = ChunkHash(SplitMix64Bytes(99, 1));
  x.chunks.push_back({x.xorb_hash, 0, 10, kChunkFlagGlobalDedupEligible});
  shard.xorbs.push_back(x);
  shard.xorbs.push_back(ShardXorb{});  // a xorb block with no chunks
  for (bool with_footer : {false, true}) {
    if (with_footer) shard.footer = ShardFooter{};
    std::vector<uint8_t> bytes = SerializeShard(shard);
    Result<Shard> parsed = ParseShard(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->files, shard.files);
    EXPECT_EQ(parsed->xorbs, shard.xorbs);
    EXPECT_EQ(parsed->footer.has_value(), with_footer);
  }
}

// --- Hostile shards -----------------------------------------------------------

std::vector<uint8_t> UploadBytes(bool footer) {
  return Hex(Upload()[footer ? "shard_with_footer_hex" : "shard_upload_no_footer_hex"]);
}

bool Corrupt(const std::vector<uint8_t>& bytes) {
  return ParseShard(bytes).status().code() == ErrorCode::kCorrupt;
}

TEST(ShardHostileTest, BadHeader) {
  std::vector<uint8_t> b = UploadBytes(false);
  std::vector<uint8_t> bad = b;
  bad[5] ^= 1;  // tag
  EXPECT_TRUE(Corrupt(bad));
  bad = b;
  PutU64(&bad, 32, 3);  // version
  EXPECT_TRUE(Corrupt(bad));
  bad = b;
  PutU64(&bad, 40, 100);  // footer size neither 0 nor 200
  EXPECT_TRUE(Corrupt(bad));
  bad = b;
  PutU64(&bad, 40, 200);  // claims a footer it does not have
  EXPECT_TRUE(Corrupt(bad));
  EXPECT_TRUE(Corrupt({}));
}

TEST(ShardHostileTest, EveryTruncationFails) {
  for (bool footer : {false, true}) {
    std::vector<uint8_t> b = UploadBytes(footer);
    for (size_t cut = 0; cut < b.size(); ++cut) {
      EXPECT_TRUE(Corrupt(std::vector<uint8_t>(b.begin(), b.begin() + cut))) << cut;
    }
  }
}

TEST(ShardHostileTest, CountsPastEnd) {
  std::vector<uint8_t> b = UploadBytes(false);
  // File block header at 48: num_entries at +36.
  for (uint32_t n : {3u, 100u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> bad = b;
    PutU32(&bad, 48 + 36, n);
    EXPECT_TRUE(Corrupt(bad)) << n;
  }
  // CAS block header at 384: num_entries at +36.
  for (uint32_t n : {11u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    std::vector<uint8_t> bad = b;
    PutU32(&bad, 384 + 36, n);
    EXPECT_TRUE(Corrupt(bad)) << n;
  }
}

TEST(ShardHostileTest, FlagsValidated) {
  // Two files, one with verification entries and one without: mixed.
  Shard shard = BuildUploadExample().shard;
  ShardFile plain = shard.files[0];
  plain.verification.clear();
  shard.files.push_back(plain);
  EXPECT_TRUE(Corrupt(SerializeShard(shard)));
  std::swap(shard.files[0], shard.files[1]);
  EXPECT_TRUE(Corrupt(SerializeShard(shard)));
  // Unknown file flag bits.
  std::vector<uint8_t> b = UploadBytes(false);
  ASSERT_EQ(b[48 + 35], 0xC0);  // verification | metadata
  for (uint32_t flags : {0xC0000001u, 0xE0000000u, 0x00000100u}) {
    std::vector<uint8_t> bad = b;
    PutU32(&bad, 48 + 32, flags);
    EXPECT_TRUE(Corrupt(bad)) << flags;
  }
  // Dropping the metadata flag shifts the layout: caught by what follows.
  std::vector<uint8_t> bad = b;
  PutU32(&bad, 48 + 32, kFileFlagVerification);
  EXPECT_TRUE(Corrupt(bad));
}

TEST(ShardHostileTest, EmptyTermRange) {
  std::vector<uint8_t> b = UploadBytes(false);
  PutU32(&b, 96 + 44, 0);  // first term: chunk_end = chunk_start = 0
  EXPECT_TRUE(Corrupt(b));
}

TEST(ShardHostileTest, BookendMissing) {
  std::vector<uint8_t> b = UploadBytes(false);
  // Break the CAS bookend (last 48 bytes): the section runs off the end.
  std::vector<uint8_t> bad = b;
  bad[b.size() - 48] = 0;
  EXPECT_TRUE(Corrupt(bad));
  // Break the file bookend at 336: it is read as a file block.
  bad = b;
  bad[336] = 0;
  EXPECT_TRUE(Corrupt(bad));
}

TEST(ShardHostileTest, TrailingBytes) {
  std::vector<uint8_t> b = UploadBytes(false);
  b.push_back(0);
  EXPECT_TRUE(Corrupt(b));
  // With a footer, bytes before it must be lookup tables the footer declares.
  std::vector<uint8_t> f = UploadBytes(true);
  std::vector<uint8_t> extra(f.begin(), f.end() - 200);
  extra.resize(extra.size() + 12, 0);  // one file lookup entry
  std::vector<uint8_t> footer(f.end() - 200, f.end());
  extra.insert(extra.end(), footer.begin(), footer.end());
  EXPECT_TRUE(Corrupt(extra));  // footer offset no longer matches
  const size_t fo = extra.size() - 200;
  PutU64(&extra, fo + 192, fo);
  EXPECT_TRUE(Corrupt(extra));    // 12 unexplained bytes
  PutU64(&extra, fo + 24, 1344);  // file lookup at the old CAS end, 1 entry
  PutU64(&extra, fo + 32, 1);
  Result<Shard> ok = ParseShard(extra);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->files.size(), 1u);
  PutU64(&extra, fo + 24, 1350);  // table would overlap the footer
  EXPECT_TRUE(Corrupt(extra));
  PutU64(&extra, fo + 24, 1344);
  PutU64(&extra, fo + 32, uint64_t{1} << 62);  // count overflowing the multiplication
  EXPECT_TRUE(Corrupt(extra));
}

TEST(ShardHostileTest, FooterOffsetsLying) {
  std::vector<uint8_t> b = UploadBytes(true);
  const size_t fo = b.size() - 200;
  ASSERT_TRUE(ParseShard(b).ok());
  struct Field {
    size_t at;
    uint64_t value;
  };
  for (Field f : {Field{0, 2}, Field{8, 0}, Field{16, 336}, Field{16, 1u << 30},
                  Field{192, fo - 48}, Field{192, ~uint64_t{0}}, Field{40, 0}}) {
    std::vector<uint8_t> bad = b;
    PutU64(&bad, fo + f.at, f.value);
    if (f.at == 40) {  // a lookup offset with count 0 is ignored (huggingface.js writes 0)
      EXPECT_TRUE(ParseShard(bad).ok());
    } else {
      EXPECT_TRUE(Corrupt(bad)) << f.at << " " << f.value;
    }
  }
}

TEST(ShardHostileTest, SingleByteFlipsNeverCrash) {
  for (bool footer : {false, true}) {
    std::vector<uint8_t> b = UploadBytes(footer);
    size_t rejected = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      std::vector<uint8_t> bad = b;
      bad[i] ^= 0x80;
      Result<Shard> r = ParseShard(bad);
      if (!r.ok()) {
        ++rejected;
        EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
      }
    }
    EXPECT_GT(rejected, 60u);  // tag, structure and counts at least
  }
}

}  // namespace
}  // namespace hubfs::chunkstore
