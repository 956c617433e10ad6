#include "chunkstore/hash.h"

#include <openssl/evp.h>

#include <cstring>

#include "blake3.h"

namespace hubfs::chunkstore {

const Key kDataKey = {102, 151, 245, 119, 91,  149, 80,  222, 49,  53, 203,
                      172, 165, 151, 24,  28,  157, 228, 33,  16,  155, 235,
                      43,  88,  180, 208, 176, 75,  147, 173, 242, 41};
const Key kInternalNodeKey = {1,   126, 197, 199, 165, 71,  41,  150, 253, 148, 102,
                              102, 180, 138, 2,   230, 93,  221, 83,  111, 55,  199,
                              109, 210, 248, 99,  82,  230, 74,  83,  113, 63};
const Key kVerificationKey = {127, 24,  87,  214, 206, 86,  237, 102, 18,  127, 249,
                              19,  231, 165, 195, 243, 164, 205, 38,  213, 181, 219,
                              73,  230, 65,  36,  152, 127, 40,  251, 148, 195};
const Key kZeroKey = {};

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86-64 and aarch64 builds are little-endian
}

void AppendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out->push_back(buf[--n]);
}

void AppendCanonical(std::string* out, const Hash& h) {
  for (int g = 0; g < 4; ++g) {
    for (int i = 7; i >= 0; --i) {
      uint8_t b = h.bytes[g * 8 + i];
      out->push_back(kHexDigits[b >> 4]);
      out->push_back(kHexDigits[b & 15]);
    }
  }
}

}  // namespace

std::string Hash::ToString() const {
  std::string s;
  s.reserve(64);
  AppendCanonical(&s, *this);
  return s;
}

std::string Hash::ToRawHex() const { return HexLower(bytes); }

Result<Hash> Hash::Parse(std::string_view s) {
  if (s.size() != 64) return InvalidArgumentError("xet hash must be 64 hex digits");
  Hash h;
  for (int g = 0; g < 4; ++g) {
    for (int i = 0; i < 8; ++i) {
      int hi = HexValue(s[g * 16 + i * 2]);
      int lo = HexValue(s[g * 16 + i * 2 + 1]);
      if (hi < 0 || lo < 0) return InvalidArgumentError("xet hash has a non-hex digit");
      h.bytes[g * 8 + (7 - i)] = static_cast<uint8_t>(hi << 4 | lo);
    }
  }
  return h;
}

Result<Hash> Hash::FromRawHex(std::string_view s) {
  if (s.size() != 64) return InvalidArgumentError("raw hash must be 64 hex digits");
  HUBFS_ASSIGN_OR_RETURN(std::vector<uint8_t> raw, ParseHex(s));
  Hash h;
  std::memcpy(h.bytes.data(), raw.data(), 32);
  return h;
}

Hash Hash::FromRaw(std::span<const uint8_t, 32> raw) {
  Hash h;
  std::memcpy(h.bytes.data(), raw.data(), 32);
  return h;
}

bool Hash::IsZero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

uint64_t Hash::LastU64() const { return LoadLe64(bytes.data() + 24); }
uint64_t Hash::FirstU64() const { return LoadLe64(bytes.data()); }

Hash KeyedBlake3(const Key& key, std::span<const uint8_t> data) {
  blake3_hasher hasher;
  blake3_hasher_init_keyed(&hasher, key.data());
  blake3_hasher_update(&hasher, data.data(), data.size());
  Hash h;
  blake3_hasher_finalize(&hasher, h.bytes.data(), h.bytes.size());
  return h;
}

struct KeyedHasher::Impl {
  blake3_hasher hasher;
  Key key;
};

KeyedHasher::KeyedHasher(const Key& key) : impl_(new Impl) {
  impl_->key = key;
  blake3_hasher_init_keyed(&impl_->hasher, key.data());
}
void KeyedHasher::Reset() { blake3_hasher_init_keyed(&impl_->hasher, impl_->key.data()); }
KeyedHasher::~KeyedHasher() { delete impl_; }
void KeyedHasher::Update(std::span<const uint8_t> data) {
  blake3_hasher_update(&impl_->hasher, data.data(), data.size());
}
Hash KeyedHasher::Finalize() const {
  Hash h;
  blake3_hasher_finalize(&impl_->hasher, h.bytes.data(), h.bytes.size());
  return h;
}

Hash ChunkHash(std::span<const uint8_t> chunk) { return KeyedBlake3(kDataKey, chunk); }

size_t MerkleGroupSize(std::span<const MerkleNode> level) {
  const size_t n = level.size();
  if (n <= 2) return n;
  const size_t limit = n < 9 ? n : 9;
  for (size_t i = 2; i < limit; ++i) {
    if (level[i].hash.LastU64() % 4 == 0) return i + 1;
  }
  return limit;
}

std::string MerkleNodeText(std::span<const MerkleNode> group) {
  std::string text;
  text.reserve(group.size() * 88);
  for (const MerkleNode& m : group) {
    AppendCanonical(&text, m.hash);
    text += " : ";
    AppendDecimal(&text, m.size);
    text.push_back('\n');
  }
  return text;
}

MerkleNode MerkleParent(std::span<const MerkleNode> group) {
  const std::string text = MerkleNodeText(group);
  uint64_t size = 0;
  for (const MerkleNode& m : group) size += m.size;
  return MerkleNode{KeyedBlake3(kInternalNodeKey,
                                {reinterpret_cast<const uint8_t*>(text.data()), text.size()}),
                    size};
}

Hash MerkleRoot(std::span<const MerkleNode> leaves) {
  if (leaves.empty()) return Hash{};
  if (leaves.size() == 1) return leaves[0].hash;
  std::vector<MerkleNode> level(leaves.begin(), leaves.end());
  std::vector<MerkleNode> next;
  while (level.size() > 1) {
    next.clear();
    std::span<const MerkleNode> rest(level);
    while (!rest.empty()) {
      size_t end = MerkleGroupSize(rest);
      next.push_back(MerkleParent(rest.first(end)));
      rest = rest.subspan(end);
    }
    level.swap(next);
  }
  return level[0].hash;
}

void MerkleBuilder::Push(std::vector<std::vector<MerkleNode>>* levels,
                         std::vector<uint64_t>* counts, size_t level, const MerkleNode& node) {
  MerkleNode carry = node;
  while (true) {
    if (levels->size() <= level) {
      levels->resize(level + 1);
      counts->resize(level + 1, 0);
    }
    std::vector<MerkleNode>& open = (*levels)[level];
    open.push_back(carry);
    ++(*counts)[level];
    // §2.4 cut rule seen from the left: a node at index >= 2 with hash mod 4
    // == 0 ends the group, and so does the 9th node.
    const size_t n = open.size();
    if (n < 3 || (n < 9 && open.back().hash.LastU64() % 4 != 0)) return;
    carry = MerkleParent(open);
    open.clear();
    ++level;
  }
}

void MerkleBuilder::Add(const MerkleNode& leaf) {
  Push(&levels_, &counts_, 0, leaf);
  ++leaves_;
}

Hash MerkleBuilder::Root() const {
  if (leaves_ == 0) return Hash{};
  // Close every level's open group bottom-up on a copy; a level that has
  // only ever held one node is the root.
  std::vector<std::vector<MerkleNode>> levels = levels_;
  std::vector<uint64_t> counts = counts_;
  for (size_t level = 0;; ++level) {
    if (counts[level] == 1 && (level + 1 >= counts.size() || counts[level + 1] == 0)) {
      return levels[level].front().hash;
    }
    if (!levels[level].empty()) {
      MerkleNode parent = MerkleParent(levels[level]);
      levels[level].clear();
      Push(&levels, &counts, level + 1, parent);
    }
  }
}

Hash FileHashWithSalt(std::span<const MerkleNode> chunks, const Key& salt) {
  if (chunks.empty()) return Hash{};
  Hash root = MerkleRoot(chunks);
  return KeyedBlake3(salt, root.bytes);
}

Hash FileHash(std::span<const MerkleNode> chunks) { return FileHashWithSalt(chunks, kZeroKey); }

Hash VerificationHash(std::span<const Hash> chunk_hashes) {
  KeyedHasher hasher(kVerificationKey);
  for (const Hash& h : chunk_hashes) hasher.Update(h.bytes);
  return hasher.Finalize();
}

Hash KeyedChunkHash(const Key& key, const Hash& chunk_hash) {
  return KeyedBlake3(key, chunk_hash.bytes);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}
std::array<uint8_t, 32> Sha256::Finalize() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
  return out;
}

std::string GitBlobId(std::span<const uint8_t> content) {
  const std::string header = "blob " + std::to_string(content.size()) + std::string(1, '\0');
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, header.data(), header.size());
  EVP_DigestUpdate(ctx, content.data(), content.size());
  std::array<uint8_t, 20> digest{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &len);
  EVP_MD_CTX_free(ctx);
  return HexLower(digest);
}

std::array<uint8_t, 32> Sha256Digest(std::span<const uint8_t> data) {
  Sha256 s;
  s.Update(data);
  return s.Finalize();
}

std::string HexLower(std::span<const uint8_t> bytes) {
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kHexDigits[b >> 4]);
    s.push_back(kHexDigits[b & 15]);
  }
  return s;
}

Result<std::vector<uint8_t>> ParseHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgumentError("hex string has odd length");
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("hex string has a non-hex digit");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Hash Sha256AsHash(const std::array<uint8_t, 32>& digest) {
  Hash h;
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < 8; ++i) h.bytes[g * 8 + i] = digest[g * 8 + (7 - i)];
  return h;
}

std::array<uint8_t, 32> HashAsSha256(const Hash& h) {
  std::array<uint8_t, 32> d{};
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < 8; ++i) d[g * 8 + i] = h.bytes[g * 8 + (7 - i)];
  return d;
}

}  // namespace hubfs::chunkstore
