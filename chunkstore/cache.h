// ChunkCache: the local persistent cache of Xet chunks and read-path metadata
// (design §4, docs/CACHE_FORMAT.md).
//
// One directory holds one LMDB environment. Several processes on one machine
// may open the same directory at once; the cache survives restarts and a
// `kill -9` at any moment (LMDB commits are atomic; a killed writer leaves
// nothing half-visible). A not-durable cache is emptied at the next open
// after a system crash or restart that may have lost unsynced writes
// (CacheOptions::durable). Within one process, open a directory at most once
// (LMDB's POSIX locks are per process) and share the ChunkCache.
//
// What is stored, keyed by content so identical data is shared across files,
// revisions and repos:
//   chunk        (xorb hash, chunk index) -> the chunk record as fetched
//   xorb layout  xorb hash                -> what reads learned about the xorb
//   terms        file hash                -> reconstruction terms (caller's encoding)
//   listing      (commit, dir)            -> a tree listing (zstd-compressed)
//   small file   git oid                  -> file bytes (zstd-compressed)
//   dedup        chunk hash               -> (xorb hash, chunk index) where the
//                                            CAS holds it (learned from uploads)
// Every value carries a format version and a checksum verified on every read;
// a bad entry is never served: it is reported as a miss and deleted.
//
// Writes are asynchronous: Put* encodes on the calling thread and hands the
// entry to one writer thread through a bounded queue (Put* blocks while the
// queue is full). Reads use short LMDB read transactions, never wait for the
// writer, and also see entries still waiting in the queue. Read hits update
// recency in memory; the writer records it in batches. When the stored total
// passes max_bytes the writer evicts in the same transaction (probationary
// chunks first, see CacheOptions::probation_percent), so the committed total
// never exceeds max_bytes.
//
// Thread-safety: all methods are thread-safe. A ChunkCache must not be used
// in a child after fork(); a child opens its own.
#ifndef HUBFS_CHUNKSTORE_CACHE_H_
#define HUBFS_CHUNKSTORE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/hash.h"
#include "common/clock.h"
#include "common/file_env.h"
#include "common/status.h"

namespace hubfs::chunkstore {

enum class CacheKind : uint8_t {
  kChunk = 1,
  kXorbLayout = 2,
  kTerms = 3,
  kListing = 4,
  kSmallFile = 5,
  kChunkLocation = 6,
  kChunkList = 7,
};
// "chunk", "xorb", "terms", "listing", "file", "dedup", "chunklist"
std::string_view CacheKindName(CacheKind kind);

// A chunk's place on the CAS: chunk `index` of xorb `xorb`.
// `scope` names the CAS (the caller's choice, e.g. a hash of its URL), so
// that a place learned from one CAS is never offered for another.
struct ChunkPlace {
  Hash xorb;
  uint32_t index = 0;
  uint64_t scope = 0;
};

struct CacheOptions {
  std::string dir;  // created if missing (one level)
  // Bound on the stored bytes (keys + values with headers). 0 is invalid.
  uint64_t max_bytes = 10ull << 30;
  // Scan resistance (docs/CACHE_FORMAT.md, "Writes, recency, eviction"): a
  // new chunk enters a probationary FIFO and moves to the protected LRU only
  // when hit again at least promote_after later (by `clock`'s Unix time), so
  // one sequential pass over more than the cache evicts its own chunks
  // first, not the working set. Probation keeps its oldest entries only
  // while it holds more than this percentage of max_bytes (or nothing is
  // protected).
  uint32_t probation_percent = 25;
  Clock::Duration promote_after = std::chrono::seconds(10);
  // A new chunk that could only be stored by pushing out a probationary
  // chunk younger than this is not stored (counted in CacheStats::refused):
  // a scan larger than the cache writes about what fits and then reads
  // through, rather than writing everything to evict it unread. Past the
  // hold, new chunks push out the oldest again, so the cache follows a
  // changing workload at (probation bytes / hold) at least. 0 = always admit.
  Clock::Duration probation_hold = std::chrono::seconds(60);
  // Keys evicted from probation that are remembered, so that a chunk fetched
  // again soon after enters the protected LRU at once (a working set larger
  // than probation, read twice). Counted in charged bytes of the evicted
  // entries: this percentage of max_bytes. 0 = none.
  uint32_t ghost_percent = 50;
  // LMDB map size bounds. 0 = derived from max_bytes (initial 2x + 64 MiB,
  // maximum 4x + 64 MiB). The map grows on MDB_MAP_FULL up to the maximum;
  // past it, the writer evicts more and retries.
  uint64_t initial_map_bytes = 0;
  uint64_t max_map_bytes = 0;
  // Writer queue bounds; Put* blocks while either is reached. The entry
  // bound is for small values: chunk values (about 64 KiB) reach the byte
  // bound first (a bound of 256 entries held 16 MiB of chunks, and the
  // read-ahead threads that put them waited for the writer).
  size_t queue_max_entries = 1024;
  uint64_t queue_max_bytes = 64ull << 20;
  // Chunk values written lately stay in memory after their commit, up to
  // this many bytes together with the values still queued (oldest dropped
  // first; the queue may hold more on its own), so that reads right after a
  // put (a demand read of what read-ahead just fetched) do not read the
  // store back. 0 = none (a value leaves memory at its commit).
  uint64_t recent_max_bytes = 0;
  // Recency of read hits is recorded at least this often (by `clock`), or
  // when touch_batch hits have accumulated, or on Flush().
  Clock::Duration touch_flush_interval = std::chrono::seconds(5);
  size_t touch_batch = 4096;
  // Puts per LMDB write transaction at most (and their bytes; a single
  // larger entry still goes alone).
  size_t max_batch_entries = 128;
  uint64_t max_batch_bytes = 16ull << 20;
  // true: fsync data and metadata on each commit (durable across power
  // loss). false (right for a cache): no fsync per commit. Before its first
  // write the process puts a marker in <dir>/unsynced; it flushes the store
  // and removes the marker when idle (below) and at close. An open that
  // finds a marker of an earlier boot (a system crash or restart while some
  // process had unsynced writes) wipes the cache before reading it. Where
  // the boot id cannot be read: MDB_NOMETASYNC (consistent after a system
  // crash, the last commit may be lost). kill -9 safety holds either way.
  // docs/CACHE_FORMAT.md, "Durability".
  bool durable = true;
  // Not durable: once the writer has committed nothing for this long (by
  // `clock`), it flushes the store to disk and removes its marker, so a
  // system crash while the process is idle does not wipe the cache.
  Clock::Duration sync_when_idle_after = std::chrono::seconds(10);
  // Not durable: false skips the flush at close. The writes are left to the
  // kernel's writeback, and this process's marker stays (unlocked) in
  // <dir>/unsynced: the next process that flushes removes it, and an open
  // after a restart that came first wipes the cache, as after any crash.
  // For one-shot commands (`hubfs cat`), whose user would otherwise wait for
  // the fdatasync of everything they fetched (1.8 s of a cold 1 GiB cat that
  // took 4.7 s on a virtual disk).
  bool flush_at_close = true;
  // Not owned; must outlive the cache. nullptr = SystemClock::Default().
  Clock* clock = nullptr;
  // The cache's own file work (its directory, lock and marker files; LMDB
  // opens the store files itself) goes through this env. Not owned; must
  // outlive the cache. nullptr = FileEnv::Default().
  FileEnv* env = nullptr;
};

struct CacheStats {
  // Whole cache (all processes), as of the last committed transaction.
  uint64_t entries = 0;
  uint64_t bytes = 0;
  // This process since Open.
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t puts = 0;           // entries committed
  uint64_t evictions = 0;      // entries evicted by this process's writer
  uint64_t promotions = 0;     // chunks moved from probation to protected
  uint64_t refused = 0;        // new chunks not stored (CacheOptions::probation_hold)
  uint64_t refused_bytes = 0;
  // Chunks not cached because the disk lagged: not queued for lack of room
  // (PutChunkIfRoom), or left unwritten once read through (ReadThrough).
  uint64_t skipped = 0;
  uint64_t skipped_bytes = 0;
  uint64_t corrupt_drops = 0;  // bad entries detected on read or verify
  uint64_t write_errors = 0;   // write transactions that failed (entries lost)
  uint64_t map_full_retries = 0;
  uint64_t commits = 0;        // write transactions committed by this process
  uint64_t map_bytes = 0;      // current LMDB map size
};

struct CacheEntryInfo {
  CacheKind kind;
  std::string description;  // e.g. "chunk <xorb>/<index>", "listing <commit> <dir>"
  uint64_t bytes = 0;       // charged size (key + stored value)
  uint64_t last_use = 0;    // logical recency tick (larger = more recent)
};

struct CacheKindUsage {
  CacheKind kind;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

struct CacheVerifyReport {
  uint64_t checked = 0;
  uint64_t corrupt = 0;  // found bad and deleted
  uint64_t corrupt_bytes = 0;
};

class ChunkCache {
 public:
  // Opens (creating if needed) the cache in options.dir: clears stale reader
  // slots left by dead processes, checks the format version (an older or
  // unknown format is wiped: it is only a cache), starts the writer thread.
  // The cache is private to the user: its directory is 0700 and its files
  // 0600; an existing cache with looser modes is narrowed to those (logged),
  // since it holds the contents of private repos.
  // Errors: kInvalidArgument (bad options), kCorrupt (the store file is not
  // a readable LMDB environment: see Destroy), kResourceExhausted (a full
  // disk), kIo (directory or LMDB failure).
  static Result<std::unique_ptr<ChunkCache>> Open(const CacheOptions& options);

  // Deletes the cache files in dir, for a store that Open reports kCorrupt
  // (`hubfs cache clear --force`). REQUIRES: no process has it open (LMDB
  // cannot tell; removing a store in use loses it for that process).
  static Status Destroy(const std::string& dir);

  // Flushes pending writes (errors are logged) and stops the writer.
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // Lookups. nullopt = miss (also for an entry that failed its checksum: it
  // is dropped and counted in corrupt_drops, so the caller refetches).
  // Errors only for a failing LMDB (kIo). The returned bytes are the caller's.
  // Never waits for the writer (only, rarely, for this process's map resize).
  Result<std::optional<std::vector<uint8_t>>> GetChunk(const Hash& xorb, uint32_t index);
  // Zero-copy form of GetChunk: on a hit calls fn once with the verified
  // record (one still in the write queue is this process's own encoding and
  // is not checked again), which may point into the memory map and is valid
  // only during the call (decode it straight into the caller's buffer). fn runs inside a
  // read transaction: keep it short and do not call back into the cache.
  // Returns true on a hit, false on a miss (a corrupt entry is a miss).
  Result<bool> VisitChunk(const Hash& xorb, uint32_t index,
                          const std::function<void(std::span<const uint8_t>)>& fn);
  // VisitChunk, except that a record of head.size() + out.size() bytes (> 0)
  // stored as given is read into head || out instead, verified, with no copy
  // in between (kSplit; fn is not called); any other record goes to fn as
  // VisitChunk's (kVisited). One lookup either way. kMiss (a corrupt entry
  // too) as VisitChunk's.
  enum class ChunkRead { kMiss, kSplit, kVisited };
  Result<ChunkRead> ReadChunkInto(const Hash& xorb, uint32_t index, std::span<uint8_t> head,
                                  std::span<uint8_t> out,
                                  const std::function<void(std::span<const uint8_t>)>& fn);
  // A chunk's record while it is in this process's memory (in the write
  // queue, or kept after its write: CacheOptions::recent_max_bytes), held by
  // `owner` for as long as the caller keeps it: a read can be answered from
  // it without a copy. A hit, as VisitChunk's. nullopt when not in memory
  // (VisitChunk then reads it from the store). `counted` false: no hit is
  // counted nor recency recorded (a chunk whose bytes a read already got
  // another way, held only to tell ReadThrough).
  struct HeldRecord {
    std::shared_ptr<const void> owner;
    std::span<const uint8_t> record;
  };
  std::optional<HeldRecord> HoldChunk(const Hash& xorb, uint32_t index, bool counted = true);
  // A reader that keeps what it is given (the page cache) was handed
  // `bytes` of a chunk of `chunk_bytes` held by HoldChunk. Once the bytes
  // handed over add up to the chunk (read through: a sequential reader is
  // past it; bytes handed over twice count twice), a put that finds the
  // write queue full may leave the chunk unwritten to make room instead of
  // waiting for the disk (not cached; counted in Stats().skipped). Chunks
  // not read through are always written.
  void ReadThrough(const HeldRecord& held, uint64_t bytes, uint64_t chunk_bytes);
  // Whether the chunk is cached, without reading or checking it (a later
  // VisitChunk may still find it bad: a miss then); a chunk in a pack file
  // is asked into the page cache in the background for that read. Not a
  // hit for the eviction policy.
  Result<bool> HasChunk(const Hash& xorb, uint32_t index);
  Result<std::optional<std::vector<uint8_t>>> GetXorbLayout(const Hash& xorb);
  Result<std::optional<std::vector<uint8_t>>> GetTerms(const Hash& file_hash);
  Result<std::optional<std::vector<uint8_t>>> GetListing(std::string_view commit,
                                                          std::string_view dir);
  Result<std::optional<std::vector<uint8_t>>> GetSmallFile(std::string_view git_oid);
  // Where the CAS stores a chunk, as an earlier upload from this machine
  // learned it (the upload engine's local dedup index).
  Result<std::optional<ChunkPlace>> GetChunkLocation(const Hash& chunk_hash);
  // A file's chunk list (chunkstore/file_digest.h, encoded), as this machine
  // computed it when it hashed the file.
  Result<std::optional<std::vector<uint8_t>>> GetChunkList(const Hash& file_hash);

  // Inserts (or replaces) an entry; takes ownership of the bytes. Returns
  // once queued; blocks while the writer queue is full and holds no chunk
  // read through (ReadThrough; the oldest such are left unwritten first). A value that cannot
  // be stored (larger than max_bytes or the format's bound) is ignored.
  // Failures of the later commit surface in Flush() and Stats().write_errors.
  // PutChunk encodes straight from `record` (a chunk record inside a fetched
  // body, say): the bytes are copied once, into the queued value.
  // `keep_pages`: written to disk through the page cache, for a value
  // likely read again soon (an upload's chunks: an edit of the file reads
  // them back at its commit); other values skip it (docs/CACHE_FORMAT.md).
  void PutChunk(const Hash& xorb, uint32_t index, std::span<const uint8_t> record,
                bool keep_pages = false);
  // PutChunk for a caller that must not wait for the disk: the chunk is
  // queued only if the writer queue has room for it now, beside a reserve
  // kept for the small values that waiting puts bring (a file's layouts and
  // terms); otherwise it is not cached (counted in Stats().skipped) and
  // nothing is encoded. Returns whether it was queued (also false, not
  // counted, for a value PutChunk would ignore).
  bool PutChunkIfRoom(const Hash& xorb, uint32_t index, std::span<const uint8_t> record);
  void PutXorbLayout(const Hash& xorb, std::vector<uint8_t> layout);
  void PutTerms(const Hash& file_hash, std::vector<uint8_t> terms);
  void PutListing(std::string_view commit, std::string_view dir, std::vector<uint8_t> listing);
  void PutSmallFile(std::string_view git_oid, std::vector<uint8_t> bytes);
  void PutChunkLocation(const Hash& chunk_hash, const ChunkPlace& place);
  void PutChunkList(const Hash& file_hash, std::vector<uint8_t> chunk_list);

  // Waits until everything queued before the call (and the recency of hits so
  // far) is committed. Returns the first write error since the previous
  // Flush (e.g. kResourceExhausted for a full disk), else OK.
  Status Flush();

  CacheStats Stats();

  // The probationary share of max_bytes (CacheOptions::probation_percent):
  // what one pass of new chunks may fill before it evicts its own oldest.
  uint64_t ProbationBytes() const;
  // CacheOptions::max_bytes.
  uint64_t MaxBytes() const;
  // The cache's directory (CacheOptions::dir).
  const std::string& dir() const;

  // Maintenance (`hubfs cache ...`). Each runs its writes on the writer
  // thread and returns when they are committed.
  // Up to `limit` entries of one kind (or of all kinds), in key order (a
  // xorb's chunks together). Read-only; pages through short read
  // transactions, so a concurrent writer may add or remove entries meanwhile.
  Result<std::vector<CacheEntryInfo>> List(std::optional<CacheKind> kind, size_t limit);
  Result<std::vector<CacheKindUsage>> Usage();
  // Evicts least-recently-used entries until at most target_bytes remain.
  // Returns the number evicted.
  Result<uint64_t> Prune(uint64_t target_bytes);
  // Deletes every entry.
  Status Clear();
  // Reads every entry, checks it, deletes the bad ones.
  Result<CacheVerifyReport> Verify();

  class Impl;

 private:
  explicit ChunkCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_CACHE_H_
