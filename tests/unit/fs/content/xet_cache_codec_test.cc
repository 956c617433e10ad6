#include "fs/content/xet_cache_codec.h"

#include <gtest/gtest.h>

namespace hubfs::fs {
namespace {

chunkstore::ReconTerm Term(uint8_t x, uint32_t s, uint32_t e, uint64_t len) {
  chunkstore::ReconTerm t;
  t.xorb.bytes[0] = x;
  t.range = {s, e};
  t.unpacked_length = len;
  return t;
}

TEST(XetCacheCodecTest, TermsRoundTrip) {
  std::vector<chunkstore::ReconTerm> terms = {Term(1, 0, 3, 200000), Term(2, 5, 6, 77)};
  auto enc = EncodeTerms(terms, 200077);
  auto dec = DecodeTerms(enc, 200077);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, terms);
}

TEST(XetCacheCodecTest, TermsRejectBadInput) {
  std::vector<chunkstore::ReconTerm> terms = {Term(1, 0, 3, 200000)};
  auto enc = EncodeTerms(terms, 200000);
  EXPECT_FALSE(DecodeTerms(enc, 200001).ok());  // other size
  auto shorter = enc;
  shorter.pop_back();
  EXPECT_FALSE(DecodeTerms(shorter, 200000).ok());
  auto bad_version = enc;
  bad_version[0] = 9;
  EXPECT_FALSE(DecodeTerms(bad_version, 200000).ok());
  for (size_t reserved : {1, 2, 3}) {  // must be 0: an entry has one encoding
    auto bad_reserved = enc;
    bad_reserved[reserved] = 1;
    EXPECT_FALSE(DecodeTerms(bad_reserved, 200000).ok()) << reserved;
  }
  auto empty_range = EncodeTerms(std::vector{Term(1, 3, 3, 10)}, 10);
  EXPECT_FALSE(DecodeTerms(empty_range, 10).ok());
  auto too_long = EncodeTerms(std::vector{Term(1, 0, 1, 200000)}, 200000);  // > 128 KiB/chunk
  EXPECT_FALSE(DecodeTerms(too_long, 200000).ok());
  auto huge_count = enc;
  huge_count[4] = 0xff;
  EXPECT_FALSE(DecodeTerms(huge_count, 200000).ok());
}

TEST(XetCacheCodecTest, TermsWithAnchorsRoundTrip) {
  std::vector<chunkstore::ReconTerm> terms = {Term(1, 0, 3, 200000), Term(2, 5, 9, 300)};
  const std::vector<TermAnchor> anchors = {{0, 1, 70000}, {1, 7, 200100}};
  auto enc = EncodeTerms(terms, 200300, anchors);
  EXPECT_EQ(enc[0], 2);
  std::vector<TermAnchor> got = {{9, 9, 9}};
  auto dec = DecodeTerms(enc, 200300, &got);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(*dec, terms);
  EXPECT_EQ(got, anchors);
  // Without anchors: version 1, as before, and no anchors decoded.
  auto plain = EncodeTerms(terms, 200300);
  EXPECT_EQ(plain[0], 1);
  ASSERT_TRUE(DecodeTerms(plain, 200300, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST(XetCacheCodecTest, AnchorsOutsideTheirTermAreCorrupt) {
  std::vector<chunkstore::ReconTerm> terms = {Term(1, 0, 3, 200000), Term(2, 5, 9, 300)};
  const std::vector<std::vector<TermAnchor>> bad = {
      {{2, 6, 200100}},       // no such term
      {{0, 0, 0}},            // the term's first chunk: not inside it
      {{0, 3, 150000}},       // the term's end chunk
      {{1, 4, 200100}},       // a chunk before the term's range
      {{0, 1, 200000}},       // at the term's end offset
      {{1, 7, 200000}},       // at the term's start offset
      {{1, 7, 5}},            // before the term
  };
  for (const auto& a : bad) {
    auto enc = EncodeTerms(terms, 200300, a);
    EXPECT_EQ(DecodeTerms(enc, 200300).status().code(), ErrorCode::kCorrupt)
        << a[0].term << "/" << a[0].chunk << "@" << a[0].offset;
  }
  auto enc = EncodeTerms(terms, 200300, std::vector<TermAnchor>{{0, 1, 70000}});
  auto cut = enc;
  cut.pop_back();
  EXPECT_FALSE(DecodeTerms(cut, 200300).ok());
  auto zero_count = enc;
  zero_count.resize(enc.size() - 16);
  zero_count[zero_count.size() - 8] = 0;
  EXPECT_FALSE(DecodeTerms(zero_count, 200300).ok());
  auto v1_with_tail = enc;
  v1_with_tail[0] = 1;  // version 1 holds no anchors
  EXPECT_FALSE(DecodeTerms(v1_with_tail, 200300).ok());
}

TEST(XetCacheCodecTest, LayoutRoundTripAndMerge) {
  LearnedLayout a;
  a.lengths = {100, 0, 300};
  a.record_starts = {0, 0, 250};
  auto dec = DecodeLayout(EncodeLayout(a));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->lengths, a.lengths);
  EXPECT_EQ(dec->record_starts, a.record_starts);
  EXPECT_FALSE(dec->count_known);

  LearnedLayout b;
  b.lengths = {0, 150, 300, 0};
  b.record_starts = {0, 108, 250, 0};
  bool changed = false;
  ASSERT_TRUE(a.Merge(b, &changed));
  EXPECT_TRUE(changed);
  EXPECT_EQ(a.lengths, (std::vector<uint32_t>{100, 150, 300, 0}));
  ASSERT_TRUE(a.Merge(b, &changed));
  EXPECT_FALSE(changed);

  LearnedLayout conflict;
  conflict.lengths = {101};
  conflict.record_starts = {0};
  EXPECT_FALSE(a.Merge(conflict, &changed));
  EXPECT_EQ(a.lengths[0], 100u);

  LearnedLayout complete;
  complete.lengths = {100, 150};
  complete.record_starts = {0, 108};
  complete.count_known = true;
  EXPECT_FALSE(a.Merge(complete, &changed));  // a knows a 3rd chunk

  auto enc = EncodeLayout(a);
  ASSERT_TRUE(DecodeLayout(enc).ok());
  auto reserved = enc;
  reserved[2] = 1;
  EXPECT_FALSE(DecodeLayout(reserved).ok());
  enc.push_back(0);
  EXPECT_FALSE(DecodeLayout(enc).ok());
}

}  // namespace
}  // namespace hubfs::fs
