#include "fs/content/xet_reader.h"

#include "fs/content/xet_reader_state.h"

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "common/log.h"
#include "fs/content/chunk_placement.h"
#include "fs/content/repo_source.h"
#include "fs/content/tensor_layout.h"

namespace hubfs::fs {

using chunkstore::ChunkRange;
using chunkstore::FetchEntry;
using chunkstore::FetchRange;
using chunkstore::Hash;
using chunkstore::Reconstruction;
using chunkstore::ReconTerm;
using chunkstore::XorbFetch;


namespace {

// A file's anchors are put again once this many (or a quarter of those put
// before) are new; see XetReader::SaveAnchors.
constexpr size_t kAnchorsPerSave = 64;

// The chunk's bytes inside a cached `record` when it is stored as is (not
// compressed) and its header agrees with the record and with `length`.
std::optional<std::span<const uint8_t>> StoredAsIs(std::span<const uint8_t> record,
                                                   uint32_t length) {
  Result<chunkstore::ChunkRecordHeader> header = chunkstore::ParseChunkRecordHeader(record);
  if (!header.ok() || header->scheme != chunkstore::CompressionScheme::kNone ||
      header->record_size() != record.size() || header->uncompressed_size != length) {
    return std::nullopt;
  }
  return record.subspan(chunkstore::kChunkRecordHeaderSize);
}

// Decoded chunks available to one assembly: chunks fetched by this read (or
// shared with another) and chunks read from the cache.
class ChunkMap final : public chunkstore::ChunkSource {
 public:
  bool Has(const Hash& xorb, uint32_t index) const { return map_.count({xorb, index}) != 0; }
  void AddOwned(const Hash& xorb, uint32_t index, std::vector<uint8_t> bytes) {
    owned_.push_back(std::make_shared<std::vector<uint8_t>>(std::move(bytes)));
    map_.emplace(std::make_pair(xorb, index), std::span<const uint8_t>(*owned_.back()));
  }
  // `chunks` point into `owner`, which is kept alive.
  void AddRun(const Hash& xorb, uint32_t start, std::span<const std::span<const uint8_t>> chunks,
              std::shared_ptr<const void> owner) {
    for (size_t j = 0; j < chunks.size(); ++j) {
      map_.emplace(std::make_pair(xorb, start + static_cast<uint32_t>(j)), chunks[j]);
    }
    runs_.push_back(std::move(owner));
  }
  std::optional<std::span<const uint8_t>> Chunk(const Hash& xorb, uint32_t index) const override {
    auto it = map_.find({xorb, index});
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::pair<Hash, uint32_t>, std::span<const uint8_t>> map_;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned_;
  std::vector<std::shared_ptr<const void>> runs_;
};

}  // namespace


XetReader::XetReader(XetCas* cas, chunkstore::ChunkCache* cache, XetReaderOptions options)
    : cas_(cas),
      cache_(cache),
      options_(options),
      files_(std::max<size_t>(options.max_files, 1)),
      layouts_(std::max<size_t>(options.max_layouts, 1)),
      budget_(options.memory_limit),
      bodies_(options.reuse_body_bytes == 0
                  ? nullptr
                  : std::make_unique<BufferPool>(options.reuse_body_bytes,
                                                 options.max_window_bytes + (1u << 20))),
      fan_out_(options.fan_out_threads != 0
                   ? options.fan_out_threads
                   : std::max<size_t>(options.max_parallel_fetches, 1) *
                             (options.far_round_trip.count() > 0 ? 2 : 1) +
                         options.warm_threads,
               /*max_queued=*/1024) {
  sweep_max_bytes_ = options_.tensor_sweep_max_bytes;
  if (cache_ != nullptr) sweep_max_bytes_ = std::min(sweep_max_bytes_, cache_->MaxBytes() / 2);
  {
    MutexLock lock(&mu_);
    fetch_limit_ = std::max<size_t>(options_.max_parallel_fetches, 1);
  }
  if (options_.async_readahead && options_.readahead_bytes > 0 && options_.memory_limit > 0) {
    const size_t n = std::max<size_t>(options_.readahead_threads, 1);
    {
      MutexLock lock(&pf_mu_);
      active_threads_ = n;
      spec_limit_ = std::max<size_t>(options_.speculative_threads, 1);
    }
    // Threads for a distant origin too; they wait while it is near.
    const size_t all = options_.far_round_trip.count() > 0 ? 2 * n : n;
    for (size_t i = 0; i < all; ++i) pf_threads_.emplace_back([this, i] { PrefetchLoop(i); });
  }
}

Result<Reconstruction> XetReader::AskPlan(const Hash& file_hash,
                                          std::optional<FileByteRange> range) {
  const auto start = std::chrono::steady_clock::now();
  Result<Reconstruction> plan = cas_->GetReconstruction(file_hash, range);
  // Only answers: a failure may have taken a timeout or no time at all.
  // The first plans decide nothing: one slow answer (a token asked first, a
  // busy machine) is not a distant origin.
  if (plan.ok()) {
    const std::chrono::nanoseconds rtt =
        round_trip_.Record(std::chrono::steady_clock::now() - start);
    const bool far = options_.far_round_trip.count() > 0 && rtt >= options_.far_round_trip;
    if (round_trip_.samples() >= kRoundTripMinSamples && far != far_.load(std::memory_order_relaxed)) {
      SetFar(far);
    }
  }
  return plan;
}

void XetReader::SetFar(bool far) {
  if (far_.exchange(far) == far) return;
  // The counts follow far_ as it is when each lock is held: of two calls
  // racing with opposite answers, the later to apply reads the later value.
  auto scale = [this] { return far_.load() ? size_t{2} : size_t{1}; };
  HUBFS_LOG(kInfo) << "the origin's round trip is about "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(
                          round_trip_.Estimate())
                          .count()
                   << " ms: " << (far ? "twice the read-ahead in flight" : "read-ahead as usual");
  {
    MutexLock lock(&pf_mu_);
    if (!pf_threads_.empty()) {
      active_threads_ = std::max<size_t>(options_.readahead_threads, 1) * scale();
      spec_limit_ = std::max<size_t>(options_.speculative_threads, 1) * scale();
    }
  }
  pf_cv_.NotifyAll();
  pf_parked_cv_.NotifyAll();
  {
    MutexLock lock(&mu_);
    fetch_limit_ = std::max<size_t>(options_.max_parallel_fetches, 1) * scale();
  }
  fetch_slots_.NotifyAll();
}

XetReader::~XetReader() {
  {
    MutexLock lock(&pf_mu_);
    pf_stop_ = true;
  }
  pf_cv_.NotifyAll();
  pf_parked_cv_.NotifyAll();
  for (std::thread& t : pf_threads_) t.join();
  // What the files learned since their last puts (SaveAnchors). A file
  // forgotten earlier (max_files) keeps what it last put.
  std::vector<std::shared_ptr<FileState>> files;
  {
    MutexLock lock(&mu_);
    files_.ForEach([&](const Hash&, const std::shared_ptr<FileState>& f) { files.push_back(f); });
  }
  for (const std::shared_ptr<FileState>& f : files) SaveAnchors(*f, /*always=*/true);
}

XetReaderStats XetReader::Stats() const {
  XetReaderStats s;
  s.reads = counters_.reads.load();
  s.warm_reads = counters_.warm_reads.load();
  s.reconstructions = counters_.reconstructions.load();
  s.shared_plans = counters_.shared_plans.load();
  s.data_fetches = counters_.data_fetches.load();
  s.data_bytes = counters_.data_bytes.load();
  s.shared_fetches = counters_.shared_fetches.load();
  s.expired_url_retries = counters_.expired_url_retries.load();
  s.xorbs_verified = counters_.xorbs_verified.load();
  s.corrupt_cache_chunks = counters_.corrupt_cache_chunks.load();
  s.readahead_windows = counters_.readahead_windows.load();
  s.readahead_bytes = counters_.readahead_bytes.load();
  s.readahead_failed = counters_.readahead_failed.load();
  s.readahead_skipped = counters_.readahead_skipped.load();
  s.tensor_layouts = counters_.tensor_layouts.load();
  s.speculative_files = counters_.speculative_files.load();
  s.speculative_bytes = counters_.speculative_bytes.load();
  s.speculative_cancelled = counters_.speculative_cancelled.load();
  s.speculative_claimed = counters_.speculative_claimed.load();
  s.tensor_sweeps = counters_.tensor_sweeps.load();
  s.tensor_sweep_bytes = counters_.tensor_sweep_bytes.load();
  s.sweeps_stopped = counters_.sweeps_stopped.load();
  s.sweep_stored_bytes = counters_.sweep_stored_bytes.load();
  s.plans_ahead = counters_.plans_ahead.load();
  s.plans_ahead_used = counters_.plans_ahead_used.load();
  s.tier_runs = counters_.tier_runs.load();
  s.tier_bytes = counters_.tier_bytes.load();
  s.tier_refused = counters_.tier_refused.load();
  if (options_.shared_tier != nullptr) s.tier = options_.shared_tier->Stats();
  {
    MutexLock lock(&mu_);
    s.fetches_in_flight = fetches_running_;
    s.fetch_slots = fetch_limit_;
  }
  {
    MutexLock lock(&pf_mu_);
    s.readahead_threads = active_threads_;
  }
  {
    MutexLock lock(&ahead_mu_);
    s.plans_ahead_held = ahead_.size();
  }
  s.round_trip_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(round_trip_.Estimate()).count());
  s.far_origin = far_.load(std::memory_order_relaxed);
  s.readahead_in_flight = budget_.in_use();
  s.memory_limit = budget_.limit();
  s.readahead_peak = budget_.peak();
  return s;
}

void XetReader::ReleaseIdleBuffers() {
  if (bodies_ != nullptr) bodies_->Clear();
}

std::unique_ptr<chunkstore::ChunkDecoder> XetReader::AcquireDecoder() {
  {
    MutexLock lock(&mu_);
    if (!decoders_.empty()) {
      std::unique_ptr<chunkstore::ChunkDecoder> d = std::move(decoders_.back());
      decoders_.pop_back();
      return d;
    }
  }
  return std::make_unique<chunkstore::ChunkDecoder>();
}

void XetReader::ReleaseDecoder(std::unique_ptr<chunkstore::ChunkDecoder> d) {
  MutexLock lock(&mu_);
  if (decoders_.size() < 64) decoders_.push_back(std::move(d));
}

// ---------------------------------------------------------------------------
// Terms and layouts

Result<std::shared_ptr<XetReader::FileState>> XetReader::GetFile(const XetFileRef& file) {
  {
    MutexLock lock(&mu_);
    std::shared_ptr<FileState>* hit = files_.Get(file.hash);
    if (hit != nullptr && (*hit)->ref.size == file.size) return *hit;
  }
  Result<std::shared_ptr<FileState>> state =
      file_flights_.Do(file.hash, [&] { return LoadFile(file); }, nullptr);
  if (!state.ok()) return state.status();
  if ((*state)->ref.size != file.size) {
    return InvalidArgumentError("file " + file.hash.ToString() + " read with two sizes");
  }
  MutexLock lock(&mu_);
  files_.Put(file.hash, *state);
  return state;
}

Result<std::shared_ptr<XetReader::FileState>> XetReader::LoadFile(const XetFileRef& file) {
  const std::string what = "xet file " + file.hash.ToString();
  ReadaheadOptions ra;
  ra.initial_window = options_.readahead_initial_bytes;
  ra.max_window = options_.readahead_bytes;
  ra.max_streams = options_.readahead_streams;
  if (options_.shared_tier != nullptr) ra.align = options_.segment_bytes;
  auto state = std::make_shared<FileState>(ra);
  state->ref = file;
  if (file.size == 0) return state;
  bool have_terms = false;
  if (cache_ != nullptr) {
    auto cached = cache_->GetTerms(file.hash);
    if (cached.ok() && cached->has_value()) {
      std::vector<TermAnchor> anchors;
      auto terms = DecodeTerms(**cached, file.size, &anchors);
      if (terms.ok()) {
        state->terms = std::move(*terms);
        have_terms = true;
        MutexLock put_lock(&state->anchors_put_mu);
        MutexLock lock(&state->anchors_mu);
        for (const TermAnchor& a : anchors) state->anchors[{a.term, a.chunk}] = a.offset;
        state->anchors_saved = state->anchors.size();
      } else {
        HUBFS_LOG(kWarning) << what << ": ignoring cached terms: " << terms.status();
      }
    }
  }
  if (!have_terms) {
    counters_.reconstructions.fetch_add(1, std::memory_order_relaxed);
    Result<Reconstruction> recon = AskPlan(file.hash, std::nullopt);
    if (!recon.ok()) return recon.status().WithContext(what);
    uint64_t total = 0;
    for (const ReconTerm& t : recon->terms) total += t.unpacked_length;
    if (recon->offset_into_first_range != 0 || total != file.size) {
      return CorruptError(what + ": reconstruction holds " + std::to_string(total) +
                          " bytes, the file has " + std::to_string(file.size));
    }
    state->terms = std::move(recon->terms);
    if (cache_ != nullptr) cache_->PutTerms(file.hash, EncodeTerms(state->terms, file.size));
  }
  state->starts.reserve(state->terms.size());
  uint64_t pos = 0;
  for (const ReconTerm& t : state->terms) {
    state->starts.push_back(pos);
    pos += t.unpacked_length;
  }
  return state;
}

std::vector<uint32_t> XetReader::KnownLengths(const Hash& xorb, ChunkRange range) {
  auto extract = [&](const LearnedLayout& l) {
    std::vector<uint32_t> out(range.end > range.start ? range.size() : 0, 0);
    for (uint32_t k = range.start; k < range.end && k < l.lengths.size(); ++k) {
      out[k - range.start] = l.lengths[k];
    }
    return out;
  };
  {
    MutexLock lock(&mu_);
    if (LearnedLayout* l = layouts_.Get(xorb)) return extract(*l);
  }
  if (cache_ == nullptr) return extract(LearnedLayout{});
  auto cached = cache_->GetXorbLayout(xorb);
  if (!cached.ok() || !cached->has_value()) return extract(LearnedLayout{});
  auto layout = DecodeLayout(**cached);
  if (!layout.ok()) return extract(LearnedLayout{});
  MutexLock lock(&mu_);
  LearnedLayout* l = layouts_.Get(xorb);
  if (l == nullptr) {
    l = layouts_.Put(xorb, std::move(*layout));
  } else {
    bool changed = false;
    (void)l->Merge(*layout, &changed);
  }
  return extract(*l);
}

Status XetReader::Learn(const Hash& xorb, const LearnedLayout& learned) {
  // Load what the cache knows first, so a partial layout never replaces a
  // fuller one.
  (void)KnownLengths(xorb, ChunkRange{0, 0});
  bool changed = true;
  {
    MutexLock lock(&mu_);
    LearnedLayout* l = layouts_.Get(xorb);
    if (l == nullptr) {
      layouts_.Put(xorb, learned);
    } else if (!l->Merge(learned, &changed)) {
      return CorruptError("xorb " + xorb.ToString() +
                          ": fetched chunk lengths disagree with earlier ones");
    }
  }
  if (!changed || cache_ == nullptr) return Status::Ok();
  // Encode the latest merged state under layout_put_mu_: concurrent learners
  // queue their puts in order, so the last one queued is the fullest.
  MutexLock put_lock(&layout_put_mu_);
  std::vector<uint8_t> encoded;
  {
    MutexLock lock(&mu_);
    if (LearnedLayout* l = layouts_.Get(xorb)) encoded = EncodeLayout(*l);
  }
  if (!encoded.empty()) cache_->PutXorbLayout(xorb, std::move(encoded));
  return Status::Ok();
}

void XetReader::CountBadCachedChunk(const Hash& xorb, uint32_t index) {
  counters_.corrupt_cache_chunks.fetch_add(1, std::memory_order_relaxed);
  HUBFS_LOG(kWarning) << "cached chunk " << xorb.ToString() << "/" << index
                      << " is bad; refetching";
}

bool XetReader::CachedChunkInto(const Hash& xorb, uint32_t index, std::span<uint8_t> out) {
  bool good = false;
  auto decode = [&](std::span<const uint8_t> record) {
    std::unique_ptr<chunkstore::ChunkDecoder> dec = AcquireDecoder();
    size_t consumed = 0;
    good = dec->DecodeRecordInto(record, &consumed, out).ok() && consumed == record.size();
    ReleaseDecoder(std::move(dec));
  };
  // A record stored as fetched and not compressed (what does not shrink:
  // most weights) has the size of its header and `out`: its bytes go from
  // the cache's file straight into `out`. Others are decoded into it.
  std::array<uint8_t, chunkstore::kChunkRecordHeaderSize> head{};
  Result<chunkstore::ChunkCache::ChunkRead> got =
      cache_->ReadChunkInto(xorb, index, head, out, decode);
  if (!got.ok() || *got == chunkstore::ChunkCache::ChunkRead::kMiss) return false;
  if (*got == chunkstore::ChunkCache::ChunkRead::kSplit) {
    Result<chunkstore::ChunkRecordHeader> header = chunkstore::ParseChunkRecordHeader(head);
    if (header.ok() && header->scheme == chunkstore::CompressionScheme::kNone &&
        header->compressed_size == out.size() && header->uncompressed_size == out.size()) {
      return true;
    }
    // A compressed record of that size by chance (or a bad header).
    std::vector<uint8_t> record(head.begin(), head.end());
    record.insert(record.end(), out.begin(), out.end());
    decode(record);
  }
  if (!good) CountBadCachedChunk(xorb, index);
  return good;
}

bool XetReader::CachedChunkPartInto(const Hash& xorb, uint32_t index, uint32_t length,
                                    uint64_t skip, std::span<uint8_t> out) {
  if (skip > length || out.size() > length - skip) return false;
  bool good = false;
  Result<bool> hit = cache_->VisitChunk(xorb, index, [&](std::span<const uint8_t> record) {
    if (std::optional<std::span<const uint8_t>> raw = StoredAsIs(record, length)) {
      // Only the bytes asked for are copied (the chunk's first and last of
      // a read are mostly cut by it).
      const auto part = raw->subspan(skip, out.size());
      std::copy(part.begin(), part.end(), out.begin());
      good = true;
      return;
    }
    // Compressed (or bad: the decode checks the record and its length).
    std::vector<uint8_t> whole(length);
    std::unique_ptr<chunkstore::ChunkDecoder> dec = AcquireDecoder();
    size_t consumed = 0;
    good = dec->DecodeRecordInto(record, &consumed, whole).ok() && consumed == record.size();
    ReleaseDecoder(std::move(dec));
    if (good) {
      std::copy(whole.begin() + static_cast<ptrdiff_t>(skip),
                whole.begin() + static_cast<ptrdiff_t>(skip + out.size()), out.begin());
    }
  });
  if (!hit.ok() || !*hit) return false;
  if (!good) CountBadCachedChunk(xorb, index);
  return good;
}

std::optional<std::vector<uint8_t>> XetReader::CachedChunk(const Hash& xorb, uint32_t index,
                                                           uint32_t expected_len) {
  if (cache_ == nullptr) return std::nullopt;
  auto record = cache_->GetChunk(xorb, index);
  if (!record.ok() || !record->has_value()) return std::nullopt;
  std::vector<uint8_t> out;
  size_t consumed = 0;
  std::unique_ptr<chunkstore::ChunkDecoder> dec = AcquireDecoder();
  Status st = dec->DecodeRecord(**record, &consumed, &out);
  ReleaseDecoder(std::move(dec));
  if (!st.ok() || consumed != (*record)->size() || (expected_len != 0 && out.size() != expected_len)) {
    CountBadCachedChunk(xorb, index);
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reads

Result<std::shared_ptr<XetReader::FileState>> XetReader::StartRead(const XetFileRef& file,
                                                                   uint64_t offset,
                                                                   uint64_t len) {
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, GetFile(file));
  if (file.tensor_name) LoadTensorLayout(*state);
  // Read-ahead first, so that its background fetch overlaps this read.
  MaybePrefetch(state, offset, len);
  return state;
}

Result<size_t> XetReader::Read(const XetFileRef& file, uint64_t offset, std::span<uint8_t> out) {
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  if (offset >= file.size || out.empty()) return size_t{0};
  const uint64_t n = std::min<uint64_t>(out.size(), file.size - offset);
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, StartRead(file, offset, n));
  bool all_warm = true;
  HUBFS_RETURN_IF_ERROR(ReadRange(*state, offset, out.first(n), &all_warm));
  if (all_warm) counters_.warm_reads.fetch_add(1, std::memory_order_relaxed);
  return static_cast<size_t>(n);
}

Result<size_t> XetReader::ReadHeld(const XetFileRef& file, uint64_t offset, size_t len,
                                   HeldBytes* out, bool pages_kept) {
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  if (offset >= file.size || len == 0) {
    out->Own(0);
    return size_t{0};
  }
  const uint64_t n = std::min<uint64_t>(len, file.size - offset);
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, StartRead(file, offset, n));
  if (TryHeld(*state, offset, offset + n, out, pages_kept) ||
      (WaitForPrefetch(*state, offset, offset + n) &&
       TryHeld(*state, offset, offset + n, out, pages_kept))) {
    counters_.warm_reads.fetch_add(1, std::memory_order_relaxed);
    return static_cast<size_t>(n);
  }
  bool all_warm = true;
  HUBFS_RETURN_IF_ERROR(ReadRange(*state, offset, out->Own(static_cast<size_t>(n)), &all_warm));
  if (all_warm) counters_.warm_reads.fetch_add(1, std::memory_order_relaxed);
  return static_cast<size_t>(n);
}

namespace {

// Of a chunk held by ChunkCache::HoldChunk, the bytes handed over, told to
// the cache once they are delivered (HeldBytes::Delivered). Not held for
// that: the handed-over bytes' own owners keep the chunk (TryHeld), or a
// chunk gone from memory by then was written or left out and there is
// nothing to tell (ReadThroughOnDelivery, whose bytes are a copy).
struct Handed {
  std::weak_ptr<const void> owner;
  std::span<const uint8_t> record;
  uint64_t bytes = 0;
  uint64_t chunk_bytes = 0;
};

Handed HandedOf(const chunkstore::ChunkCache::HeldRecord& rec, uint64_t chunk_start,
                uint64_t chunk_bytes, uint64_t offset, uint64_t end) {
  const uint64_t from = std::max(chunk_start, offset);
  const uint64_t to = std::min(chunk_start + chunk_bytes, end);
  return Handed{rec.owner, rec.record, to - from, chunk_bytes};
}

void TellOnDelivery(chunkstore::ChunkCache* cache, std::vector<Handed> handed, HeldBytes* held) {
  if (handed.empty()) return;
  held->OnDelivered([cache, handed = std::move(handed)] {
    for (const Handed& h : handed) {
      if (std::shared_ptr<const void> owner = h.owner.lock()) {
        cache->ReadThrough(chunkstore::ChunkCache::HeldRecord{std::move(owner), h.record},
                           h.bytes, h.chunk_bytes);
      }
    }
  });
}

}  // namespace

bool XetReader::TryHeld(const FileState& file, uint64_t offset, uint64_t end, HeldBytes* out,
                        bool pages_kept) {
  if (cache_ == nullptr) return false;
  std::vector<Piece> pieces;
  if (!MapPieces(file, offset, end, &pieces)) return false;
  HeldBytes held;
  std::vector<Handed> handed;
  for (const Piece& p : pieces) {
    std::optional<chunkstore::ChunkCache::HeldRecord> rec = cache_->HoldChunk(*p.xorb, p.index);
    if (!rec.has_value()) return false;
    // Stored as is and of the placed length; anything else (a compressed
    // record, a bad one) is left to the copying path, which decodes and
    // checks it.
    const std::optional<std::span<const uint8_t>> raw = StoredAsIs(rec->record, p.length);
    if (!raw) return false;
    const uint64_t from = std::max(p.start, offset);
    const uint64_t to = std::min(p.start + p.length, end);
    if (pages_kept) handed.push_back(HandedOf(*rec, p.start, p.length, offset, end));
    held.Add(raw->subspan(from - p.start, to - from), std::move(rec->owner));
  }
  TellOnDelivery(cache_, std::move(handed), &held);
  *out = std::move(held);
  return true;
}

void XetReader::ReadThroughOnDelivery(const FileState& file, uint64_t offset, uint64_t end,
                                      HeldBytes* out) {
  if (cache_ == nullptr) return;
  std::vector<Piece> pieces;
  if (!MapPieces(file, offset, end, &pieces)) return;
  std::vector<Handed> handed;
  for (const Piece& p : pieces) {
    if (std::optional<chunkstore::ChunkCache::HeldRecord> rec =
            cache_->HoldChunk(*p.xorb, p.index, /*counted=*/false)) {
      handed.push_back(HandedOf(*rec, p.start, p.length, offset, end));
    }
  }
  TellOnDelivery(cache_, std::move(handed), out);
}

Status XetReader::ReadRange(FileState& state, uint64_t offset, std::span<uint8_t> out,
                            bool* all_warm) {
  const uint64_t window = std::max<uint64_t>(options_.max_window_bytes, 1);
  const uint64_t end = offset + out.size();
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t len = std::min(window, end - pos);
    std::span<uint8_t> sub = out.subspan(pos - offset, len);
    if (!TryWarm(state, pos, sub) &&
        !(WaitForPrefetch(state, pos, pos + len) && TryWarm(state, pos, sub))) {
      *all_warm = false;
      HUBFS_RETURN_IF_ERROR(ReadColdDemand(state, pos, sub));
    }
    pos += len;
  }
  return Status::Ok();
}

void XetReader::LoadTensorLayout(FileState& state) {
  {
    MutexLock lock(&state.mu);
    if (state.layout_tried) return;
    state.layout_tried = true;
  }
  const std::string what = "tensor layout of xet file " + state.ref.hash.ToString();
  std::vector<uint8_t> prefix;
  uint64_t need = std::min(kTensorHeaderFirstRead, state.ref.size);
  // Each round at least quadruples the prefix (or jumps to the header's
  // stated length), so a few rounds reach kMaxTensorHeaderBytes.
  for (int round = 0; round < 16 && need > prefix.size(); ++round) {
    const size_t have = prefix.size();
    prefix.resize(static_cast<size_t>(need));
    bool warm = true;
    Status st = ReadRange(state, have, std::span<uint8_t>(prefix).subspan(have), &warm);
    if (!st.ok()) {
      HUBFS_LOG(kDebug) << what << ": " << st;
      return;
    }
    Result<TensorLayoutParse> parsed = ParseTensorLayout(prefix, state.ref.size);
    if (!parsed.ok()) {
      HUBFS_LOG(kDebug) << what << ": " << parsed.status();
      return;
    }
    if (parsed->done) {
      counters_.tensor_layouts.fetch_add(1, std::memory_order_relaxed);
      MutexLock lock(&state.mu);
      state.tensor_starts = parsed->layout.segment_starts;
      state.streams.SetSegments(std::move(parsed->layout.segment_starts));
      return;
    }
    need = parsed->need;
  }
}

bool XetReader::MapPieces(const FileState& file, uint64_t offset, uint64_t end,
                          std::vector<Piece>* pieces) {
  std::vector<uint32_t> lengths;
  std::vector<uint64_t> at;
  for (size_t i = file.TermAt(offset); i < file.terms.size() && file.starts[i] < end; ++i) {
    const ReconTerm& term = file.terms[i];
    // Disagreeing lengths or anchors: a cold read re-checks against a plan.
    if (!PlaceTerm(file, i, &lengths, &at)) return false;
    uint64_t covered = std::max(offset, file.starts[i]);
    const uint64_t need_end = std::min(end, file.starts[i] + term.unpacked_length);
    for (size_t k = 0; k < lengths.size() && covered < need_end; ++k) {
      if (at[k] == kUnplaced || at[k + 1] == kUnplaced || at[k + 1] <= covered) continue;
      if (at[k] > covered) return false;  // the chunk holding `covered` is not placed
      // A length implied by two anchors is not learned: the cold path
      // learns it (whole-file verification needs every length).
      if (lengths[k] == 0) return false;
      const uint64_t len = at[k + 1] - at[k];
      pieces->push_back({&term.xorb, term.range.start + static_cast<uint32_t>(k),
                         static_cast<uint32_t>(len), at[k]});
      covered = at[k + 1];
    }
    if (covered < need_end) return false;
  }
  return true;
}

bool XetReader::CachedAndPlaced(const FileState& file, uint64_t offset, uint64_t end) {
  if (cache_ == nullptr) return false;
  std::vector<Piece> pieces;
  if (!MapPieces(file, offset, end, &pieces)) return false;
  // Presence only: reading and checking each chunk here (the read that
  // follows does it again) cost a warm read half of its time.
  for (const Piece& p : pieces) {
    Result<bool> hit = cache_->HasChunk(*p.xorb, p.index);
    if (!hit.ok() || !*hit) return false;
  }
  return true;
}

void XetReader::TrimCached(const FileState& file, uint64_t* start, uint64_t* end) {
  if (cache_ == nullptr || *start >= *end) return;
  std::vector<uint32_t> lengths;
  std::vector<uint64_t> at;
  // The chunk holding byte `pos`, when it is placed, its length known and
  // cached: its [start, end) in the file.
  auto cached_chunk = [&](uint64_t pos) -> std::optional<std::pair<uint64_t, uint64_t>> {
    const size_t i = file.TermAt(pos);
    if (!PlaceTerm(file, i, &lengths, &at)) return std::nullopt;
    for (size_t k = 0; k < lengths.size(); ++k) {
      if (at[k] == kUnplaced || at[k + 1] == kUnplaced || at[k] > pos || at[k + 1] <= pos) {
        continue;
      }
      if (lengths[k] == 0) return std::nullopt;
      const uint32_t index = file.terms[i].range.start + static_cast<uint32_t>(k);
      // Presence only: TryWarm reads and checks it next (and falls back to
      // the whole segment when it is gone or bad by then).
      Result<bool> hit = cache_->HasChunk(file.terms[i].xorb, index);
      if (!hit.ok() || !*hit) return std::nullopt;
      return std::make_pair(at[k], at[k + 1]);
    }
    return std::nullopt;
  };
  while (*start < *end) {
    auto chunk = cached_chunk(*start);
    if (!chunk) break;
    *start = std::min(chunk->second, *end);
  }
  while (*start < *end) {
    auto chunk = cached_chunk(*end - 1);
    if (!chunk || chunk->first < *start) break;
    *end = chunk->first;
  }
}

bool XetReader::TryWarm(const FileState& file, uint64_t offset, std::span<uint8_t> out) {
  if (cache_ == nullptr) return false;
  // First map the bytes to chunks: each must be placed.
  std::vector<Piece> pieces;
  const uint64_t end = offset + out.size();
  if (!MapPieces(file, offset, end, &pieces)) return false;
  auto load = [&](const Piece& p) {
    const uint64_t from = std::max(p.start, offset);
    const uint64_t to = std::min(p.start + p.length, end);
    std::span<uint8_t> dest = out.subspan(from - offset, to - from);
    if (from == p.start && to == p.start + p.length) {
      return CachedChunkInto(*p.xorb, p.index, dest);  // whole chunk: no copy
    }
    return CachedChunkPartInto(*p.xorb, p.index, p.length, from - p.start, dest);
  };
  const size_t threads = std::min(std::max<size_t>(options_.warm_threads, 1), pieces.size() / 16);
  if (threads <= 1) {
    for (const Piece& p : pieces) {
      if (!load(p)) return false;
    }
    return true;
  }
  std::atomic<bool> ok{true};
  fan_out_.ForEach(pieces.size(), threads, [&](size_t i) {
    if (ok.load() && !load(pieces[i])) ok = false;
  });
  return ok.load();
}

bool XetReader::PlaceTerm(const FileState& file, size_t i, std::vector<uint32_t>* lengths,
                          std::vector<uint64_t>* at) {
  const ReconTerm& term = file.terms[i];
  *lengths = KnownLengths(term.xorb, term.range);
  std::vector<ChunkAnchor> anchors;
  anchors.push_back({0, file.starts[i]});
  anchors.push_back({term.range.size(), file.starts[i] + term.unpacked_length});
  {
    const uint32_t ti = static_cast<uint32_t>(i);
    MutexLock lock(&file.anchors_mu);
    for (auto it = file.anchors.lower_bound({ti, 0});
         it != file.anchors.end() && it->first.first == ti; ++it) {
      anchors.push_back({it->first.second - term.range.start, it->second});
    }
  }
  std::optional<std::vector<uint64_t>> placed = PlaceChunks(*lengths, anchors);
  if (!placed.has_value()) return false;
  *at = std::move(*placed);
  return true;
}

Status XetReader::LearnAnchors(FileState& file, const Reconstruction& plan, uint64_t offset) {
  // CheckPlacement passed: the plan's terms are the file's from `first` on.
  const size_t first = file.TermAt(offset);
  const size_t last = first + plan.terms.size() - 1;
  if (plan.offset_into_first_range > offset) return CorruptError("plan starts before the file");
  const uint64_t chunk_start = offset - plan.offset_into_first_range;
  std::vector<TermAnchor> found;
  if (plan.terms.front().range.start != file.terms[first].range.start) {
    found.push_back({static_cast<uint32_t>(first), plan.terms.front().range.start, chunk_start});
  }
  const ReconTerm& tail = plan.terms.back();
  if (tail.range.end != file.terms[last].range.end) {
    const uint64_t from = plan.terms.size() == 1 ? chunk_start : file.starts[last];
    found.push_back({static_cast<uint32_t>(last), tail.range.end, from + tail.unpacked_length});
  }
  auto drop_term = [&](uint32_t ti) {
    MutexLock lock(&file.anchors_mu);
    for (auto it = file.anchors.lower_bound({ti, 0});
         it != file.anchors.end() && it->first.first == ti;) {
      it = file.anchors.erase(it);
    }
  };
  std::vector<TermAnchor> fresh;
  bool dropped = false;
  for (const TermAnchor& a : found) {
    const ReconTerm& t = file.terms[a.term];
    if (a.offset <= file.starts[a.term] || a.offset >= file.starts[a.term] + t.unpacked_length) {
      return CorruptError("plan places chunk " + std::to_string(a.chunk) + " at byte " +
                          std::to_string(a.offset) + ", outside term " + std::to_string(a.term));
    }
    std::vector<uint32_t> lengths;
    std::vector<uint64_t> at;
    if (!PlaceTerm(file, a.term, &lengths, &at)) {
      // The anchors known disagree with the lengths (a bad entry): dropped;
      // this plan (checked against the lengths by CheckPlacement) decides.
      HUBFS_LOG(kWarning) << "xet file " << file.ref.hash.ToString() << ": anchors of term "
                          << a.term << " disagree with its chunk lengths; dropped";
      drop_term(a.term);
      dropped = true;
      if (!PlaceTerm(file, a.term, &lengths, &at)) {
        return CorruptError("chunk lengths of term " + std::to_string(a.term) +
                            " disagree with its length");
      }
    }
    const uint64_t known = at[a.chunk - t.range.start];
    if (known == a.offset) continue;  // nothing new
    bool agrees = known == kUnplaced;
    if (agrees) {
      // With it, the term must still place consistently.
      std::vector<ChunkAnchor> anchors = {{a.chunk - t.range.start, a.offset}};
      for (size_t k = 0; k <= lengths.size(); ++k) {
        if (at[k] != kUnplaced) anchors.push_back({static_cast<uint32_t>(k), at[k]});
      }
      agrees = PlaceChunks(lengths, anchors).has_value();
    }
    if (!agrees) {
      // Drop what this term learned from plans: the next plan starts afresh.
      drop_term(a.term);
      return CorruptError("plan places chunk " + std::to_string(a.chunk) + " of term " +
                          std::to_string(a.term) + " at byte " + std::to_string(a.offset) +
                          ", which disagrees with the chunk lengths and anchors known");
    }
    fresh.push_back(a);
  }
  if (fresh.empty() && !dropped) return Status::Ok();
  {
    MutexLock put_lock(&file.anchors_put_mu);
    MutexLock lock(&file.anchors_mu);
    for (const TermAnchor& a : fresh) {
      if (file.anchors.size() >= kMaxTermAnchors) break;
      file.anchors[{a.term, a.chunk}] = a.offset;
    }
    file.anchors_unsaved = true;
  }
  // Dropped anchors must leave the cached entry at once.
  SaveAnchors(file, dropped);
  return Status::Ok();
}

void XetReader::SaveAnchors(FileState& file, bool always) {
  if (cache_ == nullptr) return;
  // Encode the latest set under anchors_put_mu: the last put is the fullest.
  MutexLock put_lock(&file.anchors_put_mu);
  if (!file.anchors_unsaved) return;
  std::vector<TermAnchor> all;
  {
    MutexLock lock(&file.anchors_mu);
    const size_t n = file.anchors.size();
    const size_t step = std::max(kAnchorsPerSave, file.anchors_saved / 4);
    if (!always && n < file.anchors_saved + step) return;
    all.reserve(n);
    for (const auto& [key, at] : file.anchors) all.push_back({key.first, key.second, at});
  }
  cache_->PutTerms(file.ref.hash, EncodeTerms(file.terms, file.ref.size, all));
  file.anchors_saved = all.size();
  file.anchors_unsaved = false;
}

Status XetReader::ReadColdDemand(FileState& state, uint64_t offset, std::span<uint8_t> out) {
  const uint64_t end = offset + out.size();
  const uint64_t w = options_.plan_window_bytes;
  // To the next multiple of w, within the read's tensor, before a queued
  // read-ahead of this file (which fetches those bytes itself). Tensor files
  // only: their loaders read whole tensors or slices of them, while a small
  // read of another file may well be a random one.
  uint64_t window_end = end;
  if (cache_ != nullptr && w != 0 && out.size() < w) {
    window_end = std::min(state.ref.size, (end + w - 1) / w * w);
    MutexLock lock(&state.mu);
    if (state.tensor_starts.empty()) window_end = end;
    auto it = std::upper_bound(state.tensor_starts.begin(), state.tensor_starts.end(), offset);
    if (it != state.tensor_starts.end()) window_end = std::min(window_end, *it);
    for (const FileState::Pending& p : state.pending) {
      if (p.range.start >= end) window_end = std::min(window_end, p.range.start);
    }
  }
  if (window_end <= end) return ReadCold(state.ref, offset, end, out, Priority::kDemand);
  bool shared = false;
  Result<bool> led = window_flights_.Do(
      {state.ref.hash, offset / w},
      [&]() -> Result<bool> {
        HUBFS_RETURN_IF_ERROR(ReadCold(state.ref, offset, window_end, out, Priority::kDemand));
        return true;
      },
      &shared);
  if (!shared) return led.status();
  // Another reader's window: its chunks are cached (or in the cache's write
  // queue) and placed by its plan, unless it began after this read's offset
  // or failed.
  counters_.shared_plans.fetch_add(1, std::memory_order_relaxed);
  if (TryWarm(state, offset, out)) return Status::Ok();
  return ReadCold(state.ref, offset, end, out, Priority::kDemand);
}

uint64_t XetReader::SegmentEnd(uint64_t start) const {
  const uint64_t seg = std::max<uint64_t>(options_.segment_bytes, 1);
  // With a shared tier, segments are cut at multiples of `seg` in the file
  // (and read-ahead starts and ends on them): every machine then asks the
  // same ranged plans and fetches the same ranges, so their leases meet.
  if (options_.shared_tier != nullptr) return (start / seg + 1) * seg;
  return start + seg;
}

Status XetReader::ReadCold(const XetFileRef& file, uint64_t offset, uint64_t window_end,
                           std::span<uint8_t> out, Priority priority) {
  if (SegmentEnd(offset) >= window_end) {
    return ReadSegment(file, offset, window_end, out, true, priority);
  }
  struct Segment {
    uint64_t start, end;
    std::span<uint8_t> out;
  };
  std::vector<Segment> segments;
  const uint64_t out_end = offset + out.size();
  for (uint64_t s = offset, e = 0; s < window_end; s = e) {
    e = std::min(window_end, SegmentEnd(s));
    std::span<uint8_t> part;
    if (s < out_end) part = out.subspan(s - offset, std::min(e, out_end) - s);
    segments.push_back({s, e, part});
  }
  std::vector<Status> results(segments.size());
  fan_out_.ForEach(segments.size(), std::max<size_t>(options_.max_parallel_fetches, 1),
                   [&](size_t i) {
                     results[i] = ReadSegment(file, segments[i].start, segments[i].end,
                                              segments[i].out, false, priority);
                   });
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!results[i].ok() && (!segments[i].out.empty() || out.empty())) return results[i];
  }
  return Status::Ok();
}

Status XetReader::CheckPlacement(const FileState& file, const Reconstruction& plan,
                                 uint64_t offset) {
  if (plan.terms.empty()) return CorruptError("ranged plan without terms");
  const size_t first = file.TermAt(offset);
  for (size_t k = 0; k < plan.terms.size(); ++k) {
    const ReconTerm& p = plan.terms[k];
    if (first + k >= file.terms.size()) return CorruptError("plan runs past the file's terms");
    const ReconTerm& f = file.terms[first + k];
    const bool last = k + 1 == plan.terms.size();
    const bool ok = p.xorb == f.xorb && f.range.Contains(p.range) &&
                    (k == 0 || p.range.start == f.range.start) &&
                    (last || p.range.end == f.range.end);
    if (!ok) {
      return CorruptError("plan term " + std::to_string(k) + " is not term " +
                          std::to_string(first + k) + " of the file (was the Range ignored?)");
    }
  }
  // Where the plan's first chunk starts in the file, when it can be known.
  const ReconTerm& p = plan.terms[0];
  const ReconTerm& f = file.terms[first];
  std::optional<uint64_t> chunk_start;
  if (p.range.start == f.range.start) {
    chunk_start = file.starts[first];
  } else if (p.range.end == f.range.end && plan.terms.size() > 1) {
    if (p.unpacked_length > f.unpacked_length) return CorruptError("plan term longer than the file's");
    chunk_start = file.starts[first] + (f.unpacked_length - p.unpacked_length);
  } else {
    const std::vector<uint32_t> lengths =
        KnownLengths(f.xorb, ChunkRange{f.range.start, p.range.start});
    if (std::find(lengths.begin(), lengths.end(), 0u) == lengths.end()) {
      uint64_t sum = 0;
      for (uint32_t l : lengths) sum += l;
      chunk_start = file.starts[first] + sum;
    }
  }
  if (chunk_start.has_value() && *chunk_start + plan.offset_into_first_range != offset) {
    return CorruptError("plan starts at byte " +
                        std::to_string(*chunk_start + plan.offset_into_first_range) +
                        ", asked for " + std::to_string(offset));
  }
  return Status::Ok();
}

Status XetReader::ReadSegment(const XetFileRef& file, uint64_t offset, uint64_t segment_end,
                              std::span<uint8_t> out, bool parallel_fetches,
                              Priority priority) {
  const std::string what = "read " + file.hash.ToString() + " at " + std::to_string(offset);
  // A read-ahead segment whose plan a thread asked ahead (PrefetchLoop).
  std::optional<Reconstruction> ahead;
  if (priority != Priority::kDemand) ahead = TakeAheadPlan({file.hash, offset, segment_end});
  const std::span<uint8_t> whole_out = out;
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, GetFile(file));
  // The chunks at either end that the windows next to this one fetched are
  // served from the cache; the plan asks for the rest only.
  uint64_t from = offset, to = segment_end;
  TrimCached(*state, &from, &to);
  if (from != offset || to != segment_end) {
    const uint64_t out_end = offset + out.size();
    bool warm = true;
    if (from > offset && !out.empty()) {
      warm = TryWarm(*state, offset, out.first(std::min(from, out_end) - offset));
    }
    if (warm && to < out_end) {
      const uint64_t tail = std::max(to, offset);
      warm = TryWarm(*state, tail, out.subspan(tail - offset));
    }
    if (!warm) {  // evicted meanwhile: the whole segment from the CAS
      from = offset;
      to = segment_end;
    } else if (from >= to) {
      return Status::Ok();
    } else {
      out = from < out_end ? out.subspan(from - offset, std::min(to, out_end) - from)
                           : std::span<uint8_t>();
    }
  }
  for (int attempt = 0;; ++attempt) {
    const bool use_ahead = attempt == 0 && ahead.has_value();
    if (use_ahead) {
      // Asked for the whole segment: the chunks at its ends that the
      // neighbours fetched are cached and not fetched again.
      from = offset;
      to = segment_end;
      out = whole_out;
      counters_.plans_ahead_used.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.reconstructions.fetch_add(1, std::memory_order_relaxed);
    }
    Result<Reconstruction> plan = use_ahead
                                      ? Result<Reconstruction>(std::move(*ahead))
                                      : AskPlan(file.hash, FileByteRange{from, to});
    if (!plan.ok()) return plan.status().WithContext(what);
    Status valid = chunkstore::ValidateReconstruction(*plan, to - from);
    if (valid.ok()) valid = CheckPlacement(*state, *plan, from);
    if (valid.ok()) valid = LearnAnchors(*state, *plan, from);
    if (!valid.ok()) return valid.WithContext(what);
    Status st = ReadColdOnce(*plan, to - from, out, parallel_fetches, priority);
    if (st.ok()) return st;
    if (attempt == 0 && st.http_status() == 403) {
      counters_.expired_url_retries.fetch_add(1, std::memory_order_relaxed);
      HUBFS_LOG(kInfo) << what << ": data URL refused (expired?); asking for a new plan";
      continue;
    }
    return st.WithContext(what);
  }
}

Status XetReader::ReadColdOnce(const Reconstruction& plan, uint64_t window_len,
                               std::span<uint8_t> out, bool parallel_fetches,
                               Priority priority) {
  HUBFS_ASSIGN_OR_RETURN(std::vector<chunkstore::NeededFetch> needed,
                         chunkstore::NeededFetchRanges(plan, window_len));
  // The chunks the window needs: those of every term that starts inside it.
  ChunkMap source;
  std::map<Hash, std::vector<uint32_t>> missing;  // per xorb
  std::map<Hash, LearnedLayout> relearn;          // lengths of cached chunks
  {
    uint64_t c = 0;
    bool first = true;
    for (const ReconTerm& term : plan.terms) {
      const uint64_t skip = first ? plan.offset_into_first_range : 0;
      first = false;
      if (c >= window_len) break;
      const std::vector<uint32_t> lengths = KnownLengths(term.xorb, term.range);
      for (uint32_t idx = term.range.start; idx < term.range.end; ++idx) {
        if (source.Has(term.xorb, idx)) continue;
        const uint32_t expect = lengths[idx - term.range.start];
        std::optional<std::vector<uint8_t>> chunk = CachedChunk(term.xorb, idx, expect);
        if (chunk.has_value()) {
          if (expect == 0) {  // the layout entry was lost (evicted): learn the length again
            LearnedLayout& l = relearn[term.xorb];
            if (l.lengths.size() < idx + 1) {
              l.lengths.resize(idx + 1, 0);
              l.record_starts.resize(idx + 1, kUnknownRecordStart);
            }
            l.lengths[idx] = static_cast<uint32_t>(chunk->size());
          }
          source.AddOwned(term.xorb, idx, std::move(*chunk));
        } else {
          missing[term.xorb].push_back(idx);
        }
      }
      c += term.unpacked_length - skip;
    }
  }
  // The listed fetch ranges holding a missing chunk.
  std::vector<const chunkstore::NeededFetch*> to_fetch;
  for (const chunkstore::NeededFetch& nf : needed) {
    auto it = missing.find(nf.xorb->xorb);
    if (it == missing.end()) continue;
    const ChunkRange r = nf.range->chunks;
    if (std::any_of(it->second.begin(), it->second.end(),
                    [&](uint32_t idx) { return r.start <= idx && idx < r.end; })) {
      to_fetch.push_back(&nf);
    }
  }
  std::vector<Result<std::shared_ptr<const Run>>> results(
      to_fetch.size(), Result<std::shared_ptr<const Run>>(InternalError("not fetched")));
  auto fetch_one = [&](size_t i) {
    const chunkstore::NeededFetch& nf = *to_fetch[i];
    results[i] = FetchRun(*nf.xorb, *nf.entry, *nf.range, plan, priority);
  };
  const size_t workers =
      parallel_fetches
          ? std::min(to_fetch.size(), std::max<size_t>(options_.max_parallel_fetches, 1))
          : 1;
  fan_out_.ForEach(to_fetch.size(), workers, fetch_one);
  Status first_error;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      // A 403 wins: it is the error the caller can recover from.
      if (first_error.ok() || results[i].status().http_status() == 403) {
        first_error = results[i].status();
      }
      continue;
    }
    const std::shared_ptr<const Run>& run = *results[i];
    source.AddRun(to_fetch[i]->xorb->xorb, to_fetch[i]->range->chunks.start, run->chunks, run);
  }
  HUBFS_RETURN_IF_ERROR(first_error);
  HUBFS_RETURN_IF_ERROR(chunkstore::AssembleInto(plan, source, out));
  for (const auto& [xorb, l] : relearn) HUBFS_RETURN_IF_ERROR(Learn(xorb, l));
  return Status::Ok();
}

}  // namespace hubfs::fs
