// Deterministic fault injection. A spec such as
//   error=0.05,reset=0.02,truncate=0.02,expire=0.01,latency=2ms,rate=50M,uprate=20M,seed=7,token_ttl=5,only=cas+data
// gives per-request probabilities (and delays: `latency` before each answer,
// `rate` bytes per second for each xorb data answer's body, `uprate` for each
// xorb upload's body: a WAN's pace down and up). The decision for a request is a hash of
// (seed, origin, route class, path, Range, attempt), where attempt counts
// earlier identical requests — so a retry can succeed and a seed replays.
#ifndef HUBFS_TESTS_HUBSIM_FAULTS_H_
#define HUBFS_TESTS_HUBSIM_FAULTS_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace hubfs::hubsim {

struct FaultSpec {
  double error = 0;     // 500/503/429 (429 and 503 with Retry-After)
  double reset = 0;     // connection closed after the headers
  double truncate = 0;  // body cut in the middle
  double expire = 0;    // data URLs answer 403 as if expired
  int64_t latency_us = 0;
  uint64_t rate = 0;    // bytes per second of a data answer; 0 = unbounded
  uint64_t uprate = 0;  // bytes per second of a xorb upload's body; 0 = unbounded
  uint64_t seed = 0;
  int64_t token_ttl = 0;       // > 0: overrides the Xet token lifetime (seconds)
  std::set<std::string> only;  // origins ("hub", "cas", "data"); empty = all
  std::string text;            // the spec as given
};

// Errors: kInvalidArgument for unknown keys or bad numbers.
Result<FaultSpec> ParseFaultSpec(std::string_view spec);

enum class FaultKind { kNone, kError500, kError503, kError429, kReset, kTruncate, kExpire };

struct FaultDecision {
  FaultKind kind = FaultKind::kNone;
  int64_t latency_us = 0;
};

// Thread-safe.
class Faults {
 public:
  void Set(FaultSpec spec);
  FaultSpec Get() const;
  FaultDecision Decide(std::string_view origin, std::string_view route, std::string_view path,
                       std::string_view range);
  // How long a data answer of `bytes` takes at the spec's rate (0 when none,
  // or when data is not among the spec's origins).
  std::chrono::microseconds DataTime(uint64_t bytes) const;
  // How long a xorb upload of `bytes` takes at the spec's `uprate` (0 when
  // none, or when cas is not among the spec's origins).
  std::chrono::microseconds UploadTime(uint64_t bytes) const;

 private:
  mutable std::mutex mu_;
  FaultSpec spec_;                                      // GUARDED_BY(mu_)
  std::unordered_map<std::string, uint32_t> attempts_;  // GUARDED_BY(mu_)
};

std::string_view FaultKindName(FaultKind k);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_FAULTS_H_
