// CacheStore: the LMDB side of ChunkCache (internal to chunkstore; LMDB
// itself stays in cache_store.cc). Layout in docs/CACHE_FORMAT.md.
//
// Thread-safety: Read, ScanPage, ReadTotals and the accessors may be called
// from any thread at any time. Apply, Clear and SyncAndUnmark are the
// writer's: one thread at a time. A map resize (writer) waits for this process's readers to
// leave their transactions; readers hold only that shared lock, never across
// a write transaction.
#ifndef HUBFS_CHUNKSTORE_CACHE_STORE_H_
#define HUBFS_CHUNKSTORE_CACHE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache_format.h"
#include "chunkstore/cache_packs.h"
#include "common/file_env.h"
#include "common/status.h"

namespace hubfs::chunkstore::cache_internal {

struct StoreOptions {
  std::string dir;
  uint64_t initial_map_bytes = 0;
  uint64_t max_map_bytes = 0;
  // true: LMDB syncs every commit. false: MDB_NOSYNC, with this process's
  // unsynced-write marker on disk before its first write (see Open); falls
  // back to MDB_NOMETASYNC when the boot id cannot be read.
  bool durable = true;
  // Not durable: whether the destructor flushes the store and removes the
  // markers (CacheOptions::flush_at_close).
  bool flush_at_close = true;
  // The directory, lock and marker files go through this env (LMDB opens
  // its own files). Not owned; outlives the store. nullptr = FileEnv::Default().
  FileEnv* env = nullptr;
};

struct WriteOp {
  enum Type { kPut, kTouch, kDropIfBad };
  Type type = kPut;
  std::string key;
  // kPut: the encoded value (header + payload). Shared with the reader-visible
  // pending map until committed.
  std::shared_ptr<const ValueBuffer> value;
  // kTouch: when the hit happened (Unix seconds; 0 = when applied).
  int64_t when = 0;
  // kPut of a chunk: enter the protected segment at once (the key was evicted
  // from probation recently and is asked for again: a working set, not a scan).
  bool protect = false;
  // kPut: written to its pack through the page cache (PackFiles::Append's
  // keep_pages): a value likely read again soon.
  bool keep_pages = false;

  // A put that enters probation: a new chunk not protected (EvictPolicy).
  bool EntersProbation() const {
    return type == kPut && !protect && cache_format::KeyKind(key) == CacheKind::kChunk;
  }
};

// How Apply keeps the store within its bound: segmented LRU with a
// probationary FIFO (docs/CACHE_FORMAT.md, "Writes, recency, eviction").
// A new chunk enters probation; a hit at least promote_after_seconds after it
// entered moves it to the protected LRU (hits sooner, like the several reads
// of one chunk by one sequential scan, do nothing). Other kinds, re-puts of
// protected entries and WriteOp::protect puts go to the protected LRU. Above
// max_bytes, the oldest probationary entries go first while probation holds
// more than probation_bytes (or nothing is protected), else the least
// recently used protected ones. A new probationary chunk that would have to
// push out a probationary entry younger than probation_hold_seconds is not
// stored at all (refused): a scan larger than the cache is not written to
// disk only to be evicted unread (0 = always admit).
struct EvictPolicy {
  uint64_t max_bytes = 0;
  uint64_t probation_bytes = 0;
  int64_t promote_after_seconds = 0;
  int64_t probation_hold_seconds = 0;
  int64_t now_seconds = 0;  // stamps entries entering probation
};

struct ApplyResult {
  uint64_t puts = 0;
  uint64_t evictions = 0;
  uint64_t dropped = 0;
  uint64_t dropped_bytes = 0;
  uint64_t map_full_retries = 0;
  uint64_t promotions = 0;
  uint64_t refused = 0;  // new chunks not stored (EvictPolicy::probation_hold_seconds)
  uint64_t refused_bytes = 0;
  // Hashes (std::hash of the key) of entries evicted from probation, oldest
  // first: the writer remembers them (ghosts) to protect them when re-put.
  std::vector<uint64_t> evicted_probation;
};

struct StoreTotals {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

// Visits one stored entry: key, stored value (valid only during the call),
// recency tick and charged bytes.
using EntryVisitor = std::function<void(std::string_view key, std::span<const uint8_t> value,
                                        uint64_t tick, uint64_t charged)>;

class CacheStore {
 public:
  // Creates the directory (one level) and the environment, clears stale
  // reader slots, checks the store's format version (wiping an incompatible
  // store). Before LMDB opens the files it wipes the store if an
  // unsynced-write marker of an earlier boot is present (the system
  // restarted while some process's writes may not have reached the disk;
  // docs/CACHE_FORMAT.md, "Durability"). kCorrupt when LMDB cannot read the
  // store file at all; kResourceExhausted for a full disk; kIo for other
  // failures. Everything it creates is private to the user (directories
  // 0700, files 0600); in an existing directory it narrows looser modes left
  // by older versions (logged).
  static Result<std::unique_ptr<CacheStore>> Open(const StoreOptions& options);
  // Deletes the store files in dir (absent ones are fine). Only safe when no
  // process has the store open. env: as in StoreOptions.
  static Status Remove(const std::string& dir, FileEnv* env = nullptr);

  // Flushes this process's writes to disk and removes its marker (and those
  // of dead processes of this boot): SyncAndUnmark, failures logged.
  ~CacheStore();
  CacheStore(const CacheStore&) = delete;
  CacheStore& operator=(const CacheStore&) = delete;

  // Looks `key` up in a short read transaction and calls fn with the stored
  // value (valid only during the call). Returns false when absent. kIo on
  // LMDB failure.
  Result<bool> Read(std::string_view key,
                    const std::function<void(std::span<const uint8_t>)>& fn);
  // Read, with a value of exactly front.size() + back.size() bytes (> 0)
  // read into front || back instead: from a pack with one preadv, `back`
  // filled straight from the file (kSplit; the bytes are unchecked: a pack
  // cut short leaves the rest of them as they were, which VerifyValueParts
  // then refuses). Any other value goes to fn as Read's (kWhole). kMiss
  // when absent. kIo on LMDB or pack failure.
  enum class Parts { kMiss, kSplit, kWhole };
  Result<Parts> ReadParts(std::string_view key, std::span<uint8_t> front,
                          std::span<uint8_t> back,
                          const std::function<void(std::span<const uint8_t>)>& fn);
  // Whether `key` is present, without reading or checking its value. A value
  // in a pack is asked into the page cache in the background (a Read of it
  // is expected soon). kIo on LMDB failure.
  Result<bool> Contains(std::string_view key);

  // Visits up to `page` entries with key >= start, in key order, in one read
  // transaction. Returns the key to continue from, or nullopt at the end.
  Result<std::optional<std::string>> ScanPage(std::string_view start, size_t page,
                                              const EntryVisitor& visit);

  Result<StoreTotals> ReadTotals();

  // Writer only. Applies ops in one write transaction, then evicts (see
  // EvictPolicy) until the total is <= policy.max_bytes, and commits. On
  // MDB_MAP_FULL: grows the map (up to max_map_bytes), else lowers its own
  // limit below max_bytes, evicts, and retries. kResourceExhausted for a
  // full disk or a map that cannot hold the batch; kIo otherwise. On error
  // nothing of the batch is committed.
  Result<ApplyResult> Apply(std::span<const WriteOp> ops, const EvictPolicy& policy);

  // Writer only. Deletes every entry.
  Status Clear();

  // Writer only. When this process has written since its last sync: fsyncs
  // the store file, then removes its marker and the markers of dead
  // processes of this boot. The next write creates a new marker first.
  Status SyncAndUnmark();

  // Whether this process holds a marker (wrote without syncing since).
  bool unsynced() const;

  // The current map size in bytes.
  uint64_t map_bytes() const;

  struct Impl;

 private:
  explicit CacheStore(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<CacheStore>> OpenStore(const StoreOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hubfs::chunkstore::cache_internal

#endif  // HUBFS_CHUNKSTORE_CACHE_STORE_H_
