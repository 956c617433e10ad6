// Where the tensors of a model file lie, so that read-ahead can follow them
// (fs/content/readahead.h). Free of I/O: the caller reads the file's first
// bytes and asks how many more are needed.
//
// Formats:
//   - safetensors: an 8-byte little-endian header length N, N bytes of JSON
//     ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
//     optional "__metadata__"}), then the data; offsets are relative to the
//     data's start (8 + N).
//   - GGUF v2/v3: "GGUF", version (u32), tensor count and KV count (u64),
//     the KV pairs (u64-length strings, typed values, typed arrays), the
//     tensor infos (name, n_dims (u32), dims (u64 each), ggml type (u32),
//     offset (u64) relative to the data), then the data at the next multiple
//     of `general.alignment` (32 when absent). Tensor sizes are not computed
//     (that needs ggml's type table): a tensor runs to the next one's start.
//
// Everything read is untrusted: lengths and counts are bounded before use,
// offsets must lie inside the file, sums are checked for overflow. A file
// that does not parse simply has no layout.
#ifndef HUBFS_FS_CONTENT_TENSOR_LAYOUT_H_
#define HUBFS_FS_CONTENT_TENSOR_LAYOUT_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hubfs::fs {

// Bounds on what a layout may ask for: the header bytes read (safetensors
// itself refuses headers over 100 MB; GGUF vocabularies take a few MiB), the
// tensors and KV pairs listed.
constexpr uint64_t kMaxTensorHeaderBytes = 64ull << 20;
constexpr uint64_t kMaxTensors = 1u << 20;
constexpr uint64_t kMaxGgufKeyValues = 1u << 20;
// What to read first: most headers fit.
constexpr uint64_t kTensorHeaderFirstRead = 64ull << 10;

// Whether a file's name says it holds tensors (.safetensors, .gguf).
bool IsTensorFileName(std::string_view path);

struct TensorLayout {
  // Sorted, distinct offsets where segments of the file start: 0 (the
  // header), the data's start, each tensor's start and (safetensors) end.
  // A segment runs to the next start, the last one to the end of the file.
  // Every start is below the file's size.
  std::vector<uint64_t> segment_starts;
  uint64_t tensors = 0;
};

struct TensorLayoutParse {
  bool done = false;      // `layout` is the answer
  TensorLayout layout;
  uint64_t need = 0;      // when !done: read the file's first `need` bytes, ask again
};

// Parses the layout from `prefix`, the first bytes of a file of `file_size`
// bytes. Returns done with the layout, or the prefix length needed (always
// more than prefix.size(), at most kMaxTensorHeaderBytes and file_size).
// Errors: kCorrupt (not a safetensors or GGUF v2/v3 file, or inconsistent),
// kResourceExhausted (past one of the bounds above).
Result<TensorLayoutParse> ParseTensorLayout(std::span<const uint8_t> prefix, uint64_t file_size);

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_TENSOR_LAYOUT_H_
