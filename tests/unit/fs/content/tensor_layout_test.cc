#include "fs/content/tensor_layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/little_endian.h"

namespace hubfs::fs {
namespace {

std::vector<uint8_t> Safetensors(const std::string& json, uint64_t data_bytes) {
  std::vector<uint8_t> out;
  AppendLe64(&out, json.size());
  out.insert(out.end(), json.begin(), json.end());
  out.resize(out.size() + data_bytes, 0xAB);
  return out;
}

Result<TensorLayoutParse> Parse(const std::vector<uint8_t>& file) {
  return ParseTensorLayout(file, file.size());
}

TEST(TensorLayoutTest, NamesSayWhichFilesHoldTensors) {
  EXPECT_TRUE(IsTensorFileName("model-00001-of-00002.safetensors"));
  EXPECT_TRUE(IsTensorFileName("dir/llama.Q4_K_M.gguf"));
  EXPECT_FALSE(IsTensorFileName("model.safetensors.index.json"));
  EXPECT_FALSE(IsTensorFileName("gguf"));
  EXPECT_FALSE(IsTensorFileName("pytorch_model.bin"));
}

TEST(TensorLayoutTest, SafetensorsSegmentsAreTheHeaderAndEachTensor) {
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]},)"
      R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
      R"("pad_gap":{"dtype":"U8","shape":[8],"data_offsets":[40,48]}})";
  const std::vector<uint8_t> file = Safetensors(json, 48);
  Result<TensorLayoutParse> p = Parse(file);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->done);
  const uint64_t d = 8 + json.size();
  // The end of the last tensor is the file's end: not a segment start.
  EXPECT_EQ(p->layout.segment_starts, (std::vector<uint64_t>{0, d, d + 16, d + 32, d + 40}));
  EXPECT_EQ(p->layout.tensors, 3u);
}

TEST(TensorLayoutTest, ShortPrefixesAskForTheHeaderLength) {
  const std::string json = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  const std::vector<uint8_t> file = Safetensors(json, 4);
  Result<TensorLayoutParse> p =
      ParseTensorLayout(std::span<const uint8_t>(file).first(4), file.size());
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->done);
  EXPECT_GT(p->need, 4u);
  p = ParseTensorLayout(std::span<const uint8_t>(file).first(12), file.size());
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->done);
  EXPECT_EQ(p->need, 8 + json.size());
}

TEST(TensorLayoutTest, HostileSafetensorsHeadersAreRefused) {
  const std::vector<std::string> bad = {
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,5]}})",   // past the end
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}})",   // reversed
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[-1,4]}})",  // negative
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0]}})",     // one offset
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,18446744073709551615]}})",
      R"({"a":{"dtype":"U8","shape":[4]}})",                       // none
      R"({"a":3})", R"([1,2])", R"({"a":)",
  };
  for (const std::string& json : bad) {
    Result<TensorLayoutParse> p = Parse(Safetensors(json, 4));
    EXPECT_FALSE(p.ok()) << json;
  }
  // A header length past the file, or past the bound, is not read.
  std::vector<uint8_t> file(64, ' ');
  StoreLe64(file.data(), 1000);
  EXPECT_FALSE(Parse(file).ok());
  StoreLe64(file.data(), kMaxTensorHeaderBytes);
  Result<TensorLayoutParse> huge = ParseTensorLayout(file, 1ull << 40);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), ErrorCode::kResourceExhausted);
}

// A GGUF v3 file: two KV pairs (one an array of strings, one the alignment),
// three tensors at aligned offsets.
class GgufWriter {
 public:
  void U32(uint32_t v) { AppendLe32(&out_, v); }
  void U64(uint64_t v) { AppendLe64(&out_, v); }
  void Str(const std::string& s) {
    U64(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

std::vector<uint8_t> Gguf(uint32_t alignment, const std::vector<uint64_t>& offsets,
                          uint64_t data_bytes, uint64_t* data_start) {
  GgufWriter w;
  w.U32(0x46554747);
  w.U32(3);
  w.U64(offsets.size());
  w.U64(2);
  w.Str("tokenizer.ggml.tokens");
  w.U32(9);  // array
  w.U32(8);  // of strings
  w.U64(3);
  for (const char* t : {"<s>", "hello", "world"}) w.Str(t);
  w.Str("general.alignment");
  w.U32(4);
  w.U32(alignment);
  for (size_t i = 0; i < offsets.size(); ++i) {
    w.Str("blk." + std::to_string(i) + ".weight");
    w.U32(2);
    w.U64(4);
    w.U64(8);
    w.U32(0);  // F32
    w.U64(offsets[i]);
  }
  std::vector<uint8_t>& b = w.bytes();
  *data_start = (b.size() + alignment - 1) / alignment * alignment;
  b.resize(*data_start + data_bytes, 0);
  return b;
}

TEST(TensorLayoutTest, GgufSegmentsStartAtTheAlignedData) {
  uint64_t d = 0;
  const std::vector<uint8_t> file = Gguf(64, {0, 128, 256}, 384, &d);
  EXPECT_EQ(d % 64, 0u);
  Result<TensorLayoutParse> p = Parse(file);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->done);
  EXPECT_EQ(p->layout.segment_starts, (std::vector<uint64_t>{0, d, d + 128, d + 256}));
  EXPECT_EQ(p->layout.tensors, 3u);
  // Read in pieces, the parser asks for more until it has the whole header.
  std::span<const uint8_t> all(file);
  uint64_t have = 8;
  for (int round = 0; round < 10; ++round) {
    Result<TensorLayoutParse> q = ParseTensorLayout(all.first(have), file.size());
    ASSERT_TRUE(q.ok()) << q.status();
    if (q->done) {
      EXPECT_EQ(q->layout.segment_starts, p->layout.segment_starts);
      return;
    }
    ASSERT_GT(q->need, have);
    ASSERT_LE(q->need, file.size());
    have = q->need;
  }
  FAIL() << "the header was never complete";
}

TEST(TensorLayoutTest, HostileGgufIsRefused) {
  uint64_t d = 0;
  // Unaligned tensor offset; offset past the end.
  EXPECT_FALSE(Parse(Gguf(32, {0, 33}, 64, &d)).ok());
  EXPECT_FALSE(Parse(Gguf(32, {0, 4096}, 64, &d)).ok());
  // Alignment not a power of two.
  EXPECT_FALSE(Parse(Gguf(48, {0}, 64, &d)).ok());
  // Version 1 (32-bit counts) and an unknown value type.
  std::vector<uint8_t> v1 = Gguf(32, {0}, 64, &d);
  StoreLe32(v1.data() + 4, 1);
  EXPECT_FALSE(Parse(v1).ok());
  std::vector<uint8_t> bad_type = Gguf(32, {0}, 64, &d);
  StoreLe32(bad_type.data() + 24 + 8 + 21, 77);  // the first KV's type
  EXPECT_FALSE(Parse(bad_type).ok());
  // Counts that claim more than any header could hold.
  std::vector<uint8_t> many = Gguf(32, {0}, 64, &d);
  StoreLe64(many.data() + 8, kMaxTensors + 1);
  Result<TensorLayoutParse> p = Parse(many);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kResourceExhausted);
  // A string length near 2^64 must not wrap the cursor around.
  std::vector<uint8_t> wrap = Gguf(32, {0}, 64, &d);
  StoreLe64(wrap.data() + 24, ~uint64_t{0} - 3);
  EXPECT_FALSE(Parse(wrap).ok());
}

}  // namespace
}  // namespace hubfs::fs
