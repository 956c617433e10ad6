#include "fs/write/range_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace hubfs::fs {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(RangeSetTest, AddMergesTouchingAndOverlapping) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  EXPECT_EQ(s.Ranges(), (Ranges{{10, 20}, {30, 40}}));
  s.Add(20, 25);  // touches
  EXPECT_EQ(s.Ranges(), (Ranges{{10, 25}, {30, 40}}));
  s.Add(5, 35);  // spans both
  EXPECT_EQ(s.Ranges(), (Ranges{{5, 40}}));
  s.Add(7, 7);  // empty
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.covered_bytes(), 35u);
}

TEST(RangeSetTest, ContainsAndMissing) {
  RangeSet s;
  s.Add(0, 100);
  s.Add(200, 300);
  EXPECT_TRUE(s.Contains(0, 100));
  EXPECT_TRUE(s.Contains(250, 260));
  EXPECT_FALSE(s.Contains(90, 210));
  EXPECT_TRUE(s.Contains(5, 5));
  EXPECT_EQ(s.Missing(50, 350), (Ranges{{100, 200}, {300, 350}}));
  EXPECT_EQ(s.Missing(0, 100), Ranges{});
  EXPECT_EQ(s.Missing(120, 130), (Ranges{{120, 130}}));
}

TEST(RangeSetTest, TruncateCutsTheLastRange) {
  RangeSet s;
  s.Add(0, 100);
  s.Add(200, 300);
  s.TruncateAt(250);
  EXPECT_EQ(s.Ranges(), (Ranges{{0, 100}, {200, 250}}));
  s.TruncateAt(200);
  EXPECT_EQ(s.Ranges(), (Ranges{{0, 100}}));
  s.TruncateAt(0);
  EXPECT_TRUE(s.empty());
}

TEST(RangeSetTest, AgreesWithABitmapUnderRandomOperations) {
  std::mt19937 rng(7);
  RangeSet s;
  std::vector<bool> bits(2000, false);
  for (int step = 0; step < 3000; ++step) {
    uint64_t a = rng() % 2000, b = rng() % 2000;
    if (a > b) std::swap(a, b);
    if (rng() % 10 == 0) {
      s.TruncateAt(b);
      for (uint64_t i = b; i < bits.size(); ++i) bits[i] = false;
    } else {
      s.Add(a, b);
      for (uint64_t i = a; i < b; ++i) bits[i] = true;
    }
    uint64_t c = rng() % 2000, d = rng() % 2000;
    if (c > d) std::swap(c, d);
    bool all = true;
    for (uint64_t i = c; i < d; ++i) all &= bits[i];
    ASSERT_EQ(s.Contains(c, d), all) << step;
    uint64_t missing = 0;
    for (auto [x, y] : s.Missing(c, d)) {
      for (uint64_t i = x; i < y; ++i) ASSERT_FALSE(bits[i]);
      missing += y - x;
    }
    uint64_t want = 0;
    for (uint64_t i = c; i < d; ++i) want += !bits[i];
    ASSERT_EQ(missing, want);
  }
}

}  // namespace
}  // namespace hubfs::fs
