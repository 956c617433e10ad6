#include "chunkstore/xorb.h"

#include <gtest/gtest.h>
#include <lz4frame.h>

#include <cstring>
#include <random>

#include "chunkstore/chunker.h"
#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore {
namespace {

using ::hubfs::testing::SplitMix64Bytes;
using ::hubfs::testing::Vectors;

std::vector<uint8_t> Hex(const std::string& s) {
  auto r = ParseHex(s);
  EXPECT_TRUE(r.ok()) << s.substr(0, 40);
  return r.ok() ? *r : std::vector<uint8_t>{};
}

// Text-like data that compresses well.
std::vector<uint8_t> TextLike(size_t n, uint32_t seed) {
  static const char* const kWords[] = {"tensor ",    "weight ", "layer.", "attention ", "0.125, ",
                                       "\"name\": ", "bias ",   "model ", "\n"};
  std::mt19937 rng(seed);
  std::vector<uint8_t> out;
  while (out.size() < n) {
    const char* w = kWords[rng() % 9];
    out.insert(out.end(), w, w + std::strlen(w));
  }
  out.resize(n);
  return out;
}

// float32 values of similar magnitude: the exponent bytes repeat, so byte
// grouping helps.
std::vector<uint8_t> FloatLike(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i + 4 <= n; i += 4) {
    float f = dist(rng);
    std::memcpy(&out[i], &f, 4);
  }
  return out;
}

// An LZ4 frame of `data` with the given options (for decoder tests).
std::vector<uint8_t> Lz4Frame(std::span<const uint8_t> data, LZ4F_blockSizeID_t block, bool linked,
                              bool checksums, bool content_size) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = block;
  prefs.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag =
      checksums ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = checksums ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
  prefs.frameInfo.contentSize = content_size ? data.size() : 0;
  std::vector<uint8_t> out(LZ4F_compressFrameBound(data.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
  EXPECT_FALSE(LZ4F_isError(n));
  out.resize(LZ4F_isError(n) ? 0 : n);
  return out;
}

// A record with an arbitrary header around `payload`.
std::vector<uint8_t> Record(CompressionScheme scheme, uint32_t uncompressed,
                            std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(kChunkRecordHeaderSize);
  ChunkRecordHeader h;
  h.compressed_size = static_cast<uint32_t>(payload.size());
  h.scheme = scheme;
  h.uncompressed_size = uncompressed;
  WriteChunkRecordHeader(h, out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Status Decode(std::span<const uint8_t> record, std::vector<uint8_t>* out) {
  ChunkDecoder d;
  size_t consumed = 0;
  Status st = d.DecodeRecord(record, &consumed, out);
  if (st.ok()) {
    EXPECT_EQ(consumed, record.size());
  }
  return st;
}

// --- Vectors ---------------------------------------------------------------

TEST(ByteGroupTest, Vectors) {
  const auto& cases = Vectors()["bg4_examples"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    std::vector<uint8_t> in = Hex(c["input_hex"]);
    std::vector<uint8_t> grouped(in.size());
    ByteGroup4(in, grouped.data());
    EXPECT_EQ(HexLower(grouped), c["grouped_hex"].get<std::string>());
    std::vector<uint8_t> back(in.size());
    ByteUngroup4(grouped, back.data());
    EXPECT_EQ(back, in);
  }
}

TEST(ByteGroupTest, SpecExampleAndRoundTripAllSmallLengths) {
  const std::vector<uint8_t> in = {0, 1, 2, 3, 4};
  std::vector<uint8_t> g(5);
  ByteGroup4(in, g.data());
  EXPECT_EQ(g, (std::vector<uint8_t>{0, 4, 1, 2, 3}));
  for (size_t n = 0; n <= 17; ++n) {
    std::vector<uint8_t> data = SplitMix64Bytes(n, n);
    std::vector<uint8_t> grouped(n), back(n);
    ByteGroup4(data, grouped.data());
    // Byte j of group k comes from position 4j + k.
    size_t pos = 0;
    for (size_t k = 0; k < 4; ++k) {
      for (size_t i = k; i < n; i += 4) EXPECT_EQ(grouped[pos++], data[i]) << n;
    }
    ByteUngroup4(grouped, back.data());
    EXPECT_EQ(back, data) << n;
  }
}

TEST(ByteGroupTest, RoundTripLongerThanVectorPath) {
  for (size_t n : {63u, 64u, 65u, 127u, 1000u, 65536u, 131071u}) {
    std::vector<uint8_t> data = SplitMix64Bytes(n, n);
    std::vector<uint8_t> grouped(n), back(n);
    ByteGroup4(data, grouped.data());
    ByteUngroup4(grouped, back.data());
    ASSERT_EQ(back, data) << n;
    EXPECT_EQ(grouped[1], data[4]);
  }
}

TEST(ChunkDecoderTest, Lz4FrameVector) {
  const auto& v = Vectors()["lz4_frame_example"];
  std::vector<uint8_t> data = Hex(v["data_hex"]);
  std::vector<uint8_t> frame = Hex(v["frame_hex"]);
  ASSERT_FALSE(frame.empty());
  std::vector<uint8_t> out;
  ASSERT_TRUE(
      Decode(Record(CompressionScheme::kLz4, static_cast<uint32_t>(data.size()), frame), &out)
          .ok());
  EXPECT_EQ(out, data);
}

TEST(XorbTest, SerializationVector) {
  const auto& v = Vectors()["xorb_serialization_example"];
  XorbBuilder b(CompressionPolicy::kNone);
  std::vector<std::vector<uint8_t>> chunks;
  for (const auto& c : v["chunks_hex"]) chunks.push_back(Hex(c));
  ASSERT_EQ(chunks.size(), 3u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(ChunkHash(chunks[i]).ToString(), v["chunk_hashes"][i].get<std::string>());
    ASSERT_TRUE(b.Add(ChunkHash(chunks[i]), chunks[i]).ok());
  }
  XorbBuilder::Xorb x = b.Finish();
  EXPECT_EQ(b.num_chunks(), 0u);
  EXPECT_EQ(HexLower(x.body), v["body_hex"].get<std::string>());
  EXPECT_EQ(x.info.hash.ToString(), v["xorb_hash"].get<std::string>());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(x.info.chunks[i].record_end, v["chunk_boundary_offsets"][i].get<uint32_t>());
  }
  // The vector's footer is `info`; ours carries the trailing u32 length too.
  std::vector<uint8_t> footer = SerializeXorbFooter(x.info, 0);
  const size_t info_length = v["info_length"].get<size_t>();
  ASSERT_EQ(footer.size(), info_length + 4);
  EXPECT_EQ(HexLower(std::span<const uint8_t>(footer).first(info_length)),
            v["footer_hex"].get<std::string>());
  EXPECT_EQ(HexLower(std::span<const uint8_t>(footer).last(4)), "d4000000");
  std::vector<uint8_t> full = x.body;
  full.insert(full.end(), footer.begin(), footer.end());
  EXPECT_EQ(HexLower(full), v["full_hex"].get<std::string>());

  // Parse the stored form back: footer alone, and the full validation.
  Result<XorbInfo> f = ParseXorbFooter(full);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->hash, x.info.hash);
  EXPECT_EQ(f->body_size, x.body.size());
  ASSERT_EQ(f->chunks.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(f->chunks[i].length, chunks[i].size());
    EXPECT_EQ(f->chunks[i].record_end, v["chunk_boundary_offsets"][i].get<uint32_t>());
    EXPECT_EQ(f->chunks[i].hash, x.info.chunks[i].hash);
  }
  EXPECT_EQ(f->unpacked_size, v["unpacked_chunk_offsets"][2].get<uint64_t>());
  for (const auto& bytes : {x.body, full}) {
    Result<XorbInfo> p = ParseXorb(bytes);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->hash.ToString(), v["xorb_hash"].get<std::string>());
    EXPECT_EQ(p->body_size, x.body.size());
    EXPECT_EQ(p->unpacked_size, 1105u);
    EXPECT_EQ(p->chunks[1].record_start, 13u);
  }
}

// --- Round trips -------------------------------------------------------------

struct DataKind {
  const char* name;
  std::vector<uint8_t> (*make)(size_t, uint32_t);
};
std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) { return SplitMix64Bytes(seed, n); }
std::vector<uint8_t> Zeros(size_t n, uint32_t) { return std::vector<uint8_t>(n, 0); }
const DataKind kKinds[] = {
    {"random", RandomBytes}, {"text", TextLike}, {"float", FloatLike}, {"zeros", Zeros}};

TEST(ChunkRecordTest, RoundTripEveryPolicyAndKind) {
  ChunkDecoder decoder;  // reused across records on purpose
  for (const DataKind& kind : kKinds) {
    for (size_t n : {0u, 1u, 5u, 4096u, 65536u, 100003u, 131072u}) {
      std::vector<uint8_t> data = kind.make(n, static_cast<uint32_t>(n));
      for (CompressionPolicy p :
           {CompressionPolicy::kNone, CompressionPolicy::kLz4, CompressionPolicy::kBest}) {
        std::vector<uint8_t> rec = {0xAA};  // appends after existing bytes
        CompressionScheme s = AppendChunkRecord(data, p, &rec);
        ASSERT_LE(rec.size(), 1 + kChunkRecordHeaderSize + n);
        std::span<const uint8_t> r = std::span<const uint8_t>(rec).subspan(1);
        Result<ChunkRecordHeader> h = ParseChunkRecordHeader(r);
        ASSERT_TRUE(h.ok()) << h.status();
        EXPECT_EQ(h->scheme, s);
        EXPECT_EQ(h->uncompressed_size, n);
        EXPECT_EQ(h->record_size(), r.size());
        if (p == CompressionPolicy::kNone || n == 0) {
          EXPECT_EQ(s, CompressionScheme::kNone);
        }
        if (s != CompressionScheme::kNone) {
          EXPECT_LT(h->compressed_size, n);
        }
        std::vector<uint8_t> out = {7};
        size_t consumed = 0;
        ASSERT_TRUE(decoder.DecodeRecord(r, &consumed, &out).ok()) << kind.name << " " << n;
        EXPECT_EQ(consumed, r.size());
        ASSERT_EQ(out.size(), n + 1);
        EXPECT_EQ(out[0], 7);
        EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin() + 1)) << kind.name << n;
        std::vector<uint8_t> into(n);
        ASSERT_TRUE(decoder.DecodeRecordInto(r, &consumed, into).ok());
        EXPECT_EQ(into, data);
      }
    }
  }
}

TEST(ChunkRecordTest, PolicyChoosesExpectedSchemes) {
  std::vector<uint8_t> rec;
  EXPECT_EQ(AppendChunkRecord(RandomBytes(65536, 1), CompressionPolicy::kBest, &rec),
            CompressionScheme::kNone);
  EXPECT_EQ(AppendChunkRecord(TextLike(65536, 1), CompressionPolicy::kLz4, &rec),
            CompressionScheme::kLz4);
  EXPECT_EQ(AppendChunkRecord(FloatLike(65536, 1), CompressionPolicy::kBest, &rec),
            CompressionScheme::kByteGrouping4Lz4);
}

TEST(ChunkDecoderTest, AcceptsAnyConformingFrame) {
  std::vector<uint8_t> data = TextLike(131072, 3);
  for (LZ4F_blockSizeID_t block : {LZ4F_max64KB, LZ4F_max256KB, LZ4F_max4MB}) {
    for (bool linked : {false, true}) {
      for (bool sums : {false, true}) {
        for (bool size : {false, true}) {
          std::vector<uint8_t> frame = Lz4Frame(data, block, linked, sums, size);
          std::vector<uint8_t> out;
          Status st = Decode(Record(CompressionScheme::kLz4, 131072, frame), &out);
          ASSERT_TRUE(st.ok()) << st << block << linked << sums << size;
          EXPECT_EQ(out, data);
          // The same frame carrying grouped bytes is a BG4 record.
          std::vector<uint8_t> grouped(data.size());
          ByteGroup4(data, grouped.data());
          frame = Lz4Frame(grouped, block, linked, sums, size);
          out.clear();
          ASSERT_TRUE(
              Decode(Record(CompressionScheme::kByteGrouping4Lz4, 131072, frame), &out).ok());
          EXPECT_EQ(out, data);
        }
      }
    }
  }
}

// --- Hostile records ----------------------------------------------------------

TEST(ChunkRecordTest, RejectsBadHeaders) {
  const uint8_t kGood[8] = {0, 5, 0, 0, 0, 5, 0, 0};
  EXPECT_TRUE(ParseChunkRecordHeader(kGood).ok());
  for (size_t n = 0; n < 8; ++n) {
    EXPECT_EQ(ParseChunkRecordHeader(std::span<const uint8_t>(kGood, n)).status().code(),
              ErrorCode::kCorrupt);
  }
  auto bad = [](std::vector<uint8_t> h) {
    return ParseChunkRecordHeader(h).status().code() == ErrorCode::kCorrupt;
  };
  EXPECT_TRUE(bad({1, 5, 0, 0, 0, 5, 0, 0}));     // version 1
  EXPECT_TRUE(bad({0, 5, 0, 0, 3, 5, 0, 0}));     // scheme 3
  EXPECT_TRUE(bad({0, 5, 0, 0, 0xFF, 5, 0, 0}));  // scheme 255
  EXPECT_TRUE(bad({0, 1, 0, 2, 0, 1, 0, 2}));     // 131073 uncompressed
  EXPECT_FALSE(bad({0, 0, 0, 2, 0, 0, 0, 2}));    // 131072 is the limit
  EXPECT_TRUE(bad({0, 1, 0, 4, 1, 0, 0, 1}));     // 262145 compressed
  EXPECT_TRUE(bad({0, 4, 0, 0, 0, 5, 0, 0}));     // scheme 0, sizes differ
}

TEST(ChunkDecoderTest, RejectsTruncatedPayloadAndFrame) {
  std::vector<uint8_t> data = TextLike(65536, 4);
  std::vector<uint8_t> rec;
  ASSERT_EQ(AppendChunkRecord(data, CompressionPolicy::kLz4, &rec), CompressionScheme::kLz4);
  // A record cut anywhere is corrupt.
  for (size_t cut : {size_t{0}, size_t{3}, size_t{8}, size_t{9}, rec.size() / 2, rec.size() - 1}) {
    std::vector<uint8_t> out = {1, 2};
    Status st = Decode(std::span<const uint8_t>(rec).first(cut), &out);
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << cut;
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 2})) << "output untouched on error";
  }
  // A frame cut short but with a header claiming exactly what is present:
  // LZ4F asks for more input, which must count as corruption.
  std::vector<uint8_t> frame(rec.begin() + 8, rec.end());
  for (size_t keep :
       {size_t{4}, size_t{7}, size_t{11}, frame.size() / 2, frame.size() - 4, frame.size() - 1}) {
    std::vector<uint8_t> out;
    Status st = Decode(
        Record(CompressionScheme::kLz4, 65536, std::span<const uint8_t>(frame).first(keep)), &out);
    EXPECT_EQ(st.code(), ErrorCode::kCorrupt) << keep;
    EXPECT_TRUE(out.empty());
  }
}

TEST(ChunkDecoderTest, RejectsLyingUncompressedSize) {
  std::vector<uint8_t> data = TextLike(50000, 5);
  std::vector<uint8_t> frame = Lz4Frame(data, LZ4F_max64KB, false, false, false);
  std::vector<uint8_t> sized = Lz4Frame(data, LZ4F_max64KB, false, true, true);
  for (uint32_t declared : {0u, 1u, 49999u, 50001u, 131072u}) {
    for (const auto& f : {frame, sized}) {
      std::vector<uint8_t> out;
      EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, declared, f), &out).code(),
                ErrorCode::kCorrupt)
          << declared;
      EXPECT_TRUE(out.empty());
      std::vector<uint8_t> into(declared);
      ChunkDecoder d;
      size_t consumed = 0;
      EXPECT_FALSE(d.DecodeRecordInto(Record(CompressionScheme::kByteGrouping4Lz4, declared, f),
                                      &consumed, into)
                       .ok());
    }
  }
  // The caller's buffer must match the declared size.
  std::vector<uint8_t> rec = Record(CompressionScheme::kLz4, 50000, frame);
  ChunkDecoder d;
  size_t consumed = 0;
  std::vector<uint8_t> small(49999), big(50001);
  EXPECT_FALSE(d.DecodeRecordInto(rec, &consumed, small).ok());
  EXPECT_FALSE(d.DecodeRecordInto(rec, &consumed, big).ok());
  std::vector<uint8_t> exact(50000);
  ASSERT_TRUE(d.DecodeRecordInto(rec, &consumed, exact).ok());
  EXPECT_EQ(exact, data);
}

TEST(ChunkDecoderTest, RejectsCompressionBomb) {
  // 64 MiB of zeros compress to a ~260 KB frame; as a record claiming 128 KiB
  // it must fail after producing at most 128 KiB (the payload bound forces a
  // smaller bomb: 4 MiB blocks of zeros, still ~16 KB each).
  std::vector<uint8_t> zeros(32u << 20, 0);
  std::vector<uint8_t> bomb = Lz4Frame(zeros, LZ4F_max4MB, false, false, false);
  ASSERT_LT(bomb.size(), kMaxChunkCompressedSize);
  for (auto scheme : {CompressionScheme::kLz4, CompressionScheme::kByteGrouping4Lz4}) {
    std::vector<uint8_t> out;
    EXPECT_EQ(Decode(Record(scheme, 131072, bomb), &out).code(), ErrorCode::kCorrupt);
    EXPECT_TRUE(out.empty());
  }
  // Also with the content size in the frame header.
  bomb = Lz4Frame(zeros, LZ4F_max4MB, true, true, true);
  std::vector<uint8_t> out;
  EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, 131072, bomb), &out).code(),
            ErrorCode::kCorrupt);
}

TEST(ChunkDecoderTest, RejectsGarbageAndTrailingBytesInPayload) {
  std::vector<uint8_t> data = TextLike(1000, 6);
  std::vector<uint8_t> frame = Lz4Frame(data, LZ4F_max64KB, false, false, false);
  std::vector<uint8_t> out;
  std::vector<uint8_t> trailing = frame;
  trailing.push_back(0);
  EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, 1000, trailing), &out).code(),
            ErrorCode::kCorrupt);
  std::vector<uint8_t> two = frame;
  two.insert(two.end(), frame.begin(), frame.end());
  EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, 1000, two), &out).code(), ErrorCode::kCorrupt);
  std::vector<uint8_t> garbage = SplitMix64Bytes(9, 300);
  EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, 1000, garbage), &out).code(),
            ErrorCode::kCorrupt);
  // A flipped bit under a content checksum is caught.
  std::vector<uint8_t> summed = Lz4Frame(data, LZ4F_max64KB, false, true, false);
  summed[summed.size() / 2] ^= 0x10;
  EXPECT_EQ(Decode(Record(CompressionScheme::kLz4, 1000, summed), &out).code(),
            ErrorCode::kCorrupt);
  EXPECT_TRUE(out.empty());
  // The decoder is still usable after errors.
  ASSERT_TRUE(Decode(Record(CompressionScheme::kLz4, 1000, frame), &out).ok());
  EXPECT_EQ(out, data);
}

TEST(ChunkDecoderTest, ReusableAfterAbandonedFrameWithContentSize) {
  // Regression (found by fuzzing): liblz4 kept the remaining content size of
  // a frame that failed midway, and the next frame without a content size
  // then failed with frameSize_wrong on the reused context.
  std::vector<uint8_t> data = TextLike(20000, 8);
  std::vector<uint8_t> sized = Lz4Frame(data, LZ4F_max64KB, false, false, true);
  std::vector<uint8_t> plain = Lz4Frame(data, LZ4F_max64KB, false, false, false);
  ChunkDecoder d;
  for (size_t keep : {sized.size() / 2, sized.size() - 1}) {
    std::vector<uint8_t> out;
    size_t consumed = 0;
    EXPECT_FALSE(d.DecodeRecord(Record(CompressionScheme::kLz4, 20000,
                                       std::span<const uint8_t>(sized).first(keep)),
                                &consumed, &out)
                     .ok());
    Status st = d.DecodeRecord(Record(CompressionScheme::kLz4, 20000, plain), &consumed, &out);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(out, data);
  }
  // Also when the abandoned frame was longer than declared.
  std::vector<uint8_t> out;
  size_t consumed = 0;
  EXPECT_FALSE(d.DecodeRecord(Record(CompressionScheme::kLz4, 100, sized), &consumed, &out).ok());
  ASSERT_TRUE(d.DecodeRecord(Record(CompressionScheme::kLz4, 20000, plain), &consumed, &out).ok());
  EXPECT_EQ(out, data);
}

// --- Runs and whole xorbs -------------------------------------------------------

TEST(ChunkDecoderTest, DecodeRunChecksCountAndTrailingBytes) {
  std::vector<std::vector<uint8_t>> chunks = {TextLike(1000, 1), FloatLike(4000, 2),
                                              RandomBytes(300, 3)};
  std::vector<uint8_t> body;
  for (const auto& c : chunks) AppendChunkRecord(c, CompressionPolicy::kBest, &body);
  ChunkDecoder d;
  std::vector<std::vector<uint8_t>> out;
  ASSERT_TRUE(d.DecodeRun(body, 3, &out).ok());
  EXPECT_EQ(out, chunks);
  EXPECT_EQ(d.DecodeRun(body, 2, &out).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(d.DecodeRun(body, 4, &out).code(), ErrorCode::kCorrupt);
  EXPECT_EQ(d.DecodeRun(std::span<const uint8_t>(body).first(body.size() - 1), 3, &out).code(),
            ErrorCode::kCorrupt);
  size_t seen = 0;
  Status st = d.DecodeRun(body, 3, [&](size_t i, std::span<const uint8_t> c) {
    EXPECT_EQ(i, seen++);
    EXPECT_TRUE(std::equal(c.begin(), c.end(), chunks[i].begin(), chunks[i].end()));
    return i == 1 ? CorruptError("stop") : Status::Ok();
  });
  EXPECT_EQ(st.message(), "stop");
  EXPECT_EQ(seen, 2u);
  // Huge expected counts do not allocate by themselves.
  EXPECT_EQ(d.DecodeRun(body, size_t{1} << 60, &out).code(), ErrorCode::kCorrupt);
}

TEST(XorbTest, BuildAndParseMixedSchemes) {
  XorbBuilder b(CompressionPolicy::kBest);
  std::vector<std::vector<uint8_t>> chunks;
  for (uint32_t i = 0; i < 12; ++i) {
    chunks.push_back(kKinds[i % 4].make(8192 + i * 7001, i));
    ASSERT_TRUE(b.Add(ChunkHash(chunks.back()), chunks.back()).ok());
  }
  XorbBuilder::Xorb x = b.Finish();
  std::vector<MerkleNode> leaves;
  for (const auto& c : chunks) leaves.push_back({ChunkHash(c), c.size()});
  EXPECT_EQ(x.info.hash, MerkleRoot(leaves));
  Result<XorbInfo> p = ParseXorb(x.body);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->hash, x.info.hash);
  ASSERT_EQ(p->chunks.size(), 12u);
  ChunkDecoder d;
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(p->chunks[i].record_start, x.info.chunks[i].record_start);
    EXPECT_EQ(p->chunks[i].record_end, x.info.chunks[i].record_end);
    EXPECT_EQ(p->chunks[i].length, chunks[i].size());
    // A range of the body decodes on its own (what a ranged fetch returns).
    std::vector<std::vector<uint8_t>> one;
    auto range = std::span<const uint8_t>(x.body).subspan(
        p->chunks[i].record_start, p->chunks[i].record_end - p->chunks[i].record_start);
    ASSERT_TRUE(d.DecodeRun(range, 1, &one).ok());
    EXPECT_EQ(one[0], chunks[i]);
  }
  // With its footer, and the footer on its own.
  std::vector<uint8_t> stored = x.body;
  std::vector<uint8_t> footer = SerializeXorbFooter(x.info, 0xDEADBEEF);
  stored.insert(stored.end(), footer.begin(), footer.end());
  ASSERT_TRUE(ParseXorb(stored).ok());
  Result<XorbInfo> f = ParseXorbFooter(stored);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->unpacked_size, p->unpacked_size);
}

TEST(XorbTest, BuilderLimits) {
  XorbBuilder b(CompressionPolicy::kNone);
  std::vector<uint8_t> big(kMaxChunkUncompressedSize + 1);
  EXPECT_EQ(b.Add(ChunkHash(big), big).code(), ErrorCode::kInvalidArgument);
  std::vector<uint8_t> one = {1};
  for (size_t i = 0; i < kMaxXorbChunks; ++i) ASSERT_TRUE(b.Add(ChunkHash(one), one).ok());
  EXPECT_FALSE(b.CanAdd(1));
  EXPECT_EQ(b.Add(ChunkHash(one), one).code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(b.num_chunks(), kMaxXorbChunks);
  // Size limit: 511 chunks of 128 KiB stored raw fill 64 MiB minus headers.
  XorbBuilder s(CompressionPolicy::kNone);
  std::vector<uint8_t> max = RandomBytes(kMaxChunkUncompressedSize, 1);
  Hash h = ChunkHash(max);
  size_t added = 0;
  while (s.CanAdd(max.size())) {
    ASSERT_TRUE(s.Add(h, max).ok());
    ++added;
  }
  EXPECT_EQ(added, 511u);
  EXPECT_LE(s.body_size(), kMaxXorbBodySize);
  EXPECT_EQ(s.Add(h, max).code(), ErrorCode::kResourceExhausted);
}

TEST(XorbTest, ParseRejectsHostileBodies) {
  std::vector<uint8_t> body;
  AppendChunkRecord(TextLike(9000, 1), CompressionPolicy::kLz4, &body);
  AppendChunkRecord(RandomBytes(9000, 2), CompressionPolicy::kNone, &body);
  ASSERT_TRUE(ParseXorb(body).ok());
  EXPECT_EQ(ParseXorb({}).status().code(), ErrorCode::kCorrupt);  // zero chunks
  for (size_t cut : {size_t{1}, size_t{8}, size_t{100}, body.size() - 1}) {
    EXPECT_EQ(ParseXorb(std::span<const uint8_t>(body).first(cut)).status().code(),
              ErrorCode::kCorrupt)
        << cut;
  }
  std::vector<uint8_t> bad = body;
  bad[4] = 3;  // unknown scheme
  EXPECT_EQ(ParseXorb(bad).status().code(), ErrorCode::kCorrupt);
  bad = body;
  bad.insert(bad.end(), {'X', 'E', 'T', 'B', 'L', 'O', 'B', 1});  // footer ident, no footer
  EXPECT_EQ(ParseXorb(bad).status().code(), ErrorCode::kCorrupt);
  // A footer that describes another body.
  XorbBuilder b(CompressionPolicy::kNone);
  std::vector<uint8_t> c = {1, 2, 3};
  ASSERT_TRUE(b.Add(ChunkHash(c), c).ok());
  XorbBuilder::Xorb other = b.Finish();
  std::vector<uint8_t> footer = SerializeXorbFooter(other.info, 0);
  bad = body;
  bad.insert(bad.end(), footer.begin(), footer.end());
  EXPECT_EQ(ParseXorb(bad).status().code(), ErrorCode::kCorrupt);
  // Too large: valid raw records past the read bound (65 MiB).
  std::vector<uint8_t> huge;
  std::vector<uint8_t> max = RandomBytes(kMaxChunkUncompressedSize, 3);
  while (huge.size() <= kMaxXorbBodySizeRead) {
    AppendChunkRecord(max, CompressionPolicy::kNone, &huge);
  }
  EXPECT_EQ(ParseXorb(huge).status().code(), ErrorCode::kCorrupt);
}

TEST(XorbTest, ParseAcceptsTheReferenceClientsFullXorbs) {
  // xet-core caps the uncompressed data at 64 MiB: stored records of random
  // chunks then pass 64 MiB by their headers (seen from hf_xet uploads).
  std::vector<uint8_t> body;
  std::vector<uint8_t> chunk = RandomBytes(kMaxChunkUncompressedSize, 4);
  for (uint64_t data = 0; data + chunk.size() <= kMaxXorbUnpackedSize; data += chunk.size()) {
    AppendChunkRecord(chunk, CompressionPolicy::kNone, &body);
  }
  ASSERT_GT(body.size(), kMaxXorbBodySize);
  Result<XorbInfo> info = ParseXorb(body);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->unpacked_size, kMaxXorbUnpackedSize);
}

TEST(XorbTest, ParseBoundsTheChunkCount) {
  // Empty records are 8 bytes each: 1 MiB of them would be 131 073 chunks.
  std::vector<uint8_t> body;
  for (size_t i = 0; i <= kMaxXorbChunksRead; ++i) {
    AppendChunkRecord({}, CompressionPolicy::kNone, &body);
  }
  EXPECT_EQ(ParseXorb(body).status().code(), ErrorCode::kCorrupt);
  body.resize(body.size() - kChunkRecordHeaderSize);
  Result<XorbInfo> at_limit = ParseXorb(body);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->chunks.size(), kMaxXorbChunksRead);
}

TEST(XorbFooterTest, RejectsHostileFooters) {
  XorbBuilder b(CompressionPolicy::kNone);
  for (uint32_t i = 0; i < 3; ++i) {
    std::vector<uint8_t> c = RandomBytes(100 + i, i);
    ASSERT_TRUE(b.Add(ChunkHash(c), c).ok());
  }
  XorbBuilder::Xorb x = b.Finish();
  std::vector<uint8_t> stored = x.body;
  std::vector<uint8_t> footer = SerializeXorbFooter(x.info, 7);
  stored.insert(stored.end(), footer.begin(), footer.end());
  ASSERT_TRUE(ParseXorbFooter(stored).ok());
  // Every single-byte corruption of the footer (except the ignored nonce
  // buffer) is detected by the full validation; the footer alone catches all
  // but moved inner record boundaries (it cannot see the records); none crashes.
  const size_t info_start = x.body.size();
  const size_t buffer_start = stored.size() - 4 - 16;
  const size_t inner_bounds = info_start + 160;  // boundaries of chunks 0 and 1
  for (size_t i = info_start; i < stored.size(); ++i) {
    std::vector<uint8_t> bad = stored;
    bad[i] ^= 0x01;
    Result<XorbInfo> r = ParseXorbFooter(bad);
    if (i >= buffer_start && i < stored.size() - 4) {
      EXPECT_TRUE(r.ok()) << i;
      EXPECT_TRUE(ParseXorb(bad).ok()) << i;
    } else {
      if (i < inner_bounds || i >= inner_bounds + 8) {
        EXPECT_FALSE(r.ok()) << i;
      }
      EXPECT_FALSE(ParseXorb(bad).ok()) << i;
    }
  }
  for (size_t cut = 0; cut < stored.size(); cut += 7) {
    EXPECT_FALSE(ParseXorbFooter(std::span<const uint8_t>(stored).first(cut)).ok()) << cut;
  }
  std::vector<uint8_t> lying = stored;
  lying[lying.size() - 1] = 0xFF;  // info_length past the start
  EXPECT_FALSE(ParseXorbFooter(lying).ok());
}

TEST(XorbFooterTest, ParsesLegacyV0) {
  std::vector<uint8_t> body = {0, 2, 0, 0, 0, 2, 0, 0, 'h', 'i'};
  Hash chunk = ChunkHash(std::vector<uint8_t>{'h', 'i'});
  std::vector<uint8_t> info = {'X', 'E', 'T', 'B', 'L', 'O', 'B', 0};
  info.insert(info.end(), chunk.bytes.begin(), chunk.bytes.end());  // 1-chunk xorb hash
  info.insert(info.end(), {1, 0, 0, 0, 10, 0, 0, 0});               // n, boundary
  info.insert(info.end(), chunk.bytes.begin(), chunk.bytes.end());
  info.resize(info.size() + 16, 0);
  ASSERT_EQ(info.size(), 96u);
  std::vector<uint8_t> stored = body;
  stored.insert(stored.end(), info.begin(), info.end());
  stored.insert(stored.end(), {96, 0, 0, 0});
  Result<XorbInfo> r = ParseXorbFooter(stored);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->lengths_known);
  EXPECT_EQ(r->hash, chunk);
  ASSERT_EQ(r->chunks.size(), 1u);
  EXPECT_EQ(r->chunks[0].record_end, 10u);
  EXPECT_EQ(r->body_size, 10u);
  Result<XorbInfo> full = ParseXorb(stored);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->chunks[0].length, 2u);
}

}  // namespace
}  // namespace hubfs::chunkstore
