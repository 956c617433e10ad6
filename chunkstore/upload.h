// The Xet upload engine (spec/xet.md §1–§4, §5.4–§5.6; design §5): one pass
// over each file chunks it, hashes every chunk, computes the Xet file hash and
// the SHA-256, decides per chunk whether the CAS already has it (chunks of
// this session, the local index, global-dedup answers), packs the new chunks
// into xorbs and hands finished xorbs to background workers that compress and
// upload them. Finish() returns the shard that describes the files and the new
// xorbs; the caller uploads it (after every xorb, which Finish waits for).
//
// No HTTP and no cache here: what the session needs from outside arrives
// through UploadBackend, so tests drive it with fakes.
//
// Memory is bounded whatever the file sizes: one open xorb (≤ 64 MiB of
// chunk data), at most `max_queued_xorbs` waiting and `workers` being
// compressed (chunk data + body, ≤ 128 MiB each) and uploaded (the body),
// two spare data buffers kept for reuse, three read blocks (a file is read
// one block ahead and its SHA-256 runs on a thread of its own: BlockStream),
// plus ~40 bytes per chunk of metadata (the shard) and 36 per chunk of the
// file being hashed (its chunk list, UploadedFile::digest).
#ifndef HUBFS_CHUNKSTORE_UPLOAD_H_
#define HUBFS_CHUNKSTORE_UPLOAD_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chunkstore/file_digest.h"
#include "chunkstore/hash.h"
#include "chunkstore/shard.h"
#include "chunkstore/xorb.h"
#include "common/status.h"

namespace hubfs::chunkstore {

// Where a chunk is stored on the CAS: chunk `index` of xorb `xorb`.
struct ChunkLocation {
  Hash xorb;
  uint32_t index = 0;
};

// What an upload session needs from the outside world. Implementations must
// be thread-safe: PutXorb runs on several worker threads at once, the other
// methods on the thread that calls UploadSession::AddFile.
class UploadBackend {
 public:
  virtual ~UploadBackend() = default;
  // Stores one finished xorb on the CAS (POST /v1/xorbs). `info` describes
  // its chunks and record offsets; `body` is the serialized records.
  // An error fails the session (Finish returns it).
  virtual Status PutXorb(const XorbInfo& info, std::string body) = 0;
  // Global dedup (§5.6): the CAS's answer for `chunk_hash` (a shard of the
  // dedup shape, chunk hashes possibly keyed), or nullopt when it knows
  // nothing. An error is not fatal: the session goes on without dedup for
  // that chunk (and counts it).
  virtual Result<std::optional<Shard>> QueryChunk(const Hash& chunk_hash) = 0;
  // Where this machine already knows the chunk to be stored on the CAS (a
  // local index of earlier uploads), or nullopt.
  virtual std::optional<ChunkLocation> LookupLocal(const Hash& chunk_hash) = 0;
};

// How a worker compresses a xorb's chunks (§3.3).
enum class UploadCompression {
  kNone,      // scheme 0 everywhere
  kAdaptive,  // try LZ4 and BG4+LZ4 per chunk; after a run of chunks that did
              // not shrink, probe only every 16th chunk until one shrinks
  kBest,      // try both on every chunk
};

struct UploadOptions {
  // Xorbs compressed and uploaded at once: an uplink is rarely filled by
  // one request (xet-core sends 8); each holds a body of up to 64 MiB.
  size_t workers = 4;
  size_t max_queued_xorbs = 0;  // finished xorbs waiting for a free worker
  // Bytes per read of a file being hashed. Blocks of 1 MiB stay in the
  // cores' caches between the read, the SHA-256 and the chunker (three
  // threads, block_stream.h); 4 MiB blocks cost a 1 GiB upload ~7% more CPU
  // and an edit's SHA-256 of the rest of the file ~15% more.
  size_t read_block = 1u << 20;
  UploadCompression compression = UploadCompression::kAdaptive;
  bool global_dedup = true;
  // At most one global-dedup query per this many chunks of a file (the
  // first chunk of a file is always eligible), as xet-core does.
  size_t chunks_between_queries = 256;
  // Bounds on what the session keeps of dedup answers.
  size_t max_dedup_answers = 256;
  // SHA-256 midstates are kept every this many bytes of a file (a multiple
  // of 64) in its digest (UploadedFile::digest); smaller values only in tests.
  uint64_t midstate_interval = kDigestMidstateInterval;
  // Xorb limits (§3.1); smaller values only in tests.
  size_t xorb_max_chunks = kMaxXorbChunks;
  uint64_t xorb_max_bytes = kMaxXorbBodySize;
};

// One file as the session saw it.
struct UploadedFile {
  Hash file_hash;  // zero for an empty file
  std::array<uint8_t, 32> sha256{};
  uint64_t size = 0;
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;    // packed into xorbs of this session
  uint64_t new_bytes = 0;     // their uncompressed bytes
  uint64_t dedup_chunks = 0;  // found on the CAS, this session or locally
  // What hashing it computed (its chunks, SHA-256 midstates every
  // kDigestMidstateInterval bytes, the SHA-256): kept so that an edit of
  // this file later hashes only what changed. Null for an empty file.
  std::shared_ptr<const FileDigest> digest;
};

// A file that differs from an earlier one (the base, whose FileDigest is
// known) only in [changed_begin, changed_end): bytes outside it are the
// base's bytes at the same offsets. A file whose size differs from the
// base's has changed_end == size (the tail is not the base's).
struct FileEdit {
  const FileDigest* base = nullptr;  // checked by the caller (CheckFileDigest)
  uint64_t size = 0;                 // the new file's size
  uint64_t changed_begin = 0;
  uint64_t changed_end = 0;
};

struct UploadStats {
  uint64_t bytes_hashed = 0;
  uint64_t new_bytes = 0;  // chunk bytes packed into new xorbs (uncompressed)
  uint64_t xorbs_uploaded = 0;
  uint64_t xorb_bytes_uploaded = 0;  // serialized bodies
  uint64_t dedup_session_chunks = 0;
  uint64_t dedup_local_chunks = 0;
  uint64_t dedup_global_chunks = 0;
  uint64_t dedup_bytes = 0;
  uint64_t dedup_queries = 0;
  uint64_t dedup_query_errors = 0;
};

// Reads the next bytes of a file into `buf`; returns how many (0 = end).
using UploadReadFn = std::function<Result<size_t>(std::span<uint8_t> buf)>;
// Reads bytes of a file from `offset` into `buf`; returns how many (0 = end).
using UploadReadAtFn = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> buf)>;

class UploadSession {
 public:
  // `backend` must outlive the session.
  UploadSession(UploadBackend* backend, UploadOptions options);
  // Stops the workers (xorbs not yet uploaded are dropped).
  ~UploadSession();
  UploadSession(const UploadSession&) = delete;
  UploadSession& operator=(const UploadSession&) = delete;

  // Streams one file through the engine. Not thread-safe: one file at a
  // time. `progress` (optional) gets the bytes of this file hashed so far.
  // Errors: the reader's, a worker's upload error, kFailedPrecondition
  // after Finish.
  Result<UploadedFile> AddFile(const UploadReadFn& read,
                               const std::function<void(uint64_t)>& progress = {});

  // Streams an edited file through the engine, hashing only what the edit
  // changed: the base's chunks before the first changed byte and after the
  // chunker meets a base boundary again past the last one (content-defined
  // chunking resynchronises there) are taken from edit.base, the chunks in
  // between are cut and hashed; the SHA-256 starts at the base's last
  // midstate before the first changed chunk and reads from there to the
  // end. The result (file hash, chunks, SHA-256, shard terms) is exactly
  // AddFile's for the same bytes. A base chunk the CAS is not known to hold
  // (no local or session entry, no dedup answer) is read and hashed like
  // any other. Errors: the reader's, kFailedPrecondition when the file
  // ended before edit.size or past it, and AddFile's.
  Result<UploadedFile> AddEditedFile(const FileEdit& edit, const UploadReadAtFn& read,
                                     const std::function<void(uint64_t)>& progress = {});

  // Ends the session: packs the open xorb, waits for every upload, and
  // returns the shard to POST (one file block per distinct non-empty file,
  // with verification hashes and SHA-256; one CAS block per new xorb).
  // Errors: the first upload error.
  Result<Shard> Finish();

  UploadStats stats() const;

 private:
  struct Slot;  // a xorb of this session
  struct Job;
  struct DedupAnswer;
  struct FileState;
  struct PendingFile;

  // Where one chunk of the file goes. slot >= 0: this session's xorb slot;
  // else `existing`.
  struct Placement {
    int64_t slot = -1;
    Hash existing;
    uint32_t index = 0;
  };

  void AddChunk(FileState* f, std::span<const uint8_t> data, const Hash& hash);
  // Adds a chunk known only by hash when the CAS is known to hold it;
  // false (nothing added) otherwise.
  bool AddKnownChunk(FileState* f, const Hash& hash, uint32_t length);
  // Closes the file: its hash, its shard entry, its digest.
  void EndFile(FileState* f, const std::array<uint8_t, 32>& sha256,
               std::vector<Sha256Midstate> midstates);
  std::optional<Placement> FindExisting(FileState* f, const Hash& hash);
  std::optional<Placement> FindInAnswers(const Hash& hash, const Placement* prefer_next);
  void Place(FileState* f, const Placement& p, uint32_t length, const Hash& hash);
  void CutXorb();
  void WorkerLoop();
  Status RunJob(Job* job);
  Status FirstError();

  UploadBackend* const backend_;
  const UploadOptions options_;

  // Hashing thread only.
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint8_t> open_data_;  // chunk bytes of the open slot
  std::unordered_map<Hash, std::pair<int64_t, uint32_t>, HashHasher> session_chunks_;
  std::deque<std::unique_ptr<DedupAnswer>> answers_;
  std::vector<std::unique_ptr<PendingFile>> pending_files_;
  std::unordered_map<Hash, size_t, HashHasher> file_index_;
  bool finished_ = false;

  // Shared with the workers.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // GUARDED_BY(mu_)
  size_t running_ = 0;                      // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  Status error_;                            // GUARDED_BY(mu_): first worker error
  std::vector<std::vector<uint8_t>> spare_;  // GUARDED_BY(mu_): data buffers to reuse (≤ 2)
  std::vector<std::thread> threads_;

  struct AtomicStats;
  std::unique_ptr<AtomicStats> stats_;
};

// Appends the chunk records of `chunks` (consecutive in `data`) to `*body`
// with the given compression and fills the chunks' record offsets.
// Thread-safe (no shared state).
void SerializeXorbRecords(std::span<const uint8_t> data, std::span<XorbChunkInfo> chunks,
                          UploadCompression compression, std::string* body);

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_UPLOAD_H_
