// XetReader::ReadAllVerified: a whole-file read that checks the Xet file
// hash and the SHA-256 (docs/SEMANTICS.md).
#include <algorithm>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chunkstore/hash.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

using chunkstore::Hash;
using chunkstore::ReconTerm;

namespace {

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
  std::vector<uint8_t> bufs[2] = {std::vector<uint8_t>(block), std::vector<uint8_t>(block)};
  ChunkHashes hashes(what, state->terms,
                     [this](const ReconTerm& t) { return KnownLengths(t.xorb, t.range); });
  chunkstore::Sha256 sha;
  // A three-way pipeline per block: the next block is read while this one
  // goes to the sink and the chunk hasher, and through SHA-256, on the
  // fan-out pool. Reads stay in order (the reader sees a sequential stream).
  if (file.size > 0) {
    Result<size_t> pending = Read(file, 0, bufs[0]);
    int cur = 0;
    for (uint64_t off = 0;;) {
      if (!pending.ok()) return pending.status();
      if (*pending == 0) return InternalError(what + ": short read at " + std::to_string(off));
      std::span<const uint8_t> data(bufs[cur].data(), *pending);
      const uint64_t next_off = off + *pending;
      Result<size_t> next = size_t{0};
      Status st;
      // The sink and the chunk hasher on the calling thread (fn(0)), SHA-256
      // and the next read on the pool's threads when they are free.
      const bool more = next_off < file.size;
      fan_out_.ForEach(more ? 3 : 2, 3, [&](size_t stage) {
        if (stage == 0) {
          st = sink(data);
          if (st.ok()) st = hashes.Update(data);
        } else if (stage == 1) {
          sha.Update(data);
        } else {
          next = Read(file, next_off, bufs[1 - cur]);
        }
      });
      HUBFS_RETURN_IF_ERROR(st);
      off = next_off;
      if (off >= file.size) break;
      pending = std::move(next);
      cur = 1 - cur;
    }
  }
  HUBFS_RETURN_IF_ERROR(hashes.Finish());
  const Hash computed = chunkstore::FileHash(hashes.nodes());
  if (computed != file.hash) {
    return CorruptError(what + ": Xet file hash mismatch (computed " + computed.ToString() + ")");
  }
  const std::array<uint8_t, 32> digest = sha.Finalize();
  if (file.sha256.has_value() && digest != *file.sha256) {
    return CorruptError(what + ": sha256 mismatch (computed " + chunkstore::HexLower(digest) +
                        ")");
  }
  return Status::Ok();
}

}  // namespace hubfs::fs
