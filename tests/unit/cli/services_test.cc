#include "cli/services.h"

#include <gtest/gtest.h>

#include <chrono>

namespace hubfs::cli {
namespace {

using std::chrono::milliseconds;

TEST(NetworkPolicyTest, ADeadServerFailsWithinTheDeadline) {
  const hub::HubServicesOptions o = NetworkPolicy(30);
  EXPECT_EQ(o.retry.max_attempts, 3);
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(10'000));
  EXPECT_EQ(o.transport.stall_timeout, milliseconds(10'000));
  EXPECT_EQ(o.retry.initial_backoff, milliseconds(200));
  EXPECT_EQ(o.retry.max_backoff, milliseconds(1000));
  EXPECT_EQ(o.retry.max_server_wait, milliseconds(5000));
}

TEST(NetworkPolicyTest, ShortDeadlinesKeepASecondPerAttempt) {
  const hub::HubServicesOptions o = NetworkPolicy(2);
  EXPECT_EQ(o.transport.connect_timeout, milliseconds(1000));
  EXPECT_EQ(o.retry.max_server_wait, milliseconds(2000));
}

}  // namespace
}  // namespace hubfs::cli
