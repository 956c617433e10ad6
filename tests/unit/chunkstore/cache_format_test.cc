#include "chunkstore/cache_format.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <random>
#include <string>

#include "chunkstore/cache.h"
#include "chunkstore/cache_checksum.h"

#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore::cache_format {
namespace {

using cache_testing::Bytes;
using cache_testing::XorbFor;

TEST(CacheFormatTest, RoundTripStoredAsGiven) {
  const std::string key = ChunkKey(XorbFor(1), 7);
  const auto payload = Bytes(1, 70000);
  auto enc = EncodeValue(key, CacheKind::kChunk, payload, kCodecNone);
  ASSERT_TRUE(enc.ok()) << enc.status();
  EXPECT_EQ(enc->size(), kHeaderSize + payload.size());
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), enc->begin() + kHeaderSize));
  auto dec = DecodeValue(key, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, payload);
}

TEST(CacheFormatTest, RoundTripZstdShrinksCompressibleData) {
  const std::string key = ListingKey("0123456789abcdef0123456789abcdef01234567", "a/b");
  std::vector<uint8_t> payload(50000, 'x');
  auto enc = EncodeValue(key, CacheKind::kListing, payload, kCodecZstd);
  ASSERT_TRUE(enc.ok());
  EXPECT_LT(enc->size(), 2000u);
  EXPECT_EQ((*enc)[2], kCodecZstd);
  auto dec = DecodeValue(key, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, payload);
}

TEST(CacheFormatTest, IncompressibleFallsBackToStored) {
  const std::string key = SmallFileKey("abc");
  const auto payload = Bytes(3, 4096);
  auto enc = EncodeValue(key, CacheKind::kSmallFile, payload, kCodecZstd);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ((*enc)[2], kCodecNone);
  EXPECT_EQ(*DecodeValue(key, *enc), payload);
}

TEST(CacheFormatTest, EmptyPayload) {
  const std::string key = TermsKey(XorbFor(2));
  auto enc = EncodeValue(key, CacheKind::kTerms, {}, kCodecZstd);
  ASSERT_TRUE(enc.ok());
  auto dec = DecodeValue(key, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_TRUE(dec->empty());
}

TEST(CacheFormatTest, EveryFlippedByteIsDetected) {
  const std::string key = ChunkKey(XorbFor(4), 1);
  const auto enc = *EncodeValue(key, CacheKind::kChunk, Bytes(4, 300), kCodecNone);
  for (size_t i = 0; i < enc.size(); ++i) {
    auto bad = enc;
    bad[i] ^= 0x01;
    const Status st = VerifyValue(key, bad);
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << "byte " << i;
  }
  const std::string listing_key = ListingKey("c", "d");
  const auto zenc = *EncodeValue(listing_key, CacheKind::kListing,
                                 std::vector<uint8_t>(5000, 'q'), kCodecZstd);
  for (size_t i = 0; i < zenc.size(); ++i) {
    auto bad = zenc;
    bad[i] ^= 0x80;
    EXPECT_FALSE(DecodeValue(listing_key, bad).ok()) << "byte " << i;
  }
}

TEST(CacheFormatTest, TruncatedAndWrongKeyAreCorrupt) {
  const std::string key = ChunkKey(XorbFor(5), 0);
  const auto enc = *EncodeValue(key, CacheKind::kChunk, Bytes(5, 100), kCodecNone);
  EXPECT_EQ(VerifyValue(key, std::span(enc).first(10)).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(VerifyValue(key, std::span(enc).first(enc.size() - 1)).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(VerifyValue(ChunkKey(XorbFor(5), 1), enc).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(VerifyValue(XorbLayoutKey(XorbFor(5)), enc).code(), ErrorCode::kCorrupt);
  auto other_version = enc;
  other_version[0] = kEntryFormatVersion + 1;
  EXPECT_EQ(VerifyValue(key, other_version).code(), ErrorCode::kCorrupt);
}

TEST(CacheFormatTest, KeysAreDistinctAndDescribed) {
  const Hash x = XorbFor(6);
  EXPECT_NE(ChunkKey(x, 0), ChunkKey(x, 1));
  EXPECT_NE(XorbLayoutKey(x), TermsKey(x));
  EXPECT_LT(ChunkKey(x, 1), ChunkKey(x, 256));  // index order within a xorb
  EXPECT_EQ(KeyKind(ChunkKey(x, 3)), CacheKind::kChunk);
  EXPECT_EQ(KeyKind(SmallFileKey("oid")), CacheKind::kSmallFile);
  EXPECT_EQ(KeyKind(""), std::nullopt);
  EXPECT_EQ(DescribeKey(ChunkKey(x, 3)), "chunk " + x.ToString() + "/3");
  EXPECT_EQ(DescribeKey(TermsKey(x)), "terms " + x.ToString());
  EXPECT_EQ(DescribeKey(ListingKey("abc", "dir/sub")), "listing abc /dir/sub");
  EXPECT_EQ(DescribeKey(SmallFileKey("0a1b")), "file 0a1b");
  // The commit is length-prefixed: ("ab", "c/d") and ("ab/c", "d") differ.
  EXPECT_NE(ListingKey("ab", "c/d"), ListingKey("ab/c", "d"));
}

TEST(CacheFormatTest, LongListingKeysStayBoundedAndDistinct) {
  const std::string a(2000, 'a');
  std::string b = a;
  b.back() = 'b';
  const std::string ka = ListingKey("commit", a), kb = ListingKey("commit", b);
  EXPECT_LE(ka.size(), kMaxKeySize);
  EXPECT_NE(ka, kb);
  EXPECT_EQ(ka, ListingKey("commit", a));
}

TEST(CacheFormatTest, OversizedPayloadRejected) {
  std::vector<uint8_t> big(kMaxDecodedSize + 1);
  EXPECT_EQ(EncodeValue(SmallFileKey("x"), CacheKind::kSmallFile, big, kCodecNone).status().code(),
            ErrorCode::kInvalidArgument);
}

// Bit-at-a-time CRC-32C, the definition itself.
uint32_t ReferenceCrc32c(std::span<const uint8_t> data) {
  uint32_t c = ~0u;
  for (uint8_t b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0u);
  }
  return ~c;
}

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

TEST(CacheChecksumTest, Crc32cMatchesTheStandardAndContinues) {
  const std::string check = "123456789";
  std::span<const uint8_t> nine(reinterpret_cast<const uint8_t*>(check.data()), check.size());
  EXPECT_EQ(Crc32c(0, nine), 0xE3069283u);
  EXPECT_EQ(Crc32c(0, {}), 0u);
  for (size_t n : {1, 7, 8, 9, 63, 64, 65, 1000, 65536 + 3}) {
    const std::vector<uint8_t> d = RandomBytes(n, n);
    EXPECT_EQ(Crc32c(0, d), ReferenceCrc32c(d)) << n;
    const size_t half = n / 3;
    EXPECT_EQ(Crc32c(Crc32c(0, std::span(d).first(half)), std::span(d).subspan(half)),
              ReferenceCrc32c(d))
        << n;
  }
}

// Lengths around the CRC's 16- and 64-byte folds (and the short inputs
// below them), at every alignment, continued from a state other than 0.
TEST(CacheChecksumTest, Crc32cOfEveryLengthAndAlignmentAroundTheFoldsMatchesTheDefinition) {
  const std::vector<uint8_t> d = RandomBytes(4096 + 64, 7);
  for (size_t n = 0; n <= 600; ++n) {
    for (size_t at = 0; at < 4; ++at) {
      const std::span<const uint8_t> s = std::span(d).subspan(at, n);
      ASSERT_EQ(Crc32c(0, s), ReferenceCrc32c(s)) << n << " at " << at;
      const size_t head = (n * 5) / 11;
      ASSERT_EQ(Crc32c(Crc32c(0, s.first(head)), s.subspan(head)), ReferenceCrc32c(s))
          << n << " at " << at << ", continued after " << head;
    }
  }
  for (size_t n : {4096 + 15, 4096 + 63, 4096 + 64}) {
    const std::span<const uint8_t> s = std::span(d).subspan(1, n - 1);
    EXPECT_EQ(Crc32c(0, s), ReferenceCrc32c(s)) << n;
  }
}

TEST(CacheChecksumTest, EntryChecksumLanesAreAsDocumented) {
  const std::string key = ChunkKey(XorbFor(3), 9);
  const std::array<uint8_t, 12> header = {2, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (size_t n : {0, 5, 23, 24, 25, 47, 48, 383, 384, 385, 1000, 65536, 131072 + 17}) {
    const std::vector<uint8_t> p = RandomBytes(n, 100 + n);
    const size_t t = (n / 24) * 8;
    std::vector<uint8_t> lane0(key.begin(), key.end());
    lane0.insert(lane0.end(), header.begin(), header.end());
    lane0.insert(lane0.end(), p.begin(), p.begin() + static_cast<ptrdiff_t>(t));
    const auto got = EntryChecksum(key, header, p);
    EXPECT_EQ(got[0], ReferenceCrc32c(lane0)) << n;
    EXPECT_EQ(got[1], ReferenceCrc32c(std::span(p).subspan(t, t))) << n;
    EXPECT_EQ(got[2], ReferenceCrc32c(std::span(p).subspan(2 * t))) << n;
  }
}

TEST(CacheChecksumTest, ThePartsOfAPayloadGiveTheChecksumOfTheWhole) {
  const std::string key = ChunkKey(XorbFor(4), 1);
  const std::array<uint8_t, 12> header = {2, 1, 0, 0, 9, 8, 7, 6, 5, 4, 3, 2};
  // Heads of 8 bytes (a chunk record's header) take the fast path unless the
  // payload is tiny; other heads, and heads longer than a lane, the slow one.
  for (size_t n : {0, 8, 9, 23, 24, 31, 47, 48, 49, 1000, 65536 + 8, 131072 + 25}) {
    const std::vector<uint8_t> p = RandomBytes(n, 300 + n);
    for (size_t h : {0, 1, 8, 16, 24, 40, 1000}) {
      if (h > n) continue;
      const auto whole = EntryChecksum(key, header, p);
      const auto parts = EntryChecksumParts(key, header, std::span(p).first(h),
                                            std::span(p).subspan(h));
      EXPECT_EQ(parts, whole) << "payload " << n << ", head " << h;
    }
  }
}

TEST(CacheChecksumTest, EncodedValueCarriesTheLanesAfterItsHeader) {
  const std::string key = ChunkKey(XorbFor(1), 2);
  const std::vector<uint8_t> payload = RandomBytes(70000, 5);
  auto enc = EncodeValue(key, CacheKind::kChunk, payload, kCodecNone);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ((*enc)[0], 2);  // format version 2
  const auto lanes =
      EntryChecksum(key, std::span<const uint8_t, 12>(enc->data(), 12), payload);
  for (int i = 0; i < 3; ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b) v = (v << 8) | (*enc)[12 + 4 * i + b];
    EXPECT_EQ(v, lanes[i]) << i;
  }
  // A value of format 1 (same layout up to byte 12) is never accepted.
  auto v1 = *enc;
  v1[0] = 1;
  EXPECT_EQ(VerifyValue(key, v1).code(), ErrorCode::kCorrupt);
}

TEST(CacheChecksumTest, AStoreOfAnOlderFormatIsWipedAtOpen) {
  cache_testing::TempDir dir;
  CacheOptions o;
  o.dir = dir.Sub("c");
  o.max_bytes = 64ull << 20;
  o.durable = false;
  {
    auto c = ChunkCache::Open(o);
    ASSERT_TRUE(c.ok()) << c.status();
    (*c)->PutChunk(XorbFor(1), 0, Bytes(1, 1000));
    ASSERT_TRUE((*c)->Flush().ok());
  }
  // Mark the store as layout 1 (entries of format 1), as an older hubfs left it.
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    mdb_env_set_mapsize(env, 256ull << 20);
    ASSERT_EQ(mdb_env_open(env, o.dir.c_str(), MDB_NOTLS, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    std::string k = "version";
    uint8_t one[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    MDB_val key{k.size(), k.data()}, val{sizeof(one), one};
    ASSERT_EQ(mdb_put(txn, meta, &key, &val, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto c = ChunkCache::Open(o);
  ASSERT_TRUE(c.ok()) << c.status();
  auto got = (*c)->GetChunk(XorbFor(1), 0);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "an entry of the older format was served";
  EXPECT_EQ((*c)->Stats().entries, 0u);
}

}  // namespace
}  // namespace hubfs::chunkstore::cache_format
