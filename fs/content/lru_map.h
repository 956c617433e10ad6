// LruMap: a bounded map that forgets its least recently used entry when
// full. Not thread-safe (callers hold their own lock; nothing here blocks).
#ifndef HUBFS_FS_CONTENT_LRU_MAP_H_
#define HUBFS_FS_CONTENT_LRU_MAP_H_

#include <cstddef>
#include <list>
#include <map>
#include <utility>

namespace hubfs::fs {

template <typename K, typename V>
class LruMap {
 public:
  // REQUIRES: capacity > 0.
  explicit LruMap(size_t capacity) : capacity_(capacity) {}

  // The value for `key` (now the most recent), or nullptr. The pointer is
  // valid until the next Put.
  V* Get(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  // Inserts or replaces; evicts the least recently used entry beyond capacity.
  V* Put(const K& key, V value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return &it->second->second;
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return &order_.front().second;
  }

  void Erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  size_t size() const { return order_.size(); }

  // Calls fn(key, value) for every entry, most recent first.
  template <typename F>
  void ForEach(F fn) const {
    for (const Entry& e : order_) fn(e.first, e.second);
  }

 private:
  using Entry = std::pair<K, V>;
  size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::map<K, typename std::list<Entry>::iterator> index_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_LRU_MAP_H_
