// FakeHttpTransport: an in-memory HttpTransport for tests of the layers
// above hub/ (and of hub/ itself). A handler answers each request; the fake
// applies the same rules as CurlTransport — request validation, the token
// attached only on its origin, redirects only when asked and hop by hop,
// body limits, streaming of 2xx bodies, bounded error bodies — which a
// contract test checks against both (tests/unit/hub/transport_contract_test.cc).
#ifndef HUBFS_HUB_FAKE_TRANSPORT_H_
#define HUBFS_HUB_FAKE_TRANSPORT_H_

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "hub/http.h"

namespace hubfs::hub {

// A request as it would have gone on the wire.
struct RecordedRequest {
  std::string method;
  std::string url;
  // Includes "Authorization: Bearer ..." when the token was attached, and
  // "Range" / "Accept-Encoding: identity" for ranged requests.
  Headers headers;
  std::string body;
};

class FakeHttpTransport final : public HttpTransport {
 public:
  // Called once per request (and per redirect hop), possibly from several
  // threads at once. An error return stands for a network failure.
  using Handler = std::function<Result<HttpResponse>(const RecordedRequest&)>;

  explicit FakeHttpTransport(Handler handler) : handler_(std::move(handler)) {}

  // Thread-safe.
  Result<HttpResponse> Send(const HttpRequest& request) override;

  // Every request seen so far, in order. Thread-safe.
  std::vector<RecordedRequest> requests() const;

 private:
  const Handler handler_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_FAKE_TRANSPORT_H_
