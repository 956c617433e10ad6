#include "chunkstore/upload.h"

#include <algorithm>
#include <utility>

#include "chunkstore/block_stream.h"
#include "chunkstore/chunker.h"

namespace hubfs::chunkstore {

namespace {

constexpr size_t kAdaptiveMissesBeforeSampling = 8;
constexpr size_t kAdaptiveProbeEvery = 16;

}  // namespace

void SerializeXorbRecords(std::span<const uint8_t> data, std::span<XorbChunkInfo> chunks,
                          UploadCompression compression, std::string* body) {
  size_t offset = 0;
  size_t misses = 0;
  std::vector<uint8_t> record;
  record.reserve(kChunkRecordHeaderSize + kMaxChunkUncompressedSize);
  for (size_t i = 0; i < chunks.size(); ++i) {
    XorbChunkInfo& c = chunks[i];
    std::span<const uint8_t> chunk = data.subspan(offset, c.length);
    offset += c.length;
    CompressionPolicy policy = CompressionPolicy::kBest;
    if (compression == UploadCompression::kNone) {
      policy = CompressionPolicy::kNone;
    } else if (compression == UploadCompression::kAdaptive &&
               misses >= kAdaptiveMissesBeforeSampling && i % kAdaptiveProbeEvery != 0) {
      policy = CompressionPolicy::kNone;
    }
    c.record_start = static_cast<uint32_t>(body->size());
    record.clear();
    CompressionScheme scheme = AppendChunkRecord(chunk, policy, &record);
    body->append(reinterpret_cast<const char*>(record.data()), record.size());
    c.record_end = static_cast<uint32_t>(body->size());
    if (policy != CompressionPolicy::kNone) {
      misses = scheme == CompressionScheme::kNone ? misses + 1 : 0;
    }
  }
}

// A xorb of this session: open (chunks still being added) or cut (hash
// known, handed to a worker).
struct UploadSession::Slot {
  std::vector<XorbChunkInfo> chunks;  // hash and length; record offsets once serialized
  uint64_t unpacked = 0;
  Hash hash;
  bool cut = false;
  uint64_t body_size = 0;  // GUARDED_BY(mu_), set by the worker
};

struct UploadSession::Job {
  size_t slot = 0;
  XorbInfo info;
  std::vector<uint8_t> data;  // the chunks' bytes, consecutive
};

// One global-dedup answer: its key and the (keyed) chunk hashes of its xorbs.
struct UploadSession::DedupAnswer {
  Key key{};
  bool keyed = false;
  std::vector<Hash> xorbs;
  std::vector<std::vector<Hash>> chunk_hashes;  // per xorb, as the answer lists them
  std::unordered_map<Hash, std::pair<uint32_t, uint32_t>, HashHasher> index;  // -> (xorb, chunk)

  Hash KeyOf(const Hash& h) const { return keyed ? KeyedChunkHash(key, h) : h; }
};

// A term being built: a run of chunks at consecutive indices of one xorb.
struct PendingTerm {
  int64_t slot = -1;  // >= 0: session slot; else `existing`
  Hash existing;
  uint32_t start = 0;
  uint32_t end = 0;
  uint64_t bytes = 0;
  Hash verification;
};

struct UploadSession::FileState {
  MerkleBuilder merkle;
  std::vector<PendingTerm> terms;
  std::vector<Hash> term_chunks;  // chunk hashes of the last (open) term
  std::vector<DigestChunk> chunks;  // every chunk of the file so far
  UploadedFile out;
  uint64_t chunk_index = 0;
  uint64_t last_query_chunk = 0;
  bool queried = false;
};

struct UploadSession::AtomicStats {
  std::atomic<uint64_t> bytes_hashed{0};
  std::atomic<uint64_t> new_bytes{0};
  std::atomic<uint64_t> xorbs_uploaded{0};
  std::atomic<uint64_t> xorb_bytes_uploaded{0};
  std::atomic<uint64_t> dedup_session_chunks{0};
  std::atomic<uint64_t> dedup_local_chunks{0};
  std::atomic<uint64_t> dedup_global_chunks{0};
  std::atomic<uint64_t> dedup_bytes{0};
  std::atomic<uint64_t> dedup_queries{0};
  std::atomic<uint64_t> dedup_query_errors{0};
};

// A distinct non-empty file of the session, its terms still naming slots.
struct UploadSession::PendingFile {
  Hash file_hash;
  std::vector<PendingTerm> terms;
  std::array<uint8_t, 32> sha256{};
};

UploadSession::UploadSession(UploadBackend* backend, UploadOptions options)
    : backend_(backend), options_(std::move(options)), stats_(std::make_unique<AtomicStats>()) {}

UploadSession::~UploadSession() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

UploadStats UploadSession::stats() const {
  UploadStats s;
  s.bytes_hashed = stats_->bytes_hashed.load();
  s.new_bytes = stats_->new_bytes.load();
  s.xorbs_uploaded = stats_->xorbs_uploaded.load();
  s.xorb_bytes_uploaded = stats_->xorb_bytes_uploaded.load();
  s.dedup_session_chunks = stats_->dedup_session_chunks.load();
  s.dedup_local_chunks = stats_->dedup_local_chunks.load();
  s.dedup_global_chunks = stats_->dedup_global_chunks.load();
  s.dedup_bytes = stats_->dedup_bytes.load();
  s.dedup_queries = stats_->dedup_queries.load();
  s.dedup_query_errors = stats_->dedup_query_errors.load();
  return s;
}

Status UploadSession::FirstError() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

Result<UploadedFile> UploadSession::AddFile(const UploadReadFn& read,
                                            const std::function<void(uint64_t)>& progress) {
  if (finished_) return Status(ErrorCode::kFailedPrecondition, "upload session already finished");
  FileState f;
  Chunker chunker;
  // The SHA-256 and the reads run ahead on their own threads (a large file).
  BlockStream blocks(read, options_.read_block, 3, nullptr, options_.midstate_interval);
  std::vector<uint8_t> carry;  // bytes of a chunk that started in an earlier block
  carry.reserve(kMaxChunkSize);
  for (;;) {
    HUBFS_ASSIGN_OR_RETURN(std::span<const uint8_t> data, blocks.Next());
    if (data.empty()) break;
    HUBFS_RETURN_IF_ERROR(FirstError());
    const size_t n = data.size();
    while (!data.empty()) {
      const size_t cut = chunker.NextBoundary(data);
      if (cut == Chunker::kNoBoundary) {
        carry.insert(carry.end(), data.begin(), data.end());
        break;
      }
      std::span<const uint8_t> chunk = data.first(cut);
      if (!carry.empty()) {
        carry.insert(carry.end(), chunk.begin(), chunk.end());
        chunk = carry;
      }
      AddChunk(&f, chunk, ChunkHash(chunk));
      carry.clear();
      data = data.subspan(cut);
    }
    f.out.size += n;
    stats_->bytes_hashed += n;
    if (progress) progress(f.out.size);
  }
  if (!carry.empty()) AddChunk(&f, carry, ChunkHash(carry));
  const std::array<uint8_t, 32> sha = blocks.Sha256();
  EndFile(&f, sha, blocks.midstates());
  return f.out;
}

void UploadSession::EndFile(FileState* f, const std::array<uint8_t, 32>& sha256,
                            std::vector<Sha256Midstate> midstates) {
  if (!f->terms.empty()) f->terms.back().verification = VerificationHash(f->term_chunks);
  f->out.sha256 = sha256;
  f->out.chunks = f->chunk_index;
  if (f->chunk_index == 0) return;
  f->out.file_hash = KeyedBlake3(kZeroKey, f->merkle.Root().bytes);
  auto digest = std::make_shared<FileDigest>();
  digest->size = f->out.size;
  digest->chunks = std::move(f->chunks);
  // A state at the very end helps no edit (an edit starts before it).
  while (!midstates.empty() && midstates.back().offset >= f->out.size) midstates.pop_back();
  digest->midstates = std::move(midstates);
  digest->sha256 = sha256;
  f->out.digest = std::move(digest);
  if (file_index_.find(f->out.file_hash) == file_index_.end()) {
    file_index_[f->out.file_hash] = pending_files_.size();
    pending_files_.push_back(std::make_unique<PendingFile>(
        PendingFile{f->out.file_hash, std::move(f->terms), f->out.sha256}));
  }
}

Result<UploadedFile> UploadSession::AddEditedFile(const FileEdit& edit, const UploadReadAtFn& read,
                                                  const std::function<void(uint64_t)>& progress) {
  if (finished_) return Status(ErrorCode::kFailedPrecondition, "upload session already finished");
  if (edit.base == nullptr) return InvalidArgumentError("an edited file needs its base's digest");
  const FileDigest& base = *edit.base;
  const std::vector<DigestChunk>& bc = base.chunks;
  FileState f;
  f.out.size = edit.size;
  const uint64_t first = std::min(edit.changed_begin, edit.size);

  // The base's chunks that end before the first changed byte are the new
  // file's too (a chunk's end depends only on its own bytes). The base's
  // last chunk ends where the base ended, which is no chunker boundary
  // unless the new file ends there too.
  uint64_t from = 0;  // where chunking starts
  size_t next_base = 0;
  for (; next_base < bc.size(); ++next_base) {
    const uint64_t end = from + bc[next_base].length;
    if (end > first || (end == base.size && edit.size != base.size)) break;
    if (!AddKnownChunk(&f, bc[next_base].hash, bc[next_base].length)) break;
    from = end;
  }

  // The SHA-256 resumes at the last midstate at or before `from`: the bytes
  // before it are the base's.
  const Sha256Midstate* resume = nullptr;
  std::vector<Sha256Midstate> midstates;
  for (const Sha256Midstate& m : base.midstates) {
    if (m.offset > from || m.offset > edit.size) break;
    resume = &m;
    midstates.push_back(m);
  }
  uint64_t pos = resume != nullptr ? resume->offset : 0;  // next byte to read
  UploadReadFn sequential = [&](std::span<uint8_t> buf) -> Result<size_t> {
    if (pos >= edit.size) return size_t{0};
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), edit.size - pos));
    HUBFS_ASSIGN_OR_RETURN(size_t n, read(pos, buf.first(want)));
    if (n == 0) {
      return Status(ErrorCode::kFailedPrecondition, "the edited file ended before its size");
    }
    pos += n;
    return n;
  };
  BlockStream blocks(sequential, options_.read_block, 3, resume, options_.midstate_interval);

  // Past the changed bytes, a cut that lands on a base boundary puts the
  // chunker where it was on the base: from there on, the chunks are the
  // base's (same bytes, same state). Only a file of the base's size keeps
  // the base's tail.
  const bool tail_kept = edit.size == base.size && edit.changed_end < edit.size;
  size_t walk = next_base;    // base chunks [0, walk) end at or before walk_end
  uint64_t walk_end = from;
  bool synced = false;        // the chunks from here on are the base's
  Chunker chunker;
  std::vector<uint8_t> carry;
  carry.reserve(kMaxChunkSize);
  uint64_t at = resume != nullptr ? resume->offset : 0;  // offset of the next byte seen
  for (;;) {
    HUBFS_ASSIGN_OR_RETURN(std::span<const uint8_t> data, blocks.Next());
    if (data.empty()) break;
    HUBFS_RETURN_IF_ERROR(FirstError());
    const size_t n = data.size();
    if (at < from) {  // read for the SHA-256 only
      const auto skip = static_cast<size_t>(std::min<uint64_t>(data.size(), from - at));
      data = data.subspan(skip);
      at += skip;
    }
    while (!data.empty()) {
      if (synced) {
        if (walk >= bc.size()) {
          return Status(ErrorCode::kFailedPrecondition, "the edited file is longer than its size");
        }
        const DigestChunk& c = bc[walk];
        const size_t need = c.length - carry.size();
        if (data.size() < need) {
          carry.insert(carry.end(), data.begin(), data.end());
          at += data.size();
          break;
        }
        std::span<const uint8_t> chunk = data.first(need);
        if (!carry.empty()) {
          carry.insert(carry.end(), chunk.begin(), chunk.end());
          chunk = carry;
        }
        AddChunk(&f, chunk, c.hash);
        carry.clear();
        ++walk;
        data = data.subspan(need);
        at += need;
        continue;
      }
      const size_t cut = chunker.NextBoundary(data);
      if (cut == Chunker::kNoBoundary) {
        carry.insert(carry.end(), data.begin(), data.end());
        at += data.size();
        break;
      }
      std::span<const uint8_t> chunk = data.first(cut);
      if (!carry.empty()) {
        carry.insert(carry.end(), chunk.begin(), chunk.end());
        chunk = carry;
      }
      AddChunk(&f, chunk, ChunkHash(chunk));
      carry.clear();
      data = data.subspan(cut);
      at += cut;
      if (tail_kept && at >= edit.changed_end) {
        while (walk < bc.size() && walk_end < at) walk_end += bc[walk++].length;
        synced = walk_end == at && walk < bc.size();
      }
    }
    stats_->bytes_hashed += n;
    if (progress) progress(at);
  }
  if (at != edit.size) {
    return Status(ErrorCode::kFailedPrecondition, "the edited file ended before its size");
  }
  if (!carry.empty()) {
    if (synced) {
      return Status(ErrorCode::kFailedPrecondition, "the edited file ended inside a base chunk");
    }
    AddChunk(&f, carry, ChunkHash(carry));
  }
  if (synced && walk != bc.size()) {
    return Status(ErrorCode::kFailedPrecondition, "the edited file ended before its base's chunks");
  }
  const std::array<uint8_t, 32> sha = blocks.Sha256();
  for (const Sha256Midstate& m : blocks.midstates()) {
    if (midstates.empty() || m.offset > midstates.back().offset) midstates.push_back(m);
  }
  EndFile(&f, sha, std::move(midstates));
  return f.out;
}

std::optional<UploadSession::Placement> UploadSession::FindInAnswers(const Hash& hash,
                                                                     const Placement* prefer) {
  // A chunk that continues the current term's xorb keeps the term whole.
  if (prefer != nullptr && prefer->slot < 0) {
    for (const auto& a : answers_) {
      for (size_t x = 0; x < a->xorbs.size(); ++x) {
        if (a->xorbs[x] != prefer->existing) continue;
        const uint32_t next = prefer->index + 1;
        if (next < a->chunk_hashes[x].size() && a->chunk_hashes[x][next] == a->KeyOf(hash)) {
          return Placement{-1, prefer->existing, next};
        }
      }
    }
  }
  for (const auto& a : answers_) {
    auto it = a->index.find(a->KeyOf(hash));
    if (it != a->index.end()) return Placement{-1, a->xorbs[it->second.first], it->second.second};
  }
  return std::nullopt;
}

std::optional<UploadSession::Placement> UploadSession::FindExisting(FileState* f,
                                                                    const Hash& hash) {
  Placement prefer;
  const Placement* prefer_ptr = nullptr;
  if (!f->terms.empty()) {
    const PendingTerm& t = f->terms.back();
    prefer = Placement{t.slot, t.existing, t.end - 1};
    prefer_ptr = &prefer;
  }
  if (auto it = session_chunks_.find(hash); it != session_chunks_.end()) {
    ++stats_->dedup_session_chunks;
    return Placement{it->second.first, Hash{}, it->second.second};
  }
  if (auto p = FindInAnswers(hash, prefer_ptr)) {
    ++stats_->dedup_global_chunks;
    return p;
  }
  if (auto loc = backend_->LookupLocal(hash)) {
    ++stats_->dedup_local_chunks;
    return Placement{-1, loc->xorb, loc->index};
  }
  const bool eligible = f->chunk_index == 0 || IsGlobalDedupEligible(hash);
  const bool spaced =
      !f->queried || f->chunk_index - f->last_query_chunk >= options_.chunks_between_queries;
  if (!options_.global_dedup || !eligible || !spaced) return std::nullopt;
  f->queried = true;
  f->last_query_chunk = f->chunk_index;
  ++stats_->dedup_queries;
  Result<std::optional<Shard>> answer = backend_->QueryChunk(hash);
  if (!answer.ok()) {
    ++stats_->dedup_query_errors;
    return std::nullopt;
  }
  if (!answer->has_value()) return std::nullopt;
  auto a = std::make_unique<DedupAnswer>();
  const Shard& shard = **answer;
  if (shard.footer) {
    a->key = shard.footer->hmac_key;
    a->keyed = std::any_of(a->key.begin(), a->key.end(), [](uint8_t b) { return b != 0; });
  }
  for (const ShardXorb& x : shard.xorbs) {
    const uint32_t xi = static_cast<uint32_t>(a->xorbs.size());
    a->xorbs.push_back(x.xorb_hash);
    std::vector<Hash> hashes;
    hashes.reserve(x.chunks.size());
    for (size_t c = 0; c < x.chunks.size(); ++c) {
      hashes.push_back(x.chunks[c].hash);
      a->index.emplace(x.chunks[c].hash, std::make_pair(xi, static_cast<uint32_t>(c)));
    }
    a->chunk_hashes.push_back(std::move(hashes));
  }
  answers_.push_back(std::move(a));
  while (answers_.size() > options_.max_dedup_answers) answers_.pop_front();
  if (auto p = FindInAnswers(hash, prefer_ptr)) {
    ++stats_->dedup_global_chunks;
    return p;
  }
  return std::nullopt;
}

void UploadSession::Place(FileState* f, const Placement& p, uint32_t length, const Hash& hash) {
  bool extends = false;
  if (!f->terms.empty()) {
    const PendingTerm& t = f->terms.back();
    extends = t.slot == p.slot && t.end == p.index && (p.slot >= 0 || t.existing == p.existing);
  }
  if (!extends) {
    if (!f->terms.empty()) f->terms.back().verification = VerificationHash(f->term_chunks);
    f->term_chunks.clear();
    PendingTerm t;
    t.slot = p.slot;
    t.existing = p.existing;
    t.start = p.index;
    t.end = p.index;
    f->terms.push_back(t);
  }
  PendingTerm& t = f->terms.back();
  t.end = p.index + 1;
  t.bytes += length;
  f->term_chunks.push_back(hash);
}

bool UploadSession::AddKnownChunk(FileState* f, const Hash& hash, uint32_t length) {
  std::optional<Placement> existing = FindExisting(f, hash);
  if (!existing) return false;
  f->merkle.Add({hash, length});
  f->chunks.push_back({hash, length});
  ++f->out.dedup_chunks;
  stats_->dedup_bytes += length;
  Place(f, *existing, length, hash);
  ++f->chunk_index;
  return true;
}

void UploadSession::AddChunk(FileState* f, std::span<const uint8_t> data, const Hash& hash) {
  const auto length = static_cast<uint32_t>(data.size());
  f->merkle.Add({hash, length});
  f->chunks.push_back({hash, length});
  std::optional<Placement> existing = FindExisting(f, hash);
  if (existing) {
    ++f->out.dedup_chunks;
    stats_->dedup_bytes += length;
    Place(f, *existing, length, hash);
  } else {
    Slot* open = slots_.empty() || slots_.back()->cut ? nullptr : slots_.back().get();
    if (open != nullptr) {
      const size_t n = open->chunks.size();
      const bool fits = n < options_.xorb_max_chunks &&
                        open_data_.size() + length + kChunkRecordHeaderSize * (n + 1) <=
                            options_.xorb_max_bytes &&
                        open->unpacked + length <= kMaxXorbUnpackedSize;
      if (!fits) {
        CutXorb();
        open = nullptr;
      }
    }
    if (open == nullptr) {
      slots_.push_back(std::make_unique<Slot>());
      open = slots_.back().get();
      open_data_.clear();
    }
    const auto slot = static_cast<int64_t>(slots_.size() - 1);
    const auto index = static_cast<uint32_t>(open->chunks.size());
    XorbChunkInfo c;
    c.hash = hash;
    c.length = length;
    open->chunks.push_back(c);
    open->unpacked += length;
    open_data_.insert(open_data_.end(), data.begin(), data.end());
    session_chunks_.emplace(hash, std::make_pair(slot, index));
    ++f->out.new_chunks;
    f->out.new_bytes += length;
    stats_->new_bytes += length;
    Place(f, Placement{slot, Hash{}, index}, length, hash);
  }
  ++f->chunk_index;
}

void UploadSession::CutXorb() {
  Slot* open = slots_.empty() || slots_.back()->cut ? nullptr : slots_.back().get();
  if (open == nullptr || open->chunks.empty()) return;
  std::vector<MerkleNode> leaves;
  leaves.reserve(open->chunks.size());
  for (const XorbChunkInfo& c : open->chunks) leaves.push_back({c.hash, c.length});
  open->hash = XorbHash(leaves);
  open->cut = true;
  auto job = std::make_unique<Job>();
  job->slot = slots_.size() - 1;
  job->info.hash = open->hash;
  job->info.chunks = open->chunks;
  job->info.unpacked_size = open->unpacked;
  job->data = std::move(open_data_);
  open_data_ = {};
  {
    // A buffer a worker is done with: its pages are already mapped, so the
    // next xorb does not fault in (and zero) 64 MiB again.
    std::lock_guard<std::mutex> pool_lock(mu_);
    if (!spare_.empty()) {
      open_data_ = std::move(spare_.back());
      spare_.pop_back();
      open_data_.clear();
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (threads_.size() < std::max<size_t>(1, options_.workers)) {  // started on demand
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  const size_t workers = std::max<size_t>(1, options_.workers);
  cv_.wait(lock, [&] {
    return stop_ || queue_.size() + running_ < workers + options_.max_queued_xorbs;
  });
  if (stop_) return;
  queue_.push_back(std::move(job));
  cv_.notify_all();
}

Status UploadSession::RunJob(Job* job) {
  std::string body;
  body.reserve(job->data.size() + kChunkRecordHeaderSize * job->info.chunks.size());
  SerializeXorbRecords(job->data, job->info.chunks, options_.compression, &body);
  job->info.body_size = body.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.size() < 2) spare_.push_back(std::move(job->data));
  }
  job->data = {};
  const uint64_t body_size = body.size();
  HUBFS_RETURN_IF_ERROR(backend_->PutXorb(job->info, std::move(body)));
  ++stats_->xorbs_uploaded;
  stats_->xorb_bytes_uploaded += body_size;
  std::lock_guard<std::mutex> lock(mu_);
  slots_[job->slot]->body_size = body_size;
  return Status::Ok();
}

void UploadSession::WorkerLoop() {
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    cv_.notify_all();
    Status st = error_.ok() ? RunJob(job.get()) : Status::Ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
      if (!st.ok() && error_.ok()) error_ = st;
    }
    cv_.notify_all();
  }
}

Result<Shard> UploadSession::Finish() {
  if (finished_) return Status(ErrorCode::kFailedPrecondition, "upload session already finished");
  finished_ = true;
  CutXorb();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  HUBFS_RETURN_IF_ERROR(FirstError());

  Shard shard;
  for (const auto& pf : pending_files_) {
    ShardFile sf;
    sf.file_hash = pf->file_hash;
    for (const PendingTerm& t : pf->terms) {
      ShardTerm st;
      st.xorb_hash = t.slot >= 0 ? slots_[static_cast<size_t>(t.slot)]->hash : t.existing;
      st.unpacked_bytes = static_cast<uint32_t>(t.bytes);
      st.chunk_start = t.start;
      st.chunk_end = t.end;
      sf.terms.push_back(st);
      sf.verification.push_back(t.verification);
    }
    sf.sha256 = Sha256AsHash(pf->sha256);
    shard.files.push_back(std::move(sf));
  }
  for (const auto& slot : slots_) {
    ShardXorb x;
    x.xorb_hash = slot->hash;
    x.num_bytes_in_xorb = static_cast<uint32_t>(slot->unpacked);
    x.num_bytes_on_disk = static_cast<uint32_t>(slot->body_size);
    uint32_t offset = 0;
    for (const XorbChunkInfo& c : slot->chunks) {
      x.chunks.push_back({c.hash, offset, c.length,
                          IsGlobalDedupEligible(c.hash) ? kChunkFlagGlobalDedupEligible : 0u});
      offset += c.length;
    }
    shard.xorbs.push_back(std::move(x));
  }
  return shard;
}

}  // namespace hubfs::chunkstore
