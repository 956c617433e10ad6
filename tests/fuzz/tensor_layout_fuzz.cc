// Fuzzes the tensor layout parser (fs/content/tensor_layout.h) as the reader
// drives it: the input is a file's first bytes; the first 8 bytes of the
// input also give a file size (often far larger than the input, as for a real
// header read). What a parse accepts must keep the layout's promises, and
// asking again with the prefix it asked for must make progress.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "common/little_endian.h"
#include "fs/content/tensor_layout.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace hubfs;
using namespace hubfs::fs;

void Check(std::span<const uint8_t> file, uint64_t file_size) {
  Result<TensorLayoutParse> p = ParseTensorLayout(file, file_size);
  if (!p.ok()) {
    FUZZ_CHECK(p.status().code() == ErrorCode::kCorrupt ||
               p.status().code() == ErrorCode::kResourceExhausted);
    return;
  }
  if (!p->done) {
    FUZZ_CHECK(p->need > std::min<uint64_t>(file.size(), file_size));
    FUZZ_CHECK(p->need <= kMaxTensorHeaderBytes && p->need <= file_size);
    return;
  }
  const std::vector<uint64_t>& s = p->layout.segment_starts;
  FUZZ_CHECK(!s.empty() && s.front() == 0);
  for (size_t i = 0; i < s.size(); ++i) {
    FUZZ_CHECK(s[i] < file_size);
    if (i > 0) FUZZ_CHECK(s[i - 1] < s[i]);
  }
  FUZZ_CHECK(p->layout.tensors <= kMaxTensors);
  FUZZ_CHECK(s.size() <= 2 + 2 * p->layout.tensors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  // As a whole file.
  Check(in, in.size());
  // As the prefix of a larger file whose size the input's last 8 bytes give.
  if (in.size() >= 8) {
    const uint64_t claimed = hubfs::LoadLe64(in.data() + in.size() - 8);
    Check(in.first(in.size() - 8), claimed);
    // The reader's loop: grow the prefix as asked, within the input.
    uint64_t have = std::min<uint64_t>(8, in.size());
    for (int round = 0; round < 16; ++round) {
      Result<TensorLayoutParse> p = ParseTensorLayout(in.first(have), in.size());
      if (!p.ok() || p->done) break;
      FUZZ_CHECK(p->need > have && p->need <= in.size());
      have = p->need;
    }
  }
  return 0;
}
