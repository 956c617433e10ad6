#include "tests/hubsim/counters.h"

namespace hubfs::hubsim {

void Counters::Record(const std::string& origin, const std::string& route, uint64_t bytes,
                      bool had_auth, int status) {
  std::lock_guard<std::mutex> l(mu_);
  Cell& c = cells_[origin][route];
  c.requests++;
  c.bytes += bytes;
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
      j[origin][route] = {{"requests", c.requests}, {"bytes", c.bytes}, {"auth", c.auth},
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
