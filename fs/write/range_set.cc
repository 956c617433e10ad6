#include "fs/write/range_set.h"

#include <algorithm>

namespace hubfs::fs {

void RangeSet::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // The first range that could touch [begin, end): the one starting at or
  // before `begin`, if it reaches it.
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) it = prev;
  }
  while (it != ranges_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    it = ranges_.erase(it);
  }
  ranges_.emplace(begin, end);
}

void RangeSet::TruncateAt(uint64_t end) {
  auto it = ranges_.lower_bound(end);
  ranges_.erase(it, ranges_.end());
  if (!ranges_.empty()) {
    auto last = std::prev(ranges_.end());
    if (last->second > end) last->second = end;
    if (last->first >= last->second) ranges_.erase(last);
  }
}

bool RangeSet::Contains(uint64_t begin, uint64_t end) const {
  if (begin >= end) return true;
  auto it = ranges_.upper_bound(begin);
  if (it == ranges_.begin()) return false;
  --it;
  return it->first <= begin && it->second >= end;
}

std::vector<std::pair<uint64_t, uint64_t>> RangeSet::Missing(uint64_t begin, uint64_t end) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (begin >= end) return out;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second > begin) --it;
  uint64_t pos = begin;
  for (; it != ranges_.end() && it->first < end; ++it) {
    if (it->first > pos) out.emplace_back(pos, it->first);
    pos = std::max(pos, it->second);
    if (pos >= end) break;
  }
  if (pos < end) out.emplace_back(pos, end);
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> RangeSet::Ranges() const {
  return {ranges_.begin(), ranges_.end()};
}

uint64_t RangeSet::covered_bytes() const {
  uint64_t n = 0;
  for (const auto& [b, e] : ranges_) n += e - b;
  return n;
}

}  // namespace hubfs::fs
