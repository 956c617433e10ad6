// The shared tier's engine: memcached through libmemcached. A memcached_st
// is not thread-safe, so each concurrent caller takes a handle (cloned from
// one configured template) from a small pool and gives it back. Keys go to
// the server of their group (libmemcached's *_by_key calls: ketama over the
// group, not the key).
#include <libmemcached/memcached.h>

#include <memory>
#include <string>
#include <vector>

#include "chunkstore/shared_tier.h"
#include "common/mutex.h"

namespace hubfs::chunkstore {
namespace {

// Handles kept for reuse; more callers at once clone more and free them.
constexpr size_t kMaxIdleHandles = 16;

Status McError(memcached_st* m, memcached_return_t rc, const char* op) {
  std::string msg = std::string("memcached ") + op + ": " + memcached_strerror(m, rc);
  return UnavailableError(std::move(msg));
}

class MemcachedBackend final : public TierBackend {
 public:
  explicit MemcachedBackend(memcached_st* tmpl) : template_(tmpl) {}
  ~MemcachedBackend() override {
    MutexLock l(&mu_);
    for (memcached_st* m : idle_) memcached_free(m);
    memcached_free(template_);
  }

  Result<std::map<std::string, std::vector<uint8_t>>> MultiGet(
      const std::string& group, std::span<const std::string> keys) override {
    Handle h(this);
    if (h.m == nullptr) return UnavailableError("memcached: cannot create a handle");
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const std::string& k : keys) {
      ptrs.push_back(k.data());
      lens.push_back(k.size());
    }
    memcached_return_t rc = memcached_mget_by_key(h.m, group.data(), group.size(), ptrs.data(),
                                                  lens.data(), keys.size());
    if (rc != MEMCACHED_SUCCESS) return McError(h.m, rc, "mget");
    std::map<std::string, std::vector<uint8_t>> out;
    for (;;) {
      memcached_result_st* r = memcached_fetch_result(h.m, nullptr, &rc);
      if (r == nullptr) break;
      const char* v = memcached_result_value(r);
      const size_t n = memcached_result_length(r);
      out.emplace(std::string(memcached_result_key_value(r), memcached_result_key_length(r)),
                  std::vector<uint8_t>(v, v + n));
      memcached_result_free(r);
    }
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS) {
      h.broken = true;  // the connection may hold half an answer
      return McError(h.m, rc, "fetch");
    }
    return out;
  }

  Status Set(const std::string& group, const std::string& key, std::span<const uint8_t> value,
             uint32_t ttl_seconds) override {
    Handle h(this);
    if (h.m == nullptr) return UnavailableError("memcached: cannot create a handle");
    memcached_return_t rc = memcached_set_by_key(
        h.m, group.data(), group.size(), key.data(), key.size(),
        reinterpret_cast<const char*>(value.data()), value.size(),
        static_cast<time_t>(ttl_seconds), 0);
    if (rc == MEMCACHED_SUCCESS) return Status::Ok();
    // Too large for the server's item size: not an outage.
    if (rc == MEMCACHED_E2BIG) return Status::Ok();
    h.broken = true;
    return McError(h.m, rc, "set");
  }

  Result<bool> Add(const std::string& group, const std::string& key,
                   std::span<const uint8_t> value, uint32_t ttl_seconds) override {
    Handle h(this);
    if (h.m == nullptr) return UnavailableError("memcached: cannot create a handle");
    memcached_return_t rc = memcached_add_by_key(
        h.m, group.data(), group.size(), key.data(), key.size(),
        reinterpret_cast<const char*>(value.data()), value.size(),
        static_cast<time_t>(ttl_seconds), 0);
    if (rc == MEMCACHED_SUCCESS) return true;
    if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) return false;
    h.broken = true;
    return McError(h.m, rc, "add");
  }

  Status Delete(const std::string& group, const std::string& key) override {
    Handle h(this);
    if (h.m == nullptr) return UnavailableError("memcached: cannot create a handle");
    memcached_return_t rc =
        memcached_delete_by_key(h.m, group.data(), group.size(), key.data(), key.size(), 0);
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND) return Status::Ok();
    h.broken = true;
    return McError(h.m, rc, "delete");
  }

  size_t servers() const override { return memcached_server_count(template_); }
  // The same ketama continuum the handles use (they are clones of the
  // template, which is never changed after setup).
  size_t ServerFor(const std::string& group) const override {
    return memcached_generate_hash(template_, group.data(), group.size());
  }

 private:
  // A pooled handle for one call; a handle that failed is freed, not reused.
  struct Handle {
    explicit Handle(MemcachedBackend* b) : backend(b), m(b->Take()) {}
    ~Handle() { backend->Give(m, broken); }
    MemcachedBackend* backend;
    memcached_st* m;
    bool broken = false;
  };

  memcached_st* Take() {
    MutexLock l(&mu_);
    if (!idle_.empty()) {
      memcached_st* m = idle_.back();
      idle_.pop_back();
      return m;
    }
    return memcached_clone(nullptr, template_);
  }

  void Give(memcached_st* m, bool broken) {
    if (m == nullptr) return;
    MutexLock l(&mu_);
    if (broken || idle_.size() >= kMaxIdleHandles) {
      l.Unlock();
      memcached_free(m);
      return;
    }
    idle_.push_back(m);
  }

  Mutex mu_;
  memcached_st* const template_;  // configured, never used for calls; clones are
  std::vector<memcached_st*> idle_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::unique_ptr<TierBackend>> NewMemcachedBackend(const std::vector<std::string>& servers,
                                                         MemcachedOptions options) {
  memcached_st* m = memcached_create(nullptr);
  if (m == nullptr) return InternalError("memcached_create failed");
  auto fail = [m](const std::string& msg) {
    memcached_free(m);
    return InvalidArgumentError(msg);
  };
  for (const std::string& s : servers) {
    const size_t colon = s.rfind(':');
    const std::string host = s.substr(0, colon);
    const auto port = static_cast<in_port_t>(std::stoul(s.substr(colon + 1)));
    memcached_return_t rc = memcached_server_add(m, host.c_str(), port);
    if (rc != MEMCACHED_SUCCESS) {
      return fail("shared cache server " + s + ": " + memcached_strerror(m, rc));
    }
  }
  const auto ms = static_cast<uint64_t>(options.timeout.count());
  const std::pair<memcached_behavior_t, uint64_t> behaviors[] = {
      // Consistent hashing: adding or losing a server moves only its share.
      {MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA},
      // Non-blocking sockets, so that the connect timeout applies.
      {MEMCACHED_BEHAVIOR_NO_BLOCK, 1},
      {MEMCACHED_BEHAVIOR_TCP_NODELAY, 1},
      {MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms},
      {MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms},
      {MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000},  // microseconds
      {MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000},
  };
  for (const auto& [b, v] : behaviors) {
    memcached_return_t rc = memcached_behavior_set(m, b, v);
    if (rc != MEMCACHED_SUCCESS) {
      return fail(std::string("memcached behavior: ") + memcached_strerror(m, rc));
    }
  }
  return std::unique_ptr<TierBackend>(new MemcachedBackend(m));
}

}  // namespace hubfs::chunkstore
