// SharedTier: a second chunk cache shared by many machines (a cluster
// mounting the same repos), on an existing key-value engine (memcached).
// Chunk keys are immutable content addresses, (xorb hash, chunk index), so
// no coherence protocol is needed: a value is either the record or absent.
//
// The tier is never trusted more than the origin: a run served from it is
// the exact byte range the origin would have answered (the records' offsets
// must tile it), and the reader decodes and checks it like an origin answer.
// Each entry also carries a checksum over key and value (docs/CACHE_FORMAT.md,
// "Shared tier"), so damage is refused before that.
//
// The tier never fails a read and never blocks one for long:
//   - every error or timeout (small: 50 ms by default) opens the circuit of
//     the server that gave it: that server's keys are bypassed (misses,
//     write-backs dropped) for a back-off period, then one caller probes it;
//     the other servers go on serving theirs;
//   - write-back runs on one background thread from a bounded queue; a full
//     queue drops entries (counted), a put never waits;
//   - a lease (memcached `add` of a short-lived key) lets one node fetch a
//     missing run from the origin while others wait (bounded) for it.
//
// TierBackend is the engine seam: MemcachedBackend (libmemcached, ketama
// consistent hashing of each xorb's group key over the servers) in
// production, a fake in unit tests.
#ifndef HUBFS_CHUNKSTORE_SHARED_TIER_H_
#define HUBFS_CHUNKSTORE_SHARED_TIER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "common/mutex.h"
#include "common/status.h"

namespace hubfs::chunkstore {

// What the tier needs from a key-value engine. Implementations are
// thread-safe. Every key belongs to a `group` (its xorb): the keys of one
// group live on one server, chosen by the group, so that a run's chunks come
// in one round trip and losing a server costs exactly its groups. Errors
// (any non-OK) mean the server did not answer properly: kUnavailable or
// kTimeout.
class TierBackend {
 public:
  virtual ~TierBackend() = default;
  // The values of those `keys` (all of `group`) that exist.
  virtual Result<std::map<std::string, std::vector<uint8_t>>> MultiGet(
      const std::string& group, std::span<const std::string> keys) = 0;
  virtual Status Set(const std::string& group, const std::string& key,
                     std::span<const uint8_t> value, uint32_t ttl_seconds) = 0;
  // Stores only if absent: true when stored, false when the key existed.
  virtual Result<bool> Add(const std::string& group, const std::string& key,
                           std::span<const uint8_t> value, uint32_t ttl_seconds) = 0;
  virtual Status Delete(const std::string& group, const std::string& key) = 0;
  // How many servers the groups are spread over (at least 1), and which one
  // holds `group` (0 .. servers() - 1): the tier keeps a circuit per server.
  virtual size_t servers() const { return 1; }
  virtual size_t ServerFor(const std::string& /*group*/) const { return 0; }
};

// Key and value format (docs/CACHE_FORMAT.md, "Shared tier").
inline constexpr uint8_t kTierFormatVersion = 1;
inline constexpr size_t kTierHeaderSize = 24;
// The group of every key of `xorb`: "hubfs1:<xorb hash>".
std::string TierGroup(const Hash& xorb);
// "hubfs1:<xorb hash>:<chunk index>"
std::string TierChunkKey(const Hash& xorb, uint32_t index);
// "hubfs1:lease:<xorb hash>:<first chunk>-<end chunk>"
std::string TierLeaseKey(const Hash& xorb, ChunkRange chunks);
// Header (version, record offset in the xorb, record length, checksum of
// key ‖ header ‖ record) ‖ the record as stored in the xorb.
std::vector<uint8_t> EncodeTierValue(const std::string& key, uint64_t record_offset,
                                     std::span<const uint8_t> record);
struct TierRecord {
  uint64_t offset = 0;  // where the record starts in the xorb
  std::vector<uint8_t> record;
};
// Errors: kCorrupt (version, lengths, checksum).
Result<TierRecord> DecodeTierValue(const std::string& key, std::span<const uint8_t> value);

struct SharedTierOptions {
  // After an error: bypass the server for `initial_backoff`, doubling per
  // failed probe up to `max_backoff`. Short at first: a stall of a fraction
  // of a second (a loaded machine, a retransmit) should not send seconds of
  // reads to the origin; a dead server costs one probe per doubling.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  // Write-back queue bounds; beyond them entries are dropped.
  size_t queue_max_entries = 4096;
  uint64_t queue_max_bytes = 64ull << 20;
  // Entries expire after this (0 = never; memcached evicts by LRU anyway).
  uint32_t entry_ttl_seconds = 0;
  // A lease lives this long at most (released once its run is written).
  uint32_t lease_ttl_seconds = 2;
  // A node that lost the lease polls the tier this often, this long.
  std::chrono::milliseconds lease_poll{25};
  std::chrono::milliseconds lease_wait{1000};
  // At close, queued write-backs get this long (a `hubfs cat` exits right
  // after its read; its chunks should still reach the tier).
  std::chrono::milliseconds drain_timeout{2000};
};

struct SharedTierStats {
  uint64_t hits = 0;       // chunks served from the tier
  uint64_t misses = 0;     // chunks asked for and absent
  uint64_t errors = 0;     // engine errors and timeouts (each opens a server's circuit)
  uint64_t corrupt = 0;    // entries refused (checksum, format, or the run failed its checks)
  uint64_t bypassed = 0;   // operations skipped while their server's circuit was open
  uint64_t puts = 0;       // entries written back
  uint64_t dropped = 0;    // entries not written back (queue full, tier down)
  uint64_t lease_waits = 0;  // runs another node was fetching, waited for
  size_t servers = 0;
  size_t servers_down = 0;  // servers whose circuit is open now
  bool down = false;        // servers_down != 0
};

class SharedTier {
 public:
  SharedTier(std::unique_ptr<TierBackend> backend, SharedTierOptions options = {});
  // Gives queued write-backs up to options.drain_timeout, then drops the rest.
  ~SharedTier();
  // Waits until the write-back queue is empty, at most `timeout`. Returns
  // whether it is.
  bool Drain(std::chrono::milliseconds timeout);
  SharedTier(const SharedTier&) = delete;
  SharedTier& operator=(const SharedTier&) = delete;

  // Chunks `chunks` of `xorb` (one multi-get to the xorb's server): index
  // -> record for those present and intact. Never fails: the server's error
  // counts and opens its circuit (then nothing is found). `recheck`
  // (a look again while another node fetches them) counts no misses and no
  // hits unless every chunk is there.
  std::map<uint32_t, TierRecord> Get(const Hash& xorb, ChunkRange chunks, bool recheck = false);

  // Queues records for write-back; never blocks. `records[j]` is chunk
  // chunks.start + j, starting at `offsets[j]` in the xorb. With
  // `release_lease` (this node holds the run's lease), the lease is dropped
  // once they are written.
  void Put(const Hash& xorb, ChunkRange chunks, std::vector<uint64_t> offsets,
           std::vector<std::vector<uint8_t>> records, bool release_lease);

  enum class Lease { kWon, kLost, kUnavailable };
  // Takes the lease on fetching run `chunks` of `xorb` from the origin.
  Lease TryLease(const Hash& xorb, ChunkRange chunks);
  // Drops a lease taken and not followed by Put (the fetch failed).
  void ReleaseLease(const Hash& xorb, ChunkRange chunks);

  // Counts a run whose tier records failed the reader's checks.
  void CountCorrupt(uint64_t n) { corrupt_.fetch_add(n, std::memory_order_relaxed); }
  void CountLeaseWait() { lease_waits_.fetch_add(1, std::memory_order_relaxed); }

  const SharedTierOptions& options() const { return options_; }
  SharedTierStats Stats() const;

 private:
  struct Job {
    std::string group;
    std::vector<std::pair<std::string, std::vector<uint8_t>>> sets;
    std::string release_lease;  // "" = none
    uint64_t bytes = 0;
  };
  // One server's circuit.
  struct Circuit {
    bool down = false;
    bool probing = false;
    std::chrono::steady_clock::time_point retry_at;
    std::chrono::milliseconds backoff{0};
  };
  // Whether a call may go to `server` now (its circuit closed, or this
  // caller is the one probe after the back-off).
  bool Admit(size_t server);
  void Succeeded(size_t server);
  void Failed(size_t server, const Status& st, const char* what);
  void WriterLoop();

  const std::unique_ptr<TierBackend> backend_;
  const SharedTierOptions options_;

  mutable Mutex circuit_mu_;
  std::vector<Circuit> circuits_ GUARDED_BY(circuit_mu_);  // one per server

  Mutex queue_mu_;
  CondVar queue_cv_;
  std::deque<Job> queue_ GUARDED_BY(queue_mu_);
  uint64_t queued_bytes_ GUARDED_BY(queue_mu_) = 0;
  bool stop_ GUARDED_BY(queue_mu_) = false;
  bool writing_ GUARDED_BY(queue_mu_) = false;  // the writer holds a job
  CondVar idle_cv_;
  std::thread writer_;

  std::atomic<uint64_t> hits_{0}, misses_{0}, errors_{0}, corrupt_{0}, bypassed_{0}, puts_{0},
      dropped_{0}, lease_waits_{0};
};

// "memcached://HOST:PORT[,HOST:PORT...]" -> ["HOST:PORT", ...]; '+' may
// stand for ',' (fstab and mount -o split options at commas).
// Errors: kInvalidArgument (scheme, empty list, a server without a valid
// port).
Result<std::vector<std::string>> ParseSharedCacheUrl(std::string_view url);

struct MemcachedOptions {
  std::chrono::milliseconds timeout{50};  // connect, send, receive and poll
};

// libmemcached, ketama consistent hashing of groups over `servers`
// ("HOST:PORT"), text protocol, one pooled handle per concurrent caller.
// Errors: kInvalidArgument (a server libmemcached refuses).
Result<std::unique_ptr<TierBackend>> NewMemcachedBackend(const std::vector<std::string>& servers,
                                                         MemcachedOptions options = {});

// The tier for `url` (see ParseSharedCacheUrl). Connects lazily: a tier
// that is down now is bypassed until it answers.
Result<std::unique_ptr<SharedTier>> OpenSharedTier(std::string_view url,
                                                   SharedTierOptions options = {});

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_SHARED_TIER_H_
