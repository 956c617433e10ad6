// CurlTransport: the real HttpTransport, over libcurl's multi interface.
//
// One worker thread drives a curl multi handle. Send() queues a transfer and
// blocks until the worker finishes it; at most `max_in_flight` transfers run
// at once, the rest wait in arrival order. Connections (and DNS answers) are
// kept in the multi handle's cache and reused across requests; easy handles
// are pooled. Every transfer gets a connect timeout and a stall timeout (no
// byte in either direction for that long), TLS verification, and a bounded
// header and body size. Redirects are followed only when the request asks
// for it, hop by hop, so a token never follows a redirect to another origin.
#ifndef HUBFS_HUB_CURL_TRANSPORT_H_
#define HUBFS_HUB_CURL_TRANSPORT_H_

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "hub/http.h"

namespace hubfs::hub {

// libcurl's process-wide initialisation. main() creates one before any
// CurlTransport (and before threads start) and keeps it until the end.
// Not thread-safe; at most one alive at a time.
class CurlGlobal {
 public:
  // Errors: kInternal when curl_global_init fails.
  static Result<std::unique_ptr<CurlGlobal>> Init();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;

 private:
  CurlGlobal() = default;
};

struct CurlTransportOptions {
  // Transfers running at once; more wait in a queue.
  size_t max_in_flight = 32;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds stall_timeout{30'000};
  // PEM file of trusted CAs; empty = the system's store. Verification is
  // always on.
  std::string ca_bundle;
  std::string user_agent = "hubfs";
};

class CurlTransport final : public HttpTransport {
 public:
  // REQUIRES: a CurlGlobal is alive. Errors: kInternal when curl cannot
  // create its handles, kInvalidArgument on bad options.
  static Result<std::unique_ptr<CurlTransport>> Create(CurlTransportOptions options);
  // Fails transfers still queued or running with kCancelled (their Send()
  // calls return promptly), then joins the worker. REQUIRES: no Send() is
  // started after destruction begins, and callers blocked in Send() are
  // joined before the memory of this object could be reused.
  ~CurlTransport() override;

  // Fails the transfers queued or running with kCancelled, as the destructor
  // does, and every later Send() at once; the object stays valid. For a
  // daemon that is shutting down while a server trickles a body: the threads
  // blocked in Send() are freed instead of waiting for the server.
  // Thread-safe; idempotent.
  void Shutdown();

  // Thread-safe. See HttpTransport::Send.
  Result<HttpResponse> Send(const HttpRequest& request) override;
  // Thread-safe. `info->answered` is true when a status line arrived, also
  // for a transfer that then failed.
  Result<HttpResponse> SendAndObserve(const HttpRequest& request, TransferInfo* info) override;

  struct Impl;

 private:
  explicit CurlTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_CURL_TRANSPORT_H_
