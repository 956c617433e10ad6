#include "chunkstore/cache_format.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hubfs::chunkstore::cache_format
