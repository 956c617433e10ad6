// OpenSSL's SHA256_CTX is the one interface that exposes the compression
// state; it is deprecated in OpenSSL 3 but kept, and runs the same block
// function (SHA-NI where the CPU has it) as the EVP interface.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "chunkstore/sha256_state.h"

#include <openssl/sha.h>

#include <algorithm>

namespace hubfs::chunkstore {

struct ResumableSha256::Ctx {
  SHA256_CTX c;
};

ResumableSha256::ResumableSha256() : ctx_(std::make_unique<Ctx>()) { SHA256_Init(&ctx_->c); }

ResumableSha256::~ResumableSha256() = default;

void ResumableSha256::Resume(const Sha256Midstate& from) {
  SHA256_Init(&ctx_->c);
  for (size_t i = 0; i < 8; ++i) ctx_->c.h[i] = from.state[i];
  const uint64_t bits = from.offset * 8;
  ctx_->c.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
  ctx_->c.Nh = static_cast<SHA_LONG>(bits >> 32);
  ctx_->c.num = 0;
  offset_ = from.offset;
}

void ResumableSha256::RecordEvery(uint64_t interval) { interval_ = interval; }

void ResumableSha256::Update(std::span<const uint8_t> data) {
  while (!data.empty()) {
    size_t take = data.size();
    if (interval_ > 0) {
      const uint64_t next = (offset_ / interval_ + 1) * interval_;
      take = static_cast<size_t>(std::min<uint64_t>(take, next - offset_));
    }
    SHA256_Update(&ctx_->c, data.data(), take);
    offset_ += take;
    data = data.subspan(take);
    if (interval_ > 0 && offset_ % interval_ == 0 && ctx_->c.num == 0) {
      Sha256Midstate m;
      m.offset = offset_;
      for (size_t i = 0; i < 8; ++i) m.state[i] = ctx_->c.h[i];
      midstates_.push_back(m);
    }
  }
}

std::array<uint8_t, 32> ResumableSha256::Finalize() {
  std::array<uint8_t, 32> out{};
  SHA256_Final(out.data(), &ctx_->c);
  return out;
}

}  // namespace hubfs::chunkstore
