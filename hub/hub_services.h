// HubServices: hub/ wired from Settings, for the commands, the mount and
// integration tests: CurlTransport -> RetryingTransport -> HubClient and
// CasClient, with the huggingface_hub token discovery. REQUIRES: a CurlGlobal is alive for the
// whole life of the object.
#ifndef HUBFS_HUB_HUB_SERVICES_H_
#define HUBFS_HUB_HUB_SERVICES_H_

#include <memory>

#include "common/clock.h"
#include "common/status.h"
#include "hub/cas_client.h"
#include "hub/curl_transport.h"
#include "hub/hub_client.h"
#include "hub/retry.h"
#include "hub/settings.h"

namespace hubfs::hub {

struct HubServicesOptions {
  CurlTransportOptions transport;  // user_agent is taken from Settings
  RetryPolicy retry;
  HubClientOptions hub;  // endpoint and offline are taken from Settings
  CasClientOptions cas;
};

class HubServices {
 public:
  // `clock` must outlive the object. Errors: those of CurlTransport::Create.
  static Result<std::unique_ptr<HubServices>> Create(const Settings& settings, Clock* clock,
                                                     HubServicesOptions options = {});

  HubClient& hub() { return *hub_; }
  CasClient& cas() { return *cas_; }
  // Fails every transfer in flight and every later one at once (the mount
  // ended: nothing more is wanted). Thread-safe.
  void ShutdownTransport() { curl_->Shutdown(); }
  // The retrying transport, for data fetches that do not fit the clients.
  HttpTransport& transport() { return *retrying_; }
  // The token discovery (HF_TOKEN, the token file), for readers that sign
  // their own requests.
  TokenProvider& tokens() { return *tokens_; }

 private:
  HubServices() = default;
  // Destroyed in reverse order: clients before the transports they use.
  std::unique_ptr<CurlTransport> curl_;
  std::unique_ptr<RetryingTransport> retrying_;
  std::unique_ptr<EnvOrFileTokenProvider> tokens_;
  std::unique_ptr<HubClient> hub_;
  std::unique_ptr<CasClient> cas_;
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_HUB_SERVICES_H_
