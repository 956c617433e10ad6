#include "cli/size_arg.h"

#include <gtest/gtest.h>

namespace hubfs::cli {
namespace {

TEST(ParseSizeTest, UnitsAndPlainBytes) {
  EXPECT_EQ(ParseSize("4096"), 4096u);
  EXPECT_EQ(ParseSize("512K"), 512ull << 10);
  EXPECT_EQ(ParseSize("64m"), 64ull << 20);
  EXPECT_EQ(ParseSize("10G"), 10ull << 30);
  EXPECT_EQ(ParseSize("2t"), 2ull << 40);
  EXPECT_EQ(ParseSize("0"), 0u);
}

TEST(ParseSizeTest, RefusesMalformedAndOverflowingSizes) {
  for (const char* bad : {"", "G", "1.5G", "-5M", "12Q", "1 G", "0x10", "99999999999999999999",
                          "17179869184G"}) {
    EXPECT_EQ(ParseSize(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace hubfs::cli
