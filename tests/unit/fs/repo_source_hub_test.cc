#include "fs/repo_source_hub.h"

#include <gtest/gtest.h>

namespace hubfs::fs {
namespace {

TEST(ParseIsoTimeTest, ParsesHubDates) {
  EXPECT_EQ(ParseIsoTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIsoTime("2024-05-01T12:34:56.000Z"), 1714566896);
  EXPECT_EQ(ParseIsoTime("2024-05-01T12:34:56Z"), 1714566896);
}

TEST(ParseIsoTimeTest, RejectsMalformedDates) {
  EXPECT_FALSE(ParseIsoTime(""));
  EXPECT_FALSE(ParseIsoTime("yesterday"));
  EXPECT_FALSE(ParseIsoTime("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseIsoTime("2024-05-01X12:34:56Z"));
  EXPECT_FALSE(ParseIsoTime("1969-12-31T23:59:59Z"));
  EXPECT_FALSE(ParseIsoTime(std::string(100, '2')));
}

}  // namespace
}  // namespace hubfs::fs
