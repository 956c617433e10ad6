// PackFiles: where the cache store keeps large values (chunks) out of the
// LMDB map (internal to chunkstore; docs/CACHE_FORMAT.md, "Pack files").
//
// Writing chunk data through LMDB copied every byte into the page cache a
// second time (the mount's pages hold the same bytes) and cost a third of a
// cold read's CPU in the kernel's copy. Pack files are append-only files
// `<dir>/packs/<16 hex>.pack` written with O_DIRECT straight from the
// values' own aligned memory (ValueBuffer: no page-cache copy and no copy
// into a write buffer; plain buffered writes where the file system refuses
// O_DIRECT, e.g. tmpfs); LMDB keeps a small pointer per value. Each
// value starts on a 4 KiB boundary, so an evicted value's whole range can be
// given back with a punched hole.
//
// Each process appends only to its own current pack, which it holds with an
// exclusive flock (created under the dir lock, so a sweep never takes a pack
// between its creation and its lock). A pack no process holds and no entry
// uses is deleted (Sweep).
//
// Thread-safety: Read may be called from any thread; Append, Commit, Punch,
// Sync, Release and Sweep are the store's writer's (one thread at a time).
#ifndef HUBFS_CHUNKSTORE_CACHE_PACKS_H_
#define HUBFS_CHUNKSTORE_CACHE_PACKS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace hubfs::chunkstore::cache_internal {

// Values at least this long go to a pack; smaller ones stay in LMDB.
inline constexpr size_t kPackMinValue = 16 * 1024;
// Values start on multiples of this (O_DIRECT alignment, hole granularity).
inline constexpr uint64_t kPackAlign = 4096;
// A process starts a new pack once its current one passes this size.
inline constexpr uint64_t kPackMaxBytes = 1ull << 30;

inline uint64_t PackSpan(uint64_t len) { return (len + kPackAlign - 1) / kPackAlign * kPackAlign; }

// An encoded value (docs/CACHE_FORMAT.md: header || payload) in memory. One
// of at least kPackMinValue bytes starts on a kPackAlign boundary and is
// followed by zeros up to PackSpan(size()): a pack write (O_DIRECT: whole
// aligned blocks from aligned memory) takes it as it is, without a copy.
class ValueBuffer {
 public:
  // `size` bytes, not initialised (the padding is zeroed). Throws
  // std::bad_alloc as a vector would.
  explicit ValueBuffer(size_t size);
  ~ValueBuffer();
  ValueBuffer(const ValueBuffer&) = delete;
  ValueBuffer& operator=(const ValueBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }
  std::span<uint8_t> bytes() { return {data_, size_}; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  // REQUIRES: size() >= kPackMinValue. The bytes and their zero padding.
  std::span<const uint8_t> padded() const { return {data_, PackSpan(size_)}; }
  // Readers were handed `n` more bytes of the chunk this value holds, of
  // `whole` (ChunkCache::ReadThrough). Returns true once, when the bytes
  // handed over reach `whole` (the value is then read through: while
  // queued, it may be left unwritten to make room).
  bool Deliver(uint64_t n, uint64_t whole) const {
    const uint64_t after = delivered_.fetch_add(n, std::memory_order_relaxed) + n;
    if (after < whole || after - n >= whole) return false;
    read_through_.store(true, std::memory_order_relaxed);
    return true;
  }
  bool read_through() const { return read_through_.load(std::memory_order_relaxed); }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  mutable std::atomic<uint64_t> delivered_{0};
  mutable std::atomic<bool> read_through_{false};
};

struct PackLocation {
  uint64_t pack = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};

class PackFiles {
 public:
  // `dir`: the cache directory (packs live in dir/packs, created 0700).
  // `lock_dir`: takes the cache dir's lock (open.lock) for as long as the
  // returned guard lives; pack creation and the sweep run under it.
  using DirLock = std::function<Result<std::shared_ptr<void>>()>;
  PackFiles(std::string dir, DirLock lock_dir);
  ~PackFiles();
  PackFiles(const PackFiles&) = delete;
  PackFiles& operator=(const PackFiles&) = delete;

  // Writer only. Writes `values` (each at least kPackMinValue bytes) one
  // after another, each with its padding (so each starts on a kPackAlign
  // boundary), at the end of this process's current pack, starting a new one
  // when there is none or it is full, and returns where each went. The data
  // is on the file (O_DIRECT: on the device) when it returns; nothing points
  // at it until the caller commits its pointers. A failed call leaves the
  // pack's end where it was, so a retry overwrites the same range.
  // `keep_pages` (empty, or one per value; non-zero: keep): that value is
  // written through the page cache instead, so that a read soon after finds
  // it in memory.
  // kResourceExhausted for a full disk, kIo otherwise.
  Result<std::vector<PackLocation>> Append(std::span<const ValueBuffer* const> values,
                                           std::span<const uint8_t> keep_pages = {});
  // Writer only. Marks the last Append's bytes as kept (its pointers were
  // committed): the next Append goes after them.
  void Commit();

  // Reads `loc` into out (resized; shorter when the pack was cut short).
  // kNotFound when the pack is gone; kIo.
  Status Read(const PackLocation& loc, std::vector<uint8_t>* out);
  // Reads `loc` into front || back (one preadv: `back` is filled straight
  // from the file). Returns the bytes read, fewer than front.size() +
  // back.size() when the pack was cut short. kNotFound; kIo.
  Result<size_t> ReadParts(const PackLocation& loc, std::span<uint8_t> front,
                           std::span<uint8_t> back);
  // Asks the kernel to read `loc` into the page cache in the background
  // (POSIX_FADV_WILLNEED), so that a Read soon after finds it there. Best
  // effort: a pack that cannot be opened is ignored.
  void WillNeed(const PackLocation& loc);

  // Writer only. Gives deleted values' ranges back to the file system
  // (holes, neighbouring ranges merged; ignored where holes are not
  // supported).
  void Punch(std::vector<PackLocation> locs);

  // Writer only. fdatasync of every pack written since the last Sync.
  Status Sync();
  // Writer only. fdatasync of every pack in dir/packs: those of processes
  // that ended without a flush too (their unsynced-write markers are about
  // to be removed). Returns how many packs it asked for.
  Result<size_t> SyncAll();

  // Writer only. Deletes the packs in dir/packs that no process holds and
  // for which `live(id)` is false (no entry uses them). Returns how many.
  size_t Sweep(const std::function<bool(uint64_t)>& live);

  // Writer only. Drops this process's hold on its current pack (the next
  // Append starts a new one); its id, or 0 when there was none.
  uint64_t Release();

  // The pack this process appends to (0: none yet).
  uint64_t current() const;

  // Deletes every pack file under dir (Remove of a store no one has open).
  static Status RemoveAll(const std::string& dir);

 private:
  struct Open;
  Result<std::shared_ptr<Open>> OpenForRead(uint64_t id);
  Status StartPack();
  // The ids of the packs in dir/packs (none when it cannot be listed).
  std::vector<uint64_t> PackIds() const;

  const std::string dir_;
  const DirLock lock_dir_;
  // The current pack (writer only).
  int cur_fd_ = -1;
  int cur_buffered_fd_ = -1;  // the same pack without O_DIRECT (keep_pages), opened when needed
  bool cur_direct_ = false;   // cur_fd_ has O_DIRECT
  uint64_t cur_id_ = 0;
  uint64_t cur_end_ = 0;      // committed end
  uint64_t pending_end_ = 0;  // end after the last Append, before Commit
  std::set<uint64_t> unsynced_;  // packs written since the last Sync (writer only)
  // Descriptors for reading, by pack id (bounded).
  Mutex read_mu_;
  std::map<uint64_t, std::shared_ptr<Open>> readers_ GUARDED_BY(read_mu_);
};

}  // namespace hubfs::chunkstore::cache_internal

#endif  // HUBFS_CHUNKSTORE_CACHE_PACKS_H_
