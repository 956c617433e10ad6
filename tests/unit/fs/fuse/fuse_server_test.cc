#include "fs/fuse/fuse_server.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace hubfs::fs {
namespace {

TEST(ErrnoForTest, EachConditionHasItsErrno) {
  EXPECT_EQ(ErrnoFor(VfsErrc::kNoEntry), ENOENT);
  EXPECT_EQ(ErrnoFor(VfsErrc::kNotDir), ENOTDIR);
  EXPECT_EQ(ErrnoFor(VfsErrc::kIsDir), EISDIR);
  EXPECT_EQ(ErrnoFor(VfsErrc::kReadOnly), EROFS);
  EXPECT_EQ(ErrnoFor(VfsErrc::kNoAttr), ENODATA);
  EXPECT_EQ(ErrnoFor(VfsErrc::kRange), ERANGE);
  EXPECT_EQ(ErrnoFor(VfsErrc::kBadHandle), EBADF);
  EXPECT_EQ(ErrnoFor(VfsErrc::kAccess), EACCES);
  EXPECT_EQ(ErrnoFor(VfsErrc::kNoSpace), ENOSPC);
  EXPECT_EQ(ErrnoFor(VfsErrc::kConflict), ESTALE);
  EXPECT_EQ(ErrnoFor(VfsErrc::kInvalid), EINVAL);
  // A dead or slow server is an I/O error to the reader, never a hang.
  EXPECT_EQ(ErrnoFor(VfsErrc::kTimedOut), EIO);
  EXPECT_EQ(ErrnoFor(VfsErrc::kIo), EIO);
}

TEST(VfsErrorFromStatusTest, SourceErrorsMapToFilesystemConditions) {
  EXPECT_EQ(VfsErrorFromStatus(NotFoundError("x")).code, VfsErrc::kNoEntry);
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kUnauthenticated, "x")).code, VfsErrc::kAccess);
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kPermissionDenied, "x")).code,
            VfsErrc::kAccess);
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kTimeout, "x")).code, VfsErrc::kTimedOut);
  EXPECT_EQ(VfsErrorFromStatus(UnavailableError("x")).code, VfsErrc::kIo);
  EXPECT_EQ(VfsErrorFromStatus(CorruptError("x")).code, VfsErrc::kIo);
  EXPECT_EQ(VfsErrorFromStatus(CorruptError("x")).cause.message(), "x");
}

TEST(VfsErrorFromStatusTest, RateLimitsConflictsAndFullDisks) {
  // A 429 the transport gave up retrying is an I/O error, never EAGAIN.
  const Status limited = Status(ErrorCode::kResourceExhausted, "x").WithHttp(429);
  EXPECT_EQ(VfsErrorFromStatus(limited).code, VfsErrc::kIo);
  EXPECT_EQ(ErrnoFor(VfsErrorFromStatus(limited).code), EIO);
  // A local disk full (cache, staging) is ENOSPC.
  EXPECT_EQ(ErrnoFor(VfsErrorFromStatus(Status(ErrorCode::kResourceExhausted, "x")).code),
            ENOSPC);
  // The Hub refused a change made against an older state.
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kConflict, "x").WithHttp(409)).code,
            VfsErrc::kConflict);
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kFailedPrecondition, "x").WithHttp(412)).code,
            VfsErrc::kConflict);
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kFailedPrecondition, "x")).code, VfsErrc::kIo);
  // A server answering 400 is an I/O error; an argument we refuse ourselves
  // stays EINVAL.
  EXPECT_EQ(ErrnoFor(VfsErrorFromStatus(InvalidArgumentError("x").WithHttp(400)).code), EIO);
  EXPECT_EQ(ErrnoFor(VfsErrorFromStatus(InvalidArgumentError("x")).code), EINVAL);
}

TEST(VfsErrorFromStatusTest, TheHubsErrorCodeDecidesOverTheHttpStatus) {
  // Anonymous request for a missing (or private) repo: 401 RepoNotFound.
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kUnauthenticated, "x").WithHttp(401, "RepoNotFound"))
                .code,
            VfsErrc::kNoEntry);
  EXPECT_EQ(VfsErrorFromStatus(NotFoundError("x").WithHttp(404, "RevisionNotFound")).code,
            VfsErrc::kNoEntry);
  // A bad token (no error code) and a gated repo are refusals.
  EXPECT_EQ(VfsErrorFromStatus(Status(ErrorCode::kUnauthenticated, "x").WithHttp(401, "")).code,
            VfsErrc::kAccess);
  EXPECT_EQ(
      VfsErrorFromStatus(Status(ErrorCode::kPermissionDenied, "x").WithHttp(403, "GatedRepo")).code,
      VfsErrc::kAccess);
}

}  // namespace
}  // namespace hubfs::fs
