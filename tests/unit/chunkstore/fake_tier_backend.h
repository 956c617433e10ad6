// An in-memory TierBackend for unit tests: a map, with switches to fail
// every call (a dead engine) or the calls of one server (groups spread over
// `servers` by a hash), to hold writes (a slow one) and to damage a stored
// value.
#ifndef HUBFS_TESTS_UNIT_CHUNKSTORE_FAKE_TIER_BACKEND_H_
#define HUBFS_TESTS_UNIT_CHUNKSTORE_FAKE_TIER_BACKEND_H_

#include <condition_variable>
#include <functional>
#include <set>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "chunkstore/shared_tier.h"

namespace hubfs::chunkstore::testing {

class FakeTierBackend final : public TierBackend {
 public:
  // Shared by the tier (which owns a Handle) and the test.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::vector<uint8_t>> data;
    bool fail = false;
    size_t servers = 1;
    std::set<size_t> failing;  // servers that fail every call
    bool hold_sets = false;
    int calls = 0;  // every call that reached the engine
    int sets = 0;
    std::vector<std::string> added;  // keys of every Add that stored
  };
  explicit FakeTierBackend(State* s) : s_(s) {}

  size_t servers() const override { return s_->servers; }
  size_t ServerFor(const std::string& group) const override {
    return std::hash<std::string>{}(group) % s_->servers;
  }

  Result<std::map<std::string, std::vector<uint8_t>>> MultiGet(
      const std::string& group, std::span<const std::string> keys) override {
    std::lock_guard<std::mutex> l(s_->mu);
    ++s_->calls;
    if (s_->fail || Fails(group)) return UnavailableError("fake tier down");
    std::map<std::string, std::vector<uint8_t>> out;
    for (const std::string& k : keys) {
      auto it = s_->data.find(k);
      if (it != s_->data.end()) out.emplace(k, it->second);
    }
    return out;
  }
  Status Set(const std::string& group, const std::string& key, std::span<const uint8_t> value,
             uint32_t) override {
    std::unique_lock<std::mutex> l(s_->mu);
    s_->cv.wait(l, [&] { return !s_->hold_sets; });
    ++s_->calls;
    if (s_->fail || Fails(group)) return UnavailableError("fake tier down");
    ++s_->sets;
    s_->data[key].assign(value.begin(), value.end());
    return Status::Ok();
  }
  Result<bool> Add(const std::string& group, const std::string& key,
                   std::span<const uint8_t> value, uint32_t) override {
    std::lock_guard<std::mutex> l(s_->mu);
    ++s_->calls;
    if (s_->fail || Fails(group)) return UnavailableError("fake tier down");
    const bool stored =
        s_->data.emplace(key, std::vector<uint8_t>(value.begin(), value.end())).second;
    if (stored) s_->added.push_back(key);
    return stored;
  }
  Status Delete(const std::string& group, const std::string& key) override {
    std::lock_guard<std::mutex> l(s_->mu);
    ++s_->calls;
    if (s_->fail || Fails(group)) return UnavailableError("fake tier down");
    s_->data.erase(key);
    return Status::Ok();
  }

 private:
  bool Fails(const std::string& group) const {
    return s_->failing.count(ServerFor(group)) != 0;
  }
  State* const s_;
};

}  // namespace hubfs::chunkstore::testing

#endif  // HUBFS_TESTS_UNIT_CHUNKSTORE_FAKE_TIER_BACKEND_H_
