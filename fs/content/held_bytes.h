// HeldBytes: a read's bytes, held without a copy until they are handed on.
#ifndef HUBFS_FS_CONTENT_HELD_BYTES_H_
#define HUBFS_FS_CONTENT_HELD_BYTES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace hubfs::fs {

// A read's bytes as pieces of memory held for as long as this lives (each
// with its owner), so that they can be answered without a copy (a FUSE reply
// gathers them): chunks still in the chunk cache's memory, or a buffer of its
// own that a plain Read filled. A tensor sweep hands its bytes to the page
// sink the same way (fs/content/page_sink.h).
class HeldBytes {
 public:
  void Add(std::span<const uint8_t> piece, std::shared_ptr<const void> owner) {
    pieces_.push_back(piece);
    owners_.push_back(std::move(owner));
  }
  // Drops every piece (and the OnDelivered call); then a buffer of its own
  // of `len` bytes (not initialised) is the only piece, cut to its first n
  // bytes by Keep(n).
  std::span<uint8_t> Own(size_t len) {
    pieces_.clear();
    owners_.clear();
    delivered_ = nullptr;
    own_ = std::make_unique_for_overwrite<uint8_t[]>(len);
    pieces_.emplace_back(own_.get(), len);
    return {own_.get(), len};
  }
  void Keep(size_t n) {
    if (!pieces_.empty()) pieces_.back() = pieces_.back().first(std::min(n, pieces_.back().size()));
  }
  const std::vector<std::span<const uint8_t>>& pieces() const { return pieces_; }
  size_t size() const {
    size_t n = 0;
    for (std::span<const uint8_t> p : pieces_) n += p.size();
    return n;
  }
  // `fn` runs at Delivered(): the source learns that the bytes reached the
  // reader (XetReader: the chunks they hold were read).
  void OnDelivered(std::function<void()> fn) { delivered_ = std::move(fn); }
  // Called by the one who hands the bytes over, once it has (a FUSE reply
  // sent); at most once.
  void Delivered() {
    if (!delivered_) return;
    std::function<void()> fn = std::move(delivered_);
    delivered_ = nullptr;
    fn();
  }

 private:
  std::vector<std::span<const uint8_t>> pieces_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::unique_ptr<uint8_t[]> own_;
  std::function<void()> delivered_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_HELD_BYTES_H_
