// Request counters per origin ("hub", "cas", "data") and route class: how
// many requests, how many response body bytes, how many carried an
// Authorization header, plus the faults injected. Thread-safe.
#ifndef HUBFS_TESTS_HUBSIM_COUNTERS_H_
#define HUBFS_TESTS_HUBSIM_COUNTERS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace hubfs::hubsim {

class Counters {
 public:
  // `bytes` = response body bytes sent, `bytes_in` = request body bytes.
  void Record(const std::string& origin, const std::string& route, uint64_t bytes,
              uint64_t bytes_in, bool had_auth, int status);
  void RecordFault(const std::string& origin, const std::string& kind);
  // {"hub":{"resolve":{"requests":N,"bytes":N,"bytes_in":N,"auth":N,"errors":N}},…,
  //  "faults":{…}}
  nlohmann::json Snapshot() const;
  void Reset();

 private:
  struct Cell {
    uint64_t requests = 0, bytes = 0, bytes_in = 0, auth = 0, errors = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, Cell>> cells_;       // GUARDED_BY(mu_)
  std::map<std::string, std::map<std::string, uint64_t>> faults_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_COUNTERS_H_
