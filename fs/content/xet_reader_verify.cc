// XetReader::ReadAllVerified: a whole-file read that checks the Xet file
// hash and the SHA-256 (docs/SEMANTICS.md).
#include <algorithm>
#include <string>
#include <vector>

#include "chunkstore/hash.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

using chunkstore::Hash;
using chunkstore::ReconTerm;

Status XetReader::ReadAllVerified(const XetFileRef& file, uint64_t block_bytes,
                                  const std::function<Status(std::span<const uint8_t>)>& sink) {
  const std::string what = "verify " + file.hash.ToString();
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<FileState> state, GetFile(file));
  const size_t block = static_cast<size_t>(std::clamp<uint64_t>(block_bytes, 1, 256ull << 20));
  std::vector<uint8_t> bufs[2] = {std::vector<uint8_t>(block), std::vector<uint8_t>(block)};
  std::vector<chunkstore::MerkleNode> nodes;
  chunkstore::KeyedHasher hasher(chunkstore::kDataKey);
  chunkstore::Sha256 sha;
  size_t term = 0;
  std::vector<uint32_t> lengths;  // of the current term
  size_t chunk = 0;               // index into lengths
  uint64_t chunk_left = 0;
  uint64_t chunk_len = 0;
  // Chunk hashes of the next bytes of the file, in order.
  auto hash_chunks = [&](std::span<const uint8_t> data) -> Status {
    while (!data.empty()) {
      if (chunk_left == 0) {
        while (chunk >= lengths.size()) {
          if (term >= state->terms.size()) return CorruptError(what + ": more bytes than chunks");
          lengths = KnownLengths(state->terms[term].xorb, state->terms[term].range);
          ++term;
          chunk = 0;
        }
        if (lengths[chunk] == 0) {  // learned by the read that returned these bytes
          const ReconTerm& t = state->terms[term - 1];
          lengths = KnownLengths(t.xorb, t.range);
          if (lengths[chunk] == 0) {
            return InternalError(what + ": length of chunk " +
                                 std::to_string(t.range.start + chunk) + " of xorb " +
                                 t.xorb.ToString() + " unknown after reading it");
          }
        }
        chunk_len = chunk_left = lengths[chunk++];
      }
      const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left, data.size()));
      hasher.Update(data.first(take));
      data = data.subspan(take);
      chunk_left -= take;
      if (chunk_left == 0) {
        nodes.push_back({hasher.Finalize(), chunk_len});
        hasher.Reset();
      }
    }
    return Status::Ok();
  };
  // A three-way pipeline per block: the next block is read while this one
  // goes to the sink and the chunk hasher, and through SHA-256 on a thread of
  // its own. Reads stay in order (the reader sees a sequential stream).
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
          if (st.ok()) st = hash_chunks(data);
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
  if (chunk_left != 0 || chunk != lengths.size() || term != state->terms.size()) {
    return CorruptError(what + ": the data ended inside a chunk");
  }
  const Hash computed = chunkstore::FileHash(nodes);
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
