#include "chunkstore/cache_checksum.h"

#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace hubfs::chunkstore::cache_format {
namespace {

// Byte-at-a-time table of the reflected polynomial 0x82F63B78.
struct Table {
  uint32_t t[256];
  constexpr Table() : t() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0u);
      t[i] = c;
    }
  }
};
constexpr Table kTable;

// On the raw (not inverted) register.
uint32_t SoftUpdate(uint32_t state, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) state = kTable.t[(state ^ p[i]) & 0xff] ^ (state >> 8);
  return state;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t HardUpdate(uint32_t state, const uint8_t* p, size_t n) {
  uint64_t s = state;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    s = _mm_crc32_u64(s, v);
  }
  uint32_t s32 = static_cast<uint32_t>(s);
  for (; n > 0; --n) s32 = _mm_crc32_u8(s32, *p++);
  return s32;
}

// Three equal lanes of `len` bytes (a multiple of 8) at a, b, c.
__attribute__((target("sse4.2"))) void HardLanes(uint32_t* sa, uint32_t* sb, uint32_t* sc,
                                                 const uint8_t* a, const uint8_t* b,
                                                 const uint8_t* c, size_t len) {
  uint64_t x = *sa, y = *sb, z = *sc;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t va, vb, vc;
    std::memcpy(&va, a + i, 8);
    std::memcpy(&vb, b + i, 8);
    std::memcpy(&vc, c + i, 8);
    x = _mm_crc32_u64(x, va);
    y = _mm_crc32_u64(y, vb);
    z = _mm_crc32_u64(z, vc);
  }
  *sa = static_cast<uint32_t>(x);
  *sb = static_cast<uint32_t>(y);
  *sc = static_cast<uint32_t>(z);
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

uint32_t Update(uint32_t state, const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (HaveSse42()) return HardUpdate(state, p, n);
#endif
  return SoftUpdate(state, p, n);
}

}  // namespace

uint32_t Crc32c(uint32_t crc, std::span<const uint8_t> data) {
  return ~Update(~crc, data.data(), data.size());
}

std::array<uint32_t, 3> EntryChecksum(std::string_view key, std::span<const uint8_t, 12> header12,
                                      std::span<const uint8_t> payload) {
  const size_t n = payload.size();
  const size_t t = (n / 24) * 8;
  const uint8_t* p = payload.data();
  uint32_t a = Update(~0u, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  a = Update(a, header12.data(), header12.size());
  uint32_t b = ~0u, c = ~0u;
#if defined(__x86_64__)
  if (HaveSse42()) {
    HardLanes(&a, &b, &c, p, p + t, p + 2 * t, t);
  } else
#endif
  {
    a = SoftUpdate(a, p, t);
    b = SoftUpdate(b, p + t, t);
    c = SoftUpdate(c, p + 2 * t, t);
  }
  c = Update(c, p + 3 * t, n - 3 * t);
  return {~a, ~b, ~c};
}

std::array<uint32_t, 3> EntryChecksumParts(std::string_view key,
                                           std::span<const uint8_t, 12> header12,
                                           std::span<const uint8_t> head,
                                           std::span<const uint8_t> body) {
  const size_t h = head.size();
  const size_t n = h + body.size();
  const size_t t = (n / 24) * 8;
  if (h == 0) return EntryChecksum(key, header12, body);
  if (h > t || h % 8 != 0) {
    // A tiny value, or an odd split: join the two (the slow path is rare).
    std::vector<uint8_t> joined(head.begin(), head.end());
    joined.insert(joined.end(), body.begin(), body.end());
    return EntryChecksum(key, header12, joined);
  }
  // On head || body: lane 0 = head || body[0, t-h), lane 1 = body[t-h, 2t-h),
  // lane 2 = body[2t-h, n-h). The three run together for t-h bytes each,
  // then lanes 1 and 2 finish on their own.
  const uint8_t* b = body.data();
  const size_t len = t - h;
  uint32_t a = Update(~0u, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  a = Update(a, header12.data(), header12.size());
  a = Update(a, head.data(), h);
  uint32_t x = ~0u, y = ~0u;
#if defined(__x86_64__)
  if (HaveSse42()) {
    HardLanes(&a, &x, &y, b, b + len, b + len + t, len);
  } else
#endif
  {
    a = SoftUpdate(a, b, len);
    x = SoftUpdate(x, b + len, len);
    y = SoftUpdate(y, b + len + t, len);
  }
  x = Update(x, b + 2 * len, h);
  y = Update(y, b + len + t + len, (n - h) - (len + t + len));
  return {~a, ~x, ~y};
}

}  // namespace hubfs::chunkstore::cache_format
