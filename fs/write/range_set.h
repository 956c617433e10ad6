// RangeSet: a set of byte ranges [begin, end), kept merged and sorted. A
// staged file uses one to remember which of its bytes are local (written,
// or already copied from the Hub); the rest still come from the file it
// was opened on. Not thread-safe.
#ifndef HUBFS_FS_WRITE_RANGE_SET_H_
#define HUBFS_FS_WRITE_RANGE_SET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace hubfs::fs {

class RangeSet {
 public:
  // Adds [begin, end); an empty range is ignored.
  void Add(uint64_t begin, uint64_t end);
  // Removes everything at or past `end` (a truncate).
  void TruncateAt(uint64_t end);
  // Whether [begin, end) is covered entirely (true for an empty range).
  bool Contains(uint64_t begin, uint64_t end) const;
  // The parts of [begin, end) not covered, in order.
  std::vector<std::pair<uint64_t, uint64_t>> Missing(uint64_t begin, uint64_t end) const;
  // The covered ranges, in order.
  std::vector<std::pair<uint64_t, uint64_t>> Ranges() const;
  uint64_t covered_bytes() const;
  size_t size() const { return ranges_.size(); }
  bool empty() const { return ranges_.empty(); }
  void Clear() { ranges_.clear(); }

  friend bool operator==(const RangeSet&, const RangeSet&) = default;

 private:
  std::map<uint64_t, uint64_t> ranges_;  // begin -> end, disjoint and not touching
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_RANGE_SET_H_
