#include "tests/hubsim/cas_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "chunkstore/xorb.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {
namespace {

using chunkstore::Hash;
using nlohmann::json;

constexpr uint64_t kMaxShardBytes = 64ull << 20;
// Cached xorb indexes and file records (each map); dropped wholesale beyond this.
constexpr size_t kMaxCached = 50000;

Status Bad(std::string msg) { return CorruptError(std::move(msg)).WithHttp(400); }

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

}  // namespace

CasStore::CasStore(std::filesystem::path root, chunkstore::Key dedup_key)
    : root_(std::move(root)), dedup_key_(dedup_key) {}

std::filesystem::path CasStore::ShardedPath(const char* kind, const std::string& name) const {
  return root_ / "cas" / kind / name.substr(0, 2) / name;
}

std::filesystem::path CasStore::XorbPath(const Hash& hash) const {
  return ShardedPath("xorbs", hash.ToString());
}

Status CasStore::WriteXorbIndex(const StoredXorb& x) const {
  std::string s = "HSXI";
  PutU32(&s, static_cast<uint32_t>(x.chunk_hashes.size()));
  for (size_t i = 0; i < x.chunk_hashes.size(); ++i) {
    s.append(reinterpret_cast<const char*>(x.chunk_hashes[i].bytes.data()), 32);
    PutU32(&s, x.layout.chunk_lengths[i]);
    PutU32(&s, static_cast<uint32_t>(x.layout.record_ends[i]));
  }
  return WriteFileAtomic(ShardedPath("xorbs", x.hash.ToString() + ".idx"), s);
}

// A dedup entry: the chunk's xorb, then the other xorbs of its shard, one
// canonical hash per line, at most kMaxDedupXorbs.
constexpr size_t kMaxDedupXorbs = 64;


Status CasStore::IndexDedup(const Hash& chunk, const Hash& xorb,
                            const std::vector<Hash>& companions) const {
  auto p = ShardedPath("dedup", chunk.ToString());
  std::vector<std::string> lines;
  if (auto text = ReadFile(p, 1 << 16); text.ok()) {
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      if (end > start) lines.push_back(text->substr(start, end - start));
      start = end + 1;
    }
  }
  const size_t before = lines.size();
  auto add = [&](const Hash& h) {
    std::string s = h.ToString();
    if (lines.size() < kMaxDedupXorbs && std::find(lines.begin(), lines.end(), s) == lines.end())
      lines.push_back(std::move(s));
  };
  add(xorb);
  for (const Hash& h : companions) add(h);
  if (lines.size() == before) return Status::Ok();
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return WriteFileAtomic(p, out);
}

Result<bool> CasStore::PutXorb(const Hash& hash, std::span<const uint8_t> body) {
  if (body.size() > chunkstore::kMaxXorbBodySizeRead + (1 << 20)) return Bad("xorb larger than 66 MiB");
  auto parsed = chunkstore::ParseXorb(body);
  if (!parsed.ok()) return Bad("invalid xorb: " + parsed.status().message());
  const chunkstore::XorbInfo& info = *parsed;
  if (info.hash != hash) return Bad("xorb hash mismatch: body hashes to " + info.hash.ToString());
  if (!info.lengths_known) return Bad("xorb without chunk lengths");
  auto x = std::make_shared<StoredXorb>();
  x->hash = hash;
  for (const auto& c : info.chunks) {
    x->chunk_hashes.push_back(c.hash);
    x->layout.chunk_lengths.push_back(c.length);
    x->layout.record_ends.push_back(c.record_end);
  }
  std::error_code ec;
  auto path = XorbPath(hash);
  bool existed = std::filesystem::exists(path.string() + ".idx", ec);
  if (!existed) {
    std::string_view records(reinterpret_cast<const char*>(body.data()), info.body_size);
    HUBFS_RETURN_IF_ERROR(WriteFileAtomic(path, records));
    HUBFS_RETURN_IF_ERROR(WriteXorbIndex(*x));  // the index marks the xorb complete
    for (const auto& c : info.chunks)
      if (chunkstore::IsGlobalDedupEligible(c.hash))
        HUBFS_RETURN_IF_ERROR(IndexDedup(c.hash, hash));
  }
  std::lock_guard<std::mutex> l(mu_);
  if (xorbs_.size() >= kMaxCached) xorbs_.clear();
  xorbs_.emplace(hash, std::move(x));
  return !existed;
}

Result<std::shared_ptr<const StoredXorb>> CasStore::GetXorb(const Hash& hash) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = xorbs_.find(hash);
    if (it != xorbs_.end()) return it->second;
  }
  auto text = ReadFile(ShardedPath("xorbs", hash.ToString() + ".idx"), 16 << 20);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound)
      return NotFoundError("xorb not found: " + hash.ToString());
    return text.status();
  }
  const std::string& s = *text;
  if (s.size() < 8 || s.compare(0, 4, "HSXI") != 0) return CorruptError("xorb index");
  uint32_t n = GetU32(s.data() + 4);
  if (s.size() != 8 + static_cast<size_t>(n) * 40) return CorruptError("xorb index size");
  auto x = std::make_shared<StoredXorb>();
  x->hash = hash;
  for (uint32_t i = 0; i < n; ++i) {
    const char* p = s.data() + 8 + static_cast<size_t>(i) * 40;
    x->chunk_hashes.push_back(
        Hash::FromRaw(std::span<const uint8_t, 32>(reinterpret_cast<const uint8_t*>(p), 32)));
    x->layout.chunk_lengths.push_back(GetU32(p + 32));
    x->layout.record_ends.push_back(GetU32(p + 36));
  }
  std::lock_guard<std::mutex> l(mu_);
  if (xorbs_.size() >= kMaxCached) xorbs_.clear();
  auto [it, inserted] = xorbs_.emplace(hash, std::move(x));
  return it->second;
}

Status CasStore::WriteFileRecord(const StoredFile& f) const {
  json terms = json::array();
  for (const auto& t : f.terms)
    terms.push_back(json::array({t.xorb.ToString(), t.range.start, t.range.end}));
  json j = {{"size", f.size}, {"sha256", f.sha256}, {"terms", terms}};
  HUBFS_RETURN_IF_ERROR(
      WriteFileAtomic(ShardedPath("files", f.hash.ToString() + ".json"), j.dump()));
  if (!f.sha256.empty())
    HUBFS_RETURN_IF_ERROR(WriteFileAtomic(ShardedPath("sha256", f.sha256),
                                          f.hash.ToString() + " " + std::to_string(f.size)));
  return Status::Ok();
}

Result<std::shared_ptr<const StoredFile>> CasStore::GetFile(const Hash& hash) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(hash);
    if (it != files_.end()) return it->second;
  }
  auto text = ReadFile(ShardedPath("files", hash.ToString() + ".json"), 256 << 20);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound)
      return NotFoundError("file not found: " + hash.ToString());
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j["size"].is_number_unsigned() || !j["terms"].is_array())
    return CorruptError("file record");
  auto f = std::make_shared<StoredFile>();
  f->hash = hash;
  f->size = j["size"].get<uint64_t>();
  f->sha256 = j.value("sha256", std::string());
  for (const auto& t : j["terms"]) {
    if (!t.is_array() || t.size() < 3 || !t[0].is_string()) return CorruptError("file term");
    auto xh = Hash::Parse(t[0].get<std::string>());
    if (!xh.ok()) return CorruptError("file term hash");
    chunkstore::FileTerm term;
    term.xorb = *xh;
    term.range.start = t[1].get<uint32_t>();
    term.range.end = t[2].get<uint32_t>();
    f->terms.push_back(term);
  }
  std::lock_guard<std::mutex> l(mu_);
  if (files_.size() >= kMaxCached) files_.clear();
  auto [it, inserted] = files_.emplace(hash, std::move(f));
  return it->second;
}

std::optional<Sha256Target> CasStore::FindSha256(const std::string& sha256_hex) const {
  if (!IsLowerHex(sha256_hex, 64)) return std::nullopt;
  auto text = ReadFile(ShardedPath("sha256", sha256_hex), 1024);
  if (!text.ok()) return std::nullopt;
  size_t sp = text->find(' ');
  if (sp == std::string::npos) return std::nullopt;
  Sha256Target t;
  t.xet_hash = text->substr(0, sp);
  t.size = std::strtoull(text->c_str() + sp + 1, nullptr, 10);
  return t;
}

Result<bool> CasStore::PutShard(std::span<const uint8_t> bytes, int64_t /*now*/,
                                std::vector<std::string>* sha256s) {
  if (bytes.size() > kMaxShardBytes) return Bad("shard larger than 64 MiB");
  auto parsed = chunkstore::ParseShard(bytes);
  if (!parsed.ok()) return Bad("invalid shard: " + parsed.status().message());
  const chunkstore::Shard& shard = *parsed;
  if (shard.footer && !std::all_of(shard.footer->hmac_key.begin(), shard.footer->hmac_key.end(),
                                   [](uint8_t b) { return b == 0; }))
    return Bad("upload shards must not carry keyed chunk hashes");
  // CAS blocks must describe stored xorbs exactly.
  for (const auto& sx : shard.xorbs) {
    auto stored = GetXorb(sx.xorb_hash);
    if (!stored.ok()) return Bad("shard lists xorb " + sx.xorb_hash.ToString() + " not uploaded");
    const StoredXorb& x = **stored;
    if (sx.chunks.size() != x.chunk_hashes.size())
      return Bad("shard chunk count differs from xorb " + sx.xorb_hash.ToString());
    uint64_t offset = 0;
    for (size_t i = 0; i < sx.chunks.size(); ++i) {
      if (sx.chunks[i].hash != x.chunk_hashes[i] ||
          sx.chunks[i].length != x.layout.chunk_lengths[i] || sx.chunks[i].byte_start != offset)
        return Bad("shard chunk " + std::to_string(i) + " differs from xorb " +
                   sx.xorb_hash.ToString());
      offset += x.layout.chunk_lengths[i];
    }
    if (sx.num_bytes_in_xorb != offset)
      return Bad("shard num_bytes_in_xorb differs from xorb " + sx.xorb_hash.ToString());
  }
  std::vector<StoredFile> files;
  std::vector<std::pair<Hash, Hash>> first_chunks;
  for (const auto& sf : shard.files) {
    if (sf.verification.size() != sf.terms.size())
      return Bad("file " + sf.file_hash.ToString() + " lacks verification entries");
    std::vector<chunkstore::MerkleNode> leaves;
    StoredFile f;
    f.hash = sf.file_hash;
    if (sf.sha256) f.sha256 = chunkstore::HexLower(chunkstore::HashAsSha256(*sf.sha256));
    for (size_t ti = 0; ti < sf.terms.size(); ++ti) {
      const auto& t = sf.terms[ti];
      auto stored = GetXorb(t.xorb_hash);
      if (!stored.ok()) return Bad("term references unknown xorb " + t.xorb_hash.ToString());
      const StoredXorb& x = **stored;
      if (t.chunk_start >= t.chunk_end || t.chunk_end > x.chunk_hashes.size())
        return Bad("term chunk range out of bounds in xorb " + t.xorb_hash.ToString());
      uint64_t unpacked = 0;
      for (uint32_t c = t.chunk_start; c < t.chunk_end; ++c) {
        unpacked += x.layout.chunk_lengths[c];
        leaves.push_back({x.chunk_hashes[c], x.layout.chunk_lengths[c]});
      }
      if (unpacked != t.unpacked_bytes) return Bad("term unpacked_segment_bytes mismatch");
      auto vh = chunkstore::VerificationHash(std::span<const Hash>(
          x.chunk_hashes.data() + t.chunk_start, t.chunk_end - t.chunk_start));
      if (vh != sf.verification[ti])
        return Bad("verification hash mismatch for term " + std::to_string(ti));
      if (ti == 0) first_chunks.emplace_back(x.chunk_hashes[t.chunk_start], t.xorb_hash);
      f.size += unpacked;
      chunkstore::FileTerm ft;
      ft.xorb = t.xorb_hash;
      ft.range = {t.chunk_start, t.chunk_end};
      f.terms.push_back(ft);
    }
    if (chunkstore::FileHash(leaves) != sf.file_hash)
      return Bad("file hash " + sf.file_hash.ToString() + " does not match its chunks");
    files.push_back(std::move(f));
  }
  bool inserted = false;
  for (const auto& f : files) {
    std::error_code ec;
    if (!std::filesystem::exists(ShardedPath("files", f.hash.ToString() + ".json"), ec))
      inserted = true;
    HUBFS_RETURN_IF_ERROR(WriteFileRecord(f));
  }
  // The xorbs this shard describes or uses, answered together for any of
  // its indexed chunks.
  std::vector<Hash> shard_xorbs;
  auto note = [&](const Hash& h) {
    if (std::find(shard_xorbs.begin(), shard_xorbs.end(), h) == shard_xorbs.end())
      shard_xorbs.push_back(h);
  };
  for (const auto& sx : shard.xorbs) note(sx.xorb_hash);
  for (const auto& sf : shard.files)
    for (const auto& t : sf.terms) note(t.xorb_hash);
  for (const auto& [chunk, xorb] : first_chunks)
    HUBFS_RETURN_IF_ERROR(IndexDedup(chunk, xorb, shard_xorbs));
  for (const auto& sx : shard.xorbs)
    for (const auto& c : sx.chunks)
      if (c.flags & chunkstore::kChunkFlagGlobalDedupEligible)
        HUBFS_RETURN_IF_ERROR(IndexDedup(c.hash, sx.xorb_hash, shard_xorbs));
  if (sha256s)
    for (const auto& f : files)
      if (!f.sha256.empty()) sha256s->push_back(f.sha256);
  return inserted;
}

Status CasStore::RegisterFile(const StoredFile& file) {
  HUBFS_RETURN_IF_ERROR(WriteFileRecord(file));
  if (!file.terms.empty()) {
    HUBFS_ASSIGN_OR_RETURN(auto x, GetXorb(file.terms[0].xorb));
    HUBFS_RETURN_IF_ERROR(IndexDedup(x->chunk_hashes[file.terms[0].range.start], x->hash));
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> CasStore::DedupShard(const Hash& chunk_hash, int64_t now) const {
  auto text = ReadFile(ShardedPath("dedup", chunk_hash.ToString()), 1 << 16);
  if (!text.ok()) return NotFoundError("no dedup entry");
  std::vector<chunkstore::ShardXorb> xs;
  size_t start = 0;
  while (start < text->size() && xs.size() < kMaxDedupXorbs) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    auto xh = Hash::Parse(line);
    if (!xh.ok()) return CorruptError("dedup entry");
    HUBFS_ASSIGN_OR_RETURN(auto x, GetXorb(*xh));
    xs.push_back(DedupXorb(*x));
  }
  if (xs.empty()) return CorruptError("empty dedup entry");
  return chunkstore::SerializeDedupShard(xs, dedup_key_, static_cast<uint64_t>(now),
                                         static_cast<uint64_t>(now + 3600));
}

chunkstore::ShardXorb CasStore::DedupXorb(const StoredXorb& xorb) const {
  const StoredXorb* x = &xorb;
  chunkstore::ShardXorb sx;
  sx.xorb_hash = x->hash;
  uint64_t offset = 0;
  for (size_t i = 0; i < x->chunk_hashes.size(); ++i) {
    chunkstore::ShardXorbChunk c;
    c.hash = x->chunk_hashes[i];
    c.byte_start = static_cast<uint32_t>(offset);
    c.length = x->layout.chunk_lengths[i];
    c.flags =
        chunkstore::IsGlobalDedupEligible(c.hash) ? chunkstore::kChunkFlagGlobalDedupEligible : 0;
    offset += c.length;
    sx.chunks.push_back(c);
  }
  sx.num_bytes_in_xorb = static_cast<uint32_t>(offset);
  sx.num_bytes_on_disk = static_cast<uint32_t>(x->body_size());
  return sx;
}

Status CasStore::ReadFileRange(const StoredFile& file, uint64_t begin, uint64_t end,
                               std::string* out) const {
  chunkstore::ChunkDecoder decoder;
  uint64_t pos = 0;
  std::vector<uint8_t> chunk;
  for (const auto& t : file.terms) {
    if (pos >= end) break;
    HUBFS_ASSIGN_OR_RETURN(auto x, GetXorb(t.xorb));
    if (t.range.end > x->chunk_hashes.size()) return CorruptError("term out of range");
    int fd = ::open(XorbPath(t.xorb).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("open xorb " + t.xorb.ToString());
    for (uint32_t c = t.range.start; c < t.range.end && pos < end; ++c) {
      uint64_t len = x->layout.chunk_lengths[c];
      if (pos + len <= begin) {
        pos += len;
        continue;
      }
      uint64_t rs = c == 0 ? 0 : x->layout.record_ends[c - 1];
      uint64_t re = x->layout.record_ends[c];
      std::vector<uint8_t> rec(re - rs);
      if (::pread(fd, rec.data(), rec.size(), static_cast<off_t>(rs)) !=
          static_cast<ssize_t>(rec.size())) {
        ::close(fd);
        return IoError("read xorb " + t.xorb.ToString());
      }
      chunk.clear();
      size_t consumed = 0;
      Status st = decoder.DecodeRecord(rec, &consumed, &chunk);
      if (!st.ok()) {
        ::close(fd);
        return st;
      }
      uint64_t from = begin > pos ? begin - pos : 0;
      uint64_t to = std::min<uint64_t>(len, end - pos);
      out->append(reinterpret_cast<const char*>(chunk.data()) + from, to - from);
      pos += len;
    }
    ::close(fd);
  }
  return Status::Ok();
}

}  // namespace hubfs::hubsim
