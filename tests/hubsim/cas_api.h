// The CAS listener (reconstructions, xorb and shard uploads, global dedup;
// Xet-token auth) and the data listener (presigned xorb ranges and whole-file
// downloads; no Authorization, only the signed ranges).
#ifndef HUBFS_TESTS_HUBSIM_CAS_API_H_
#define HUBFS_TESTS_HUBSIM_CAS_API_H_

#include <httplib.h>

#include <string>

#include "tests/hubsim/services.h"

namespace hubfs::hubsim {

class CasApi {
 public:
  explicit CasApi(Services& s) : s_(s) {}
  void Handle(const httplib::Request& req, httplib::Response& res);
  static std::string RouteClass(const httplib::Request& req);

 private:
  void Reconstruction(const httplib::Request& req, httplib::Response& res, int version,
                      const std::string& hash);
  Services& s_;
};

class DataApi {
 public:
  explicit DataApi(Services& s) : s_(s) {}
  void Handle(const httplib::Request& req, httplib::Response& res);
  static std::string RouteClass(const httplib::Request& req);

 private:
  void ServeXorb(const httplib::Request& req, httplib::Response& res, const std::string& hash);
  void ServeFile(const httplib::Request& req, httplib::Response& res, const std::string& hash);
  Services& s_;
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_CAS_API_H_
