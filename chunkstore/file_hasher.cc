#include "chunkstore/file_hasher.h"

namespace hubfs::chunkstore {

FileHasher::FileHasher(bool with_sha256) : chunk_hasher_(kDataKey) {
  if (with_sha256) sha_ = std::make_unique<Sha256>();
}

FileHasher::~FileHasher() = default;

void FileHasher::EndChunk() {
  ChunkInfo info;
  info.offset = chunk_start_;
  info.length = static_cast<uint32_t>(size_ - chunk_start_);
  info.hash = chunk_hasher_.Finalize();
  chunks_.push_back(info);
  chunk_start_ = size_;
  chunk_hasher_.Reset();
}

void FileHasher::Update(std::span<const uint8_t> data) {
  if (sha_) sha_->Update(data);
  while (!data.empty()) {
    size_t cut = chunker_.NextBoundary(data);
    size_t take = cut == Chunker::kNoBoundary ? data.size() : cut;
    chunk_hasher_.Update(data.first(take));
    size_ += take;
    data = data.subspan(take);
    if (cut != Chunker::kNoBoundary) EndChunk();
  }
}

void FileHasher::Finish() {
  if (finished_) return;
  finished_ = true;
  if (size_ > chunk_start_) EndChunk();
  if (sha_) sha256_ = sha_->Finalize();
}

Hash FileHasher::file_hash() const {
  std::vector<MerkleNode> leaves;
  leaves.reserve(chunks_.size());
  for (const ChunkInfo& c : chunks_) leaves.push_back({c.hash, c.length});
  return FileHash(leaves);
}

}  // namespace hubfs::chunkstore
