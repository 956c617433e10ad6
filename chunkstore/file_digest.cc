#include "chunkstore/file_digest.h"

#include <cstring>

#include "chunkstore/chunker.h"
#include "common/little_endian.h"

namespace hubfs::chunkstore {
namespace {

constexpr uint8_t kMagic[4] = {'H', 'F', 'D', '1'};
constexpr size_t kHeaderSize = 4 + 8 + 4 + 4 + 32;
constexpr size_t kChunkRecord = 32 + 4;
constexpr size_t kMidstateRecord = 8 + 32;

}  // namespace

std::vector<uint8_t> EncodeFileDigest(const FileDigest& d) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + d.chunks.size() * kChunkRecord + d.midstates.size() * kMidstateRecord);
  for (uint8_t b : kMagic) out.push_back(b);
  AppendLe64(&out, d.size);
  AppendLe32(&out, static_cast<uint32_t>(d.chunks.size()));
  AppendLe32(&out, static_cast<uint32_t>(d.midstates.size()));
  for (uint8_t b : d.sha256) out.push_back(b);
  for (const DigestChunk& c : d.chunks) {
    for (uint8_t b : c.hash.bytes) out.push_back(b);
    AppendLe32(&out, c.length);
  }
  for (const Sha256Midstate& m : d.midstates) {
    AppendLe64(&out, m.offset);
    for (uint32_t w : m.state) AppendLe32(&out, w);
  }
  return out;
}

Result<FileDigest> DecodeFileDigest(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return CorruptError("chunk list: bad header");
  }
  const uint8_t* p = bytes.data() + 4;
  FileDigest d;
  d.size = LoadLe64(p);
  const uint64_t chunks = LoadLe32(p + 8);
  const uint64_t midstates = LoadLe32(p + 12);
  std::memcpy(d.sha256.data(), p + 16, 32);
  if (bytes.size() != kHeaderSize + chunks * kChunkRecord + midstates * kMidstateRecord) {
    return CorruptError("chunk list: length does not match its counts");
  }
  p = bytes.data() + kHeaderSize;
  d.chunks.resize(chunks);
  for (DigestChunk& c : d.chunks) {
    std::memcpy(c.hash.bytes.data(), p, 32);
    c.length = LoadLe32(p + 32);
    p += kChunkRecord;
  }
  d.midstates.resize(midstates);
  for (Sha256Midstate& m : d.midstates) {
    m.offset = LoadLe64(p);
    for (size_t i = 0; i < 8; ++i) m.state[i] = LoadLe32(p + 8 + 4 * i);
    p += kMidstateRecord;
  }
  return d;
}

Hash DigestFileHash(const FileDigest& d) {
  if (d.chunks.empty()) return Hash{};
  MerkleBuilder merkle;
  for (const DigestChunk& c : d.chunks) merkle.Add({c.hash, c.length});
  return KeyedBlake3(kZeroKey, merkle.Root().bytes);
}

Status CheckFileDigest(const FileDigest& d, const Hash& file_hash, uint64_t size) {
  if (d.size != size) return CorruptError("chunk list: size differs from the file's");
  uint64_t total = 0;
  for (const DigestChunk& c : d.chunks) {
    if (c.length == 0 || c.length > kMaxChunkSize) return CorruptError("chunk list: bad chunk length");
    total += c.length;
  }
  if (total != size) return CorruptError("chunk list: chunk lengths do not add up to the size");
  uint64_t last = 0;
  for (const Sha256Midstate& m : d.midstates) {
    if (m.offset == 0 || m.offset % 64 != 0 || m.offset <= last || m.offset > size) {
      return CorruptError("chunk list: bad midstate offset");
    }
    last = m.offset;
  }
  if (DigestFileHash(d) != file_hash) {
    return CorruptError("chunk list: its chunks do not give the file's hash");
  }
  return Status::Ok();
}

}  // namespace hubfs::chunkstore
