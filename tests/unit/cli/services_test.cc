#include "cli/services.h"

#include <gtest/gtest.h>

#include <chrono>

namespace hubfs::cli {
namespace {

using std::chrono::milliseconds;

TEST(NetworkPolicyTest, RetriesUntilTheDeadlineWithAThirdPerAttempt) {
  const hub::HubServicesOptions o = NetworkPolicy(30);
  EXPECT_EQ(o.retry.max_attempts, 0);  // the deadline bounds the retries
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(10'000));
  EXPECT_EQ(o.transport.stall_timeout, milliseconds(10'000));
  EXPECT_EQ(o.retry.attempt_timeout, milliseconds(10'000));
  EXPECT_EQ(o.retry.initial_backoff, milliseconds(200));
  EXPECT_EQ(o.retry.max_backoff, milliseconds(2000));
  EXPECT_EQ(o.retry.default_deadline, milliseconds(60'000));
  EXPECT_GT(o.retry.circuit.failures_to_open, 0);
  EXPECT_EQ(o.retry.circuit.quiet_window, milliseconds(5000));  // a restart is no outage
}

TEST(NetworkPolicyTest, ShortDeadlinesKeepASecondPerAttempt) {
  const hub::HubServicesOptions o = NetworkPolicy(2);
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(1000));
  EXPECT_EQ(o.retry.default_deadline, milliseconds(60'000));
  EXPECT_EQ(o.retry.circuit.quiet_window, milliseconds(1000));
}

TEST(NetworkPolicyTest, LongWorkGetsTwiceALongIoTimeout) {
  EXPECT_EQ(LongOperationTimeout(30), milliseconds(60'000));
  EXPECT_EQ(LongOperationTimeout(100), milliseconds(200'000));
  EXPECT_EQ(NetworkPolicy(100).retry.default_deadline, milliseconds(200'000));
}

}  // namespace
}  // namespace hubfs::cli
