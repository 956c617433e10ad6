// XetReader: fetching one range of a xorb - its records decoded (stored
// ones used in place), checked against the plan and the xorb hash, learned
// and cached. Concurrent readers of one range share one fetch.
#include <algorithm>
#include <string>
#include <utility>

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

  AcquireFetchSlot(priority);
  counters_.data_fetches.fetch_add(1, std::memory_order_relaxed);
  Result<std::vector<uint8_t>> body = cas_->FetchData(entry.url, range.bytes);
  ReleaseFetchSlot();
  if (!body.ok()) return body.status().WithContext(what);
  counters_.data_bytes.fetch_add(body->size(), std::memory_order_relaxed);

  // Decode every record; the body must hold exactly n records.
  auto run = std::make_shared<Run>();
  run->body = std::move(body).value();
  LearnedLayout learned;
  std::vector<std::pair<size_t, size_t>> records;  // [offset, size) in body
  HUBFS_RETURN_IF_ERROR(DecodeRun(range, what, run.get(), &learned, &records));
  HUBFS_RETURN_IF_ERROR(CheckRun(xorb, range, plan, what, *run, &learned));
  HUBFS_RETURN_IF_ERROR(Learn(xorb.xorb, learned).WithContext(what));
  if (cache_ != nullptr) {
    std::span<const uint8_t> data(run->body);
    for (uint32_t j = 0; j < range.chunks.size(); ++j) {
      const auto [off, size] = records[j];
      cache_->PutChunk(xorb.xorb, range.chunks.start + j, data.subspan(off, size));
    }
  }
  return std::shared_ptr<const Run>(std::move(run));
}

}  // namespace hubfs::fs
