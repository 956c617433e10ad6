#include "hub/hub_error.h"

#include <gtest/gtest.h>

namespace hubfs::hub {
namespace {

TEST(HubErrorTest, ParsesTheKnownCodesAndNothingElse) {
  for (HubError e : {HubError::kRepoNotFound, HubError::kRevisionNotFound,
                     HubError::kEntryNotFound, HubError::kGatedRepo}) {
    EXPECT_EQ(ParseHubError(HubErrorName(e)), e);
  }
  EXPECT_EQ(ParseHubError(""), HubError::kNone);
  EXPECT_EQ(ParseHubError("repoNotFound"), HubError::kOther);  // exact match only
  EXPECT_EQ(ParseHubError("SomethingNew"), HubError::kOther);
}

TEST(HubErrorTest, ReadsTheCodeAStatusCarries) {
  Status st = NotFoundError("x").WithHttp(404, "EntryNotFound");
  EXPECT_EQ(HubErrorOf(st), HubError::kEntryNotFound);
  EXPECT_EQ(HubErrorOf(NotFoundError("x")), HubError::kNone);
  EXPECT_EQ(HubErrorOf(Status::Ok()), HubError::kNone);
}

}  // namespace
}  // namespace hubfs::hub
