#include "fs/content/chunk_placement.h"

#include <gtest/gtest.h>

#include <vector>

namespace hubfs::fs {
namespace {

constexpr uint64_t U = kUnplaced;

TEST(ChunkPlacementTest, FromTheTermStartThroughKnownLengths) {
  const std::vector<uint32_t> lengths = {10, 20, 0, 40};
  auto at = PlaceChunks(lengths, std::vector<ChunkAnchor>{{0, 1000}});
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, (std::vector<uint64_t>{1000, 1010, 1030, U, U}));
}

TEST(ChunkPlacementTest, BackwardsFromTheEndAndAroundAnAnchor) {
  // Only the middle is known: an anchor at boundary 2 places chunks 1..3.
  const std::vector<uint32_t> lengths = {0, 20, 30, 40, 0};
  auto at = PlaceChunks(lengths, std::vector<ChunkAnchor>{{2, 5000}});
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, (std::vector<uint64_t>{U, 4980, 5000, 5030, 5070, U}));
  // From the term's end backwards.
  at = PlaceChunks(lengths, std::vector<ChunkAnchor>{{5, 9000}, {0, 8800}});
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ((*at)[0], 8800u);
  EXPECT_EQ((*at)[1], U);  // chunk 0's length is unknown
  EXPECT_EQ((*at)[4], U);  // chunk 4's length is unknown
}

TEST(ChunkPlacementTest, DisagreementsPlaceNothing) {
  const std::vector<uint32_t> lengths = {10, 20, 30};
  // The lengths add up to 60, the anchors say 61.
  EXPECT_FALSE(PlaceChunks(lengths, std::vector<ChunkAnchor>{{0, 0}, {3, 61}}).has_value());
  EXPECT_TRUE(PlaceChunks(lengths, std::vector<ChunkAnchor>{{0, 0}, {3, 60}}).has_value());
  // One boundary, two offsets.
  EXPECT_FALSE(PlaceChunks(lengths, std::vector<ChunkAnchor>{{1, 5}, {1, 6}}).has_value());
  // A boundary past the end.
  EXPECT_FALSE(PlaceChunks(lengths, std::vector<ChunkAnchor>{{4, 5}}).has_value());
  // A chunk before offset 0.
  EXPECT_FALSE(PlaceChunks(lengths, std::vector<ChunkAnchor>{{1, 5}}).has_value());
  // Across unknown lengths: out of order, or a chunk longer than a chunk can be.
  const std::vector<uint32_t> unknown = {0, 0, 0};
  EXPECT_FALSE(PlaceChunks(unknown, std::vector<ChunkAnchor>{{0, 100}, {2, 100}}).has_value());
  EXPECT_FALSE(PlaceChunks(unknown, std::vector<ChunkAnchor>{{0, 100}, {2, 50}}).has_value());
  EXPECT_FALSE(
      PlaceChunks(unknown, std::vector<ChunkAnchor>{{0, 0}, {1, 131073}}).has_value());
  EXPECT_TRUE(PlaceChunks(unknown, std::vector<ChunkAnchor>{{0, 0}, {1, 131072}}).has_value());
  EXPECT_TRUE(PlaceChunks(unknown, std::vector<ChunkAnchor>{{0, 100}, {2, 102}}).has_value());
}

TEST(ChunkPlacementTest, NoAnchorsPlaceNothing) {
  const std::vector<uint32_t> lengths = {10, 20};
  auto at = PlaceChunks(lengths, {});
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(*at, (std::vector<uint64_t>{U, U, U}));
}

}  // namespace
}  // namespace hubfs::fs
