// XetReader: the content source for Xet-backed files (design §3): any byte
// range of a file identified by its Xet hash and size, served from the chunk
// cache when possible and otherwise from the CAS, fetching only the chunk
// ranges a reconstruction lists for the bytes needed.
//
// Read path, per call:
//   1. The file's terms (immutable per file hash) come from memory, the chunk
//      cache, or one full reconstruction (whose terms are cached; URLs never).
//   2. With the terms, the learned chunk lengths of their xorbs and the
//      file's anchors (where chunks inside a term start, learned from earlier
//      ranged plans; fs/content/chunk_placement.h), the bytes map to (xorb,
//      chunk) pairs; if every chunk is cached, the read is answered with no
//      network request.
//   3. Otherwise a reconstruction with Range (per segment of the request,
//      less the chunks cached and placed at its ends; a small demand read in
//      a tensor file asks for a plan window from it to the next multiple of
//      plan_window_bytes, within its tensor, shared by concurrent readers of
//      that window) names the fetch ranges; those
//      holding a chunk not cached are fetched (in parallel, bounded, one
//      fetch per range shared by concurrent readers, demand reads before
//      read-ahead), every record is decoded and its length checked against
//      the plan, its anchors are learned, records go to the cache as fetched,
//      chunk lengths and record offsets are learned, and exactly the requested
//      bytes are assembled. A 403 from a data URL (expired) gets a new
//      reconstruction and one more try.
// Before that, the read is recorded with the file's read-ahead streams
// (fs/readahead.h), which may queue a background fetch of the bytes after
// it, within the reader's memory budget (a segment whose chunks are all
// cached and placed asks nothing; the thread that takes a segment asks the
// next queued segment's plan at the same time); see docs/ARCHITECTURE.md ("The read
// path"). For a file named as a tensor file (XetFileRef::tensor_name), the
// first read also reads and parses its header (fs/content/tensor_layout.h) so
// that the streams follow the tensors. docs/SEMANTICS.md says what is verified.
//
// Thread-safety: all methods are thread-safe; many threads may read one file.
// No lock is held across a CAS call or a cache call that can block (Put*).
// Lock order: layout_put_mu_ before mu_; FileState::mu before pf_mu_; pf_mu_ before
// ahead_mu_ (a leaf); open_mu_ a leaf;
// FileState::anchors_put_mu before FileState::anchors_mu, which is a leaf;
// SingleFlight locks alone.
#ifndef HUBFS_FS_CONTENT_XET_READER_H_
#define HUBFS_FS_CONTENT_XET_READER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "chunkstore/cache.h"
#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "chunkstore/shared_tier.h"
#include "chunkstore/xorb.h"
#include "common/status.h"
#include "fs/content/buffer_pool.h"
#include "fs/content/fan_out_pool.h"
#include "fs/content/lru_map.h"
#include "fs/content/page_sink.h"
#include "fs/content/readahead.h"
#include "fs/content/single_flight.h"
#include "fs/content/xet_cache_codec.h"
#include "fs/content/xet_cas.h"

namespace hubfs::fs {

class HeldBytes;  // fs/content/repo_source.h

// A Xet-backed file: its Xet hash and size (from a tree listing or resolve),
// and its SHA-256 when known (LFS oid / X-Linked-Etag).
struct XetFileRef {
  chunkstore::Hash hash;
  uint64_t size = 0;
  std::optional<std::array<uint8_t, 32>> sha256;
  // The file's name says it holds tensors (fs/content/tensor_layout.h): its
  // first read parses the header so that read-ahead follows the tensors.
  bool tensor_name = false;
};

struct XetReaderOptions {
  // Data fetches running at once for this reader, over all reads. Read-ahead
  // never takes the last free one while a demand read waits (demand first).
  size_t max_parallel_fetches = 8;
  // Read-ahead (fs/readahead.h): per file, up to readahead_streams
  // independent sequential streams; a stream's window starts at
  // readahead_initial_bytes (or twice the read, if larger) on its first
  // sequential hit and doubles each time it reads ahead, up to
  // readahead_bytes. Read-ahead is fetched in the background by
  // readahead_threads threads, one task per segment_bytes of a window (a
  // queue of at most readahead_queue tasks);
  // reads that need bytes being fetched ahead wait for them instead of
  // fetching them again. Random reads get no read-ahead. false: no
  // read-ahead at all.
  bool async_readahead = true;
  uint64_t readahead_bytes = 64ull << 20;
  uint64_t readahead_initial_bytes = 1ull << 20;
  size_t readahead_streams = 16;
  size_t readahead_threads = 4;
  size_t readahead_queue = 64;
  // A read-ahead thread that takes a task also asks the plans of up to this
  // many of the next queued tasks (those no thread asked yet), on helpers
  // of the fan-out pool, so that their plan round trips overlap the fetches
  // before them. Under a 50 ms round trip (hubsim's latency fault) one plan
  // ahead left a segment waiting 30-50 ms for its plan in most cases.
  size_t plans_ahead = 4;
  // A distant origin: once the round trip (the least of the last 16 plan
  // requests' durations) reaches this, read-ahead keeps twice as much in
  // flight - twice the read-ahead threads, fetch slots and speculative
  // threads, windows up to twice readahead_bytes that grow four times per
  // step - until it falls below again. 0 = never. Under hubsim's 50 ms
  // latency fault on an idle machine it cut a folder copy's time by a
  // quarter. It once looked harmful with both cores busy (cold reads of a
  // 1 GiB file took 5-27 s against 3.4-5.8 s without it): that came from the
  // daemon's own scheduler autogroup (cli/mount.cc, DetachFromTerminal), and
  // in the launcher's group both took 4.2-4.5 s.
  // The round trip is estimated either way (Stats().round_trip_us).
  std::chrono::milliseconds far_round_trip{10};
  // Mount-wide bound on read-ahead bytes being fetched or held in memory
  // (`hubfs mount --memory-limit`). Read-ahead is trimmed or skipped rather
  // than exceeding it; demand reads are not counted (each is bounded by
  // max_window_bytes).
  uint64_t memory_limit = 128ull << 20;
  // Speculative read-ahead (Speculate: the next files of a folder being
  // copied): at most this share of memory_limit (percent) in flight, and at
  // most speculative_threads of the read-ahead threads fetching for it at
  // once, so that reads asked for and their read-ahead always find room.
  uint32_t speculative_percent = 50;
  size_t speculative_threads = 2;
  // Tensor files a loader reads whole, tensor by tensor out of file order
  // (ReadaheadOptions::sweep_tensor_bytes says when), are swept: the rest of
  // the file is read ahead in file order, in the read-ahead queue, holding
  // at most speculative_percent of the budget, so that the loader's later
  // tensors are cached (and with a PageSink, in the page cache) by the time
  // it comes for them. Only files of at most this size, and at most
  // half of the cache's max_bytes. 0 = never.
  uint64_t tensor_sweep_max_bytes = 64ull << 30;
  // Bound on one read's window; longer requests are served window by window.
  uint64_t max_window_bytes = 64ull << 20;
  // A cold window longer than this is split into segments of this size, each
  // with its own ranged reconstruction, processed in parallel (production
  // URLs only accept the listed ranges, so parallelism within one xorb needs
  // several plans). Neighbouring segments may fetch their boundary chunk twice.
  // With a shared tier, segments are cut at multiples of segment_bytes in the
  // file and read-ahead windows end on them, so that machines reading one
  // file fetch the same ranges (docs/CACHE_FORMAT.md, "Shared tier").
  uint64_t segment_bytes = 8ull << 20;
  // In a tensor file (its layout parsed), a demand read shorter than this
  // that needs the CAS asks for (and fetches) the bytes from its offset up
  // to the next multiple of plan_window_bytes in the file, cut at the end of
  // its tensor and at the start of a read-ahead queued for the same file;
  // the reads after it then find their chunks cached, placed by the plan's
  // anchor, with no request. Concurrent readers of one window share one
  // plan. Other files' small reads (maybe random ones) fetch only their own
  // chunks. 0 = plans for the read's bytes only.
  uint64_t plan_window_bytes = 256ull << 10;
  // Threads that load cached chunks of one large warm read in parallel (so
  // that page faults into a cold page cache overlap). 1 = the caller only.
  size_t warm_threads = 4;
  // Threads of the reader's fan-out pool (segments, ranges, warm chunks,
  // verification stages); 0 = max_parallel_fetches + warm_threads.
  size_t fan_out_threads = 0;
  // Capacity of fetched bodies kept for the next fetches (0 = none; a
  // buffer over max_window_bytes is never kept): bodies then land in pages
  // touched before. A long-lived reader gives them back when idle
  // (ReleaseIdleBuffers).
  uint64_t reuse_body_bytes = 0;
  // false: a fetched chunk is cached only if the cache's write queue has
  // room for it at once (ChunkCache::PutChunkIfRoom), so a read never waits
  // for the cache's disk writes, and what the disk cannot take as fast as
  // the network brings it is not cached (`hubfs cat`). Only for a reader
  // without read-ahead: read-ahead's chunks reach their reader through the
  // cache.
  bool wait_for_cache = true;
  // Files whose terms are kept in memory, xorbs whose layouts are.
  size_t max_files = 1024;
  size_t max_layouts = 16384;
  // A cache shared by many machines (`--shared-cache`), asked after the
  // local cache and before the origin; nullptr = none. Not owned: it must
  // outlive the reader. Never fails a read (chunkstore/shared_tier.h).
  chunkstore::SharedTier* shared_tier = nullptr;
};

struct XetReaderStats {
  uint64_t reads = 0;
  uint64_t warm_reads = 0;          // answered without any network request
  uint64_t reconstructions = 0;     // CAS reconstruction requests (full + ranged)
  uint64_t shared_plans = 0;        // cold reads that waited for another's plan window
  uint64_t data_fetches = 0;        // data range GETs issued
  uint64_t data_bytes = 0;          // bytes received from data URLs
  uint64_t shared_fetches = 0;      // fetches joined instead of issued
  uint64_t expired_url_retries = 0; // new plans after a 403
  uint64_t xorbs_verified = 0;      // whole xorbs fetched and hash-checked
  uint64_t corrupt_cache_chunks = 0;
  // Shared tier (zero without one): runs and their bytes served from it
  // instead of the origin, runs it held whole but that failed the checks
  // (refetched from the origin); and the tier's own counters.
  uint64_t tier_runs = 0;
  uint64_t tier_bytes = 0;
  uint64_t tier_refused = 0;
  chunkstore::SharedTierStats tier;
  // Read-ahead: windows started, their file bytes, segments that failed
  // (the reads then fetch for themselves), windows dropped because the
  // memory budget was taken meanwhile or the queue was full. (A window
  // trimmed to what the budget has left counts as started.)
  uint64_t readahead_windows = 0;
  uint64_t readahead_bytes = 0;
  uint64_t readahead_failed = 0;
  uint64_t readahead_skipped = 0;
  // Files whose tensor layout was parsed (their read-ahead follows tensors).
  uint64_t tensor_layouts = 0;
  // Speculative read-ahead (Speculate): files started, their bytes queued,
  // requests and segments cancelled before they ran, and segments a reader
  // came for while still queued (moved ahead as read-ahead of that reader).
  uint64_t speculative_files = 0;
  uint64_t speculative_bytes = 0;
  uint64_t speculative_cancelled = 0;
  uint64_t speculative_claimed = 0;
  // Tensor files swept (XetReaderOptions::tensor_sweep_max_bytes) and the
  // bytes queued for their sweeps (segments found cached fetch nothing).
  uint64_t tensor_sweeps = 0;
  uint64_t tensor_sweep_bytes = 0;
  // Sweeps stopped because the last handle of their file was released
  // (Closed): the loader is gone, the rest of the file is not fetched.
  uint64_t sweeps_stopped = 0;
  // Bytes of sweeps handed to the page sink (which may drop some; the
  // FUSE server counts what the kernel took).
  uint64_t sweep_stored_bytes = 0;
  // Plans asked ahead for queued read-ahead segments (each a
  // reconstruction too), and those a segment then used.
  uint64_t plans_ahead = 0;
  uint64_t plans_ahead_used = 0;
  // Gauge: plans asked ahead (or about to be) and not yet taken or dropped
  // by their segment; none once read-ahead is idle.
  uint64_t plans_ahead_held = 0;
  // Gauges (now, not cumulative): data fetches running, read-ahead bytes in
  // flight or held against the budget, the budget, and the most ever held.
  uint64_t fetches_in_flight = 0;
  uint64_t readahead_in_flight = 0;
  uint64_t memory_limit = 0;
  uint64_t readahead_peak = 0;
  // The origin's round trip as estimated (0: no plan asked yet), whether it
  // counts as distant (XetReaderOptions::far_round_trip), and the read-ahead
  // threads and fetch slots in use for it.
  uint64_t round_trip_us = 0;
  bool far_origin = false;
  uint64_t readahead_threads = 0;
  uint64_t fetch_slots = 0;
};

class XetReader {
 public:
  // `cas` and `cache` must outlive the reader. `cache` may be nullptr (no
  // persistence; every read goes to the CAS).
  XetReader(XetCas* cas, chunkstore::ChunkCache* cache, XetReaderOptions options = {});
  ~XetReader();
  XetReader(const XetReader&) = delete;
  XetReader& operator=(const XetReader&) = delete;

  // Reads up to out.size() bytes at `offset`; returns the count (0 at or past
  // the end; short only at the end of the file). On error nothing in `out`
  // is meaningful. Errors: kCorrupt (data failed a check; never served),
  // the CAS's errors (kNotFound, kUnavailable, ...), kInternal.
  Result<size_t> Read(const XetFileRef& file, uint64_t offset, std::span<uint8_t> out);

  // Read of up to `len` bytes into `out` (replaced): when every chunk of
  // the range is stored uncompressed and still in the chunk cache's memory
  // (fetched moments ago, mostly by read-ahead), as those chunks held, not
  // copied; otherwise as Read, into a buffer of out's own.
  // `pages_kept`: the caller keeps the bytes (RepoSource::ReadHeld): once
  // it calls out->Delivered() (the bytes handed over), the chunks read
  // through in the cache's memory may be left unwritten when the cache's
  // write queue is full (ChunkCache::ReadThrough).
  Result<size_t> ReadHeld(const XetFileRef& file, uint64_t offset, size_t len, HeldBytes* out,
                          bool pages_kept = false);

  // Streams the whole file to `sink` in order, in blocks of at most
  // `block_bytes`, and verifies the Xet file hash (Merkle over the chunk
  // hashes) and, when file.sha256 is set, the SHA-256. Blocks are read on
  // several threads at once, up to readahead_bytes ahead of the sink, as
  // demand reads (no read-ahead streams; fs/content/block_pipeline.h). The data has already
  // gone to the sink when a mismatch is found: the caller must report the
  // kCorrupt loudly. A sink error stops the stream and is returned.
  Status ReadAllVerified(const XetFileRef& file, uint64_t block_bytes,
                         const std::function<Status(std::span<const uint8_t>)>& sink);

  // Speculative read-ahead: reads [0, bytes) of `file` into the cache in
  // the background because a reader is expected to read it from its start
  // (fs/vfs/folder_readahead.h), as part of `group`. Never blocks: the file's
  // terms are loaded by a read-ahead thread. Below every demand read and
  // read-ahead: a read-ahead thread takes a speculative task only when no
  // other task waits, at most speculative_threads at once; its fetches wait
  // while any demand read or read-ahead waits for a slot and use at most
  // half of the slots; its bytes are held against the memory budget, at
  // most speculative_percent of it (trimmed to what is left, or skipped).
  // Nothing is done for a file that already has a reader (a stream) or
  // read-ahead. A reader that comes for a queued speculative segment moves
  // it ahead as its own read-ahead.
  void Speculate(const XetFileRef& file, uint64_t bytes, uint64_t group);
  // Drops what `group` asked for and has not started (the reader stopped).
  void CancelSpeculation(uint64_t group);

  // A handle of `file` was opened / released (a mount's open and release;
  // RepoSource::Opened/Closed). When the last open handle of a file is
  // released, its sweep stops: segments already queued or running finish
  // (at most speculative_percent of the budget), no more are queued. A
  // later loader of the file gets it again once its reads ask for it
  // (ReadaheadStreams::RearmSweep), from where it stopped; reads that come
  // after the last release and before the next open (the kernel's
  // read-ahead of a mapping just closed) start none. Files never opened
  // (`hubfs cat`) are not counted and their sweeps run to the end.
  void Opened(const XetFileRef& file) EXCLUDES(open_mu_, mu_);
  void Closed(const XetFileRef& file) EXCLUDES(open_mu_, mu_);

  XetReaderStats Stats() const;

  // Where a sweep's bytes also go (fs/content/page_sink.h); nullptr: only
  // to the cache. `sink` must stay valid until replaced; once this returns,
  // the sink it replaced is no longer called.
  void SetPageSink(PageSink* sink);

  // Frees the fetched bodies kept for reuse (XetReaderOptions::
  // reuse_body_bytes); the next fetches allocate again.
  void ReleaseIdleBuffers();

 private:
  struct FileState;
  struct PrefetchTask;
  // Who a fetch is for: a demand read goes before read-ahead, read-ahead
  // before speculative read-ahead.
  enum class Priority { kDemand, kReadahead, kSpeculative };
  struct SpecRequest {
    XetFileRef ref;
    uint64_t bytes = 0;
    uint64_t group = 0;
  };
  // A read-ahead thread's turn at a speculative request: loads the file and
  // queues its segments.
  void StartSpeculation(const SpecRequest& request);
  // Queues the next segments of a swept file (FileState::sweeping) in the
  // read-ahead queue, as far as speculative_percent of the budget allows
  // (sweep_held_), skipping bytes read or pending. REQUIRES: st.mu held (`state` owns
  // `st`); not annotated, FileState being incomplete here.
  void TopUpSweep(FileState& st, const std::shared_ptr<FileState>& state);
  // Records a read of [offset, offset + len) with the file's streams and
  // queues the read-ahead it calls for (within the memory budget).
  void MaybePrefetch(const std::shared_ptr<FileState>& state, uint64_t offset, uint64_t len);
  // Once per file: reads and parses its tensor header and gives the layout
  // to its read-ahead streams. A file that does not parse keeps the
  // ordinary read-ahead; errors are only logged.
  void LoadTensorLayout(FileState& state);
  // Read's first steps: the file's state, its tensor layout, read-ahead.
  Result<std::shared_ptr<FileState>> StartRead(const XetFileRef& file, uint64_t offset,
                                               uint64_t len);
  // [offset, end) as chunks held in the cache's memory (ReadHeld); false
  // when one is not there, not placed, or not stored uncompressed. With
  // `pages_kept`, out's Delivered() tells the cache the bytes of each chunk
  // handed over (ChunkCache::ReadThrough): a full cache queue may leave the
  // chunks read through unwritten.
  bool TryHeld(const FileState& file, uint64_t offset, uint64_t end, HeldBytes* out,
               bool pages_kept);
  // For bytes [offset, end) copied into `out`'s buffer of its own: out's
  // Delivered() tells the cache the bytes of each chunk handed over, as
  // TryHeld's with pages_kept, for the chunks the cache holds in memory now
  // (compressed ones too) and still at the delivery (not kept for it).
  void ReadThroughOnDelivery(const FileState& file, uint64_t offset, uint64_t end,
                             HeldBytes* out);
  // Reads [offset, offset + out.size()) (within the file) from the cache,
  // a read-ahead or the CAS, without touching the read-ahead streams.
  Status ReadRange(FileState& state, uint64_t offset, std::span<uint8_t> out, bool* all_warm);
  // Waits while a read-ahead of this file overlapping [start, end) is being
  // fetched. Returns whether it waited.
  bool WaitForPrefetch(FileState& state, uint64_t start, uint64_t end);
  // Read-ahead thread `index`; threads past the count in use for the
  // origin's distance (active_threads_) wait.
  void PrefetchLoop(size_t index);
  // A plan from the CAS, its duration recorded in round_trip_; a change of
  // distance (far_round_trip) rescales the read-ahead.
  Result<chunkstore::Reconstruction> AskPlan(const chunkstore::Hash& file_hash,
                                             std::optional<FileByteRange> range);
  void SetFar(bool far);
  // A read-ahead task ended (or will not run): budget back, stream told.
  void EndPrefetch(const PrefetchTask& task, bool ok);
  void AcquireFetchSlot(Priority priority);
  void ReleaseFetchSlot(Priority priority);
  struct Plan;
  // The chunks of one fetch range. Stored (scheme 0) records are not copied:
  // their chunks point into the body; compressed ones are decoded.
  struct Run {
    Run() = default;
    explicit Run(BufferPool* p) : pool(p) {}
    ~Run();  // its body goes back to `pool`, when set
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    BufferPool* const pool = nullptr;
    std::vector<uint8_t> body;
    std::vector<std::vector<uint8_t>> decoded;
    std::vector<std::span<const uint8_t>> chunks;  // into body or decoded
  };
  using FetchKey = std::tuple<chunkstore::Hash, uint32_t, uint32_t, uint64_t, uint64_t>;

  Result<std::shared_ptr<FileState>> GetFile(const XetFileRef& file);
  Result<std::shared_ptr<FileState>> LoadFile(const XetFileRef& file);
  // Lengths of chunks [range.start, range.end) of `xorb`, 0 where unknown.
  std::vector<uint32_t> KnownLengths(const chunkstore::Hash& xorb, chunkstore::ChunkRange range);
  Status Learn(const chunkstore::Hash& xorb, const LearnedLayout& learned);

  // A chunk of the file placed by MapPieces.
  struct Piece {
    const chunkstore::Hash* xorb;  // into the file's terms
    uint32_t index;
    uint32_t length;
    uint64_t start;  // file offset of the chunk
  };
  // The chunks holding [offset, end), placed by PlaceTerm; false when one
  // cannot be placed.
  bool MapPieces(const FileState& file, uint64_t offset, uint64_t end, std::vector<Piece>* pieces);
  // Whether every chunk of [offset, end) is placed and cached (a read-ahead
  // of it would have nothing to do).
  bool CachedAndPlaced(const FileState& file, uint64_t offset, uint64_t end);
  // Narrows [*start, *end) by the chunks at either end that are cached and
  // placed (fetched by the windows next to it), moving each bound to a chunk
  // boundary; *start == *end when every chunk is. A plan for the range would
  // list them, and their fetch ranges would be fetched whole.
  void TrimCached(const FileState& file, uint64_t* start, uint64_t* end);
  // Serves [offset, offset + out.size()) from the cache alone, placing the
  // chunks by PlaceTerm. False on any miss or a chunk it cannot place (out
  // may be partly written).
  bool TryWarm(const FileState& file, uint64_t offset, std::span<uint8_t> out);
  // The file offsets of the chunk boundaries of term `i` (see
  // fs/content/chunk_placement.h) and the lengths known for its chunks;
  // false when anchors and lengths disagree.
  bool PlaceTerm(const FileState& file, size_t i, std::vector<uint32_t>* lengths,
                 std::vector<uint64_t>* at);
  // Records the anchors a checked ranged plan for [offset, ...) gives (where
  // its first chunk starts, where its last term ends inside a term) and
  // puts the file's terms entry with them once a quarter of the set is new
  // (SaveAnchors; the rest when the reader ends). Errors: kCorrupt when they
  // disagree with what is known (the term's learned anchors are then
  // dropped, and the entry put at once, so that the next plan starts afresh).
  Status LearnAnchors(FileState& file, const chunkstore::Reconstruction& plan, uint64_t offset);
  // Puts the file's terms entry with every anchor known, when the set
  // changed since the last put: with `always`, or once it has grown by a
  // quarter of what was put (at least kAnchorsPerSave anchors).
  void SaveAnchors(FileState& file, bool always);
  // A demand read that missed: widened to its plan window (see
  // plan_window_bytes), shared with concurrent readers of that window.
  Status ReadColdDemand(FileState& state, uint64_t offset, std::span<uint8_t> out);
  // Where the segment starting at `start` ends (before the window's end):
  // segment_bytes on, or with a shared tier the next multiple of it.
  uint64_t SegmentEnd(uint64_t start) const;
  // Cold path for one window: [offset, offset + out.size()) plus read-ahead up
  // to `window_end`, split into segments.
  Status ReadCold(const XetFileRef& file, uint64_t offset, uint64_t window_end,
                  std::span<uint8_t> out, Priority priority);
  // One segment [offset, segment_end): a ranged plan (renewed once after a
  // 403), its fetches, and assembly of out.size() bytes (possibly none).
  Status ReadSegment(const XetFileRef& file, uint64_t offset, uint64_t segment_end,
                     std::span<uint8_t> out, bool parallel_fetches, Priority priority);
  // Checks that a ranged plan really starts at `offset` of the file: its
  // terms must be the file's terms from the one holding `offset` on
  // (trimmed at both ends), and where the dropped leading bytes can be
  // computed, they must add up to `offset`. Errors: kCorrupt.
  Status CheckPlacement(const FileState& file, const chunkstore::Reconstruction& plan,
                        uint64_t offset);
  Status ReadColdOnce(const chunkstore::Reconstruction& plan, uint64_t window_len,
                      std::span<uint8_t> out, bool parallel_fetches, Priority priority);
  // Fetches, decodes, checks, caches one range. Shared by concurrent readers.
  Result<std::shared_ptr<const Run>> FetchRun(const chunkstore::XorbFetch& xorb,
                                              const chunkstore::FetchEntry& entry,
                                              const chunkstore::FetchRange& range,
                                              const chunkstore::Reconstruction& plan,
                                              Priority priority);
  Result<std::shared_ptr<const Run>> FetchRunUncached(const chunkstore::XorbFetch& xorb,
                                                      const chunkstore::FetchEntry& entry,
                                                      const chunkstore::FetchRange& range,
                                                      const chunkstore::Reconstruction& plan,
                                                      Priority priority);
  // The range from the cache when every chunk's length is known and cached;
  // nullptr otherwise.
  std::shared_ptr<const Run> RunFromCache(const chunkstore::XorbFetch& xorb,
                                          const chunkstore::FetchRange& range);
  // The range from the shared tier when it holds every chunk and their
  // records tile the range's bytes exactly (then the body is what the origin
  // would answer, and is checked as such); nullptr otherwise. `recheck`: a
  // look again while another node fetches it (misses are not counted).
  std::shared_ptr<const Run> RunFromTier(const chunkstore::XorbFetch& xorb,
                                         const chunkstore::FetchRange& range,
                                         const chunkstore::Reconstruction& plan,
                                         const std::string& what, bool recheck);
  // The range from the shared tier, waiting (polling, up to the tier's
  // lease_wait) while another node holds its lease; nullptr when this node
  // is to fetch it from the origin, with *leased when it holds the lease.
  std::shared_ptr<const Run> RunFromTierOrLease(const chunkstore::XorbFetch& xorb,
                                                const chunkstore::FetchRange& range,
                                                const chunkstore::Reconstruction& plan,
                                                const std::string& what, bool* leased);
  Result<std::shared_ptr<const Run>> FetchRunFromOrigin(const chunkstore::XorbFetch& xorb,
                                                        const chunkstore::FetchEntry& entry,
                                                        const chunkstore::FetchRange& range,
                                                        const chunkstore::Reconstruction& plan,
                                                        const std::string& what,
                                                        Priority priority, bool leased);
  // Decodes, checks and learns a body fetched for `range` (from the origin
  // or the tier), then puts its records into the local cache; `records`
  // gets each record's [offset, size) in the body.
  Status AcceptRun(const chunkstore::XorbFetch& xorb, const chunkstore::FetchRange& range,
                   const chunkstore::Reconstruction& plan, const std::string& what, Run* run,
                   std::vector<std::pair<size_t, size_t>>* records);
  // Decodes run->body into exactly range.chunks.size() chunks, noting their
  // lengths and where each record lies in the body. Errors: kCorrupt.
  Status DecodeRun(const chunkstore::FetchRange& range, const std::string& what, Run* run,
                   LearnedLayout* learned, std::vector<std::pair<size_t, size_t>>* records);
  // Checks the chunks against the plan's terms; a run that is the whole
  // xorb (its Merkle root) makes the chunk count known. Errors: kCorrupt.
  Status CheckRun(const chunkstore::XorbFetch& xorb, const chunkstore::FetchRange& range,
                  const chunkstore::Reconstruction& plan, const std::string& what,
                  const Run& run, LearnedLayout* learned);
  // A cached chunk that failed to decode: counted and logged (it is fetched
  // again, as a miss).
  void CountBadCachedChunk(const chunkstore::Hash& xorb, uint32_t index);
  // Decodes the cached record of a chunk straight into `out` (its exact
  // length). False on a miss or a bad record (counted, treated as a miss).
  bool CachedChunkInto(const chunkstore::Hash& xorb, uint32_t index, std::span<uint8_t> out);
  // Bytes [skip, skip + out.size()) of the cached chunk (of `length` bytes)
  // into `out`, without a copy of the whole chunk when it is stored as is.
  // False as CachedChunkInto.
  bool CachedChunkPartInto(const chunkstore::Hash& xorb, uint32_t index, uint32_t length,
                           uint64_t skip, std::span<uint8_t> out);
  // A decoded chunk from the cache, checked against `expected_len` when
  // non-zero; nullopt on a miss or a bad record (dropped as a miss).
  std::optional<std::vector<uint8_t>> CachedChunk(const chunkstore::Hash& xorb, uint32_t index,
                                                  uint32_t expected_len);

  std::unique_ptr<chunkstore::ChunkDecoder> AcquireDecoder();
  void ReleaseDecoder(std::unique_ptr<chunkstore::ChunkDecoder> d);

  XetCas* const cas_;
  chunkstore::ChunkCache* const cache_;
  const XetReaderOptions options_;

  mutable Mutex mu_;
  LruMap<chunkstore::Hash, std::shared_ptr<FileState>> files_ GUARDED_BY(mu_);
  // Open handles per file (Opened/Closed); a leaf lock.
  Mutex open_mu_;
  std::unordered_map<chunkstore::Hash, size_t, chunkstore::HashHasher> open_ GUARDED_BY(open_mu_);
  LruMap<chunkstore::Hash, LearnedLayout> layouts_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<chunkstore::ChunkDecoder>> decoders_ GUARDED_BY(mu_);
  size_t fetches_running_ GUARDED_BY(mu_) = 0;
  // Fetch slots for the origin's distance (max_parallel_fetches, twice that
  // for a distant one).
  size_t fetch_limit_ GUARDED_BY(mu_) = 0;
  size_t demand_waiting_ GUARDED_BY(mu_) = 0;
  size_t readahead_waiting_ GUARDED_BY(mu_) = 0;
  size_t speculative_running_ GUARDED_BY(mu_) = 0;
  CondVar fetch_slots_;
  // Held while encoding and queueing a layout, so the cache always receives
  // the latest merged layout last. Taken before mu_, never the other way.
  Mutex layout_put_mu_;

  // Background read-ahead: a few threads, a bounded queue. Lock order:
  // FileState::mu before pf_mu_; neither is held across I/O. A queued task
  // is listed in its FileState's `pending` from before it is queued until
  // EndPrefetch.
  MemoryBudget budget_;
  mutable Mutex pf_mu_;
  CondVar pf_cv_;
  // Where the threads beyond active_threads_ wait.
  CondVar pf_parked_cv_;
  std::deque<PrefetchTask> pf_queue_ GUARDED_BY(pf_mu_);
  // Speculative work: requests whose file is not loaded yet (at most
  // readahead_queue), then their segments; taken only when pf_queue_ is
  // empty.
  std::deque<SpecRequest> spec_requests_ GUARDED_BY(pf_mu_);
  std::deque<PrefetchTask> spec_queue_ GUARDED_BY(pf_mu_);
  size_t spec_threads_busy_ GUARDED_BY(pf_mu_) = 0;
  // Read-ahead and speculative threads in use (XetReaderOptions::far_round_trip).
  size_t active_threads_ GUARDED_BY(pf_mu_) = 0;
  size_t spec_limit_ GUARDED_BY(pf_mu_) = 0;
  RoundTripGauge round_trip_;
  static constexpr uint64_t kRoundTripMinSamples = 4;
  std::atomic<bool> far_{false};
  // The groups cancelled last (a request taken by a thread before its group
  // was cancelled must not queue work after it).
  std::deque<uint64_t> spec_cancelled_ GUARDED_BY(pf_mu_);
  // Bytes of speculative tasks queued or running (also held in budget_).
  std::atomic<uint64_t> spec_held_{0};
  // Largest file swept (XetReaderOptions::tensor_sweep_max_bytes, bounded
  // by the cache), and the group of sweeps' segments (never cancelled).
  uint64_t sweep_max_bytes_ = 0;
  // Bytes of sweep segments queued or running (also held in budget_).
  std::atomic<uint64_t> sweep_held_{0};
  // SetPageSink's sink; held while calling it. A leaf lock.
  Mutex sink_mu_;
  PageSink* sink_ GUARDED_BY(sink_mu_) = nullptr;
  bool SinkWants(const chunkstore::Hash& file) EXCLUDES(sink_mu_);
  // Some handle of the file is open (Opened more often than Closed).
  bool IsOpen(const chunkstore::Hash& file) EXCLUDES(open_mu_);
  static constexpr uint64_t kSweepGroup = ~uint64_t{0};
  // Files holding read-ahead bytes (not speculative): the fair share.
  std::atomic<size_t> files_holding_{0};
  bool pf_stop_ GUARDED_BY(pf_mu_) = false;
  std::vector<std::thread> pf_threads_;

  // Plans asked ahead: a read-ahead thread that takes a task also asks the
  // plans of the next queued ones (XetReaderOptions::plans_ahead), so that
  // their plan round trips overlap this one's fetches. Keyed by the segment
  // (file, start, end); taken by its ReadSegment, dropped by its
  // EndPrefetch. A leaf lock.
  struct AheadPlan;
  using AheadKey = std::tuple<chunkstore::Hash, uint64_t, uint64_t>;
  static constexpr size_t kMaxAheadPlans = 64;
  mutable Mutex ahead_mu_;
  std::map<AheadKey, std::shared_ptr<AheadPlan>> ahead_ GUARDED_BY(ahead_mu_);
  // Asks the plan of `key` and keeps it for TakeAheadPlan (nothing when its
  // task gave up waiting before: TakeAheadPlan).
  void FetchAheadPlan(const AheadKey& key, AheadPlan& ahead);
  // The plan asked ahead for `key` (waiting for it while it is being asked),
  // taken out of ahead_; nullopt when none was asked, it failed, or its
  // asker had not started it yet (then it never does: the caller asks).
  std::optional<chunkstore::Reconstruction> TakeAheadPlan(const AheadKey& key);

  // Fetched bodies kept for reuse (XetReaderOptions::reuse_body_bytes);
  // nullptr when none are. Declared before everything that holds Runs.
  const std::unique_ptr<BufferPool> bodies_;

  // Helps one read fan out; see fs/content/fan_out_pool.h.
  FanOutPool fan_out_;

  SingleFlight<chunkstore::Hash, std::shared_ptr<FileState>> file_flights_;
  SingleFlight<FetchKey, std::shared_ptr<const Run>> fetch_flights_;
  // Plan windows of demand reads: (file, window number).
  SingleFlight<std::pair<chunkstore::Hash, uint64_t>, bool> window_flights_;

  struct Counters {
    std::atomic<uint64_t> reads{0}, warm_reads{0}, reconstructions{0}, shared_plans{0},
        data_fetches{0},
        data_bytes{0}, shared_fetches{0}, expired_url_retries{0}, xorbs_verified{0},
        corrupt_cache_chunks{0}, readahead_windows{0}, readahead_bytes{0}, readahead_failed{0},
        readahead_skipped{0}, tensor_layouts{0}, tier_runs{0}, tier_bytes{0}, tier_refused{0},
        speculative_files{0}, speculative_bytes{0}, speculative_cancelled{0},
        speculative_claimed{0}, plans_ahead{0}, plans_ahead_used{0}, tensor_sweeps{0},
        tensor_sweep_bytes{0}, sweep_stored_bytes{0}, sweeps_stopped{0};
  };
  mutable Counters counters_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_XET_READER_H_
