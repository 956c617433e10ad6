// A SHA-256 whose state can be saved at a 64-byte boundary and resumed later
// (from a saved "midstate"): the SHA-256 of an edited file then starts at the
// last saved state before the first changed byte instead of at byte 0. Saved
// states are recorded every `interval` bytes while hashing.
//
// A midstate is the eight words of the compression state after `offset`
// bytes (a multiple of 64, so no partial block is pending); with the bytes
// that follow it, it gives exactly the digest of hashing from the start.
#ifndef HUBFS_CHUNKSTORE_SHA256_STATE_H_
#define HUBFS_CHUNKSTORE_SHA256_STATE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace hubfs::chunkstore {

struct Sha256Midstate {
  uint64_t offset = 0;  // bytes hashed; a multiple of 64
  std::array<uint32_t, 8> state{};

  friend bool operator==(const Sha256Midstate&, const Sha256Midstate&) = default;
};

// Not thread-safe; one stream of bytes.
class ResumableSha256 {
 public:
  // At offset 0.
  ResumableSha256();
  ~ResumableSha256();
  ResumableSha256(const ResumableSha256&) = delete;
  ResumableSha256& operator=(const ResumableSha256&) = delete;

  // Continues from `from` (offset() becomes from.offset). REQUIRES: nothing
  // hashed yet, from.offset % 64 == 0 (a midstate this class saved).
  void Resume(const Sha256Midstate& from);
  // Records the state each time the offset reaches a multiple of `interval`
  // (a multiple of 64; 0: never) past the current offset.
  void RecordEvery(uint64_t interval);

  void Update(std::span<const uint8_t> data);
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> Finalize();

  uint64_t offset() const { return offset_; }
  // The states recorded so far, in offset order.
  const std::vector<Sha256Midstate>& midstates() const { return midstates_; }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t offset_ = 0;
  uint64_t interval_ = 0;
  std::vector<Sha256Midstate> midstates_;
};

}  // namespace hubfs::chunkstore

#endif  // HUBFS_CHUNKSTORE_SHA256_STATE_H_
