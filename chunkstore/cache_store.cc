#include "chunkstore/cache_store.h"

#include <lmdb.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <utility>

#include "chunkstore/cache_format.h"
#include "chunkstore/cache_packs.h"
#include "common/file_env.h"
#include "common/little_endian.h"
#include "common/log.h"

namespace hubfs::chunkstore::cache_internal {
namespace {

// Version of the database layout (the set of sub-databases and their
// encodings). A store with another version is wiped at open.
// 2: entry values of format 2 (CRC-32C lanes; see cache_format.h).
// 3: values of kPackMinValue bytes or more live in pack files; `data` holds
//    a pointer to them, `packs` the live bytes of each pack.
constexpr uint32_t kStoreVersion = 3;

constexpr char kMetaVersion[] = "version";
constexpr char kMetaBytes[] = "bytes";
constexpr char kMetaCount[] = "count";
constexpr char kMetaTick[] = "tick";
// Charged bytes of the probationary entries (a subset of kMetaBytes).
constexpr char kMetaProbationBytes[] = "pbytes";

constexpr int kMaxMapFullRetries = 8;

// Unsynced-write markers (docs/CACHE_FORMAT.md, "Durability"): with
// MDB_NOSYNC a system crash may leave a meta page on disk that points at data
// pages that never got there, and LMDB cannot detect that (it may even crash
// reading such a store). So a process writes unsynced only while its marker
// <dir>/unsynced/<boot id>.<pid>.<nonce> exists on disk, and an open that
// finds a marker of another boot wipes the store before LMDB sees it.
constexpr char kBootIdPath[] = "/proc/sys/kernel/random/boot_id";
constexpr char kMarkerDir[] = "/unsynced";
constexpr char kDirLock[] = "/open.lock";

// LMDB's two files in the cache directory (it creates them with the mode
// Open passes: kPrivateFileMode).
constexpr const char* kStoreFiles[] = {"/data.mdb", "/lock.mdb"};

// An open file whose destruction closes it and so drops its flock.
using FilePtr = std::unique_ptr<File>;

// A `data` value that points into a pack file (docs/CACHE_FORMAT.md):
//   0 u8 0xFF (never a format version) | 1 u8 1 | 2 u16 0 | 4 u32 length
//   8 u64 pack id | 16 u64 offset | 24 the value's 24-byte header
// all little-endian. The header copy lets an identical re-put be recognised
// without reading the pack.
constexpr uint8_t kPointerTag = 0xFF;
constexpr size_t kPointerSize = 24 + cache_format::kHeaderSize;

std::vector<uint8_t> EncodePointer(const PackLocation& loc, std::span<const uint8_t> value) {
  std::vector<uint8_t> p(kPointerSize, 0);
  p[0] = kPointerTag;
  p[1] = 1;
  StoreLe32(p.data() + 4, loc.length);
  StoreLe64(p.data() + 8, loc.pack);
  StoreLe64(p.data() + 16, loc.offset);
  std::memcpy(p.data() + 24, value.data(), cache_format::kHeaderSize);
  return p;
}

std::optional<PackLocation> DecodePointer(std::span<const uint8_t> v) {
  if (v.size() != kPointerSize || v[0] != kPointerTag || v[1] != 1) return std::nullopt;
  PackLocation loc;
  loc.length = LoadLe32(v.data() + 4);
  loc.pack = LoadLe64(v.data() + 8);
  loc.offset = LoadLe64(v.data() + 16);
  return loc;
}

// The stored value's header: the value's first bytes, or a pointer's copy.
std::span<const uint8_t> StoredHeader(std::span<const uint8_t> v) {
  if (DecodePointer(v)) return v.subspan(24, cache_format::kHeaderSize);
  return v.subspan(0, std::min(v.size(), cache_format::kHeaderSize));
}

std::string PackKey(uint64_t id) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(id >> (56 - 8 * i));
  return k;
}

// This boot's id, or "" when it cannot be read (then the store keeps
// MDB_NOMETASYNC and uses no markers).
std::string ReadBootId(FileEnv* env) {
  auto file = env->Open(kBootIdPath, OpenMode::kRead);
  if (!file.ok()) return "";
  uint8_t buf[64];
  const auto n = (*file)->Read(buf);
  if (!n.ok() || *n == 0) return "";
  std::string id(reinterpret_cast<const char*>(buf), *n);
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
  if (id.empty() || id.size() > 48) return "";
  for (char c : id) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return "";
  }
  return id;
}

// Takes the exclusive flock on <dir>/open.lock, which serialises the reboot
// check and wipe at open, marker creation and marker removal across
// processes (flock, unlike LMDB's POSIX locks, also excludes another
// descriptor of the same process, so it is never held across a call that
// takes it again).
Result<FilePtr> LockDir(FileEnv* env, const std::string& dir) {
  HUBFS_ASSIGN_OR_RETURN(FilePtr file, env->Open(dir + kDirLock, OpenMode::kReadWrite));
  HUBFS_RETURN_IF_ERROR(file->Lock());
  return file;
}

// Names of the markers in dir (none when the folder does not exist).
Result<std::vector<std::string>> ListMarkers(FileEnv* env, const std::string& dir) {
  auto all = env->ListDir(dir + kMarkerDir);
  if (!all.ok()) {
    if (all.status().code() == ErrorCode::kNotFound) return std::vector<std::string>();
    return all.status();
  }
  std::vector<std::string> names;
  for (auto& name : *all) {
    // <boot id>.<pid>.<nonce>; anything else is not ours.
    const size_t dot = name.find('.');
    if (dot == 0 || dot == std::string::npos) continue;
    names.push_back(std::move(name));
  }
  return names;
}

std::string_view MarkerBoot(std::string_view name) { return name.substr(0, name.find('.')); }

// REQUIRES: the dir lock. When a marker of another boot exists, the system
// restarted while some process had writes that may not have reached the
// disk: deletes the store files, then those markers.
Status WipeIfRebooted(FileEnv* env, const std::string& dir, const std::string& boot_id) {
  HUBFS_ASSIGN_OR_RETURN(const auto names, ListMarkers(env, dir));
  std::vector<std::string> foreign;
  for (const auto& name : names) {
    if (MarkerBoot(name) != boot_id) foreign.push_back(name);
  }
  if (foreign.empty()) return Status::Ok();
  HUBFS_LOG(kWarning) << "cache: " << dir << " may have lost unsynced writes in a system restart ("
                      << foreign.size() << " marker(s) of an earlier boot, e.g. " << foreign[0]
                      << "); clearing it";
  HUBFS_RETURN_IF_ERROR(CacheStore::Remove(dir, env));
  // The store's removal reaches the disk before the markers' does, so a
  // crash in between only repeats the wipe.
  HUBFS_RETURN_IF_ERROR(env->SyncDir(dir));
  for (const auto& name : foreign) {
    const Status st = env->Remove(dir + kMarkerDir + "/" + name);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) return st;
  }
  return env->SyncDir(dir + kMarkerDir);
}

// The cache's errors from local files are kIo, or kResourceExhausted for a
// full disk (as from LMDB): a missing parent or an existing path is an I/O
// failure to the cache's callers, not a "not found".
Status AsCacheError(Status st) {
  if (st.ok() || st.code() == ErrorCode::kIo || st.code() == ErrorCode::kResourceExhausted ||
      st.code() == ErrorCode::kCorrupt || st.code() == ErrorCode::kInvalidArgument) {
    return st;
  }
  return IoError(st.message());
}

// Caches made by older versions were readable by every local user (0755
// directories, 0644 files): narrows what is there to 0700 / 0600. A path
// that cannot be changed (another user's cache) is logged and left as is.
void MakePrivate(FileEnv* env, const std::string& dir) {
  auto restrict = [&](const std::string& path, uint32_t mode) {
    const auto old = env->RestrictMode(path, mode);
    if (old.ok() && old->has_value()) {
      char modes[32];
      std::snprintf(modes, sizeof(modes), "%04o to %04o", **old, **old & mode);
      HUBFS_LOG(kWarning) << "cache: " << path << " was open to other users; mode changed from "
                          << modes;
    } else if (!old.ok() && old.status().code() != ErrorCode::kNotFound) {
      HUBFS_LOG(kWarning) << "cache: cannot make " << path << " private: " << old.status();
    }
  };
  restrict(dir, kPrivateDirMode);
  restrict(dir + kMarkerDir, kPrivateDirMode);
  restrict(dir + kDirLock, kPrivateFileMode);
  for (const char* name : kStoreFiles) restrict(dir + name, kPrivateFileMode);
  restrict(dir + "/packs", kPrivateDirMode);
}

Status LmdbError(std::string_view what, int rc) {
  std::string msg = "lmdb " + std::string(what) + ": " + mdb_strerror(rc);
  if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT) return ResourceExhaustedError(std::move(msg));
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ||
      rc == MDB_PAGE_NOTFOUND) {
    return CorruptError(std::move(msg));
  }
  return IoError(std::move(msg));
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
MDB_val Val(std::span<const uint8_t> s) {
  return MDB_val{s.size(), const_cast<uint8_t*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}
std::span<const uint8_t> Bytes(const MDB_val& v) {
  return std::span<const uint8_t>(static_cast<const uint8_t*>(v.mv_data), v.mv_size);
}

std::string U64Le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}
uint64_t ParseU64Le(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = std::min<size_t>(s.size(), 8); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

// lru key: big-endian tick || entry key (sorts oldest first).
std::string LruKey(uint64_t tick, std::string_view key) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(tick >> (8 * (7 - i)));
  s.append(key);
  return s;
}

// atime value: tick (u64 LE) || charged bytes (u64 LE).
struct AccessRecord {
  uint64_t tick = 0;
  uint64_t charged = 0;
};
std::string EncodeAccess(const AccessRecord& r) { return U64Le(r.tick) + U64Le(r.charged); }
std::optional<AccessRecord> DecodeAccess(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  return AccessRecord{ParseU64Le(s.substr(0, 8)), ParseU64Le(s.substr(8))};
}

// Aborts a transaction unless committed.
class Txn {
 public:
  Txn() = default;
  ~Txn() { Abort(); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn** out() { return &txn_; }
  MDB_txn* get() const { return txn_; }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  int Commit() {
    const int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;  // commit frees the txn even on failure
    return rc;
  }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace

struct CacheStore::Impl {
  StoreOptions options;
  FileEnv* files = nullptr;  // options.env or the default; never null after Open
  MDB_env* env = nullptr;
  // lru: the protected segment; probation: the probationary FIFO (same key
  // form, value = the Unix second the entry entered).
  MDB_dbi data = 0, lru = 0, atime = 0, meta = 0, probation = 0;
  // packs: u64 BE pack id -> u64 LE bytes of it that entries use (spans).
  MDB_dbi packs_db = 0;
  // Large values' files (cache_packs.h). Set by Open.
  std::unique_ptr<PackFiles> packs;
  // Held shared by this process's transactions, exclusively while the map
  // is resized (LMDB requires no active transaction in the process then).
  std::shared_mutex resize_mu;
  std::atomic<uint64_t> map_bytes{0};
  // Lowered below the caller's max_bytes when the map cannot grow further.
  uint64_t limit_cap = UINT64_MAX;  // writer thread only

  // This boot's id ("" = unknown). nosync: the environment has MDB_NOSYNC
  // and every write transaction needs this process's marker first.
  std::string boot_id;
  bool nosync = false;
  // This process's marker, while it may have unsynced writes. The
  // descriptor holds an exclusive flock on the marker for as long as it
  // exists, which tells other processes its owner is alive (kill(pid, 0)
  // would be fooled by pid reuse and pid namespaces). Writer thread only
  // (and Open/destruction); `marked` mirrors it for other threads.
  FilePtr marker_file;
  std::string marker_name;
  std::atomic<bool> marked{false};

  // Writer only. Creates this process's marker unless it exists: called
  // before every write transaction.
  Status MarkUnsynced() { return AsCacheError(CreateMarker()); }
  Status CreateMarker();
  // Writer only. Flushes the whole store file to disk, then removes this
  // process's marker and the markers of dead processes of this boot (their
  // writes went through the same file, so the flush covered them).
  Status SyncAndUnmark() { return AsCacheError(SyncAndRemoveMarkers()); }
  Status SyncAndRemoveMarkers();

  // Frees reader slots of dead processes: a slot left by a process killed
  // inside a read transaction pins old pages, so freed space is not reused.
  void ClearStaleReaders() {
    int dead = 0;
    if (mdb_reader_check(env, &dead) == 0 && dead > 0) {
      HUBFS_LOG(kInfo) << "cache: cleared " << dead << " stale reader slots";
    }
  }

  ~Impl() {
    if (env != nullptr) mdb_env_close(env);
    // marker_file closes after the environment, releasing the marker's lock.
  }

  void RefreshMapSize() {
    MDB_envinfo info;
    if (mdb_env_info(env, &info) == 0) map_bytes.store(info.me_mapsize);
  }

  // Adopts a map size grown by another process. Call with no transaction open.
  Status AdoptMapSize() {
    std::unique_lock lock(resize_mu);
    const int rc = mdb_env_set_mapsize(env, 0);
    if (rc != 0) return LmdbError("adopt map size", rc);
    RefreshMapSize();
    return Status::Ok();
  }

  // Begins a transaction; the caller holds resize_mu shared.
  int Begin(unsigned flags, Txn& txn) { return mdb_txn_begin(env, nullptr, flags, txn.out()); }

  // Takes resize_mu shared (into `lock`) and begins a read transaction; a map
  // grown by another process meanwhile is adopted first (once).
  Status BeginRead(std::shared_lock<std::shared_mutex>& lock, Txn& txn) {
    for (int attempt = 0;; ++attempt) {
      lock = std::shared_lock(resize_mu);
      const int rc = Begin(MDB_RDONLY, txn);
      if (rc == MDB_MAP_RESIZED && attempt == 0) {
        lock.unlock();
        HUBFS_RETURN_IF_ERROR(AdoptMapSize());
        continue;
      }
      if (rc != 0) return LmdbError("begin read", rc);
      return Status::Ok();
    }
  }

  // BeginRead, then `key`'s stored record into *v (valid while `txn` is).
  // False when absent.
  Result<bool> GetForRead(std::string_view key, std::shared_lock<std::shared_mutex>& lock,
                          Txn& txn, MDB_val* v) {
    HUBFS_RETURN_IF_ERROR(BeginRead(lock, txn));
    MDB_val k = Val(key);
    const int rc = mdb_get(txn.get(), data, &k, v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return LmdbError("get", rc);
    return true;
  }

  Result<uint64_t> GetMeta(MDB_txn* txn, const char* name) {
    MDB_val k = Val(std::string_view(name)), v;
    const int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) return uint64_t{0};
    if (rc != 0) return LmdbError("get meta", rc);
    return ParseU64Le(View(v));
  }
  int PutMeta(MDB_txn* txn, const char* name, uint64_t value) {
    MDB_val k = Val(std::string_view(name));
    const std::string s = U64Le(value);
    MDB_val v = Val(s);
    return mdb_put(txn, meta, &k, &v, 0);
  }

  // Pack bookkeeping of one write transaction.
  struct PackWork {
    std::vector<PackLocation> punch;  // deleted values' ranges, punched after the commit
    bool emptied = false;             // some pack's live bytes reached 0
  };

  // Adds delta to a pack's live bytes; its record goes at 0. An LMDB code.
  int AddLive(MDB_txn* txn, uint64_t id, int64_t delta, PackWork* w) {
    const std::string pk = PackKey(id);
    MDB_val k = Val(pk), v;
    int rc = mdb_get(txn, packs_db, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    const uint64_t live = rc == 0 ? ParseU64Le(View(v)) : 0;
    const uint64_t next = delta >= 0 ? live + static_cast<uint64_t>(delta)
                                     : live - std::min(live, static_cast<uint64_t>(-delta));
    if (next == 0) {
      w->emptied = true;
      rc = mdb_del(txn, packs_db, &k, nullptr);
      return rc == MDB_NOTFOUND ? 0 : rc;
    }
    const std::string nv = U64Le(next);
    MDB_val n = Val(nv);
    return mdb_put(txn, packs_db, &k, &n, 0);
  }

  // Before an entry's data record goes: a value in a pack is uncharged from
  // it and its range punched after the commit. An LMDB code.
  int ReleaseValue(MDB_txn* txn, std::string_view key, PackWork* w) {
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn, data, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return rc;
    const auto loc = DecodePointer(Bytes(v));
    if (!loc) return 0;
    w->punch.push_back(*loc);
    return AddLive(txn, loc->pack, -static_cast<int64_t>(PackSpan(loc->length)), w);
  }

  // After a commit: holes for the deleted values, and packs no entry uses
  // any more deleted (when no process holds them).
  void FinishPacks(const PackWork& w) {
    if (!w.punch.empty()) packs->Punch(w.punch);
    if (w.emptied) SweepPacks();
  }

  // Deletes the pack files no entry uses and no process holds.
  void SweepPacks() {
    std::shared_lock lock(resize_mu);
    Txn txn;
    if (Begin(MDB_RDONLY, txn) != 0) return;
    const size_t n = packs->Sweep([&](uint64_t id) {
      const std::string pk = PackKey(id);
      MDB_val k = Val(pk), v;
      return mdb_get(txn.get(), packs_db, &k, &v) != MDB_NOTFOUND;
    });
    if (n > 0) {
      HUBFS_LOG(kDebug) << "cache: deleted " << n << " unused pack file(s)";
    }
  }

  // Deletes an entry's records (data, atime, and its place in either
  // segment); *was_probation tells which segment held it. Returns an LMDB code.
  int DeleteEntry(MDB_txn* txn, std::string_view key, const AccessRecord& rec,
                  bool* was_probation, PackWork* w) {
    MDB_val k = Val(key);
    int rc = ReleaseValue(txn, key, w);
    if (rc != 0) return rc;
    rc = mdb_del(txn, data, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    rc = mdb_del(txn, atime, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    const std::string lk = LruKey(rec.tick, key);
    MDB_val l = Val(lk);
    rc = mdb_del(txn, probation, &l, nullptr);
    *was_probation = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (*was_probation) return 0;
    rc = mdb_del(txn, lru, &l, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  // When the entry entered probation (Unix seconds), or nullopt when it is
  // protected. *rc: an LMDB code.
  std::optional<int64_t> ProbationSince(MDB_txn* txn, std::string_view key,
                                        const AccessRecord& rec, int* rc) {
    const std::string lk = LruKey(rec.tick, key);
    MDB_val l = Val(lk), v;
    *rc = mdb_get(txn, probation, &l, &v);
    if (*rc == MDB_NOTFOUND) {
      *rc = 0;
      return std::nullopt;
    }
    if (*rc != 0) return std::nullopt;
    return static_cast<int64_t>(ParseU64Le(View(v)));
  }

  // Puts a new entry at the tail of probation. Returns an LMDB code.
  int EnterProbation(MDB_txn* txn, std::string_view key, uint64_t tick, uint64_t charged,
                     int64_t now) {
    const std::string lk = LruKey(tick, key);
    const std::string since = U64Le(static_cast<uint64_t>(std::max<int64_t>(now, 0)));
    MDB_val l = Val(lk), sv = Val(since);
    int rc = mdb_put(txn, probation, &l, &sv, 0);
    if (rc != 0) return rc;
    const std::string rec = EncodeAccess({tick, charged});
    MDB_val k = Val(key), v = Val(rec);
    return mdb_put(txn, atime, &k, &v, 0);
  }

  // Removes a probationary entry's place (before it is stamped protected).
  int LeaveProbation(MDB_txn* txn, std::string_view key, const AccessRecord& rec) {
    const std::string lk = LruKey(rec.tick, key);
    MDB_val l = Val(lk);
    const int rc = mdb_del(txn, probation, &l, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  std::optional<AccessRecord> GetAccess(MDB_txn* txn, std::string_view key, int* rc) {
    MDB_val k = Val(key), v;
    *rc = mdb_get(txn, atime, &k, &v);
    if (*rc == MDB_NOTFOUND) {
      *rc = 0;
      return std::nullopt;
    }
    if (*rc != 0) return std::nullopt;
    return DecodeAccess(View(v));
  }

  // Gives `key` a new tick. Returns an LMDB code.
  int Stamp(MDB_txn* txn, std::string_view key, const std::optional<AccessRecord>& old,
            uint64_t tick, uint64_t charged) {
    if (old) {
      const std::string ok = LruKey(old->tick, key);
      MDB_val l = Val(ok);
      const int rc = mdb_del(txn, lru, &l, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    }
    const std::string nk = LruKey(tick, key);
    MDB_val l = Val(nk), empty{0, nullptr};
    int rc = mdb_put(txn, lru, &l, &empty, 0);
    if (rc != 0) return rc;
    const std::string rec = EncodeAccess({tick, charged});
    MDB_val k = Val(key), v = Val(rec);
    return mdb_put(txn, atime, &k, &v, 0);
  }

  // Which puts of `ops` are refused (EvictPolicy::probation_hold_seconds):
  // new probationary chunks that would push the total past max_bytes while
  // eviction takes probation's front and that front entered less than the
  // hold ago (the entries behind it are younger still). Returns an LMDB code.
  int Admit(MDB_txn* txn, std::span<const WriteOp> ops, const EvictPolicy& policy,
            uint64_t bytes, uint64_t pbytes, std::vector<bool>* refused);
  // One attempt at Apply. Returns an LMDB code (0 = committed).
  int ApplyOnce(std::span<const WriteOp> ops, const EvictPolicy& policy, ApplyResult* res);
  // Evicts the first entry of `segment` (lru or probation). MDB_NOTFOUND
  // when the segment is empty.
  int EvictFirst(MDB_txn* txn, MDB_dbi segment, uint64_t* bytes, uint64_t* count,
                 uint64_t* pbytes, ApplyResult* r, PackWork* w);
  // Reads the value a `data` record stands for: itself, or the pack range
  // it points at (into *buf). nullopt when the pack range is unreadable or
  // gone (a miss). *err: an I/O failure worth reporting.
  std::optional<std::span<const uint8_t>> Resolve(std::span<const uint8_t> stored,
                                                  std::vector<uint8_t>* buf, Status* err);
};

std::optional<std::span<const uint8_t>> CacheStore::Impl::Resolve(
    std::span<const uint8_t> stored, std::vector<uint8_t>* buf, Status* err) {
  const auto loc = DecodePointer(stored);
  if (!loc) return stored;
  const Status st = packs->Read(*loc, buf);
  if (!st.ok()) {
    if (st.code() != ErrorCode::kNotFound) *err = st;
    return std::nullopt;
  }
  return std::span<const uint8_t>(*buf);
}

int CacheStore::Impl::EvictFirst(MDB_txn* t, MDB_dbi segment, uint64_t* bytes, uint64_t* count,
                                 uint64_t* pbytes, ApplyResult* r, PackWork* w) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(t, segment, &cur);
  if (rc != 0) return rc;
  MDB_val lk, lv;
  rc = mdb_cursor_get(cur, &lk, &lv, MDB_FIRST);
  if (rc == 0) {
    const std::string key(View(lk).substr(8));
    auto rec = GetAccess(t, key, &rc);
    if (rc == 0) rc = mdb_cursor_del(cur, 0);
    if (rc == 0) rc = ReleaseValue(t, key, w);
    MDB_val k = Val(key);
    if (rc == 0) rc = mdb_del(t, data, &k, nullptr);
    if (rc == 0 || rc == MDB_NOTFOUND) rc = mdb_del(t, atime, &k, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;
    if (rc == 0) {
      const uint64_t charged = rec ? rec->charged : 0;
      *bytes -= std::min(*bytes, charged);
      *count -= std::min<uint64_t>(*count, 1);
      if (segment == probation) {
        *pbytes -= std::min(*pbytes, charged);
        r->evicted_probation.push_back(std::hash<std::string_view>{}(key));
      }
      ++r->evictions;
    }
  }
  mdb_cursor_close(cur);
  return rc;
}

int CacheStore::Impl::Admit(MDB_txn* t, std::span<const WriteOp> ops, const EvictPolicy& policy,
                            uint64_t bytes, uint64_t pbytes, std::vector<bool>* refused) {
  refused->assign(ops.size(), false);
  if (policy.probation_hold_seconds <= 0) return 0;
  // Whether probation's front (its oldest entry) entered within the hold;
  // looked up once, when first needed.
  std::optional<bool> front_young;
  auto young = [&](int* rc) {
    if (front_young) return *front_young;
    front_young = false;
    MDB_cursor* cur = nullptr;
    *rc = mdb_cursor_open(t, probation, &cur);
    if (*rc != 0) return false;
    MDB_val lk, lv;
    *rc = mdb_cursor_get(cur, &lk, &lv, MDB_FIRST);
    mdb_cursor_close(cur);
    if (*rc == MDB_NOTFOUND) {
      *rc = 0;
      return false;
    }
    if (*rc != 0) return false;
    const auto since = static_cast<int64_t>(ParseU64Le(View(lv)));
    front_young = policy.now_seconds - since < policy.probation_hold_seconds;
    return *front_young;
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    const WriteOp& op = ops[i];
    if (op.type != WriteOp::kPut) continue;
    const uint64_t charged = op.key.size() + op.value->size();
    const bool probationary = op.EntersProbation();
    // Eviction takes probation first while it holds more than its share or
    // nothing is protected (ApplyOnce's loop).
    if (probationary && bytes + charged > policy.max_bytes &&
        (pbytes + charged > policy.probation_bytes || pbytes >= bytes)) {
      int rc = 0;
      const bool refuse = young(&rc);
      if (rc != 0) return rc;
      if (refuse) {
        if (!GetAccess(t, op.key, &rc)) {
          if (rc != 0) return rc;
          (*refused)[i] = true;
          continue;
        }
        if (rc != 0) return rc;
      }
    }
    bytes += charged;  // upper bounds: a re-put replaces its old size
    if (probationary) pbytes += charged;
  }
  return 0;
}

int CacheStore::Impl::ApplyOnce(std::span<const WriteOp> ops, const EvictPolicy& policy,
                                ApplyResult* res) {
  std::shared_lock lock(resize_mu);
  Txn txn;
  int rc = Begin(0, txn);
  if (rc != 0) return rc;
  MDB_txn* t = txn.get();
  uint64_t counters[4];
  const char* names[4] = {kMetaBytes, kMetaCount, kMetaTick, kMetaProbationBytes};
  for (int i = 0; i < 4; ++i) {
    auto v = GetMeta(t, names[i]);
    if (!v.ok()) return EIO;
    counters[i] = *v;
  }
  uint64_t& bytes = counters[0];
  uint64_t& count = counters[1];
  uint64_t& tick = counters[2];
  uint64_t& pbytes = counters[3];
  ApplyResult r;
  PackWork work;
  // Same header (hence same checksum, length and codec): same content.
  auto same_content = [&](const WriteOp& op, MDB_val* cur) -> int {
    MDB_val k = Val(op.key);
    const int grc = mdb_get(t, data, &k, cur);
    if (grc != 0) return grc;
    const auto header = StoredHeader(Bytes(*cur));
    const auto& value = *op.value;
    const bool same = header.size() == cache_format::kHeaderSize &&
                      value.size() >= cache_format::kHeaderSize &&
                      std::memcmp(header.data(), value.data(), cache_format::kHeaderSize) == 0;
    return same ? 0 : MDB_NOTFOUND;
  };
  std::vector<bool> refused;
  rc = Admit(t, ops, policy, bytes, pbytes, &refused);
  if (rc != 0) return rc;
  // Large new values go to this process's pack first, in one write, while
  // this transaction holds LMDB's write lock; their pointers commit below.
  std::vector<size_t> packed_ops;
  std::vector<const ValueBuffer*> packed_values;
  std::vector<uint8_t> packed_keep;
  for (size_t i = 0; i < ops.size(); ++i) {
    const WriteOp& op = ops[i];
    if (op.type != WriteOp::kPut || refused[i] || op.value->size() < kPackMinValue) continue;
    MDB_val cur;
    rc = same_content(op, &cur);
    if (rc == 0) continue;
    if (rc != MDB_NOTFOUND) return rc;
    packed_ops.push_back(i);
    packed_values.push_back(op.value.get());
    packed_keep.push_back(op.keep_pages ? 1 : 0);
  }
  std::vector<PackLocation> locations;
  if (!packed_values.empty()) {
    auto appended = packs->Append(packed_values, packed_keep);
    if (!appended.ok()) {
      HUBFS_LOG(kDebug) << "cache: " << appended.status();
      return appended.status().code() == ErrorCode::kResourceExhausted ? ENOSPC : EIO;
    }
    locations = std::move(*appended);
    if (!nosync && options.durable && !packs->Sync().ok()) return EIO;
  }
  size_t next_packed = 0;
  // A hit (or an identical re-put) of an entry: a protected one becomes the
  // most recent; a probationary one is promoted only when the hit comes
  // promote_after_seconds after it entered (hits sooner are the same scan).
  auto hit = [&](const std::string& key, const AccessRecord& old, int64_t when) -> int {
    int src = 0;
    const auto since = ProbationSince(t, key, old, &src);
    if (src != 0) return src;
    if (since) {
      if (when - *since < policy.promote_after_seconds) return 0;
      src = LeaveProbation(t, key, old);
      if (src != 0) return src;
      pbytes -= std::min(pbytes, old.charged);
      ++r.promotions;
    }
    return Stamp(t, key, old, ++tick, old.charged);
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    const WriteOp& op = ops[i];
    auto old = GetAccess(t, op.key, &rc);
    if (rc != 0) return rc;
    MDB_val k = Val(op.key), cur;
    switch (op.type) {
      case WriteOp::kPut: {
        const auto& value = *op.value;
        const uint64_t charged = op.key.size() + value.size();
        if (refused[i]) {
          ++r.refused;
          r.refused_bytes += charged;
          break;
        }
        const bool packed = next_packed < packed_ops.size() && packed_ops[next_packed] == i;
        if (old) {
          rc = same_content(op, &cur);
          if (rc != 0 && rc != MDB_NOTFOUND) return rc;
          if (rc == 0 && !packed) {
            rc = hit(op.key, *old, policy.now_seconds);
            if (rc != 0) return rc;
            break;
          }
          bool was_probation = false;
          rc = DeleteEntry(t, op.key, *old, &was_probation, &work);
          if (rc != 0) return rc;
          if (was_probation) pbytes -= std::min(pbytes, old->charged);
          bytes -= std::min(bytes, old->charged);
          count -= std::min<uint64_t>(count, 1);
        } else if (!packed) {
          // A record without an access record (never left by Apply): replace it.
          rc = ReleaseValue(t, op.key, &work);
          if (rc != 0) return rc;
        }
        std::vector<uint8_t> pointer;
        MDB_val v = Val(value.bytes());
        if (packed) {
          const PackLocation& loc = locations[next_packed++];
          pointer = EncodePointer(loc, value.bytes());
          v = Val(std::span<const uint8_t>(pointer));
          rc = AddLive(t, loc.pack, static_cast<int64_t>(PackSpan(loc.length)), &work);
          if (rc != 0) return rc;
        }
        rc = mdb_put(t, data, &k, &v, 0);
        if (rc != 0) return rc;
        if (op.EntersProbation()) {
          rc = EnterProbation(t, op.key, ++tick, charged, policy.now_seconds);
          pbytes += charged;
        } else {
          rc = Stamp(t, op.key, std::nullopt, ++tick, charged);
        }
        if (rc != 0) return rc;
        bytes += charged;
        ++count;
        ++r.puts;
        break;
      }
      case WriteOp::kTouch:
        if (old) {
          rc = hit(op.key, *old, op.when != 0 ? op.when : policy.now_seconds);
          if (rc != 0) return rc;
        }
        break;
      case WriteOp::kDropIfBad: {
        rc = mdb_get(t, data, &k, &cur);
        if (rc == MDB_NOTFOUND) break;
        if (rc != 0) return rc;
        std::vector<uint8_t> buf;
        Status err;
        const auto value = Resolve(Bytes(cur), &buf, &err);
        if (!err.ok()) return EIO;  // cannot tell: keep it
        if (value && cache_format::VerifyValue(op.key, *value).ok()) break;  // replaced meanwhile
        const uint64_t charged = old ? old->charged : op.key.size() + cur.mv_size;
        bool was_probation = false;
        rc = DeleteEntry(t, op.key, old.value_or(AccessRecord{}), &was_probation, &work);
        if (rc != 0) return rc;
        if (was_probation) pbytes -= std::min(pbytes, charged);
        bytes -= std::min(bytes, charged);
        count -= std::min<uint64_t>(count, 1);
        ++r.dropped;
        r.dropped_bytes += charged;
        break;
      }
    }
  }
  // Evict until within the limit: probation first while it holds more than
  // its share, then the least recently used protected entries.
  while (bytes > policy.max_bytes) {
    const bool probation_first = pbytes > policy.probation_bytes;
    rc = EvictFirst(t, probation_first ? probation : lru, &bytes, &count, &pbytes, &r, &work);
    if (rc == MDB_NOTFOUND) {
      rc = EvictFirst(t, probation_first ? lru : probation, &bytes, &count, &pbytes, &r, &work);
    }
    if (rc == MDB_NOTFOUND) {
      bytes = 0;  // nothing left to evict: the counters had drifted
      count = 0;
      pbytes = 0;
      rc = 0;
      break;
    }
    if (rc != 0) return rc;
  }
  pbytes = std::min(pbytes, bytes);
  for (int i = 0; i < 4; ++i) {
    rc = PutMeta(t, names[i], counters[i]);
    if (rc != 0) return rc;
  }
  rc = txn.Commit();
  if (rc == 0) {
    packs->Commit();
    lock.unlock();
    FinishPacks(work);
    res->puts += r.puts;
    res->evictions += r.evictions;
    res->dropped += r.dropped;
    res->dropped_bytes += r.dropped_bytes;
    res->promotions += r.promotions;
    res->refused += r.refused;
    res->refused_bytes += r.refused_bytes;
    res->evicted_probation.insert(res->evicted_probation.end(), r.evicted_probation.begin(),
                                  r.evicted_probation.end());
  }
  return rc;
}

Status CacheStore::Impl::CreateMarker() {
  if (!nosync || marker_file != nullptr) return Status::Ok();
  HUBFS_ASSIGN_OR_RETURN(FilePtr lock, LockDir(files, options.dir));
  const std::string mdir = options.dir + kMarkerDir;
  HUBFS_ASSIGN_OR_RETURN(const bool created, files->CreateDir(mdir));
  if (created) HUBFS_RETURN_IF_ERROR(files->SyncDir(options.dir));
  // The nonce keeps names unique across pid namespaces sharing the folder.
  char nonce[16];
  std::snprintf(nonce, sizeof(nonce), "%08x", static_cast<unsigned>(std::random_device{}()));
  const std::string name = boot_id + "." + std::to_string(::getpid()) + "." + nonce;
  const std::string path = mdir + "/" + name;
  HUBFS_ASSIGN_OR_RETURN(FilePtr file, files->Open(path, OpenMode::kCreateNew));
  // The marker must be on disk before any page it covers can be.
  Status st;
  const auto locked = file->TryLock();
  if (!locked.ok()) {
    st = locked.status();
  } else if (!*locked) {
    st = IoError("lock " + path + ": held by another process");
  } else if (st = file->Sync(); st.ok()) {
    st = files->SyncDir(mdir);
  }
  if (!st.ok()) {
    (void)files->Remove(path);
    return st;
  }
  marker_file = std::move(file);
  marker_name = name;
  marked.store(true);
  return Status::Ok();
}

Status CacheStore::Impl::SyncAndRemoveMarkers() {
  if (marker_file == nullptr) return Status::Ok();
  const std::string mdir = options.dir + kMarkerDir;
  // Dead processes of this boot are found BEFORE the flush: a process that
  // is dead now writes nothing after it, so the flush covers all its pages
  // (one found dead after the flush might have written meanwhile). A marker
  // whose lock can be taken has no live owner; we keep the lock until the
  // marker is gone. Under the dir lock no marker is being created, so every
  // one is either locked by its owner or dead.
  std::vector<std::pair<std::string, FilePtr>> dead;
  {
    HUBFS_ASSIGN_OR_RETURN(FilePtr lock, LockDir(files, options.dir));
    HUBFS_ASSIGN_OR_RETURN(const auto names, ListMarkers(files, options.dir));
    for (const auto& name : names) {
      // Markers of another boot are only removed by the wipe at open.
      if (name == marker_name || MarkerBoot(name) != boot_id) continue;
      const std::string path = mdir + "/" + name;
      auto file = files->Open(path, OpenMode::kRead);
      if (!file.ok()) continue;
      const auto locked = (*file)->TryLock();
      if (locked.ok() && *locked) dead.emplace_back(path, std::move(*file));
    }
  }
  // The packs this process wrote (their data is on the device already when
  // written with O_DIRECT; this makes their extents durable), or every pack
  // when dead processes' markers go too (this process cannot tell which
  // packs they wrote: one that ended without a flush, `hubfs cat`, left
  // them to the kernel), then the whole store file: this process's pages
  // and every other process's.
  if (dead.empty()) {
    HUBFS_RETURN_IF_ERROR(packs->Sync());
  } else {
    HUBFS_RETURN_IF_ERROR(packs->SyncAll().status());
  }
  const int rc = mdb_env_sync(env, 1);
  if (rc != 0) return LmdbError("sync", rc);
  HUBFS_ASSIGN_OR_RETURN(FilePtr lock, LockDir(files, options.dir));
  const Status removed = files->Remove(mdir + "/" + marker_name);
  if (!removed.ok() && removed.code() != ErrorCode::kNotFound) return removed;
  marker_file.reset();
  marker_name.clear();
  marked.store(false);
  for (const auto& d : dead) (void)files->Remove(d.first);
  // Not synced: a removal lost in a crash only costs a needless wipe.
  return Status::Ok();
}

CacheStore::CacheStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CacheStore::~CacheStore() {
  if (!impl_->options.flush_at_close && impl_->marked.load()) {
    // The marker stays on disk; its lock goes with the descriptor.
    HUBFS_LOG(kDebug) << "cache: " << impl_->options.dir
                      << " left to the kernel's writeback at close (its marker stays)";
    return;
  }
  const Status st = impl_->SyncAndUnmark();
  if (!st.ok()) {
    HUBFS_LOG(kWarning) << "cache: flushing " << impl_->options.dir << " at close failed (" << st
                        << "); a system crash before the kernel writes it back clears the cache";
  }
}

uint64_t CacheStore::map_bytes() const { return impl_->map_bytes.load(); }

bool CacheStore::unsynced() const { return impl_->marked.load(); }

Status CacheStore::SyncAndUnmark() { return impl_->SyncAndUnmark(); }

Result<std::unique_ptr<CacheStore>> CacheStore::Open(const StoreOptions& options) {
  auto store = OpenStore(options);
  if (!store.ok()) return AsCacheError(store.status());
  return store;
}

Result<std::unique_ptr<CacheStore>> CacheStore::OpenStore(const StoreOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("cache dir is empty");
  FileEnv* const files = options.env != nullptr ? options.env : FileEnv::Default();
  const auto created = files->CreateDir(options.dir);
  if (!created.ok()) return created.status().WithContext("cache dir");
  if (!*created) MakePrivate(files, options.dir);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->files = files;
  impl->boot_id = ReadBootId(files);
  impl->nosync = !options.durable && !impl->boot_id.empty();
  int rc = mdb_env_create(&impl->env);
  if (rc != 0) return LmdbError("env create", rc);
  mdb_env_set_maxdbs(impl->env, 6);
  {
    const std::string dir = options.dir;
    impl->packs = std::make_unique<PackFiles>(dir, [files, dir]() -> Result<std::shared_ptr<void>> {
      HUBFS_ASSIGN_OR_RETURN(FilePtr lock, LockDir(files, dir));
      return std::shared_ptr<void>(std::move(lock));
    });
  }
  mdb_env_set_maxreaders(impl->env, 1024);
  rc = mdb_env_set_mapsize(impl->env, options.initial_map_bytes);
  if (rc != 0) return LmdbError("set map size", rc);
  // No MDB_WRITEMAP: with it a full disk turns into SIGBUS. MDB_NOTLS: read
  // transactions are not tied to threads' slots. No MDB_NORDAHEAD: chunk
  // values span many pages and warm reads are mostly sequential; with it a
  // warm 512 MiB read with the page cache dropped ran at 164 MB/s, without it
  // at 705 MB/s (scripts/bench-reader.sh). Not durable: MDB_NOSYNC (no fsync
  // per commit: on a cold read the synchronous page writes were most of the
  // kernel time) guarded by the unsynced-write markers; without a boot id,
  // MDB_NOMETASYNC, which keeps the store consistent (a system crash may only
  // undo the last commit).
  unsigned flags = MDB_NOTLS;
  if (impl->nosync) {
    flags |= MDB_NOSYNC;
  } else if (!options.durable) {
    flags |= MDB_NOMETASYNC;
  }
  {
    // Every opener checks (a durable one must not read a damaged store
    // either), under the dir lock so that two first openers after a restart
    // do not both wipe, the second one the first one's fresh store.
    FilePtr lock;
    if (!impl->boot_id.empty()) {
      HUBFS_ASSIGN_OR_RETURN(lock, LockDir(files, options.dir));
      HUBFS_RETURN_IF_ERROR(WipeIfRebooted(files, options.dir, impl->boot_id));
    }
    rc = mdb_env_open(impl->env, options.dir.c_str(), flags, kPrivateFileMode);
  }
  if (rc != 0) {
    Status st = LmdbError("open " + options.dir, rc);
    if (st.code() == ErrorCode::kCorrupt) {
      st = st.WithContext("cache store unreadable (remove it with `hubfs cache clear --force`)");
    }
    return st;
  }
  impl->ClearStaleReaders();
  impl->RefreshMapSize();

  const std::pair<const char*, MDB_dbi*> dbs[] = {
      {"data", &impl->data},   {"lru", &impl->lru},   {"atime", &impl->atime},
      {"meta", &impl->meta},   {"probation", &impl->probation}, {"packs", &impl->packs_db}};
  auto begin = [&](unsigned txn_flags, Txn& txn) {
    int brc = mdb_txn_begin(impl->env, nullptr, txn_flags, txn.out());
    if (brc == MDB_MAP_RESIZED) {
      const Status st = impl->AdoptMapSize();
      if (!st.ok()) return brc;
      brc = mdb_txn_begin(impl->env, nullptr, txn_flags, txn.out());
    }
    return brc;
  };
  {
    // An existing store of this version opens without a write transaction,
    // so a process that only reads never needs a marker. Handles opened in a
    // committed read transaction stay valid for later transactions.
    Txn txn;
    rc = begin(MDB_RDONLY, txn);
    if (rc != 0) return LmdbError("begin read", rc);
    bool ready = true;
    for (const auto& [name, dbi] : dbs) {
      rc = mdb_dbi_open(txn.get(), name, 0, dbi);
      if (rc == MDB_NOTFOUND) {
        ready = false;
        break;
      }
      if (rc != 0) return LmdbError(std::string("open db ") + name, rc);
    }
    if (ready) {
      HUBFS_ASSIGN_OR_RETURN(const uint64_t version, impl->GetMeta(txn.get(), kMetaVersion));
      ready = version == kStoreVersion;
    }
    if (ready) {
      rc = txn.Commit();
      if (rc != 0) return LmdbError("commit read", rc);
      // Packs left by crashed processes or an older store, used by no entry.
      impl->SweepPacks();
      return std::unique_ptr<CacheStore>(new CacheStore(std::move(impl)));
    }
  }

  HUBFS_RETURN_IF_ERROR(impl->MarkUnsynced());
  Txn txn;
  rc = begin(0, txn);
  if (rc != 0) return LmdbError("begin", rc);
  for (const auto& [name, dbi] : dbs) {
    rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi);
    if (rc != 0) return LmdbError(std::string("open db ") + name, rc);
  }
  HUBFS_ASSIGN_OR_RETURN(const uint64_t version, impl->GetMeta(txn.get(), kMetaVersion));
  if (version != kStoreVersion) {
    if (version != 0) {
      HUBFS_LOG(kWarning) << "cache: store version " << version << " in " << options.dir
                          << " is not " << kStoreVersion << "; clearing it";
    }
    for (MDB_dbi dbi :
         {impl->data, impl->lru, impl->atime, impl->meta, impl->probation, impl->packs_db}) {
      rc = mdb_drop(txn.get(), dbi, 0);
      if (rc != 0) return LmdbError("drop", rc);
    }
    rc = impl->PutMeta(txn.get(), kMetaVersion, kStoreVersion);
    if (rc != 0) return LmdbError("put version", rc);
  }
  rc = txn.Commit();
  if (rc != 0) return LmdbError("commit", rc);
  impl->SweepPacks();
  return std::unique_ptr<CacheStore>(new CacheStore(std::move(impl)));
}

Status CacheStore::Remove(const std::string& dir, FileEnv* env) {
  if (env == nullptr) env = FileEnv::Default();
  for (const char* name : kStoreFiles) {
    const Status st = env->Remove(dir + name);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) return AsCacheError(st);
  }
  return AsCacheError(PackFiles::RemoveAll(dir));
}

Result<bool> CacheStore::Read(std::string_view key,
                              const std::function<void(std::span<const uint8_t>)>& fn) {
  HUBFS_ASSIGN_OR_RETURN(const Parts got, ReadParts(key, {}, {}, fn));
  return got != Parts::kMiss;
}

Result<CacheStore::Parts> CacheStore::ReadParts(
    std::string_view key, std::span<uint8_t> front, std::span<uint8_t> back,
    const std::function<void(std::span<const uint8_t>)>& fn) {
  std::shared_lock<std::shared_mutex> lock;
  Txn txn;
  MDB_val k = Val(key), v;
  HUBFS_ASSIGN_OR_RETURN(const bool found, impl_->GetForRead(key, lock, txn, &v));
  if (!found) return Parts::kMiss;
  // No value is empty (a header at least): want == 0 never splits.
  const size_t want = front.size() + back.size();
  const auto loc = DecodePointer(Bytes(v));
  if (!loc) {
    const std::span<const uint8_t> value = Bytes(v);
    if (want == 0 || value.size() != want) {
      fn(value);
      return Parts::kWhole;
    }
    std::copy(value.begin(), value.begin() + static_cast<ptrdiff_t>(front.size()), front.begin());
    std::copy(value.begin() + static_cast<ptrdiff_t>(front.size()), value.end(), back.begin());
    return Parts::kSplit;
  }
  // In a pack: read it outside the transaction, then check that the entry
  // still points there. The writer punches a range only after the commit
  // that deleted its entry, so a range read while (or after) it was
  // punched is caught by the second look and reported as a miss.
  const bool split = want != 0 && loc->length == want;
  const std::vector<uint8_t> pointer(Bytes(v).begin(), Bytes(v).end());
  txn.Abort();
  lock.unlock();
  thread_local std::vector<uint8_t> buf;
  const Status st = split ? impl_->packs->ReadParts(*loc, front, back).status()
                          : impl_->packs->Read(*loc, &buf);
  if (!st.ok()) {
    if (st.code() == ErrorCode::kNotFound) return Parts::kMiss;
    return AsCacheError(st);
  }
  std::shared_lock again(impl_->resize_mu);
  Txn check;
  int rc = impl_->Begin(MDB_RDONLY, check);
  if (rc != 0) return LmdbError("begin read", rc);
  rc = mdb_get(check.get(), impl_->data, &k, &v);
  if (rc == MDB_NOTFOUND) return Parts::kMiss;
  if (rc != 0) return LmdbError("get", rc);
  if (v.mv_size != pointer.size() || std::memcmp(v.mv_data, pointer.data(), pointer.size()) != 0) {
    return Parts::kMiss;
  }
  check.Abort();
  again.unlock();
  if (split) return Parts::kSplit;
  fn(buf);
  return Parts::kWhole;
}

Result<bool> CacheStore::Contains(std::string_view key) {
  std::shared_lock<std::shared_mutex> lock;
  Txn txn;
  MDB_val v;
  HUBFS_ASSIGN_OR_RETURN(const bool found, impl_->GetForRead(key, lock, txn, &v));
  if (!found) return false;
  const auto loc = DecodePointer(Bytes(v));
  txn.Abort();
  lock.unlock();
  if (loc) impl_->packs->WillNeed(*loc);
  return true;
}

Result<std::optional<std::string>> CacheStore::ScanPage(std::string_view start, size_t page,
                                                        const EntryVisitor& visit) {
  std::shared_lock<std::shared_mutex> lock;
  Txn txn;
  HUBFS_RETURN_IF_ERROR(impl_->BeginRead(lock, txn));
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn.get(), impl_->data, &cur);
  if (rc != 0) return LmdbError("cursor", rc);
  MDB_val k = Val(start), v;
  rc = start.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                     : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  std::optional<std::string> next;
  size_t n = 0;
  while (rc == 0) {
    if (n == page) {
      next = std::string(View(k));
      break;
    }
    int arc = 0;
    const auto rec = impl_->GetAccess(txn.get(), View(k), &arc);
    Status err;
    std::vector<uint8_t> buf;
    // A value whose pack range cannot be read is shown empty (it fails
    // verification, as a damaged value does).
    const auto value = impl_->Resolve(Bytes(v), &buf, &err);
    visit(View(k), value.value_or(std::span<const uint8_t>()), rec ? rec->tick : 0,
          rec ? rec->charged : k.mv_size + v.mv_size);
    ++n;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("scan", rc);
  return next;
}

Result<StoreTotals> CacheStore::ReadTotals() {
  std::shared_lock<std::shared_mutex> lock;
  Txn txn;
  HUBFS_RETURN_IF_ERROR(impl_->BeginRead(lock, txn));
  StoreTotals t;
  HUBFS_ASSIGN_OR_RETURN(t.bytes, impl_->GetMeta(txn.get(), kMetaBytes));
  HUBFS_ASSIGN_OR_RETURN(t.entries, impl_->GetMeta(txn.get(), kMetaCount));
  return t;
}

Result<ApplyResult> CacheStore::Apply(std::span<const WriteOp> ops, const EvictPolicy& policy) {
  ApplyResult res;
  uint64_t batch_bytes = 0;
  for (const auto& op : ops) {
    if (op.value) batch_bytes += op.key.size() + op.value->size();
  }
  HUBFS_RETURN_IF_ERROR(impl_->MarkUnsynced());
  // A few syscalls (one per other live reader process): cheap next to a commit.
  impl_->ClearStaleReaders();
  for (int attempt = 0;; ++attempt) {
    EvictPolicy capped = policy;
    capped.max_bytes = std::min(policy.max_bytes, impl_->limit_cap);
    capped.probation_bytes = std::min(policy.probation_bytes, capped.max_bytes);
    const int rc = impl_->ApplyOnce(ops, capped, &res);
    if (rc == 0) return res;
    if (rc == MDB_MAP_RESIZED && attempt == 0) {
      HUBFS_RETURN_IF_ERROR(impl_->AdoptMapSize());
      continue;
    }
    if (rc != MDB_MAP_FULL) return LmdbError("write batch", rc);
    if (attempt >= kMaxMapFullRetries) {
      return ResourceExhaustedError("cache map full after evicting (map " +
                                    std::to_string(map_bytes()) + " bytes)");
    }
    ++res.map_full_retries;
    impl_->ClearStaleReaders();
    const uint64_t map = map_bytes();
    if (map < impl_->options.max_map_bytes) {
      const uint64_t grown = std::min(impl_->options.max_map_bytes, map + map / 2 + (1u << 20));
      std::unique_lock lock(impl_->resize_mu);
      const int src = mdb_env_set_mapsize(impl_->env, grown);
      if (src != 0) return LmdbError("grow map", src);
      impl_->RefreshMapSize();
      HUBFS_LOG(kInfo) << "cache: map grown to " << impl_->map_bytes.load() << " bytes";
      continue;
    }
    // The map cannot grow: hold less. Evict the batch's size plus an eighth
    // of what is stored, and keep that as the cap from now on. LMDB reuses
    // pages freed by a transaction only once a later one has committed, so
    // the eviction is followed by a second (nearly empty) commit.
    HUBFS_ASSIGN_OR_RETURN(const StoreTotals totals, ReadTotals());
    const uint64_t room = batch_bytes + totals.bytes / 8;
    impl_->limit_cap = totals.bytes > room ? totals.bytes - room : 0;
    HUBFS_LOG(kWarning) << "cache: map full at " << map << " bytes; holding at most "
                        << impl_->limit_cap << " bytes";
    for (int i = 0; i < 2; ++i) {
      EvictPolicy evict = policy;
      evict.max_bytes = impl_->limit_cap;
      evict.probation_bytes = std::min(policy.probation_bytes, evict.max_bytes);
      const int erc = impl_->ApplyOnce({}, evict, &res);
      if (erc != 0 && erc != MDB_MAP_FULL) return LmdbError("evict", erc);
    }
  }
}

Status CacheStore::Clear() {
  HUBFS_RETURN_IF_ERROR(impl_->MarkUnsynced());
  std::shared_lock lock(impl_->resize_mu);
  Txn txn;
  int rc = impl_->Begin(0, txn);
  if (rc != 0) return LmdbError("begin", rc);
  for (MDB_dbi dbi : {impl_->data, impl_->lru, impl_->atime, impl_->probation, impl_->packs_db}) {
    rc = mdb_drop(txn.get(), dbi, 0);
    if (rc != 0) return LmdbError("clear", rc);
  }
  rc = impl_->PutMeta(txn.get(), kMetaBytes, 0);
  if (rc == 0) rc = impl_->PutMeta(txn.get(), kMetaCount, 0);
  if (rc == 0) rc = impl_->PutMeta(txn.get(), kMetaProbationBytes, 0);
  if (rc != 0) return LmdbError("clear meta", rc);
  rc = txn.Commit();
  if (rc != 0) return LmdbError("commit clear", rc);
  lock.unlock();
  // Every pack is unused now: this process's own too (the next put starts a
  // new one); packs other processes still append to stay until they let go.
  impl_->packs->Release();
  impl_->SweepPacks();
  return Status::Ok();
}

}  // namespace hubfs::chunkstore::cache_internal
