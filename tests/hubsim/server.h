// hubsim's three listeners (Hub API, CAS, data URLs), each a tuned
// cpp-httplib server on its own port, sharing one Services.
#ifndef HUBFS_TESTS_HUBSIM_SERVER_H_
#define HUBFS_TESTS_HUBSIM_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/hubsim/services.h"

namespace httplib {
class Server;
}

namespace hubfs::hubsim {

class HubApi;
class CasApi;
class DataApi;

class Server {
 public:
  explicit Server(std::unique_ptr<Services> services);
  ~Server();

  // Binds the three ports and starts serving on background threads.
  Status Start();
  // Blocks until Stop() (from another thread or a signal handler thread).
  void Wait();
  void Stop();

  int hub_port() const { return services_->hub_port; }
  int cas_port() const { return services_->cas_port; }
  int data_port() const { return services_->data_port; }

 private:
  void Configure(httplib::Server& http, const std::string& origin);

  std::unique_ptr<Services> services_;
  std::unique_ptr<HubApi> hub_api_;
  std::unique_ptr<CasApi> cas_api_;
  std::unique_ptr<DataApi> data_api_;
  std::unique_ptr<httplib::Server> hub_, cas_, data_;
  std::vector<std::thread> threads_;
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_SERVER_H_
