#include "hub/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "hub/url.h"

namespace hubfs::hub {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 256u << 10;
constexpr size_t kMaxErrorBodyBytes = 64u << 10;
constexpr long kReceiveBufferBytes = 256L << 10;
constexpr int kMaxRedirectsHardCap = 10;

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// One attempt of one request (a single hop). Lives on the Send() caller's
// stack; the worker thread touches it between start and completion.
struct Transfer {
  const HttpRequest* request = nullptr;
  std::string url;
  bool send_auth = false;
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds stall_timeout{0};

  // Written by the worker while running; read by the caller after `done`.
  HttpResponse response;
  Status failure;       // set when the attempt failed without a response
  Status abort_reason;  // why a callback aborted the transfer
  bool error_body_truncated = false;
  bool stalled = false;
  size_t header_bytes = 0;
  SteadyClock::time_point start;
  SteadyClock::time_point last_progress;
  curl_off_t last_moved = -1;
  curl_slist* header_list = nullptr;
  CURL* easy = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {0};

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // GUARDED_BY(mu)
};

size_t OnHeader(char* data, size_t size, size_t nitems, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t n = size * nitems;
  t->header_bytes += n;
  t->last_progress = SteadyClock::now();
  if (t->header_bytes > kMaxHeaderBytes) {
    t->abort_reason = ResourceExhaustedError("response headers exceed " +
                                             std::to_string(kMaxHeaderBytes) + " bytes");
    return 0;
  }
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 100 Continue, or a redirect hop): start over.
    t->response.headers.Clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;  // blank line or junk
  std::string_view name = Trim(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  t->response.headers.Add(std::string(name), std::string(value));
  return n;
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t n = size * nmemb;
  t->last_progress = SteadyClock::now();
  const HttpRequest& req = *t->request;
  std::string_view piece(data, n);
  long code = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    // Error (or redirect) bodies are only kept for their message.
    size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, t->response.body.size());
    t->response.body.append(piece.substr(0, room));
    t->response.body_bytes += std::min(room, n);
    if (n > room) {
      t->error_body_truncated = true;
      return 0;
    }
    return n;
  }
  if (t->response.body_bytes + n > req.max_body_bytes) {
    t->abort_reason = ResourceExhaustedError("response body exceeds the limit of " +
                                             std::to_string(req.max_body_bytes) + " bytes");
    return 0;
  }
  t->response.body_bytes += n;
  if (req.body_sink) {
    Status st = req.body_sink(piece);
    if (!st.ok()) {
      t->abort_reason = st;
      return 0;
    }
  } else {
    t->response.body.append(piece);
  }
  return n;
}

int OnProgress(void* userp, curl_off_t /*dltotal*/, curl_off_t dlnow, curl_off_t /*ultotal*/,
               curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(userp);
  auto now = SteadyClock::now();
  curl_off_t moved = dlnow + ulnow;
  if (moved != t->last_moved) {
    t->last_moved = moved;
    if (moved > 0) t->last_progress = now;
  }
  // Until the connection is up (TCP and TLS), the connect timeout governs.
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  if (pretransfer == 0) {
    t->last_progress = now;
    return 0;
  }
  if (now - t->last_progress > t->stall_timeout) {
    t->stalled = true;
    return 1;
  }
  return 0;
}

Status StatusForCurlCode(CURLcode code, const Transfer& t) {
  std::string what = t.request->method + " " + UrlForLog(t.url) + ": ";
  std::string detail = curl_easy_strerror(code);
  if (t.errbuf[0] != '\0') detail += " (" + std::string(t.errbuf) + ")";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(ErrorCode::kTimeout, what + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return InvalidArgumentError(what + detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Status(ErrorCode::kFailedPrecondition, what + "TLS verification failed: " + detail);
    case CURLE_FILESIZE_EXCEEDED:
      return ResourceExhaustedError(what + detail);
    default:
      return UnavailableError(what + detail);
  }
}

}  // namespace

Result<std::unique_ptr<CurlGlobal>> CurlGlobal::Init() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return InternalError("curl_global_init failed");
  }
  return std::unique_ptr<CurlGlobal>(new CurlGlobal());
}

CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

struct CurlTransport::Impl {
  CurlTransportOptions options;
  CURLM* multi = nullptr;
  std::thread worker;
  std::mutex join_mu;  // one joiner of `worker`

  std::mutex mu;
  std::deque<Transfer*> pending;  // GUARDED_BY(mu)
  bool stopping = false;          // GUARDED_BY(mu)

  // Worker-thread only.
  std::vector<CURL*> idle_easy;
  size_t running = 0;
  std::vector<Transfer*> active;

  ~Impl() {
    for (CURL* e : idle_easy) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
  }

  // Notifies under the lock: the waiter owns `t` (on its stack) and may
  // destroy it as soon as it sees `done`, so `t` is not touched afterwards.
  static void Complete(Transfer* t) {
    std::lock_guard<std::mutex> lock(t->mu);
    t->done = true;
    t->cv.notify_all();
  }

  // Configures an easy handle for `t` and adds it to the multi handle.
  // Completes `t` with an error when that fails.
  void Start(Transfer* t) {
    CURL* e;
    if (!idle_easy.empty()) {
      e = idle_easy.back();
      idle_easy.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
      if (e == nullptr) {
        t->failure = InternalError("curl_easy_init failed");
        Complete(t);
        return;
      }
    }
    t->easy = e;
    const HttpRequest& req = *t->request;
    curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_bundle.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t->connect_timeout.count()));
    // Backstop for the finer stall check in OnProgress (whole seconds only).
    long stall_s = static_cast<long>((t->stall_timeout.count() + 999) / 1000) + 1;
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall_s);
    if (req.total_timeout) {
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout->count()));
    }
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
    // Bodies in pieces of up to kReceiveBufferBytes (curl's default is 16 KiB):
    // fewer recv calls and sink calls per byte of a data range.
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (req.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      if (req.method == "POST" || !req.body.empty()) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      }
    }
    curl_slist* list = nullptr;
    auto append = [&list](const std::string& line) {
      curl_slist* next = curl_slist_append(list, line.c_str());
      if (next) list = next;
    };
    for (const auto& [name, value] : req.headers.fields()) append(name + ": " + value);
    append("Expect:");  // no 100-continue round trip
    if (!req.ranges.empty()) {
      append("Range: " + RangeHeaderValue(req.ranges));
      append("Accept-Encoding: identity");
    }
    if (t->send_auth) append("Authorization: Bearer " + req.auth->token);
    t->header_list = list;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);

    t->start = SteadyClock::now();
    t->last_progress = t->start;
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      Finish(t, CURLE_FAILED_INIT);
      return;
    }
    ++running;
    active.push_back(t);
  }

  void Finish(Transfer* t, CURLcode code) {
    CURL* e = t->easy;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t->response.status = static_cast<int>(status);
    t->response.url = t->url;
    if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t->error_body_truncated)) {
      // A response, possibly with a clipped error body.
    } else if (!t->abort_reason.ok()) {
      t->failure = t->abort_reason.WithContext(t->request->method + " " + UrlForLog(t->url));
    } else if (t->stalled) {
      t->failure = Status(ErrorCode::kTimeout,
                          t->request->method + " " + UrlForLog(t->url) + ": no data for " +
                              std::to_string(t->stall_timeout.count()) + " ms (stalled)");
    } else {
      t->failure = StatusForCurlCode(code, *t);
    }
    if (t->failure.ok() && t->response.status == 0) {
      t->failure = UnavailableError(t->request->method + " " + UrlForLog(t->url) +
                                    ": no HTTP status received");
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t->start);
    if (t->failure.ok()) {
      HUBFS_LOG(kDebug) << t->request->method << " " << UrlForLog(t->url) << " -> "
                        << t->response.status << ", " << t->response.body_bytes << " B, "
                        << ms.count() << " ms";
    } else {
      HUBFS_LOG(kDebug) << t->failure.message() << " after " << ms.count() << " ms";
    }
    curl_multi_remove_handle(multi, e);
    std::erase(active, t);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(t->header_list);
    t->header_list = nullptr;
    t->easy = nullptr;
    if (idle_easy.size() < options.max_in_flight) {
      idle_easy.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
    Complete(t);
  }

  void Run() {
    std::vector<Transfer*> to_start;
    while (true) {
      to_start.clear();
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) break;
        while (running + to_start.size() < options.max_in_flight && !pending.empty()) {
          to_start.push_back(pending.front());
          pending.pop_front();
        }
      }
      for (Transfer* t : to_start) Start(t);
      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
        CURLcode result = msg->data.result;
        --running;
        Finish(t, result);
      }
      // Short waits while transfers run, so that stall checks run often.
      int wait_ms = running > 0 ? 50 : 1000;
      curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
    // Shutting down: fail everything still queued or running.
    std::deque<Transfer*> rest;
    {
      std::lock_guard<std::mutex> lock(mu);
      rest.swap(pending);
    }
    for (Transfer* t : rest) {
      t->failure = Status(ErrorCode::kCancelled, "transport shut down");
      Complete(t);
    }
    while (!active.empty()) {
      Transfer* t = active.back();
      t->abort_reason = Status(ErrorCode::kCancelled, "transport shut down");
      --running;
      Finish(t, CURLE_ABORTED_BY_CALLBACK);
    }
  }
};

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<CurlTransport>> CurlTransport::Create(CurlTransportOptions options) {
  if (options.max_in_flight == 0) return InvalidArgumentError("max_in_flight must be > 0");
  if (options.connect_timeout.count() <= 0 || options.stall_timeout.count() <= 0) {
    return InvalidArgumentError("timeouts must be positive");
  }
  if (HasCrLf(options.user_agent)) return InvalidArgumentError("bad user agent");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return InternalError("curl_multi_init failed");
  curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(std::max<size_t>(impl->options.max_in_flight, 8)));
  Impl* raw = impl.get();
  impl->worker = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(impl)));
}

CurlTransport::~CurlTransport() { Shutdown(); }

void CurlTransport::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi);
  std::lock_guard<std::mutex> join_lock(impl_->join_mu);
  if (impl_->worker.joinable()) impl_->worker.join();
}

Result<HttpResponse> CurlTransport::Send(const HttpRequest& request) {
  TransferInfo info;
  return SendAndObserve(request, &info);
}

Result<HttpResponse> CurlTransport::SendAndObserve(const HttpRequest& request,
                                                   TransferInfo* info) {
  info->answered = false;
  HUBFS_RETURN_IF_ERROR(ValidateRequest(request));
  std::string url = request.url;
  int hops = std::min(request.max_redirects, kMaxRedirectsHardCap);
  const bool may_follow = request.method == "GET" || request.method == "HEAD";
  for (int hop = 0;; ++hop) {
    HUBFS_ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
    (void)parsed;
    Transfer t;
    t.request = &request;
    t.url = url;
    t.send_auth = request.auth.has_value() && OriginOf(url) == request.auth->origin;
    t.connect_timeout = request.connect_timeout.value_or(impl_->options.connect_timeout);
    t.stall_timeout = request.stall_timeout.value_or(impl_->options.stall_timeout);
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (impl_->stopping) return Status(ErrorCode::kCancelled, "transport shut down");
      impl_->pending.push_back(&t);
    }
    curl_multi_wakeup(impl_->multi);
    {
      std::unique_lock<std::mutex> lock(t.mu);
      t.cv.wait(lock, [&t] { return t.done; });
    }
    if (t.response.status != 0) info->answered = true;
    if (!t.failure.ok()) return t.failure;
    if (hop < hops && may_follow && IsRedirectStatus(t.response.status)) {
      auto location = t.response.headers.Get("Location");
      if (location && !location->empty()) {
        HUBFS_ASSIGN_OR_RETURN(url, ResolveReference(url, *location));
        continue;
      }
    }
    return std::move(t.response);
  }
}

}  // namespace hubfs::hub
