#include "chunkstore/upload.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "chunkstore/file_hasher.h"
#include "chunkstore/hash.h"
#include "chunkstore/shard.h"
#include "chunkstore/xorb.h"

namespace hubfs::chunkstore {
namespace {

std::vector<uint8_t> RandomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  return out;
}

// A CAS in memory: validates every xorb it is given (hash, records), keeps
// the bodies, answers dedup queries for chunks of xorbs it holds (keyed with
// `key`), and plays a local index when asked to.
class FakeCas : public UploadBackend {
 public:
  Status PutXorb(const XorbInfo& info, std::string text) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_puts) return UnavailableError("injected upload failure");
    std::vector<uint8_t> body(text.begin(), text.end());
    auto parsed = ParseXorb(body);
    if (!parsed.ok()) return parsed.status();
    EXPECT_EQ(parsed->hash, info.hash);
    EXPECT_EQ(parsed->chunks.size(), info.chunks.size());
    EXPECT_LE(body.size(), max_body_seen_limit);
    for (size_t i = 0; i < info.chunks.size(); ++i) {
      EXPECT_EQ(parsed->chunks[i].record_start, info.chunks[i].record_start);
      EXPECT_EQ(parsed->chunks[i].hash, info.chunks[i].hash);
    }
    xorbs[info.hash] = std::move(body);
    infos[info.hash] = *parsed;
    ++puts;
    return Status::Ok();
  }

  Result<std::optional<Shard>> QueryChunk(const Hash& chunk_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++queries;
    if (!answer_queries) return std::optional<Shard>();
    for (const auto& [xh, info] : infos) {
      for (const auto& c : info.chunks) {
        if (c.hash != chunk_hash) continue;
        std::vector<ShardXorb> xs{ShardXorbFromInfo(info)};
        auto bytes = SerializeDedupShard(xs, key, 1000, 5000);
        auto shard = ParseShard(bytes);
        if (!shard.ok()) return shard.status();
        return std::optional<Shard>(*shard);
      }
    }
    return std::optional<Shard>();
  }

  std::optional<ChunkLocation> LookupLocal(const Hash& chunk_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!local_index) return std::nullopt;
    for (const auto& [xh, info] : infos) {
      for (size_t i = 0; i < info.chunks.size(); ++i) {
        if (info.chunks[i].hash == chunk_hash) return ChunkLocation{xh, static_cast<uint32_t>(i)};
      }
    }
    return std::nullopt;
  }

  // Rebuilds a file from its shard block with the stored xorbs.
  std::vector<uint8_t> Reconstruct(const ShardFile& f) {
    std::vector<uint8_t> out;
    ChunkDecoder dec;
    for (const auto& t : f.terms) {
      const auto& body = xorbs.at(t.xorb_hash);
      const auto& info = infos.at(t.xorb_hash);
      for (uint32_t c = t.chunk_start; c < t.chunk_end; ++c) {
        size_t used = 0;
        std::span<const uint8_t> rec(body.data() + info.chunks[c].record_start,
                                     info.chunks[c].record_end - info.chunks[c].record_start);
        EXPECT_TRUE(dec.DecodeRecord(rec, &used, &out).ok());
      }
    }
    return out;
  }

  std::mutex mu_;
  std::map<Hash, std::vector<uint8_t>> xorbs;
  std::map<Hash, XorbInfo> infos;
  Key key{};
  bool answer_queries = true;
  bool local_index = false;
  bool fail_puts = false;
  uint64_t max_body_seen_limit = kMaxXorbBodySize;
  int puts = 0;
  int queries = 0;
};

UploadedFile AddBytes(UploadSession* s, const std::vector<uint8_t>& data, size_t read = 100000) {
  size_t pos = 0;
  auto r = s->AddFile([&](std::span<uint8_t> buf) -> Result<size_t> {
    size_t n = std::min({buf.size(), read, data.size() - pos});
    std::copy(data.begin() + pos, data.begin() + pos + n, buf.begin());
    pos += n;
    return n;
  });
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : UploadedFile{};
}

TEST(UploadSessionTest, OneFileHashesLikeTheHasherAndRebuildsFromItsXorbs) {
  FakeCas cas;
  UploadSession s(&cas, {});
  auto data = RandomBytes(1, 3'000'000);
  UploadedFile up = AddBytes(&s, data);
  FileHasher h(true);
  h.Update(data);
  h.Finish();
  EXPECT_EQ(up.file_hash, h.file_hash());
  EXPECT_EQ(up.sha256, *h.sha256());
  EXPECT_EQ(up.size, data.size());
  EXPECT_EQ(up.chunks, h.num_chunks());
  EXPECT_EQ(up.new_chunks, up.chunks);
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok()) << shard.status();
  ASSERT_EQ(shard->files.size(), 1u);
  EXPECT_EQ(shard->files[0].file_hash, h.file_hash());
  EXPECT_EQ(*shard->files[0].sha256, Sha256AsHash(*h.sha256()));
  ASSERT_EQ(shard->files[0].verification.size(), shard->files[0].terms.size());
  EXPECT_EQ(cas.Reconstruct(shard->files[0]), data);
  // The shard survives its own parser, verification hashes included.
  auto parsed = ParseShard(SerializeShard(*shard));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->files, shard->files);
  // Every verification hash covers exactly its term's chunks.
  size_t chunk = 0;
  for (size_t t = 0; t < shard->files[0].terms.size(); ++t) {
    const ShardTerm& term = shard->files[0].terms[t];
    std::vector<Hash> hashes;
    for (uint32_t c = term.chunk_start; c < term.chunk_end; ++c, ++chunk) {
      hashes.push_back(h.chunks()[chunk].hash);
    }
    EXPECT_EQ(shard->files[0].verification[t], VerificationHash(hashes));
  }
  EXPECT_EQ(chunk, h.chunks().size());
}

TEST(UploadSessionTest, ReadBlockSizeDoesNotChangeTheResult) {
  auto data = RandomBytes(2, 700'000);
  Hash first;
  for (size_t block : {1u, 4096u, 65536u, 1u << 20}) {
    FakeCas cas;
    UploadOptions o;
    o.read_block = block;
    UploadSession s(&cas, o);
    UploadedFile up = AddBytes(&s, data, 7777);
    if (first.IsZero()) first = up.file_hash;
    EXPECT_EQ(up.file_hash, first) << block;
  }
}

TEST(UploadSessionTest, XorbsRespectChunkAndByteLimits) {
  FakeCas cas;
  UploadOptions o;
  o.xorb_max_chunks = 4;
  UploadSession s(&cas, o);
  auto data = RandomBytes(3, 2'000'000);
  AddBytes(&s, data);
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok());
  ASSERT_GT(shard->xorbs.size(), 4u);
  for (const auto& x : shard->xorbs) EXPECT_LE(x.chunks.size(), 4u);
  EXPECT_EQ(cas.Reconstruct(shard->files[0]), data);

  FakeCas cas2;
  UploadOptions o2;
  o2.xorb_max_bytes = 300'000;
  cas2.max_body_seen_limit = 300'000;
  UploadSession s2(&cas2, o2);
  AddBytes(&s2, data);
  auto shard2 = s2.Finish();
  ASSERT_TRUE(shard2.ok());
  EXPECT_GE(shard2->xorbs.size(), 7u);
  for (const auto& x : shard2->xorbs) EXPECT_LE(x.num_bytes_on_disk, 300'000u);
  EXPECT_EQ(cas2.Reconstruct(shard2->files[0]), data);
}

TEST(UploadSessionTest, RepeatedContentInOneSessionIsSentOnce) {
  FakeCas cas;
  UploadSession s(&cas, {});
  auto data = RandomBytes(4, 1'500'000);
  UploadedFile a = AddBytes(&s, data);
  UploadedFile b = AddBytes(&s, data);
  EXPECT_EQ(a.file_hash, b.file_hash);
  EXPECT_EQ(b.new_chunks, 0u);
  EXPECT_EQ(b.dedup_chunks, b.chunks);
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->files.size(), 1u);  // one block per distinct file
  uint64_t chunks = 0;
  for (const auto& x : shard->xorbs) chunks += x.chunks.size();
  EXPECT_EQ(chunks, a.chunks);
  EXPECT_EQ(s.stats().dedup_session_chunks, b.chunks);
}

TEST(UploadSessionTest, GlobalDedupAnswersWithAKeyAvoidReuploading) {
  FakeCas cas;
  cas.key.fill(0x5a);
  auto data = RandomBytes(5, 1'200'000);
  {
    UploadSession s(&cas, {});
    AddBytes(&s, data);
    ASSERT_TRUE(s.Finish().ok());
  }
  const int puts = cas.puts;
  UploadSession s(&cas, {});
  UploadedFile up = AddBytes(&s, data);
  EXPECT_EQ(up.new_chunks, 0u);
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(cas.puts, puts);
  EXPECT_TRUE(shard->xorbs.empty());
  EXPECT_GE(s.stats().dedup_queries, 1u);
  EXPECT_EQ(s.stats().dedup_global_chunks, up.chunks);
  EXPECT_EQ(cas.Reconstruct(shard->files[0]), data);
  // One term: the whole file continues through the answer's xorb.
  EXPECT_EQ(shard->files[0].terms.size(), 1u);
}

TEST(UploadSessionTest, NoQueriesWhenGlobalDedupIsOff) {
  FakeCas cas;
  UploadOptions o;
  o.global_dedup = false;
  UploadSession s(&cas, o);
  AddBytes(&s, RandomBytes(6, 500'000));
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_EQ(cas.queries, 0);
}

TEST(UploadSessionTest, AnEditInTheMiddleSendsOnlyNearbyChunks) {
  FakeCas cas;
  auto data = RandomBytes(7, 8'000'000);
  {
    UploadSession s(&cas, {});
    AddBytes(&s, data);
    ASSERT_TRUE(s.Finish().ok());
  }
  cas.local_index = true;
  auto edited = data;
  auto patch = RandomBytes(8, 100'000);
  std::copy(patch.begin(), patch.end(), edited.begin() + 4'000'000);
  UploadSession s(&cas, {});
  UploadedFile up = AddBytes(&s, edited);
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok());
  EXPECT_GT(up.new_bytes, 100'000u);
  EXPECT_LT(up.new_bytes, 100'000u + 4 * kMaxChunkSize);
  EXPECT_EQ(s.stats().new_bytes, up.new_bytes);
  EXPECT_EQ(cas.Reconstruct(shard->files[0]), edited);
}

TEST(UploadSessionTest, AnUploadErrorFailsFinishAndLaterFiles) {
  FakeCas cas;
  cas.fail_puts = true;
  UploadOptions o;
  o.xorb_max_chunks = 2;
  UploadSession s(&cas, o);
  auto data = RandomBytes(9, 2'000'000);
  (void)s.AddFile([&, pos = size_t{0}](std::span<uint8_t> buf) mutable -> Result<size_t> {
    size_t n = std::min(buf.size(), data.size() - pos);
    std::copy(data.begin() + pos, data.begin() + pos + n, buf.begin());
    pos += n;
    return n;
  });
  auto shard = s.Finish();
  ASSERT_FALSE(shard.ok());
  EXPECT_EQ(shard.status().code(), ErrorCode::kUnavailable);
}

TEST(UploadSessionTest, ReaderErrorsComeBack) {
  FakeCas cas;
  UploadSession s(&cas, {});
  auto r = s.AddFile([](std::span<uint8_t>) -> Result<size_t> { return IoError("disk gone"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIo);
}

TEST(UploadSessionTest, EmptyFileHasNoTermsAndNoShardBlock) {
  FakeCas cas;
  UploadSession s(&cas, {});
  UploadedFile up = AddBytes(&s, {});
  EXPECT_TRUE(up.file_hash.IsZero());
  EXPECT_EQ(up.size, 0u);
  EXPECT_EQ(HexLower(up.sha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto shard = s.Finish();
  ASSERT_TRUE(shard.ok());
  EXPECT_TRUE(shard->files.empty());
  EXPECT_TRUE(shard->xorbs.empty());
}

TEST(SerializeXorbRecordsTest, CompressesWhatShrinksAndStoresWhatDoesNot) {
  std::vector<uint8_t> data(200'000, 0);
  auto random = RandomBytes(10, 200'000);
  data.insert(data.end(), random.begin(), random.end());
  std::vector<XorbChunkInfo> chunks;
  for (size_t off = 0; off < data.size(); off += 50'000) {
    XorbChunkInfo c;
    c.length = 50'000;
    c.hash = ChunkHash(std::span<const uint8_t>(data).subspan(off, 50'000));
    chunks.push_back(c);
  }
  for (auto mode : {UploadCompression::kNone, UploadCompression::kAdaptive, UploadCompression::kBest}) {
    auto cs = chunks;
    std::string text;
    SerializeXorbRecords(data, cs, mode, &text);
    std::vector<uint8_t> body(text.begin(), text.end());
    auto parsed = ParseXorb(body);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_EQ(parsed->chunks.size(), cs.size());
    for (size_t i = 0; i < cs.size(); ++i) EXPECT_EQ(parsed->chunks[i].hash, cs[i].hash);
    if (mode == UploadCompression::kNone) {
      EXPECT_EQ(body.size(), data.size() + 8 * cs.size());
    } else {
      EXPECT_LT(body.size(), 200'000u + 10'000u + 8 * cs.size());  // the zeros shrank
    }
  }
}

}  // namespace
}  // namespace hubfs::chunkstore
