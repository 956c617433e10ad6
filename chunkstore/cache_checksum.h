// The checksum of a chunk-cache entry (docs/CACHE_FORMAT.md, "Entry
// values"): three CRC-32C lanes over key || header[0..12) || payload, so that
// the hardware CRC instruction runs three independent streams at once (one
// stream is bound by the instruction's latency). With PCLMULQDQ each lane is
// folded by carry-less multiplication instead (several times the CRC
// instruction's rate where that is slow); the values are the same.
// Internal to chunkstore.
//
// Thread-safe (pure functions).
#ifndef HUBFS_CHUNKSTORE_CACHE_CHECKSUM_H_
#define HUBFS_CHUNKSTORE_CACHE_CHECKSUM_H_

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace hubfs::chunkstore::cache_format {

// CRC-32C (Castagnoli, reflected, the one of iSCSI and ext4) of `data`,
// continuing from `crc` (0 to start): Crc32c(Crc32c(0, a), b) == Crc32c(0, a||b).
// Crc32c(0, "123456789") == 0xE3069283. Uses SSE4.2 when the CPU has it.
uint32_t Crc32c(uint32_t crc, std::span<const uint8_t> data);

// With n = payload.size() and t = (n / 24) * 8:
//   lane 0 = CRC-32C(key || header12 || payload[0, t))
//   lane 1 = CRC-32C(payload[t, 2t))
//   lane 2 = CRC-32C(payload[2t, n))
std::array<uint32_t, 3> EntryChecksum(std::string_view key, std::span<const uint8_t, 12> header12,
                                      std::span<const uint8_t> payload);

// EntryChecksum of the payload head || body, held in two places (a value
// read with its head into a small buffer and its body straight into the
// reader's memory), at the same speed when head.size() is a multiple of 8
// no larger than a lane.
std::array<uint32_t, 3> EntryChecksumParts(std::string_view key,
                                           std::span<const uint8_t, 12> header12,
                                           std::span<const uint8_t> head,
                                           std::span<const uint8_t> body);

}  // namespace hubfs::chunkstore::cache_format

#endif  // HUBFS_CHUNKSTORE_CACHE_CHECKSUM_H_
