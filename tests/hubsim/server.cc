#include "tests/hubsim/server.h"

#include <httplib.h>

#include <chrono>

#include "tests/hubsim/cas_api.h"
#include "tests/hubsim/http_util.h"
#include "tests/hubsim/hub_api.h"

namespace hubfs::hubsim {
namespace {

constexpr size_t kHubMaxBody = 256ull << 20;  // NDJSON commits carry inline files
constexpr size_t kCasMaxBody = 80ull << 20;   // a 64 MiB xorb (+ footer) or shard
constexpr size_t kDataMaxBody = 64 << 10;     // data URLs take no bodies

// Response header used to hand a fault decision from the pre-routing hook
// to the post-routing hook of the same request; never sent.
constexpr const char* kFaultHeader = "X-Hubsim-Internal-Fault";

std::string RouteOf(const std::string& origin, const httplib::Request& req) {
  if (origin == "hub") return HubApi::RouteClass(req);
  if (origin == "cas") return CasApi::RouteClass(req);
  return DataApi::RouteClass(req);
}

// Replaces the response body/provider by one that stops half way, so the
// connection closes with a short body (truncate) or no body (reset).
void CutResponse(httplib::Response& res, bool reset) {
  size_t total = res.body.empty() ? res.content_length_ : res.body.size();
  if (total == 0) return;
  size_t keep = reset ? 0 : total / 2;
  if (!res.body.empty()) {
    auto body = std::make_shared<std::string>(std::move(res.body));
    res.body.clear();
    res.content_length_ = total;
    res.content_provider_ = [body, keep](size_t offset, size_t, httplib::DataSink& sink) {
      if (offset >= keep) return false;
      return sink.write(body->data() + offset, keep - offset);
    };
    return;
  }
  auto inner = res.content_provider_;
  res.content_provider_ = [inner, keep](size_t offset, size_t length, httplib::DataSink& sink) {
    if (offset >= keep) return false;
    // Providers may write more than asked; pass at most `keep` bytes on.
    httplib::DataSink limited;
    size_t pos = offset;
    limited.write = [&](const char* d, size_t n) {
      size_t allowed = pos < keep ? std::min(n, keep - pos) : 0;
      if (allowed > 0 && !sink.write(d, allowed)) return false;
      pos += allowed;
      return allowed == n;
    };
    limited.is_writable = sink.is_writable;
    limited.done = sink.done;
    return inner(offset, std::min(length, keep - offset), limited) && pos < keep;
  };
}

}  // namespace

Server::Server(std::unique_ptr<Services> services) : services_(std::move(services)) {
  hub_api_ = std::make_unique<HubApi>(*services_);
  cas_api_ = std::make_unique<CasApi>(*services_);
  data_api_ = std::make_unique<DataApi>(*services_);
  hub_ = std::make_unique<httplib::Server>();
  cas_ = std::make_unique<httplib::Server>();
  data_ = std::make_unique<httplib::Server>();
}

Server::~Server() {
  Stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Server::Configure(httplib::Server& http, const std::string& origin) {
  Services& s = *services_;
  int threads = s.opts.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_keep_alive_max_count(100000);
  http.set_keep_alive_timeout(10);
  http.set_read_timeout(60);
  http.set_write_timeout(60);
  http.set_tcp_nodelay(true);
  http.set_payload_max_length(origin == "hub"   ? kHubMaxBody
                              : origin == "cas" ? kCasMaxBody
                                                : kDataMaxBody);
  http.set_pre_routing_handler([this, origin](const httplib::Request& req, httplib::Response& res) {
    Services& sv = *services_;
    std::string route = RouteOf(origin, req);
    if (route == "admin") return httplib::Server::HandlerResponse::Unhandled;
    FaultDecision d = sv.faults.Decide(origin, route, req.path, req.get_header_value("Range"));
    if (d.latency_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(d.latency_us));
    switch (d.kind) {
      case FaultKind::kNone:
        return httplib::Server::HandlerResponse::Unhandled;
      case FaultKind::kError500:
      case FaultKind::kError503:
      case FaultKind::kError429: {
        int code = d.kind == FaultKind::kError500   ? 500
                   : d.kind == FaultKind::kError503 ? 503
                                                    : 429;
        TakeRange(req);
        if (code != 500) res.set_header("Retry-After", "1");
        // Answered before the request body was read: the client must not
        // send its next request on this connection, or the server would
        // read it after the unread body and answer it 400.
        if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
          res.set_header("Connection", "close");
        }
        sv.counters.RecordFault(origin, std::string(FaultKindName(d.kind)));
        SendError(res, code, "", "injected fault");
        return httplib::Server::HandlerResponse::Handled;
      }
      case FaultKind::kExpire:
        if (origin != "data") return httplib::Server::HandlerResponse::Unhandled;
        TakeRange(req);
        sv.counters.RecordFault(origin, "expire");
        SendError(res, 403, "", "Request has expired");
        return httplib::Server::HandlerResponse::Handled;
      case FaultKind::kReset:
      case FaultKind::kTruncate:
        res.set_header(kFaultHeader, std::string(FaultKindName(d.kind)));
        return httplib::Server::HandlerResponse::Unhandled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_post_routing_handler([this, origin](const httplib::Request& req,
                                                httplib::Response& res) {
    ApplyHostile(*services_, origin, RouteOf(origin, req), req, res);
    auto it = res.headers.find(kFaultHeader);
    if (it == res.headers.end()) return;
    bool reset = it->second == "reset";
    res.headers.erase(it);
    services_->counters.RecordFault(origin, reset ? "reset" : "truncate");
    CutResponse(res, reset);
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // Errors raised by cpp-httplib itself (bad request line, 413, 416 on an
    // unparsable Range, unknown route): JSON, and no range slicing.
    TakeRange(req);
    if (!res.body.empty() || res.content_provider_) return;
    const char* text = res.status == 400   ? "Bad Request"
                       : res.status == 404 ? "Not Found"
                       : res.status == 413 ? "Payload Too Large"
                       : res.status == 414 ? "URI Too Long"
                       : res.status == 416 ? "Range Not Satisfiable"
                                           : "Request failed";
    SendError(res, res.status, "", text);
  });
  http.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        TakeRange(req);
        res.content_provider_ = nullptr;
        res.content_length_ = 0;
        SendError(res, 500, "", "internal error");
      });
  http.set_logger([this, origin](const httplib::Request& req, const httplib::Response& res) {
    uint64_t bytes = res.body.size();
    if (bytes == 0) bytes = res.content_length_;
    if (req.method == "HEAD") bytes = 0;
    services_->counters.Record(origin, RouteOf(origin, req), bytes, req.body.size(),
                               req.has_header("Authorization"), res.status);
  });
  const char* any = R"([\s\S]*)";
  auto route = [this, origin](const httplib::Request& req, httplib::Response& res) {
    // Handlers that honour Range read the header themselves; nothing may be
    // sliced by cpp-httplib behind their back.
    TakeRange(req);
    if (origin == "hub")
      hub_api_->Handle(req, res);
    else if (origin == "cas")
      cas_api_->Handle(req, res);
    else
      data_api_->Handle(req, res);
  };
  http.Get(any, route);
  http.Post(any, route);
  http.Put(any, route);
  http.Delete(any, route);
  http.Patch(any, route);
  http.Options(any, route);
}

Status Server::Start() {
  Services& s = *services_;
  Configure(*hub_, "hub");
  Configure(*cas_, "cas");
  Configure(*data_, "data");
  auto bind = [&](httplib::Server& http, int want, int* got) -> Status {
    if (want == 0) {
      int p = http.bind_to_any_port(s.opts.host);
      if (p <= 0) return IoError("cannot bind " + s.opts.host);
      *got = p;
    } else {
      if (!http.bind_to_port(s.opts.host, want))
        return IoError("cannot bind " + s.opts.host + ":" + std::to_string(want));
      *got = want;
    }
    return Status::Ok();
  };
  HUBFS_RETURN_IF_ERROR(bind(*hub_, s.opts.port, &s.hub_port));
  HUBFS_RETURN_IF_ERROR(bind(*cas_, s.opts.cas_port, &s.cas_port));
  HUBFS_RETURN_IF_ERROR(bind(*data_, s.opts.data_port, &s.data_port));
  for (httplib::Server* http : {hub_.get(), cas_.get(), data_.get()})
    threads_.emplace_back([http] { http->listen_after_bind(); });
  return Status::Ok();
}

void Server::Wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Server::Stop() {
  for (httplib::Server* http : {hub_.get(), cas_.get(), data_.get()})
    if (http) http->stop();
}

}  // namespace hubfs::hubsim
