#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

namespace hubfs {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.http_status(), 0);
  EXPECT_EQ(s.hub_error_code(), "");
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_TRUE(Status(ErrorCode::kOk, "ignored").ok());
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = NotFoundError("no such repo");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "no such repo");
  EXPECT_EQ(s.ToString(), "not_found: no such repo");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "not_found: no such repo");
  EXPECT_EQ(IoError("x").code(), ErrorCode::kIo);
  EXPECT_EQ(CorruptError("x").code(), ErrorCode::kCorrupt);
  EXPECT_EQ(InvalidArgumentError("x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kResourceExhausted), "resource_exhausted");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kFailedPrecondition), "failed_precondition");
}

TEST(StatusTest, ContextIsPrependedAndKeepsDetails) {
  Status inner = UnavailableError("connection refused").WithHttp(503, "ServiceDown");
  Status outer = inner.WithContext("list tree org/name@main");
  EXPECT_EQ(outer.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(outer.message(), "list tree org/name@main: connection refused");
  EXPECT_EQ(outer.http_status(), 503);
  EXPECT_EQ(outer.hub_error_code(), "ServiceDown");
  EXPECT_EQ(outer.ToString(),
            "unavailable: list tree org/name@main: connection refused (HTTP 503, ServiceDown)");
  // The original is unchanged (copies share immutable state).
  EXPECT_EQ(inner.message(), "connection refused");
  EXPECT_TRUE(Status::Ok().WithContext("ctx").ok());
  EXPECT_TRUE(Status::Ok().WithHttp(500).ok());
}

TEST(StatusTest, HttpDetails) {
  Status s = NotFoundError("missing").WithHttp(404, "EntryNotFound");
  EXPECT_EQ(s.http_status(), 404);
  EXPECT_EQ(s.hub_error_code(), "EntryNotFound");
  EXPECT_EQ(s.ToString(), "not_found: missing (HTTP 404, EntryNotFound)");
  Status bare = NotFoundError("missing").WithHttp(404);
  EXPECT_EQ(bare.ToString(), "not_found: missing (HTTP 404)");
}

TEST(StatusTest, Equality) {
  EXPECT_EQ(IoError("a"), IoError("a"));
  EXPECT_FALSE(IoError("a") == IoError("b"));
  EXPECT_FALSE(IoError("a") == CorruptError("a"));
  EXPECT_EQ(Status(), Status::Ok());
}

Result<int> Half(int v) {
  if (v % 2 != 0) return InvalidArgumentError("odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  HUBFS_ASSIGN_OR_RETURN(int h, Half(v));
  HUBFS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int v) {
  HUBFS_RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(ResultTest, ValueOrError) {
  Result<int> ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  EXPECT_EQ(ok.value(), 4);
  EXPECT_TRUE(ok.status().ok());
  EXPECT_EQ(ok.value_or(-1), 4);

  Result<int> bad = Half(3);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ResultTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");  // 6 → 3 fails in the second step
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(1).code(), ErrorCode::kInvalidArgument);
}

TEST(ResultTest, MoveOnlyAndConvertingValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
  Result<std::string> s = "text";  // converting constructor
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 4u);
}

}  // namespace
}  // namespace hubfs
