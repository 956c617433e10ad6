// SingleFlight: concurrent callers asking for the same key share one
// execution of the work; later callers wait for the first one's result.
// Nothing is remembered after the work finishes (callers keep results in a
// cache of their own). The map lock is never held while the work runs.
#ifndef HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_
#define HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "common/mutex.h"
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
      MutexLock lock(&mu_);
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
      MutexLock lock(&call->mu);
      while (!call->result.has_value()) call->cv.Wait(&call->mu);
      return *call->result;
    }
    Result<V> result = work();
    {
      MutexLock lock(&mu_);
      calls_.erase(key);
    }
    {
      MutexLock lock(&call->mu);
      call->result.emplace(result);
    }
    call->cv.NotifyAll();
    return result;
  }

 private:
  struct Call {
    Mutex mu;
    CondVar cv;
    std::optional<Result<V>> result GUARDED_BY(mu);
  };
  Mutex mu_;
  std::map<K, std::shared_ptr<Call>> calls_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_SINGLE_FLIGHT_H_
