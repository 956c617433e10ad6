#include "tests/hubsim/counters.h"

namespace hubfs::hubsim {

void Counters::Record(const std::string& origin, const std::string& route, uint64_t bytes,
                      uint64_t bytes_in, bool had_auth, int status) {
  std::lock_guard<std::mutex> l(mu_);
  Cell& c = cells_[origin][route];
  c.requests++;
  c.bytes += bytes;
  c.bytes_in += bytes_in;
  if (had_auth) c.auth++;
  if (status >= 400) c.errors++;
}

void Counters::RecordFault(const std::string& origin, const std::string& kind) {
  std::lock_guard<std::mutex> l(mu_);
  faults_[origin][kind]++;
}

nlohmann::json Counters::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json j = nlohmann::json::object();
  for (const char* o : {"hub", "cas", "data"}) j[o] = nlohmann::json::object();
  for (const auto& [origin, routes] : cells_)
    for (const auto& [route, c] : routes)
      j[origin][route] = {{"requests", c.requests},
                          {"bytes", c.bytes},
                          {"bytes_in", c.bytes_in},
                          {"auth", c.auth},
                          {"errors", c.errors}};
  j["faults"] = faults_;
  return j;
}

void Counters::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  cells_.clear();
  faults_.clear();
}

}  // namespace hubfs::hubsim
