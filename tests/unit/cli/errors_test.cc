#include "cli/errors.h"

#include <gtest/gtest.h>

namespace hubfs::cli {
namespace {

const ErrorSubject kFile{"org/model", "v2", "sub/a.bin", ""};

std::string Message(const Status& st, const ErrorSubject& s = kFile) {
  return ExplainError(st, s).message;
}

TEST(ExplainErrorTest, TheHubsCodeNamesWhatIsMissing) {
  EXPECT_EQ(Message(NotFoundError("x").WithHttp(404, "RepoNotFound")),
            "repository org/model not found");
  EXPECT_EQ(Message(NotFoundError("x").WithHttp(404, "RevisionNotFound")),
            "revision 'v2' not found in org/model");
  EXPECT_EQ(Message(NotFoundError("x").WithHttp(404, "EntryNotFound")),
            "no such file or directory: 'sub/a.bin' in org/model@v2");
  // Without a revision the default branch is named.
  EXPECT_EQ(Message(NotFoundError("x").WithHttp(404, "RevisionNotFound"),
                    ErrorSubject{"org/model", "", "", ""}),
            "revision 'main' not found in org/model");
  // Without a code: the path if there is one, else the thing itself.
  EXPECT_EQ(Message(NotFoundError("gone")), "no such file or directory: 'sub/a.bin' in org/model@v2");
  EXPECT_EQ(Message(NotFoundError("gone"), ErrorSubject{"org/model", "", "", "org/model@x"}),
            "org/model@x not found (gone)");
}

TEST(ExplainErrorTest, AccessNetworkAndDataErrors) {
  const ErrorSubject repo{"org/missing", "", "", ""};
  EXPECT_EQ(Message(Status(ErrorCode::kUnauthenticated, "x").WithHttp(401, "RepoNotFound"), repo),
            "org/missing: not found or private: authentication required (set HF_TOKEN or log in)");
  EXPECT_EQ(Message(Status(ErrorCode::kUnauthenticated, "x").WithHttp(401, "GatedRepo"), repo),
            "org/missing: not found or private: authentication required (set HF_TOKEN or log "
            "in) [gated]");
  EXPECT_EQ(Message(Status(ErrorCode::kPermissionDenied, "no").WithHttp(403, "GatedRepo"), repo),
            "access to org/missing denied (gated repo): no");
  EXPECT_EQ(Message(UnavailableError("down")), "cannot reach the Hub: down");
  EXPECT_EQ(Message(Status(ErrorCode::kTimeout, "slow")), "cannot reach the Hub: slow");
  EXPECT_EQ(Message(CorruptError("bad hash")), "data failed verification: bad hash");
}

TEST(ExplainErrorTest, EveryErrorExitsOneUsageExitsTwo) {
  EXPECT_EQ(ExplainError(NotFoundError("x"), kFile).exit_status, 1);
  EXPECT_EQ(ExplainError(InternalError("x"), kFile).exit_status, 1);
  EXPECT_EQ(kUsageExitStatus, 2);
}

}  // namespace
}  // namespace hubfs::cli
