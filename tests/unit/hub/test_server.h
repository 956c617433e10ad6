// A tiny blocking HTTP/1.1 server on 127.0.0.1 for hub/ unit tests. It answers
// through a handler and can misbehave on purpose: reset a connection, stall in
// the middle of a body, announce a wrong Content-Length. Header-only because
// the unit-test binary is built from *_test.cc files.
#ifndef HUBFS_TESTS_UNIT_HUB_TEST_SERVER_H_
#define HUBFS_TESTS_UNIT_HUB_TEST_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hubfs::hub::testing {

struct TestRequest {
  std::string method;
  std::string target;  // path + query as sent
  std::string path;    // before '?'
  std::string query;   // after '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connection = 0;  // 1-based id of the connection it arrived on

  // Case-insensitive lookup; nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() != name.size()) continue;
      bool eq = true;
      for (size_t i = 0; i < n.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(n[i])) !=
            std::tolower(static_cast<unsigned char>(name[i]))) {
          eq = false;
        }
      }
      if (eq) return v;
    }
    return std::nullopt;
  }
};

struct TestReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
  // Close the connection at once, without an answer (RST via SO_LINGER 0).
  bool reset = false;
  // Send headers and this many body bytes, then go silent until the client
  // gives up or the server stops.
  std::optional<size_t> stall_after = std::nullopt;
  // Announce this Content-Length instead of body.size(); the connection is
  // closed after the body.
  std::optional<uint64_t> content_length = std::nullopt;
  // No Content-Length at all: the body ends when the connection closes.
  bool close_delimited = false;
  // Sleep before answering (for concurrency tests).
  std::chrono::milliseconds delay{0};
};

class TestServer {
 public:
  using Handler = std::function<TestReply(const TestRequest&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("bind/listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestServer() {
    stop_ = true;
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<TestRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int connections() const { return connections_.load(); }
  int max_concurrent() const { return max_concurrent_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int id = ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      conn_threads_.emplace_back([this, fd, id] { Serve(fd, id); });
    }
  }

  // Reads until `buf` holds at least `want` bytes. False on EOF/stop.
  bool ReadMore(int fd, std::string& buf) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 20);
      if (r < 0) return false;
      if (r == 0) continue;
      char tmp[16384];
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
      return true;
    }
    return false;
  }

  bool WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Serve(int fd, int id) {
    std::string buf;
    while (!stop_) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (buf.size() > (1u << 20) || !ReadMore(fd, buf)) {
          ::close(fd);
          return;
        }
      }
      TestRequest req;
      req.connection = id;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.rfind(' ');
      req.method = request_line.substr(0, sp1);
      req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      size_t content_length = 0;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        pos = e + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers.emplace_back(name, value);
      }
      if (auto cl = req.Header("Content-Length")) content_length = std::stoul(*cl);
      while (buf.size() < content_length) {
        if (!ReadMore(fd, buf)) {
          ::close(fd);
          return;
        }
      }
      req.body = buf.substr(0, content_length);
      buf.erase(0, content_length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      int now = ++concurrent_;
      int prev = max_concurrent_.load();
      while (now > prev && !max_concurrent_.compare_exchange_weak(prev, now)) {
      }
      TestReply reply = handler_(req);
      if (reply.delay.count() > 0) std::this_thread::sleep_for(reply.delay);
      --concurrent_;
      if (reply.reset) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
        return;
      }
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
      bool has_length = false;
      for (const auto& [n, v] : reply.headers) {
        out += n + ": " + v + "\r\n";
        if (n == "Content-Length") has_length = true;
      }
      bool close_after = reply.close_delimited || reply.content_length.has_value() ||
                         reply.stall_after.has_value();
      if (!reply.close_delimited && !has_length) {
        uint64_t announced = reply.content_length.value_or(reply.body.size());
        out += "Content-Length: " + std::to_string(announced) + "\r\n";
      }
      if (close_after) out += "Connection: close\r\n";
      out += "\r\n";
      std::string_view body = reply.body;
      if (req.method == "HEAD") body = {};
      if (reply.stall_after) body = body.substr(0, std::min(body.size(), *reply.stall_after));
      bool ok = WriteAll(fd, out) && WriteAll(fd, body);
      if (ok && reply.stall_after) {
        // Go silent until the client hangs up or the server stops.
        std::string sink;
        while (ReadMore(fd, sink)) sink.clear();
      }
      if (!ok || close_after) {
        ::close(fd);
        return;
      }
    }
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> conn_threads_;  // GUARDED_BY(mu_)
  std::vector<TestRequest> requests_;      // GUARDED_BY(mu_)
};

}  // namespace hubfs::hub::testing

#endif  // HUBFS_TESTS_UNIT_HUB_TEST_SERVER_H_
