// What the three listeners share: options, credentials, stores, faults and
// counters. Built once by Server; handlers receive it by reference.
#ifndef HUBFS_TESTS_HUBSIM_SERVICES_H_
#define HUBFS_TESTS_HUBSIM_SERVICES_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/hubsim/auth.h"
#include "tests/hubsim/cas_store.h"
#include "tests/hubsim/commit_budget.h"
#include "tests/hubsim/counters.h"
#include "tests/hubsim/faults.h"
#include "tests/hubsim/hostile.h"
#include "tests/hubsim/repos.h"

namespace hubfs::hubsim {

struct ServerOptions {
  std::string data_dir;
  std::string host = "127.0.0.1";
  int port = 0;                    // Hub API; 0 = any free port
  int cas_port = 0;                // 0 = any free port
  int data_port = 0;               // 0 = any free port
  int threads = 64;                // worker threads per listener
  int64_t token_ttl = 3600;        // Xet token lifetime, seconds
  int64_t url_ttl = 3600;          // presigned data URL lifetime, seconds
  std::vector<std::string> users;  // NAME:TOKEN
  std::string faults;
  std::string hostile;  // hostile.h
  std::string commit_budget;  // commit_budget.h: "N[/SECONDS]", "" = no limit
};

struct Services {
  ServerOptions opts;
  Users users;
  std::unique_ptr<Signer> signer;
  std::unique_ptr<RepoStore> repos;
  std::unique_ptr<CasStore> cas;
  std::filesystem::path blob_dir;  // git blobs of regular files: blobs/<hh>/<oid>
  Faults faults;
  Hostile hostile;
  CommitBudget commit_budget;
  Counters counters;
  std::function<int64_t()> now;
  int hub_port = 0, cas_port = 0, data_port = 0;

  int64_t TokenTtl() const {
    int64_t ttl = faults.Get().token_ttl;
    return ttl > 0 ? ttl : opts.token_ttl;
  }
  std::filesystem::path BlobPath(const std::string& oid) const {
    return blob_dir / oid.substr(0, 2) / oid;
  }
};

// Opens the stores under opts.data_dir and registers users and faults.
Result<std::unique_ptr<Services>> OpenServices(const ServerOptions& opts);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_SERVICES_H_
