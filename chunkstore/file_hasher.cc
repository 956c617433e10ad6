#include "chunkstore/file_hasher.h"

namespace hubfs::chunkstore {

FileHasher::FileHasher(bool with_sha256, bool keep_chunks)
    : chunk_hasher_(kDataKey), keep_chunks_(keep_chunks) {
  if (with_sha256) sha_ = std::make_unique<Sha256>();
}

FileHasher::~FileHasher() = default;

void FileHasher::EndChunk(const Hash& hash) {
  const auto length = static_cast<uint32_t>(size_ - chunk_start_);
  merkle_.Add({hash, length});
  if (keep_chunks_) chunks_.push_back({chunk_start_, length, hash});
  chunk_start_ = size_;
}

void FileHasher::Update(std::span<const uint8_t> data) {
  if (sha_) sha_->Update(data);
  while (!data.empty()) {
    const bool chunk_open = size_ > chunk_start_;  // part of this chunk came in earlier calls
    const size_t cut = chunker_.NextBoundary(data);
    if (cut == Chunker::kNoBoundary) {
      chunk_hasher_.Update(data);
      size_ += data.size();
      return;
    }
    size_ += cut;
    if (chunk_open) {
      chunk_hasher_.Update(data.first(cut));
      EndChunk(chunk_hasher_.Finalize());
      chunk_hasher_.Reset();
    } else {
      // The whole chunk is in this buffer: hash it in one call.
      EndChunk(ChunkHash(data.first(cut)));
    }
    data = data.subspan(cut);
  }
}

void FileHasher::Finish() {
  if (finished_) return;
  finished_ = true;
  if (size_ > chunk_start_) {
    EndChunk(chunk_hasher_.Finalize());
    chunk_hasher_.Reset();
  }
  if (sha_) sha256_ = sha_->Finalize();
}

Hash FileHasher::file_hash() const {
  if (merkle_.leaf_count() == 0) return Hash{};
  return KeyedBlake3(kZeroKey, merkle_.Root().bytes);
}

}  // namespace hubfs::chunkstore
