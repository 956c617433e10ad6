// Fuzzes everything that reads xorb bytes: chunk record headers, the chunk
// decoder (single records, caller buffers, runs), whole-xorb validation and
// the stored footer; and checks encode/decode round trips of the input used
// as chunk data. A violated invariant aborts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/xorb.h"

// Aborts with the failed condition, so that a crash report says which.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace hubfs::chunkstore {
namespace {

void DecodeAsRecords(std::span<const uint8_t> in, ChunkDecoder& decoder) {
  Result<ChunkRecordHeader> header = ParseChunkRecordHeader(in);
  std::vector<uint8_t> out = {0x5A};
  size_t consumed = 0;
  Status st = decoder.DecodeRecord(in, &consumed, &out);
  if (st.ok()) {
    FUZZ_CHECK(header.ok());
    FUZZ_CHECK(out.size() == 1 + header->uncompressed_size);
    FUZZ_CHECK(out[0] == 0x5A);
    FUZZ_CHECK(consumed == header->record_size() && consumed <= in.size());
    std::vector<uint8_t> into(header->uncompressed_size);
    size_t consumed2 = 0;
    FUZZ_CHECK(decoder.DecodeRecordInto(in, &consumed2, into).ok());
    FUZZ_CHECK(consumed2 == consumed);
    FUZZ_CHECK(std::equal(into.begin(), into.end(), out.begin() + 1));
  } else {
    FUZZ_CHECK(out.size() == 1);
  }
  // A run whose expected count comes from the input.
  const size_t expected = in.empty() ? 1 : in[0] % 8;
  std::vector<std::vector<uint8_t>> chunks;
  if (decoder.DecodeRun(in, expected, &chunks).ok()) {
    FUZZ_CHECK(chunks.size() == expected);
    for (const auto& c : chunks) FUZZ_CHECK(c.size() <= kMaxChunkUncompressedSize);
  }
}

void CheckXorb(std::span<const uint8_t> in) {
  Result<XorbInfo> info = ParseXorb(in);
  if (info.ok()) {
    FUZZ_CHECK(!info->chunks.empty());
    FUZZ_CHECK(info->body_size <= in.size() && info->body_size <= kMaxXorbBodySize);
    uint64_t prev = 0, unpacked = 0;
    for (const XorbChunkInfo& c : info->chunks) {
      FUZZ_CHECK(c.record_start == prev && c.record_end > c.record_start);
      FUZZ_CHECK(c.length <= kMaxChunkUncompressedSize);
      prev = c.record_end;
      unpacked += c.length;
    }
    FUZZ_CHECK(prev == info->body_size && unpacked == info->unpacked_size);
    // The footer written for it parses back to the same description.
    std::vector<uint8_t> stored(in.begin(), in.begin() + info->body_size);
    std::vector<uint8_t> footer = SerializeXorbFooter(*info, 1);
    stored.insert(stored.end(), footer.begin(), footer.end());
    Result<XorbInfo> back = ParseXorbFooter(stored);
    FUZZ_CHECK(back.ok() && back->hash == info->hash && back->chunks.size() == info->chunks.size());
    FUZZ_CHECK(ParseXorb(stored).ok());
  }
  Result<XorbInfo> footer = ParseXorbFooter(in);
  if (footer.ok()) {
    FUZZ_CHECK(!footer->chunks.empty() && footer->body_size < in.size());
    FUZZ_CHECK(footer->chunks.back().record_end == footer->body_size);
  }
}

void RoundTrip(std::span<const uint8_t> in, ChunkDecoder& decoder) {
  std::span<const uint8_t> chunk = in.first(std::min<size_t>(in.size(), kMaxChunkUncompressedSize));
  std::vector<uint8_t> grouped(chunk.size()), back(chunk.size());
  ByteGroup4(chunk, grouped.data());
  ByteUngroup4(grouped, back.data());
  FUZZ_CHECK(std::equal(back.begin(), back.end(), chunk.begin()));
  for (CompressionPolicy p :
       {CompressionPolicy::kNone, CompressionPolicy::kLz4, CompressionPolicy::kBest}) {
    std::vector<uint8_t> record;
    AppendChunkRecord(chunk, p, &record);
    FUZZ_CHECK(record.size() <= kChunkRecordHeaderSize + chunk.size());
    std::vector<uint8_t> out;
    size_t consumed = 0;
    Status st = decoder.DecodeRecord(record, &consumed, &out);
    if (!st.ok()) std::fprintf(stderr, "round trip: %s\n", st.ToString().c_str());
    FUZZ_CHECK(st.ok());
    FUZZ_CHECK(consumed == record.size());
    FUZZ_CHECK(out.size() == chunk.size() && std::equal(out.begin(), out.end(), chunk.begin()));
  }
}

}  // namespace
}  // namespace hubfs::chunkstore

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs::chunkstore;
  static ChunkDecoder* const decoder = new ChunkDecoder();  // reused, as in production
  std::span<const uint8_t> in(data, size);
  DecodeAsRecords(in, *decoder);
  CheckXorb(in);
  RoundTrip(in, *decoder);
  return 0;
}
