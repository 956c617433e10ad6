#include "fs/content/tensor_layout.h"

#include <algorithm>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/little_endian.h"

namespace hubfs::fs {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read little-endian
constexpr uint64_t kGgufDefaultAlignment = 32;
constexpr uint32_t kGgufMaxDims = 8;         // ggml has 4; a little room
constexpr uint32_t kGgufMaxArrayDepth = 4;

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// How long the prefix must grow when it ran out at `pos`: at least to `pos`,
// and geometrically, so that a large header takes a few reads, not many.
uint64_t GrowTo(uint64_t have, uint64_t pos, uint64_t file_size) {
  return std::min({std::max(pos, 4 * std::max<uint64_t>(have, 1)), kMaxTensorHeaderBytes,
                   file_size});
}

TensorLayoutParse NeedMore(uint64_t need) {
  TensorLayoutParse p;
  p.need = need;
  return p;
}

Result<TensorLayoutParse> Finish(std::vector<uint64_t> starts, uint64_t tensors,
                                 uint64_t file_size) {
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  while (!starts.empty() && starts.back() >= file_size) starts.pop_back();
  TensorLayoutParse p;
  p.done = true;
  p.layout.segment_starts = std::move(starts);
  p.layout.tensors = tensors;
  return p;
}

Result<TensorLayoutParse> ParseSafetensors(std::span<const uint8_t> prefix, uint64_t file_size) {
  const uint64_t n = LoadLe64(prefix.data());
  if (n < 2 || n > file_size - 8) return CorruptError("safetensors: header length out of range");
  if (n > kMaxTensorHeaderBytes - 8) {
    return ResourceExhaustedError("safetensors: header of " + std::to_string(n) + " bytes");
  }
  if (prefix.size() < 8 + n) return NeedMore(8 + n);
  const std::string_view text(reinterpret_cast<const char*>(prefix.data() + 8), n);
  const nlohmann::json header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return CorruptError("safetensors: header is not a JSON object");
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = file_size - data_start;
  std::vector<uint64_t> starts = {0, data_start};
  uint64_t tensors = 0;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (++tensors > kMaxTensors) return ResourceExhaustedError("safetensors: too many tensors");
    if (!info.is_object()) return CorruptError("safetensors: tensor " + name + " is not an object");
    auto offsets = info.find("data_offsets");
    if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      return CorruptError("safetensors: tensor " + name + " has no valid data_offsets");
    }
    const uint64_t begin = (*offsets)[0].get<uint64_t>();
    const uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return CorruptError("safetensors: tensor " + name + " lies outside the file");
    }
    starts.push_back(data_start + begin);
    starts.push_back(data_start + end);
  }
  return Finish(std::move(starts), tensors, file_size);
}

// Reads GGUF fields from the prefix; `short_` is set once a read ran past it.
class GgufCursor {
 public:
  explicit GgufCursor(std::span<const uint8_t> in) : in_(in) {}

  bool Skip(uint64_t n) {
    if (n > in_.size() - std::min<uint64_t>(pos_, in_.size())) {
      short_ = true;
      // Past the end: remember how far it would reach, saturating.
      pos_ = n > ~uint64_t{0} - pos_ ? ~uint64_t{0} : pos_ + n;
      return false;
    }
    pos_ += n;
    return true;
  }
  bool U32(uint32_t* v) {
    const uint64_t at = pos_;
    if (!Skip(4)) return false;
    *v = LoadLe32(in_.data() + at);
    return true;
  }
  bool U64(uint64_t* v) {
    const uint64_t at = pos_;
    if (!Skip(8)) return false;
    *v = LoadLe64(in_.data() + at);
    return true;
  }
  // A string: its length, then its bytes; `out` may be nullptr.
  bool String(std::string_view* out) {
    uint64_t len = 0;
    if (!U64(&len)) return false;
    const uint64_t at = pos_;
    if (!Skip(len)) return false;
    if (out != nullptr) *out = {reinterpret_cast<const char*>(in_.data() + at), len};
    return true;
  }
  bool short_read() const { return short_; }
  uint64_t pos() const { return pos_; }

 private:
  std::span<const uint8_t> in_;
  uint64_t pos_ = 0;
  bool short_ = false;
};

// Size of a fixed-size GGUF value type, 0 for strings and arrays, nullopt
// for an unknown type.
std::optional<uint64_t> GgufScalarSize(uint32_t type) {
  switch (type) {
    case 0: case 1: case 7: return 1;   // u8, i8, bool
    case 2: case 3: return 2;           // u16, i16
    case 4: case 5: case 6: return 4;   // u32, i32, f32
    case 10: case 11: case 12: return 8;  // u64, i64, f64
    case 8: case 9: return 0;           // string, array
    default: return std::nullopt;
  }
}

// Skips one value of `type`; false when the input is short or bad (`bad`).
bool SkipGgufValue(GgufCursor& c, uint32_t type, uint32_t depth, bool* bad) {
  const std::optional<uint64_t> size = GgufScalarSize(type);
  if (!size) {
    *bad = true;
    return false;
  }
  if (*size != 0) return c.Skip(*size);
  if (type == 8) return c.String(nullptr);
  uint32_t elem = 0;
  uint64_t count = 0;
  if (depth >= kGgufMaxArrayDepth || !c.U32(&elem) || !c.U64(&count)) {
    *bad = *bad || depth >= kGgufMaxArrayDepth;
    return false;
  }
  const std::optional<uint64_t> elem_size = GgufScalarSize(elem);
  if (!elem_size) {
    *bad = true;
    return false;
  }
  if (*elem_size != 0) {
    if (count > kMaxTensorHeaderBytes / *elem_size) {
      *bad = true;
      return false;
    }
    return c.Skip(count * *elem_size);
  }
  // Strings or arrays: each takes at least 8 bytes, so a count past the
  // header bound is a lie.
  if (count > kMaxTensorHeaderBytes / 8) {
    *bad = true;
    return false;
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!SkipGgufValue(c, elem, depth + 1, bad)) return false;
  }
  return true;
}

Result<TensorLayoutParse> ParseGguf(std::span<const uint8_t> prefix, uint64_t file_size) {
  GgufCursor c(prefix);
  auto short_or = [&](const std::string& what) -> Result<TensorLayoutParse> {
    if (!c.short_read()) return CorruptError("gguf: bad " + what);
    if (c.pos() > file_size) return CorruptError("gguf: header longer than the file");
    if (c.pos() > kMaxTensorHeaderBytes) return ResourceExhaustedError("gguf: header too long");
    return NeedMore(GrowTo(prefix.size(), c.pos(), file_size));
  };
  uint32_t magic = 0, version = 0;
  uint64_t tensors = 0, kvs = 0;
  if (!c.U32(&magic) || !c.U32(&version) || !c.U64(&tensors) || !c.U64(&kvs)) {
    return short_or("preamble");
  }
  if (magic != kGgufMagic || (version != 2 && version != 3)) {
    return CorruptError("gguf: not a GGUF v2/v3 file");
  }
  if (tensors > kMaxTensors) return ResourceExhaustedError("gguf: too many tensors");
  if (kvs > kMaxGgufKeyValues) return ResourceExhaustedError("gguf: too many key-values");
  uint64_t alignment = kGgufDefaultAlignment;
  for (uint64_t i = 0; i < kvs; ++i) {
    std::string_view key;
    uint32_t type = 0;
    if (!c.String(&key) || !c.U32(&type)) return short_or("key");
    if (key == "general.alignment" && type == 4) {
      uint32_t a = 0;
      if (!c.U32(&a)) return short_or("alignment");
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) return CorruptError("gguf: alignment");
      alignment = a;
      continue;
    }
    bool bad = false;
    if (!SkipGgufValue(c, type, 0, &bad)) {
      return bad ? CorruptError("gguf: bad value") : short_or("value");
    }
  }
  std::vector<uint64_t> offsets;
  offsets.reserve(static_cast<size_t>(std::min<uint64_t>(tensors, 4096)));
  for (uint64_t i = 0; i < tensors; ++i) {
    uint32_t dims = 0, type = 0;
    uint64_t offset = 0;
    if (!c.String(nullptr) || !c.U32(&dims)) return short_or("tensor info");
    if (dims > kGgufMaxDims) return CorruptError("gguf: tensor with too many dimensions");
    if (!c.Skip(8ull * dims) || !c.U32(&type) || !c.U64(&offset)) return short_or("tensor info");
    offsets.push_back(offset);
  }
  const uint64_t infos_end = c.pos();
  const uint64_t data_start = (infos_end + alignment - 1) / alignment * alignment;
  if (data_start > file_size) return CorruptError("gguf: data starts past the end of the file");
  std::vector<uint64_t> starts = {0, data_start};
  for (uint64_t off : offsets) {
    if (off % alignment != 0 || off >= file_size - data_start) {
      return CorruptError("gguf: tensor offset outside the data");
    }
    starts.push_back(data_start + off);
  }
  return Finish(std::move(starts), tensors, file_size);
}

}  // namespace

bool IsTensorFileName(std::string_view path) {
  return EndsWith(path, ".safetensors") || EndsWith(path, ".gguf");
}

Result<TensorLayoutParse> ParseTensorLayout(std::span<const uint8_t> prefix, uint64_t file_size) {
  prefix = prefix.first(static_cast<size_t>(std::min<uint64_t>(prefix.size(), file_size)));
  if (file_size < 8) return CorruptError("tensor file: too short");
  if (prefix.size() < 8) return NeedMore(std::min<uint64_t>(kTensorHeaderFirstRead, file_size));
  if (LoadLe32(prefix.data()) == kGgufMagic) return ParseGguf(prefix, file_size);
  return ParseSafetensors(prefix, file_size);
}

}  // namespace hubfs::fs
