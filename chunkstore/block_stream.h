// BlockStream: a file's bytes in blocks, in order, for the upload engine's
// hashing loop. The SHA-256 (the LFS oid) needs every byte, and so do the
// chunker and the chunk hashes: done one after the other on one thread they
// cost a large file three passes in a row. A file longer than one block is
// read one block ahead on a thread of its own and hashed with SHA-256 on
// another, so the caller's chunking of block i overlaps the read of block
// i + 1 and the SHA-256 of block i. A file that fits in one block (most
// files of a commit) is read and hashed on the caller's thread: no threads.
//
// The SHA-256 may start from a saved midstate (the bytes read then continue
// the file from that offset) and records midstates every
// `midstate_interval` bytes (sha256_state.h).
//
// Memory: `depth` blocks of `block_size` bytes (allocated as needed).
//
// Thread-safety: one caller thread. `read` is called by one thread at a
// time (the caller's, then the reader thread's), never concurrently.
#ifndef HUBFS_CHUNKSTORE_BLOCK_STREAM_H_
#define HUBFS_CHUNKSTORE_BLOCK_STREAM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/sha256_state.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace hubfs::chunkstore {

class BlockStream {
 public:
  // Reads the next bytes of the file into `buf`; returns how many (0 = end).
  using ReadFn = std::function<Result<size_t>(std::span<uint8_t> buf)>;

  // `read` must outlive the stream. depth >= 2. `resume`: the SHA-256
  // continues from this midstate (the first byte read is byte
  // resume->offset of the file); `midstate_interval`: 0 records none.
  BlockStream(const ReadFn& read, size_t block_size, size_t depth = 3,
              const Sha256Midstate* resume = nullptr, uint64_t midstate_interval = 0);
  // Stops the threads (waiting for a read under way to return).
  ~BlockStream();
  BlockStream(const BlockStream&) = delete;
  BlockStream& operator=(const BlockStream&) = delete;

  // The next block of the file, valid until the next call; an empty span at
  // the end. Errors: the read's (then every later call returns it too).
  Result<std::span<const uint8_t>> Next();

  // After Next returned the end: the SHA-256 of every byte it returned.
  std::array<uint8_t, 32> Sha256();
  // After Sha256(): the midstates recorded (offsets from the file's start).
  const std::vector<Sha256Midstate>& midstates() const { return sha_.midstates(); }

 private:
  void ReaderLoop();
  void HasherLoop();
  Status ReadInto(size_t slot);  // one read into blocks_[slot]; sets sizes_

  const ReadFn& read_;
  const size_t block_size_;
  const size_t depth_;
  ResumableSha256 sha_;  // the caller's thread until threads start, then the hasher's

  // Block k of the file lives in blocks_[k % depth_].
  std::vector<std::vector<uint8_t>> blocks_;
  std::vector<size_t> sizes_;

  Mutex mu_;
  CondVar cv_;
  uint64_t filled_ GUARDED_BY(mu_) = 0;  // blocks read
  uint64_t hashed_ GUARDED_BY(mu_) = 0;  // blocks fed to SHA-256
  uint64_t used_ GUARDED_BY(mu_) = 0;    // blocks the caller is done with
  bool ended_ GUARDED_BY(mu_) = false;   // the reader saw the end or an error
  bool stop_ GUARDED_BY(mu_) = false;
  Status error_ GUARDED_BY(mu_);
  bool threaded_ = false;  // the caller's thread only
  bool handed_out_ = false;  // the caller holds block used_ (the caller's thread only)
  std::thread reader_;
  std::thread hasher_;
};

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_BLOCK_STREAM_H_
