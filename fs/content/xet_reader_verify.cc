// XetReader::ReadAllVerified: a whole-file read that checks the Xet file
// hash and, when the ref carries one, the SHA-256 (docs/SEMANTICS.md).
#include <algorithm>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chunkstore/hash.h"
#include "fs/content/block_pipeline.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

using chunkstore::Hash;
using chunkstore::ReconTerm;

namespace {

// Blocks of a verified read in flight at most (buffers), whatever the
// read-ahead setting.
constexpr uint64_t kMaxVerifyBlocksAhead = 16;

// The chunk hashes of a file's bytes, fed in order, chunk boundaries from
// the lengths the reads learned (term by term).
class ChunkHashes {
 public:
  using LengthsOf = std::function<std::vector<uint32_t>(const ReconTerm&)>;
  ChunkHashes(std::string what, const std::vector<ReconTerm>& terms, LengthsOf lengths_of)
      : what_(std::move(what)), terms_(terms), lengths_of_(std::move(lengths_of)) {}

  Status Update(std::span<const uint8_t> data) {
    while (!data.empty()) {
      if (chunk_left_ == 0) HUBFS_RETURN_IF_ERROR(NextChunk());
      const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, data.size()));
      hasher_.Update(data.first(take));
      data = data.subspan(take);
      chunk_left_ -= take;
      if (chunk_left_ == 0) {
        nodes_.push_back({hasher_.Finalize(), chunk_len_});
        hasher_.Reset();
      }
    }
    return Status::Ok();
  }
  // Errors: kCorrupt when the data ended inside a chunk or before the last.
  Status Finish() const {
    if (chunk_left_ != 0 || chunk_ != lengths_.size() || term_ != terms_.size()) {
      return CorruptError(what_ + ": the data ended inside a chunk");
    }
    return Status::Ok();
  }
  const std::vector<chunkstore::MerkleNode>& nodes() const { return nodes_; }

 private:
  Status NextChunk() {
    while (chunk_ >= lengths_.size()) {
      if (term_ >= terms_.size()) return CorruptError(what_ + ": more bytes than chunks");
      lengths_ = lengths_of_(terms_[term_]);
      ++term_;
      chunk_ = 0;
    }
    if (lengths_[chunk_] == 0) {  // learned by the read that returned these bytes
      const ReconTerm& t = terms_[term_ - 1];
      lengths_ = lengths_of_(t);
      if (lengths_[chunk_] == 0) {
        return InternalError(what_ + ": length of chunk " + std::to_string(t.range.start + chunk_) +
                             " of xorb " + t.xorb.ToString() + " unknown after reading it");
      }
    }
    chunk_len_ = chunk_left_ = lengths_[chunk_++];
    return Status::Ok();
  }

  const std::string what_;
  const std::vector<ReconTerm>& terms_;
  const LengthsOf lengths_of_;
  std::vector<chunkstore::MerkleNode> nodes_;
  chunkstore::KeyedHasher hasher_{chunkstore::kDataKey};
  size_t term_ = 0;
  std::vector<uint32_t> lengths_;  // of the current term
  size_t chunk_ = 0;               // index into lengths_
  uint64_t chunk_left_ = 0;
  uint64_t chunk_len_ = 0;
};

}  // namespace

Status XetReader::ReadAllVerified(const XetFileRef& file, uint64_t block_bytes,
                                  const std::function<Status(std::span<const uint8_t>)>& sink) {
  const std::string what = "verify " + file.hash.ToString();
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, GetFile(file));
  const size_t block = static_cast<size_t>(std::clamp<uint64_t>(block_bytes, 1, 256ull << 20));
  ChunkHashes hashes(what, state->terms,
                     [this](const ReconTerm& t) { return KnownLengths(t.xorb, t.range); });
  chunkstore::Sha256 sha;
  // Blocks are read by several threads at once (each a demand read that
  // assembles its bytes straight from the fetched ranges: no read-ahead, so
  // nothing is read back out of the cache), as far as readahead_bytes ahead;
  // in order, the sink and the chunk hasher run on the calling thread and
  // SHA-256 (when the ref has one to check) beside them
  // (fs/content/block_pipeline.h).
  BlockPipelineOptions pipe;
  pipe.block_bytes = block;
  pipe.slots = static_cast<size_t>(
      std::clamp<uint64_t>(options_.readahead_bytes / block + 1, 2, kMaxVerifyBlocksAhead));
  pipe.readers = pipe.slots - 1;
  Status piped = RunBlockPipeline(
      fan_out_, file.size, pipe,
      [&](uint64_t offset, std::span<uint8_t> out) -> Status {
        counters_.reads.fetch_add(1, std::memory_order_relaxed);
        bool all_warm = true;
        HUBFS_RETURN_IF_ERROR(ReadRange(*state, offset, out, &all_warm));
        if (all_warm) counters_.warm_reads.fetch_add(1, std::memory_order_relaxed);
        return Status::Ok();
      },
      [&](std::span<const uint8_t> data) -> Status {
        HUBFS_RETURN_IF_ERROR(sink(data));
        return hashes.Update(data);
      },
      [&](std::span<const uint8_t> data) {
        if (file.sha256.has_value()) sha.Update(data);  // no second hash of every byte unasked
      });
  HUBFS_RETURN_IF_ERROR(piped);
  HUBFS_RETURN_IF_ERROR(hashes.Finish());
  const Hash computed = chunkstore::FileHash(hashes.nodes());
  if (computed != file.hash) {
    return CorruptError(what + ": Xet file hash mismatch (computed " + computed.ToString() + ")");
  }
  if (!file.sha256.has_value()) return Status::Ok();
  const std::array<uint8_t, 32> digest = sha.Finalize();
  if (digest != *file.sha256) {
    return CorruptError(what + ": sha256 mismatch (computed " + chunkstore::HexLower(digest) +
                        ")");
  }
  return Status::Ok();
}

}  // namespace hubfs::fs
