// XetReader: fetching one range of a xorb - its records decoded (stored
// ones used in place), checked against the plan and the xorb hash, learned
// and cached. Concurrent readers of one range share one fetch.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "common/log.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

using chunkstore::FetchEntry;
using chunkstore::FetchRange;
using chunkstore::Hash;
using chunkstore::Reconstruction;
using chunkstore::ReconTerm;
using chunkstore::XorbFetch;

namespace {

std::string RangeName(const XorbFetch& xorb, const FetchRange& range) {
  return "xorb " + xorb.xorb.ToString() + " chunks " + std::to_string(range.chunks.start) + "-" +
         std::to_string(range.chunks.end);
}

}  // namespace

XetReader::Run::~Run() {
  if (pool != nullptr) pool->Give(std::move(body));
}

Result<std::shared_ptr<const XetReader::Run>> XetReader::FetchRun(const XorbFetch& xorb,
                                                                  const FetchEntry& entry,
                                                                  const FetchRange& range,
                                                                  const Reconstruction& plan,
                                                                  Priority priority) {
  const FetchKey key{xorb.xorb, range.chunks.start, range.chunks.end, range.bytes.start,
                     range.bytes.end};
  bool shared = false;
  auto result = fetch_flights_.Do(
      key, [&] { return FetchRunUncached(xorb, entry, range, plan, priority); }, &shared);
  if (shared) counters_.shared_fetches.fetch_add(1, std::memory_order_relaxed);
  return result;
}

std::shared_ptr<const XetReader::Run> XetReader::RunFromCache(const XorbFetch& xorb,
                                                             const FetchRange& range) {
  const uint32_t n = range.chunks.size();
  const std::vector<uint32_t> known = KnownLengths(xorb.xorb, range.chunks);
  if (std::find(known.begin(), known.end(), 0u) != known.end()) return nullptr;
  auto run = std::make_shared<Run>();
  run->decoded.reserve(n);
  for (uint32_t idx = range.chunks.start; idx < range.chunks.end; ++idx) {
    std::optional<std::vector<uint8_t>> chunk =
        CachedChunk(xorb.xorb, idx, known[idx - range.chunks.start]);
    if (!chunk.has_value()) return nullptr;
    run->decoded.push_back(std::move(*chunk));
  }
  for (const std::vector<uint8_t>& c : run->decoded) run->chunks.emplace_back(c);
  return run;
}

Status XetReader::DecodeRun(const FetchRange& range, const std::string& what, Run* run,
                            LearnedLayout* learned,
                            std::vector<std::pair<size_t, size_t>>* records) {
  const uint32_t n = range.chunks.size();
  run->chunks.reserve(n);
  learned->lengths.assign(range.chunks.end, 0);
  learned->record_starts.assign(range.chunks.end, 0);
  records->reserve(n);
  std::span<const uint8_t> data(run->body);
  size_t pos = 0;
  std::unique_ptr<chunkstore::ChunkDecoder> dec = AcquireDecoder();
  Status st;
  for (uint32_t j = 0; j < n && st.ok(); ++j) {
    if (pos >= data.size()) {
      st = CorruptError(what + ": " + std::to_string(j) + " records, expected " +
                        std::to_string(n));
      break;
    }
    size_t consumed = 0;
    std::span<const uint8_t> chunk;
    Result<chunkstore::ChunkRecordHeader> header =
        chunkstore::ParseChunkRecordHeader(data.subspan(pos));
    if (header.ok() && header->scheme == chunkstore::CompressionScheme::kNone &&
        header->record_size() <= data.size() - pos) {
      // Stored as is: the chunk is the payload, no copy.
      consumed = header->record_size();
      chunk = data.subspan(pos + chunkstore::kChunkRecordHeaderSize, header->uncompressed_size);
    } else {
      std::vector<uint8_t> decoded;
      st = dec->DecodeRecord(data.subspan(pos), &consumed, &decoded);
      if (!st.ok()) {
        st = st.WithContext(what + " record " + std::to_string(j));
        break;
      }
      run->decoded.push_back(std::move(decoded));
      chunk = run->decoded.back();
    }
    const uint64_t rec_start = range.bytes.start + pos;
    learned->lengths[range.chunks.start + j] = static_cast<uint32_t>(chunk.size());
    learned->record_starts[range.chunks.start + j] =
        rec_start <= UINT32_MAX ? static_cast<uint32_t>(rec_start) : 0;
    records->emplace_back(pos, consumed);
    run->chunks.push_back(chunk);
    pos += consumed;
  }
  ReleaseDecoder(std::move(dec));
  HUBFS_RETURN_IF_ERROR(st);
  if (pos != data.size()) return CorruptError(what + ": bytes left after the last record");
  return Status::Ok();
}

Status XetReader::CheckRun(const XorbFetch& xorb, const FetchRange& range,
                           const Reconstruction& plan, const std::string& what, const Run& run,
                           LearnedLayout* learned) {
  // Every term of the plan that reads from this range must add up.
  for (const ReconTerm& term : plan.terms) {
    if (term.xorb != xorb.xorb || !range.chunks.Contains(term.range)) continue;
    uint64_t sum = 0;
    for (uint32_t idx = term.range.start; idx < term.range.end; ++idx) {
      sum += run.chunks[idx - range.chunks.start].size();
    }
    if (sum != term.unpacked_length) {
      return CorruptError(what + ": chunks hold " + std::to_string(sum) +
                          " bytes, the plan says " + std::to_string(term.unpacked_length));
    }
  }
  // A run from chunk 0 whose Merkle root is the xorb hash is the whole xorb,
  // verified.
  if (range.chunks.start == 0) {
    std::vector<chunkstore::MerkleNode> nodes;
    nodes.reserve(run.chunks.size());
    for (std::span<const uint8_t> c : run.chunks) {
      nodes.push_back({chunkstore::ChunkHash(c), c.size()});
    }
    if (chunkstore::XorbHash(nodes) == xorb.xorb) {
      learned->count_known = true;
      counters_.xorbs_verified.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const XetReader::Run>> XetReader::FetchRunUncached(
    const XorbFetch& xorb, const FetchEntry& entry, const FetchRange& range,
    const Reconstruction& plan, Priority priority) {
  const std::string what = RangeName(xorb, range);
  // Another reader may have fetched this range just before we became the
  // leader: it learned the lengths, then cached the records.
  if (std::shared_ptr<const Run> cached = RunFromCache(xorb, range)) return cached;

  chunkstore::SharedTier* const tier = options_.shared_tier;
  bool leased = false;
  if (tier != nullptr) {
    if (std::shared_ptr<const Run> run = RunFromTierOrLease(xorb, range, plan, what, &leased)) {
      return run;
    }
  }
  auto run = FetchRunFromOrigin(xorb, entry, range, plan, what, priority, leased);
  if (!run.ok() && leased) tier->ReleaseLease(xorb.xorb, range.chunks);
  return run;
}

Status XetReader::AcceptRun(const XorbFetch& xorb, const FetchRange& range,
                            const Reconstruction& plan, const std::string& what, Run* run,
                            std::vector<std::pair<size_t, size_t>>* records) {
  // Decode every record; the body must hold exactly n records.
  LearnedLayout learned;
  HUBFS_RETURN_IF_ERROR(DecodeRun(range, what, run, &learned, records));
  HUBFS_RETURN_IF_ERROR(CheckRun(xorb, range, plan, what, *run, &learned));
  HUBFS_RETURN_IF_ERROR(Learn(xorb.xorb, learned).WithContext(what));
  if (cache_ != nullptr) {
    std::span<const uint8_t> data(run->body);
    for (uint32_t j = 0; j < range.chunks.size(); ++j) {
      const auto [off, size] = (*records)[j];
      const std::span<const uint8_t> record = data.subspan(off, size);
      if (options_.wait_for_cache) {
        cache_->PutChunk(xorb.xorb, range.chunks.start + j, record);
      } else {
        cache_->PutChunkIfRoom(xorb.xorb, range.chunks.start + j, record);
      }
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const XetReader::Run>> XetReader::FetchRunFromOrigin(
    const XorbFetch& xorb, const FetchEntry& entry, const FetchRange& range,
    const Reconstruction& plan, const std::string& what, Priority priority, bool leased) {
  // The body goes into a kept buffer when there is one (back to the pool
  // when the run is dropped, or now on failure).
  auto run = std::make_shared<Run>(bodies_.get());
  if (bodies_ != nullptr) run->body = bodies_->Take(range.bytes.end - range.bytes.start + 1);
  AcquireFetchSlot(priority);
  counters_.data_fetches.fetch_add(1, std::memory_order_relaxed);
  Status fetched = cas_->FetchDataInto(entry.url, range.bytes, &run->body);
  ReleaseFetchSlot(priority);
  if (!fetched.ok()) return fetched.WithContext(what);
  counters_.data_bytes.fetch_add(run->body.size(), std::memory_order_relaxed);

  std::vector<std::pair<size_t, size_t>> records;  // [offset, size) in body
  HUBFS_RETURN_IF_ERROR(AcceptRun(xorb, range, plan, what, run.get(), &records));
  if (chunkstore::SharedTier* tier = options_.shared_tier) {
    // Write-back in the background (copies: the run's body is shared with
    // readers); the tier drops it rather than wait.
    std::vector<uint64_t> offsets;
    std::vector<std::vector<uint8_t>> recs;
    offsets.reserve(records.size());
    recs.reserve(records.size());
    for (const auto& [off, size] : records) {
      offsets.push_back(range.bytes.start + off);
      recs.emplace_back(run->body.begin() + static_cast<ptrdiff_t>(off),
                        run->body.begin() + static_cast<ptrdiff_t>(off + size));
    }
    tier->Put(xorb.xorb, range.chunks, std::move(offsets), std::move(recs), leased);
  }
  return std::shared_ptr<const Run>(std::move(run));
}

std::shared_ptr<const XetReader::Run> XetReader::RunFromTier(const XorbFetch& xorb,
                                                            const FetchRange& range,
                                                            const Reconstruction& plan,
                                                            const std::string& what,
                                                            bool recheck) {
  chunkstore::SharedTier* const tier = options_.shared_tier;
  std::map<uint32_t, chunkstore::TierRecord> got = tier->Get(xorb.xorb, range.chunks, recheck);
  if (got.size() != range.chunks.size()) return nullptr;
  // The records must tile the range: then their concatenation is exactly
  // the origin's answer for it, and gets exactly its checks.
  auto run = std::make_shared<Run>();
  const uint64_t len = range.bytes.end - range.bytes.start + 1;
  run->body.reserve(static_cast<size_t>(len));
  uint64_t pos = range.bytes.start;
  for (const auto& [index, rec] : got) {
    if (rec.offset != pos || rec.record.size() > len - (pos - range.bytes.start)) {
      HUBFS_LOG(kWarning) << "shared cache: " << what << ": chunk " << index
                          << " is not where the range says; refused";
      counters_.tier_refused.fetch_add(1, std::memory_order_relaxed);
      tier->CountCorrupt(1);
      return nullptr;
    }
    run->body.insert(run->body.end(), rec.record.begin(), rec.record.end());
    pos += rec.record.size();
  }
  Status st;
  if (pos != range.bytes.end + 1) {
    st = CorruptError(what + ": records end at " + std::to_string(pos));
  } else {
    std::vector<std::pair<size_t, size_t>> records;
    st = AcceptRun(xorb, range, plan, what, run.get(), &records);
  }
  if (!st.ok()) {
    // Never trusted beyond what an origin answer would pass: refetch.
    HUBFS_LOG(kWarning) << "shared cache: refused: " << st.ToString();
    counters_.tier_refused.fetch_add(1, std::memory_order_relaxed);
    tier->CountCorrupt(range.chunks.size());
    return nullptr;
  }
  counters_.tier_runs.fetch_add(1, std::memory_order_relaxed);
  counters_.tier_bytes.fetch_add(run->body.size(), std::memory_order_relaxed);
  return run;
}

std::shared_ptr<const XetReader::Run> XetReader::RunFromTierOrLease(
    const XorbFetch& xorb, const FetchRange& range, const Reconstruction& plan,
    const std::string& what, bool* leased) {
  using Lease = chunkstore::SharedTier::Lease;
  chunkstore::SharedTier* const tier = options_.shared_tier;
  if (std::shared_ptr<const Run> run = RunFromTier(xorb, range, plan, what, false)) return run;
  // Missing: one node fetches it from the origin (the lease's holder), the
  // others wait for its records. When the holder lets go (written, failed,
  // or its lease expired) and the range is still not whole, the next taker
  // fetches it. Bounded: after lease_wait this node fetches regardless.
  const auto deadline = std::chrono::steady_clock::now() + tier->options().lease_wait;
  bool waited = false;
  for (;;) {
    switch (tier->TryLease(xorb.xorb, range.chunks)) {
      case Lease::kWon:
        if (waited) {
          // The holder may have written it and let go since the last look.
          if (std::shared_ptr<const Run> run = RunFromTier(xorb, range, plan, what, true)) {
            tier->ReleaseLease(xorb.xorb, range.chunks);
            return run;
          }
        }
        *leased = true;
        return nullptr;
      case Lease::kUnavailable:
        return nullptr;
      case Lease::kLost:
        break;
    }
    if (!waited) tier->CountLeaseWait();
    waited = true;
    if (std::chrono::steady_clock::now() + tier->options().lease_poll >= deadline) return nullptr;
    std::this_thread::sleep_for(tier->options().lease_poll);
    if (std::shared_ptr<const Run> run = RunFromTier(xorb, range, plan, what, true)) return run;
  }
}

}  // namespace hubfs::fs
