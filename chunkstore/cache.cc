// ChunkCache: the public face (encoding on the caller's thread, reads,
// bounded writer queue, recency batching, maintenance). The LMDB work is in
// cache_store.cc, the value encoding in cache_format.cc.
//
// Lock order: mu_ is the only lock here and is never held across a store
// call (LMDB transactions) or while waiting for a maintenance result.
#include "chunkstore/cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "chunkstore/cache_format.h"
#include "chunkstore/cache_store.h"
#include "common/log.h"

namespace hubfs::chunkstore {

using cache_internal::ApplyResult;
using cache_internal::CacheStore;
using cache_internal::EvictPolicy;
using cache_internal::WriteOp;
namespace fmt = cache_format;

namespace {

// How often the idle writer re-checks the clock for a due recency flush.
constexpr auto kWriterPoll = std::chrono::milliseconds(100);
// Read hits beyond this many touch_batch's are not remembered (recency is
// advisory; the buffer stays bounded).
constexpr size_t kTouchBufferFactor = 4;
// Room in the write queue left free by a check.
struct Reserve {
  uint64_t bytes = 0;
  size_t entries = 0;
};
// Kept by PutIfRoom for the small values that waiting puts bring beside its
// chunks (layouts, terms): those find room instead of waiting behind a queue
// that non-waiting puts keep full.
constexpr Reserve kSmallValueReserve{1ull << 20, 32};
constexpr size_t kScanPage = 512;

// A job for the writer thread that is not a plain write: a maintenance step
// or a Flush barrier. It runs after everything queued before it is committed
// and the buffered recency is flushed.
using Control = std::function<void()>;

// A read hit, with when it happened (Unix seconds): promotion out of
// probation depends on the time since the chunk entered.
struct Hit {
  std::string key;
  int64_t when = 0;
};

// The keys (hashes) of chunks evicted from probation lately, oldest first,
// bounded in count. In memory only: after a restart a working set is
// recognised by a second hit again.
class GhostSet {
 public:
  explicit GhostSet(size_t capacity = 0) : capacity_(capacity) {}
  void Remember(uint64_t h) {
    if (capacity_ == 0) return;
    if (set_.insert(h).second) order_.push_back(h);
    while (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  // True (and forgotten) when the key is remembered.
  bool Forget(std::string_view key) {
    if (set_.empty()) return false;
    return set_.erase(std::hash<std::string_view>{}(key)) > 0;  // order_ drops it lazily
  }

 private:
  size_t capacity_;
  std::deque<uint64_t> order_;
  std::unordered_set<uint64_t> set_;
};

}  // namespace

class ChunkCache::Impl {
 public:
  uint64_t ProbationBytes() const {
    return options_.max_bytes / 100 * std::min<uint32_t>(options_.probation_percent, 100);
  }
  const std::string& dir() const { return options_.dir; }
  uint64_t MaxBytes() const { return options_.max_bytes; }

  Impl(const CacheOptions& options, std::unique_ptr<CacheStore> store)
      : options_(options),
        clock_(options.clock != nullptr ? options.clock : SystemClock::Default()),
        store_(std::move(store)) {
    last_touch_flush_ = clock_->Now();
    last_write_ = last_touch_flush_;
    // Counted in typical chunks (64 KiB), at least 4096 (small caches): a
    // ghost costs ~40 bytes of memory.
    if (options.ghost_percent > 0) {
      ghosts_ = GhostSet(std::max<uint64_t>(
          4096, options.max_bytes / 100 * options.ghost_percent / (64 << 10)));
    }
    writer_ = std::thread([this] { WriterLoop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    space_cv_.notify_all();
    writer_.join();
    if (!first_error_.ok()) {
      HUBFS_LOG(kWarning) << "cache: writes lost: " << first_error_;
    }
  }

  // Looks key up (queued values first, then the store) and, on a hit, calls
  // fn with the verified, decoded payload, valid only during the call.
  // Returns whether it was a hit; a bad entry is a miss and gets dropped.
  Result<bool> Lookup(const std::string& key,
                      const std::function<void(std::span<const uint8_t>)>& fn) {
    HUBFS_ASSIGN_OR_RETURN(const ChunkCache::ChunkRead got, LookupParts(key, {}, {}, fn));
    return got != ChunkCache::ChunkRead::kMiss;
  }

  // Lookup, except that a value whose payload is head.size() + body.size()
  // bytes (> 0), stored as given, is read into head || body instead
  // (kSplit: from a pack, body straight from the file) and fn is not called;
  // any other goes to fn (kVisited).
  Result<ChunkCache::ChunkRead> LookupParts(
      const std::string& key, std::span<uint8_t> head, std::span<uint8_t> body,
      const std::function<void(std::span<const uint8_t>)>& fn) {
    using Read = ChunkCache::ChunkRead;
    using Parts = cache_internal::CacheStore::Parts;
    std::shared_ptr<const cache_internal::ValueBuffer> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(key);
      if (it != pending_.end()) pending = it->second;
    }
    Status bad;
    // A queued value was encoded by this process and has not left its
    // memory: its checksum (a pass over every byte) guards the disk, not it.
    auto deliver = [&](std::span<const uint8_t> v) {
      if (!pending) bad = fmt::VerifyValue(key, v);
      if (!bad.ok()) return;
      if (v[2] == fmt::kCodecNone) {
        fn(v.subspan(fmt::kHeaderSize));  // zero-copy: straight from the map
        return;
      }
      auto decoded = fmt::DecodeVerified(v);
      if (!decoded.ok()) {
        bad = decoded.status();
        return;
      }
      fn(*decoded);
    };
    // The entry's header and the payload's head, when split: this thread's.
    thread_local std::vector<uint8_t> front;
    const bool split = !head.empty() || !body.empty();
    front.resize(split ? fmt::kHeaderSize + head.size() : 0);
    Parts got = Parts::kWhole;
    if (pending) {
      const std::span<const uint8_t> v = pending->bytes();
      if (split && v.size() == front.size() + body.size() && v[2] == fmt::kCodecNone) {
        std::copy(v.begin(), v.begin() + static_cast<ptrdiff_t>(front.size()), front.begin());
        std::copy(v.begin() + static_cast<ptrdiff_t>(front.size()), v.end(), body.begin());
        got = Parts::kSplit;
      } else {
        deliver(v);
      }
    } else {
      HUBFS_ASSIGN_OR_RETURN(got, store_->ReadParts(key, front, body, deliver));
      if (got == Parts::kSplit) {
        bad = fmt::VerifyValueParts(key, front, body);
        if (bad.ok() && front[2] != fmt::kCodecNone) {
          // Compressed, and of the split's size by chance: decoded whole.
          std::vector<uint8_t> whole(front.begin(), front.end());
          whole.insert(whole.end(), body.begin(), body.end());
          deliver(whole);
          got = Parts::kWhole;
        }
      }
    }
    if (got == Parts::kMiss) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return Read::kMiss;
    }
    if (!bad.ok()) {
      HUBFS_LOG(kWarning) << "cache: dropping " << fmt::DescribeKey(key) << ": " << bad;
      corrupt_drops_.fetch_add(1, std::memory_order_relaxed);
      misses_.fetch_add(1, std::memory_order_relaxed);
      if (!pending) Enqueue(WriteOp{WriteOp::kDropIfBad, key, nullptr}, /*wait_for_space=*/false);
      return Read::kMiss;
    }
    if (got == Parts::kSplit) {
      std::copy(front.begin() + fmt::kHeaderSize, front.end(), head.begin());
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    Touch(key, clock_->UnixSeconds());
    return got == Parts::kSplit ? Read::kSplit : Read::kVisited;
  }

  // The value of key while it is in memory, as a hit; nullptr otherwise.
  // `counted`: a hit, with its recency recorded.
  std::shared_ptr<const cache_internal::ValueBuffer> Held(const std::string& key,
                                                          bool counted = true) {
    std::shared_ptr<const cache_internal::ValueBuffer> value;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(key);
      if (it == pending_.end()) return nullptr;
      value = it->second;
    }
    if (counted) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      Touch(key, clock_->UnixSeconds());
    }
    return value;
  }

  // Whether key is queued or stored; nothing is read, checked or touched.
  Result<bool> Contains(const std::string& key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.count(key) != 0) return true;
    }
    return store_->Contains(key);
  }

  Result<std::optional<std::vector<uint8_t>>> Get(const std::string& key) {
    std::optional<std::vector<uint8_t>> out;
    HUBFS_ASSIGN_OR_RETURN(const bool hit, Lookup(key, [&](std::span<const uint8_t> p) {
                             out.emplace(p.begin(), p.end());
                           }));
    if (!hit) out.reset();
    return out;
  }

  void Put(std::string key, CacheKind kind, std::span<const uint8_t> payload, fmt::Codec codec,
           bool keep_pages = false) {
    EncodeAndEnqueue(std::move(key), kind, payload, codec, keep_pages, /*wait_for_space=*/true);
  }

  // Put, if the queue has room for the value now; counted as skipped (and
  // not encoded) otherwise. Room is checked before the encoding and not held
  // meanwhile: concurrent callers may overrun the bound by a value each.
  bool PutIfRoom(std::string key, CacheKind kind, std::span<const uint8_t> payload) {
    const uint64_t size = fmt::kHeaderSize + payload.size();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!HasRoomLocked(size, kSmallValueReserve)) {
        CountSkipped(payload.size());
        return false;
      }
    }
    return EncodeAndEnqueue(std::move(key), kind, payload, fmt::kCodecNone, /*keep_pages=*/false,
                            /*wait_for_space=*/false);
  }

  // Encodes and queues a put; false (logged when the encoding failed) for a
  // value that is not stored: unencodable, or larger than the cache.
  bool EncodeAndEnqueue(std::string key, CacheKind kind, std::span<const uint8_t> payload,
                        fmt::Codec codec, bool keep_pages, bool wait_for_space) {
    auto value = Encode(key, kind, payload, codec);
    if (!value.ok()) {
      HUBFS_LOG(kWarning) << "cache: not storing " << fmt::DescribeKey(key) << ": "
                          << value.status();
      return false;
    }
    if (key.size() + (*value)->size() > options_.max_bytes) return false;  // could never fit
    WriteOp op{WriteOp::kPut, std::move(key), std::move(*value)};
    op.keep_pages = keep_pages;
    Enqueue(std::move(op), wait_for_space);
    return true;
  }

  // The encoded value in memory that a pack write takes as it is
  // (ValueBuffer). An uncompressed one (every chunk) is encoded straight into
  // it: its payload is copied once, here, and not again for the pack.
  static Result<std::shared_ptr<const cache_internal::ValueBuffer>> Encode(
      std::string_view key, CacheKind kind, std::span<const uint8_t> payload, fmt::Codec codec) {
    if (codec == fmt::kCodecNone) {
      // EncodeStoredInto refuses what is over the format's bound.
      auto value = std::make_shared<cache_internal::ValueBuffer>(fmt::kHeaderSize + payload.size());
      HUBFS_RETURN_IF_ERROR(fmt::EncodeStoredInto(key, kind, payload, value->bytes()));
      return std::shared_ptr<const cache_internal::ValueBuffer>(std::move(value));
    }
    HUBFS_ASSIGN_OR_RETURN(std::vector<uint8_t> encoded,
                           fmt::EncodeValue(key, kind, payload, codec));
    auto value = std::make_shared<cache_internal::ValueBuffer>(encoded.size());
    std::copy(encoded.begin(), encoded.end(), value->data());
    return std::shared_ptr<const cache_internal::ValueBuffer>(std::move(value));
  }

  Status Flush() {
    auto done = std::make_shared<std::promise<Status>>();
    auto fut = done->get_future();
    EnqueueControl([this, done] {
      Status st;
      {
        std::lock_guard<std::mutex> lock(mu_);
        st = std::exchange(first_error_, Status::Ok());
      }
      done->set_value(st);
    });
    return fut.get();
  }

  // Runs fn on the writer thread (after everything queued before) and
  // returns its result.
  template <typename T>
  T RunOnWriter(std::function<T()> fn) {
    auto done = std::make_shared<std::promise<T>>();
    auto fut = done->get_future();
    EnqueueControl([fn = std::move(fn), done] { done->set_value(fn()); });
    return fut.get();
  }

  CacheStats Stats() {
    CacheStats s;
    auto totals = store_->ReadTotals();
    if (totals.ok()) {
      s.entries = totals->entries;
      s.bytes = totals->bytes;
    }
    s.hits = hits_.load();
    s.misses = misses_.load();
    s.puts = puts_.load();
    s.evictions = evictions_.load();
    s.promotions = promotions_.load();
    s.refused = refused_.load();
    s.refused_bytes = refused_bytes_.load();
    s.skipped = skipped_.load();
    s.skipped_bytes = skipped_bytes_.load();
    s.corrupt_drops = corrupt_drops_.load();
    s.write_errors = write_errors_.load();
    s.map_full_retries = map_full_retries_.load();
    s.commits = commits_.load();
    s.map_bytes = store_->map_bytes();
    return s;
  }

  CacheStore& store() { return *store_; }
  uint64_t max_bytes() const { return options_.max_bytes; }
  void CountCorrupt(uint64_t n) { corrupt_drops_.fetch_add(n); }

  // The eviction policy for a bound of max_bytes, as of now.
  EvictPolicy Policy(uint64_t max_bytes) const {
    EvictPolicy p;
    p.max_bytes = max_bytes;
    p.probation_bytes = max_bytes / 100 * options_.probation_percent;
    p.promote_after_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(options_.promote_after).count();
    p.probation_hold_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(options_.probation_hold).count();
    p.now_seconds = clock_->UnixSeconds();
    return p;
  }

  // Writer only: records the effects of a committed batch.
  void Account(const ApplyResult& r) {
    for (uint64_t h : r.evicted_probation) ghosts_.Remember(h);
    puts_.fetch_add(r.puts);
    promotions_.fetch_add(r.promotions);
    refused_.fetch_add(r.refused);
    refused_bytes_.fetch_add(r.refused_bytes);
    evictions_.fetch_add(r.evictions);
    map_full_retries_.fetch_add(r.map_full_retries);
    commits_.fetch_add(1);
  }

  void Enqueue(WriteOp op, bool wait_for_space) {
    const uint64_t size = op.value ? op.value->size() : 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (wait_for_space) {
        space_cv_.wait(lock, [&] { return stop_ || HasRoomLocked(size) || MakeRoomLocked(size); });
      }
      if (op.type == WriteOp::kPut) pending_[op.key] = op.value;
      queue_bytes_ += size;
      queue_.emplace_back(std::move(op));
    }
    work_cv_.notify_one();
  }

 private:
  using Task = std::variant<WriteOp, Control>;

  // Whether a value of `size` bytes may be queued now with `reserve` left
  // free (an empty queue takes any one value). REQUIRES: mu_.
  bool HasRoomLocked(uint64_t size, Reserve reserve = {}) const {
    return queue_.empty() ||
           (queue_.size() + reserve.entries < options_.queue_max_entries &&
            queue_bytes_ + size + reserve.bytes <= options_.queue_max_bytes);
  }

  // A chunk of `payload_bytes` not cached because the disk lagged
  // (CacheStats::skipped).
  void CountSkipped(uint64_t payload_bytes) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    skipped_bytes_.fetch_add(payload_bytes, std::memory_order_relaxed);
  }

  // Makes room for a value of `size` bytes by leaving unwritten the oldest
  // queued chunks a reader has read through (ChunkCache::ReadThrough): a
  // stream that runs ahead of the disk then goes on at the network's pace,
  // and what the disk could not take is not cached (counted as skipped).
  // Once it has to, it frees half the queue (as far as such chunks go):
  // the chunks left out then come in long runs between runs of several
  // batches written, so a later read of what is missing refetches few
  // cached chunks (a plan fetches a segment's chunks from its first missing
  // one to its last). Making room for one value at a time alternated runs
  // of about one batch each. Returns HasRoomLocked(size). REQUIRES: mu_.
  bool MakeRoomLocked(uint64_t size) {
    if (!queue_has_read_through_) return false;
    const Reserve half{options_.queue_max_bytes / 2, options_.queue_max_entries / 2};
    auto it = queue_.begin();
    for (; it != queue_.end() && !HasRoomLocked(size, half);) {
      const WriteOp* op = std::get_if<WriteOp>(&*it);
      if (op == nullptr || op->type != WriteOp::kPut || !op->value ||
          !op->value->read_through()) {
        ++it;
        continue;
      }
      const uint64_t n = op->value->size();
      queue_bytes_ -= std::min(queue_bytes_, n);
      CountSkipped(n - std::min<uint64_t>(n, fmt::kHeaderSize));
      auto p = pending_.find(op->key);
      if (p != pending_.end() && p->second == op->value) pending_.erase(p);
      it = queue_.erase(it);
    }
    // Searched to the end: none is left until a reader reads one through.
    if (it == queue_.end()) queue_has_read_through_ = false;
    return HasRoomLocked(size);
  }

 public:
  // Readers were handed `bytes` more of value's chunk of `chunk_bytes`
  // (ChunkCache::ReadThrough).
  void ReadThrough(const cache_internal::ValueBuffer& value, uint64_t bytes,
                   uint64_t chunk_bytes) {
    if (!value.Deliver(bytes, chunk_bytes)) return;
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake = !queue_has_read_through_;
      queue_has_read_through_ = true;
    }
    // A put waiting for room may find it now.
    if (wake) space_cv_.notify_all();
  }

 private:
  void EnqueueControl(Control c) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(std::move(c));
    }
    work_cv_.notify_one();
  }

  void Touch(const std::string& key, int64_t when) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (touches_.size() >= options_.touch_batch * kTouchBufferFactor) return;
      touches_.push_back(Hit{key, when});
      wake = touches_.size() == options_.touch_batch;
    }
    if (wake) work_cv_.notify_one();
  }

  bool TouchesDueLocked() const {
    if (touches_.empty()) return false;
    return touches_.size() >= options_.touch_batch ||
           clock_->Now() - last_touch_flush_ >= options_.touch_flush_interval;
  }

  // An idle writer with unsynced writes flushes them and drops its marker.
  bool IdleSyncDueLocked() const {
    return store_->unsynced() && clock_->Now() - last_write_ >= options_.sync_when_idle_after;
  }

  void WriterLoop() {
    for (;;) {
      std::vector<WriteOp> ops;
      std::optional<Control> control;
      std::vector<Hit> touches;
      bool idle_sync = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        while (!stop_ && queue_.empty() && !TouchesDueLocked() && !IdleSyncDueLocked()) {
          work_cv_.wait_for(lock, kWriterPoll);
        }
        uint64_t batch_bytes = 0;
        while (!queue_.empty() && ops.size() < options_.max_batch_entries &&
               batch_bytes < options_.max_batch_bytes &&
               std::holds_alternative<WriteOp>(queue_.front())) {
          ops.push_back(std::get<WriteOp>(std::move(queue_.front())));
          queue_.pop_front();
          if (ops.back().value) batch_bytes += ops.back().value->size();
        }
        if (ops.empty() && !queue_.empty()) {
          control = std::get<Control>(std::move(queue_.front()));
          queue_.pop_front();
        }
        // Recency rides along with any batch; a control step flushes it first.
        if (!ops.empty() || control || TouchesDueLocked() || stop_) touches.swap(touches_);
        if (stop_ && queue_.empty() && ops.empty() && !control && touches.empty()) return;
        idle_sync = ops.empty() && !control && touches.empty() && IdleSyncDueLocked();
      }
      if (!ops.empty() || !touches.empty()) Commit(std::move(ops), touches);
      if (control) {
        {
          // Maintenance may write. Stamped before it runs, so that a Flush
          // barrier's caller, once returned, sees the stamp in place.
          std::lock_guard<std::mutex> lock(mu_);
          last_write_ = clock_->Now();
        }
        (*control)();
      }
      if (idle_sync) {
        // The store's own close does the same for the last writes.
        const Status st = store_->SyncAndUnmark();
        if (!st.ok()) {
          HUBFS_LOG(kWarning) << "cache: idle flush failed: " << st;
        }
        std::lock_guard<std::mutex> lock(mu_);
        last_write_ = clock_->Now();  // after a failure, retry one interval later
      }
    }
  }

  void Commit(std::vector<WriteOp> writes, const std::vector<Hit>& touches) {
    // Recency first (those hits mostly happened before these puts, and a
    // new entry should count as the most recent), later touches of a key
    // winning; then the writes in queue order.
    std::unordered_set<std::string_view> seen;
    std::vector<const Hit*> order;
    for (auto it = touches.rbegin(); it != touches.rend(); ++it) {
      if (seen.insert(it->key).second) order.push_back(&*it);
    }
    std::vector<WriteOp> ops;
    ops.reserve(order.size() + writes.size());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      ops.push_back(WriteOp{WriteOp::kTouch, (*it)->key, nullptr, (*it)->when});
    }
    const size_t n_writes = writes.size();
    for (auto& w : writes) {
      // A chunk evicted from probation and fetched again: a working set.
      if (w.type == WriteOp::kPut && ghosts_.Forget(w.key)) w.protect = true;
      ops.push_back(std::move(w));
    }
    auto res = store_->Apply(ops, Policy(options_.max_bytes));
    if (res.ok()) {
      Account(*res);
    } else {
      write_errors_.fetch_add(1);
      HUBFS_LOG(kWarning) << "cache: write batch of " << n_writes << " lost: " << res.status();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!res.ok() && first_error_.ok()) first_error_ = res.status();
      last_touch_flush_ = clock_->Now();
      last_write_ = last_touch_flush_;
      for (size_t i = ops.size() - n_writes; i < ops.size(); ++i) {
        const WriteOp& op = ops[i];
        if (!op.value) continue;
        queue_bytes_ -= std::min<uint64_t>(queue_bytes_, op.value->size());
        auto it = pending_.find(op.key);
        if (it == pending_.end() || it->second != op.value) continue;
        const bool chunk = fmt::KeyKind(op.key) == CacheKind::kChunk;
        if (res.ok() && chunk && op.value->size() <= options_.recent_max_bytes) {
          // Kept for reads right after the put (RetireRecent drops the oldest).
          recent_.emplace_back(op.key, op.value);
          recent_bytes_ += op.value->size();
        } else {
          pending_.erase(it);
        }
      }
      // The values still queued are in memory for reads too: together
      // with them, at most recent_max_bytes.
      RetireRecent(options_.recent_max_bytes -
                   std::min(options_.recent_max_bytes, queue_bytes_));
    }
    space_cv_.notify_all();
  }

  // Drops the oldest recently written values from memory until they hold at
  // most `keep` bytes. REQUIRES: mu_.
  void RetireRecent(uint64_t keep) {
    while (recent_bytes_ > keep && !recent_.empty()) {
      auto& [key, value] = recent_.front();
      auto it = pending_.find(key);
      // Unless queued again meanwhile (then the newer value stays).
      if (it != pending_.end() && it->second == value) pending_.erase(it);
      recent_bytes_ -= std::min<uint64_t>(recent_bytes_, value->size());
      recent_.pop_front();
    }
  }

 public:
  // Forgets the recently written values (the store was cleared).
  void ForgetRecent() {
    std::lock_guard<std::mutex> lock(mu_);
    RetireRecent(0);
  }

 private:

  const CacheOptions options_;
  Clock* const clock_;
  const std::unique_ptr<CacheStore> store_;

  std::mutex mu_;
  std::condition_variable work_cv_;   // writer waits for work
  std::condition_variable space_cv_;  // Put waits for queue space
  std::deque<Task> queue_;            // GUARDED_BY(mu_)
  uint64_t queue_bytes_ = 0;          // GUARDED_BY(mu_)
  // A value was read through since MakeRoomLocked last found none queued
  // (so a full queue need not be searched on every wake).
  bool queue_has_read_through_ = false;  // GUARDED_BY(mu_)
  // Encoded values queued but not yet committed, so reads see them.
  std::unordered_map<std::string, std::shared_ptr<const cache_internal::ValueBuffer>>
      pending_;                            // GUARDED_BY(mu_)
  // Committed chunk values kept in pending_ for reads right after their
  // put, oldest first (CacheOptions::recent_max_bytes).
  std::deque<std::pair<std::string, std::shared_ptr<const cache_internal::ValueBuffer>>>
      recent_;                             // GUARDED_BY(mu_)
  uint64_t recent_bytes_ = 0;              // GUARDED_BY(mu_)
  std::vector<Hit> touches_;               // GUARDED_BY(mu_), read hits in order
  Clock::TimePoint last_touch_flush_;      // GUARDED_BY(mu_)
  Clock::TimePoint last_write_;            // GUARDED_BY(mu_), last commit or maintenance step
  Status first_error_;                     // GUARDED_BY(mu_)
  bool stop_ = false;                      // GUARDED_BY(mu_)

  std::atomic<uint64_t> hits_{0}, misses_{0}, puts_{0}, evictions_{0}, corrupt_drops_{0},
      write_errors_{0}, map_full_retries_{0}, commits_{0}, promotions_{0},
      refused_{0}, refused_bytes_{0}, skipped_{0}, skipped_bytes_{0};
  GhostSet ghosts_;  // writer thread only

  std::thread writer_;  // last: started after everything above exists
};

// ---------------------------------------------------------------------------

Result<std::unique_ptr<ChunkCache>> ChunkCache::Open(const CacheOptions& options) {
  if (options.max_bytes == 0) return InvalidArgumentError("cache max_bytes is 0");
  if (options.probation_percent > 100 || options.ghost_percent > 100) {
    return InvalidArgumentError("cache probation_percent and ghost_percent are at most 100");
  }
  if (options.queue_max_entries == 0 || options.max_batch_entries == 0 ||
      options.max_batch_bytes == 0 || options.touch_batch == 0) {
    return InvalidArgumentError("cache queue and batch bounds must be positive");
  }
  cache_internal::StoreOptions so;
  so.dir = options.dir;
  so.durable = options.durable;
  so.flush_at_close = options.flush_at_close;
  so.env = options.env;
  constexpr uint64_t kSlack = 64ull << 20;
  so.max_map_bytes = options.max_map_bytes != 0 ? options.max_map_bytes
                                                : options.max_bytes * 4 + kSlack;
  so.initial_map_bytes = options.initial_map_bytes != 0 ? options.initial_map_bytes
                                                        : options.max_bytes * 2 + kSlack;
  so.initial_map_bytes = std::min(so.initial_map_bytes, so.max_map_bytes);
  HUBFS_ASSIGN_OR_RETURN(auto store, CacheStore::Open(so));
  HUBFS_ASSIGN_OR_RETURN(const auto totals, store->ReadTotals());
  auto cache =
      std::unique_ptr<ChunkCache>(new ChunkCache(std::make_unique<Impl>(options, std::move(store))));
  // Opened with a smaller limit than the cache holds: shrink now, not at the
  // first write.
  if (totals.bytes > options.max_bytes) {
    HUBFS_RETURN_IF_ERROR(cache->Prune(options.max_bytes).status().WithContext("open cache"));
  }
  return cache;
}

Status ChunkCache::Destroy(const std::string& dir) { return CacheStore::Remove(dir); }

ChunkCache::ChunkCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChunkCache::~ChunkCache() = default;

Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetChunk(const Hash& xorb,
                                                                 uint32_t index) {
  return impl_->Get(fmt::ChunkKey(xorb, index));
}
Result<bool> ChunkCache::VisitChunk(const Hash& xorb, uint32_t index,
                                    const std::function<void(std::span<const uint8_t>)>& fn) {
  return impl_->Lookup(fmt::ChunkKey(xorb, index), fn);
}
Result<ChunkCache::ChunkRead> ChunkCache::ReadChunkInto(
    const Hash& xorb, uint32_t index, std::span<uint8_t> head, std::span<uint8_t> out,
    const std::function<void(std::span<const uint8_t>)>& fn) {
  return impl_->LookupParts(fmt::ChunkKey(xorb, index), head, out, fn);
}
Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetXorbLayout(const Hash& xorb) {
  return impl_->Get(fmt::XorbLayoutKey(xorb));
}
Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetTerms(const Hash& file_hash) {
  return impl_->Get(fmt::TermsKey(file_hash));
}
Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetListing(std::string_view commit,
                                                                   std::string_view dir) {
  return impl_->Get(fmt::ListingKey(commit, dir));
}
Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetSmallFile(std::string_view git_oid) {
  return impl_->Get(fmt::SmallFileKey(git_oid));
}

std::optional<ChunkCache::HeldRecord> ChunkCache::HoldChunk(const Hash& xorb, uint32_t index,
                                                            bool counted) {
  std::shared_ptr<const cache_internal::ValueBuffer> value =
      impl_->Held(fmt::ChunkKey(xorb, index), counted);
  // Chunks are put uncompressed (PutChunk): the record follows the header.
  if (value == nullptr || value->size() < fmt::kHeaderSize ||
      value->data()[2] != fmt::kCodecNone) {
    return std::nullopt;
  }
  const std::span<const uint8_t> record = value->bytes().subspan(fmt::kHeaderSize);
  return HeldRecord{std::move(value), record};
}

void ChunkCache::ReadThrough(const HeldRecord& held, uint64_t bytes, uint64_t chunk_bytes) {
  // HoldChunk's owner is the value's buffer.
  if (held.owner != nullptr) {
    impl_->ReadThrough(*std::static_pointer_cast<const cache_internal::ValueBuffer>(held.owner),
                       bytes, chunk_bytes);
  }
}

Result<bool> ChunkCache::HasChunk(const Hash& xorb, uint32_t index) {
  return impl_->Contains(fmt::ChunkKey(xorb, index));
}

// Chunks stay as fetched (already LZ4 or incompressible); layouts and terms
// are small binary tables, kept as given; listings and small files are zstd.
void ChunkCache::PutChunk(const Hash& xorb, uint32_t index, std::span<const uint8_t> record,
                          bool keep_pages) {
  impl_->Put(fmt::ChunkKey(xorb, index), CacheKind::kChunk, record, fmt::kCodecNone, keep_pages);
}
bool ChunkCache::PutChunkIfRoom(const Hash& xorb, uint32_t index,
                                std::span<const uint8_t> record) {
  return impl_->PutIfRoom(fmt::ChunkKey(xorb, index), CacheKind::kChunk, record);
}
void ChunkCache::PutXorbLayout(const Hash& xorb, std::vector<uint8_t> layout) {
  impl_->Put(fmt::XorbLayoutKey(xorb), CacheKind::kXorbLayout, layout, fmt::kCodecNone);
}
void ChunkCache::PutTerms(const Hash& file_hash, std::vector<uint8_t> terms) {
  impl_->Put(fmt::TermsKey(file_hash), CacheKind::kTerms, terms, fmt::kCodecZstd);
}
void ChunkCache::PutListing(std::string_view commit, std::string_view dir,
                            std::vector<uint8_t> listing) {
  impl_->Put(fmt::ListingKey(commit, dir), CacheKind::kListing, listing, fmt::kCodecZstd);
}
Result<std::optional<ChunkPlace>> ChunkCache::GetChunkLocation(const Hash& chunk_hash) {
  HUBFS_ASSIGN_OR_RETURN(auto bytes, impl_->Get(fmt::ChunkLocationKey(chunk_hash)));
  if (!bytes || bytes->size() != 44) return std::optional<ChunkPlace>();
  ChunkPlace place;
  place.xorb = Hash::FromRaw(std::span<const uint8_t, 32>(bytes->data(), 32));
  const uint8_t* p = bytes->data() + 32;
  place.index = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                (uint32_t{p[3]} << 24);
  for (int i = 0; i < 8; ++i) place.scope |= uint64_t{p[4 + i]} << (8 * i);
  return std::optional<ChunkPlace>(place);
}

void ChunkCache::PutChunkLocation(const Hash& chunk_hash, const ChunkPlace& place) {
  std::vector<uint8_t> v(place.xorb.bytes.begin(), place.xorb.bytes.end());
  for (int s = 0; s < 32; s += 8) v.push_back(static_cast<uint8_t>(place.index >> s));
  for (int s = 0; s < 64; s += 8) v.push_back(static_cast<uint8_t>(place.scope >> s));
  impl_->Put(fmt::ChunkLocationKey(chunk_hash), CacheKind::kChunkLocation, v, fmt::kCodecNone);
}

Result<std::optional<std::vector<uint8_t>>> ChunkCache::GetChunkList(const Hash& file_hash) {
  return impl_->Get(fmt::ChunkListKey(file_hash));
}

void ChunkCache::PutChunkList(const Hash& file_hash, std::vector<uint8_t> chunk_list) {
  // Chunk hashes do not compress.
  impl_->Put(fmt::ChunkListKey(file_hash), CacheKind::kChunkList, chunk_list, fmt::kCodecNone);
}

void ChunkCache::PutSmallFile(std::string_view git_oid, std::vector<uint8_t> bytes) {
  impl_->Put(fmt::SmallFileKey(git_oid), CacheKind::kSmallFile, bytes, fmt::kCodecZstd);
}

Status ChunkCache::Flush() { return impl_->Flush(); }

CacheStats ChunkCache::Stats() { return impl_->Stats(); }

uint64_t ChunkCache::ProbationBytes() const { return impl_->ProbationBytes(); }

uint64_t ChunkCache::MaxBytes() const { return impl_->MaxBytes(); }

const std::string& ChunkCache::dir() const { return impl_->dir(); }

Result<std::vector<CacheEntryInfo>> ChunkCache::List(std::optional<CacheKind> kind,
                                                      size_t limit) {
  std::vector<CacheEntryInfo> out;
  std::string start = kind ? std::string(1, static_cast<char>(*kind)) : std::string();
  bool done = false;
  while (!done && out.size() < limit) {
    HUBFS_ASSIGN_OR_RETURN(
        auto next,
        impl_->store().ScanPage(start, kScanPage,
                                [&](std::string_view key, std::span<const uint8_t>,
                                    uint64_t tick, uint64_t charged) {
                                  const auto k = fmt::KeyKind(key);
                                  if (done || out.size() >= limit || (kind && k != kind)) {
                                    done = true;
                                    return;
                                  }
                                  out.push_back(CacheEntryInfo{k.value_or(CacheKind::kChunk),
                                                               fmt::DescribeKey(key), charged,
                                                               tick});
                                }));
    if (!next) break;
    start = std::move(*next);
  }
  return out;
}

Result<std::vector<CacheKindUsage>> ChunkCache::Usage() {
  std::vector<CacheKindUsage> out;
  for (auto k : {CacheKind::kChunk, CacheKind::kXorbLayout, CacheKind::kTerms,
                 CacheKind::kListing, CacheKind::kSmallFile, CacheKind::kChunkLocation,
                 CacheKind::kChunkList}) {
    out.push_back(CacheKindUsage{k, 0, 0});
  }
  std::string start;
  for (;;) {
    HUBFS_ASSIGN_OR_RETURN(
        auto next, impl_->store().ScanPage(start, kScanPage,
                                           [&](std::string_view key, std::span<const uint8_t>,
                                               uint64_t, uint64_t charged) {
                                             const auto k = fmt::KeyKind(key);
                                             if (!k) return;
                                             auto& u = out[static_cast<size_t>(*k) - 1];
                                             ++u.entries;
                                             u.bytes += charged;
                                           }));
    if (!next) break;
    start = std::move(*next);
  }
  return out;
}

Result<uint64_t> ChunkCache::Prune(uint64_t target_bytes) {
  return impl_->RunOnWriter<Result<uint64_t>>([this, target_bytes]() -> Result<uint64_t> {
    HUBFS_ASSIGN_OR_RETURN(ApplyResult r, impl_->store().Apply({}, impl_->Policy(target_bytes)));
    impl_->Account(r);
    return r.evictions;
  });
}

Status ChunkCache::Clear() {
  impl_->ForgetRecent();
  return impl_->RunOnWriter<Status>([this] { return impl_->store().Clear(); });
}

Result<CacheVerifyReport> ChunkCache::Verify() {
  CacheVerifyReport report;
  std::vector<std::string> bad;
  std::string start;
  for (;;) {
    HUBFS_ASSIGN_OR_RETURN(
        auto next, impl_->store().ScanPage(
                       start, kScanPage,
                       [&](std::string_view key, std::span<const uint8_t> value, uint64_t,
                           uint64_t charged) {
                         ++report.checked;
                         Status st = fmt::VerifyValue(key, value);
                         if (st.ok() && value.size() >= fmt::kHeaderSize &&
                             value[2] == fmt::kCodecZstd) {
                           st = fmt::DecodeValue(key, value).status();
                         }
                         if (!st.ok()) {
                           HUBFS_LOG(kWarning) << "cache verify: " << fmt::DescribeKey(key)
                                               << ": " << st;
                           bad.emplace_back(key);
                           ++report.corrupt;
                           report.corrupt_bytes += charged;
                         }
                       }));
    if (!next) break;
    start = std::move(*next);
  }
  impl_->CountCorrupt(report.corrupt);
  for (auto& key : bad) {
    impl_->Enqueue(WriteOp{WriteOp::kDropIfBad, std::move(key), nullptr}, true);
  }
  HUBFS_RETURN_IF_ERROR(Flush());
  return report;
}

}  // namespace hubfs::chunkstore
