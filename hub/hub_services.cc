#include "hub/hub_services.h"

namespace hubfs::hub {

Result<std::unique_ptr<HubServices>> HubServices::Create(const Settings& settings, Clock* clock,
                                                         HubServicesOptions options) {
  std::unique_ptr<HubServices> s(new HubServices());
  options.transport.user_agent = settings.user_agent;
  HUBFS_ASSIGN_OR_RETURN(s->curl_, CurlTransport::Create(options.transport));
  s->retrying_ = std::make_unique<RetryingTransport>(s->curl_.get(), clock, options.retry);
  s->tokens_ = std::make_unique<EnvOrFileTokenProvider>(settings);
  options.hub.endpoint = settings.endpoint;
  options.hub.offline = settings.offline;
  s->hub_ = std::make_unique<HubClient>(s->retrying_.get(), clock, s->tokens_.get(), options.hub);
  s->cas_ = std::make_unique<CasClient>(s->retrying_.get(), options.cas);
  return s;
}

}  // namespace hubfs::hub
