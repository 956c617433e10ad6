// SingleFlight: concurrent callers asking for the same key share one
// execution of the work; later callers wait for the first one's result.
// Nothing is remembered after the work finishes (callers keep results in a
// cache of their own). The map lock is never held while the work runs.
#ifndef HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_
#define HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "common/status.h"

namespace hubfs::fs {

template <typename K, typename V>
class SingleFlight {
 public:
  // Runs `work` unless a call with an equal key is in flight, in which case
  // it waits for that call and returns its result. `*shared` tells which.
  // Thread-safe; `work` runs on the calling thread without any lock held.
  Result<V> Do(const K& key, const std::function<Result<V>()>& work, bool* shared) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = calls_.find(key);
      if (it != calls_.end()) {
        call = it->second;
      } else {
        call = std::make_shared<Call>();
        calls_.emplace(key, call);
        leader = true;
      }
    }
    if (shared != nullptr) *shared = !leader;
    if (!leader) {
      std::unique_lock<std::mutex> lock(call->mu);
      call->cv.wait(lock, [&] { return call->result.has_value(); });
      return *call->result;
    }
    Result<V> result = work();
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.erase(key);
    }
    {
      std::lock_guard<std::mutex> lock(call->mu);
      call->result.emplace(result);
    }
    call->cv.notify_all();
    return result;
  }

 private:
  struct Call {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<V>> result;  // GUARDED_BY(mu)
  };
  std::mutex mu_;
  std::map<K, std::shared_ptr<Call>> calls_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_
