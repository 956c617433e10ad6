// UploadSession::AddEditedFile against hashing the whole new file from
// scratch (FileHasher, AddFile): the file hash, every chunk, the SHA-256, the
// midstates and the bytes the shard rebuilds must be identical, whatever the
// edit; and the file must be read only from near its first change.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "chunkstore/file_digest.h"
#include "chunkstore/file_hasher.h"
#include "chunkstore/sha256_state.h"
#include "chunkstore/shard.h"
#include "chunkstore/upload.h"
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

// A CAS in memory that keeps xorbs, can act as this machine's local index of
// them, and answers no dedup queries.
class MemoryCas : public UploadBackend {
 public:
  Status PutXorb(const XorbInfo& info, std::string text) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint8_t> body(text.begin(), text.end());
    auto parsed = ParseXorb(body);
    if (!parsed.ok()) return parsed.status();
    xorbs[info.hash] = std::move(body);
    infos[info.hash] = *parsed;
    for (size_t i = 0; i < info.chunks.size(); ++i) {
      index.emplace(info.chunks[i].hash, ChunkLocation{info.hash, static_cast<uint32_t>(i)});
    }
    return Status::Ok();
  }
  Result<std::optional<Shard>> QueryChunk(const Hash&) override { return std::optional<Shard>(); }
  std::optional<ChunkLocation> LookupLocal(const Hash& chunk_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!local_index) return std::nullopt;
    auto it = index.find(chunk_hash);
    if (it == index.end()) return std::nullopt;
    return it->second;
  }
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
  std::map<Hash, ChunkLocation> index;
  bool local_index = true;
};

constexpr uint64_t kMiB = 1 << 20;
// Midstates every 256 KiB (16 MiB in use) keep the files small.
constexpr uint64_t kInterval = 256 << 10;

UploadOptions Options() {
  UploadOptions o;
  o.midstate_interval = kInterval;
  o.read_block = 64 << 10;
  return o;
}

UploadedFile Upload(MemoryCas* cas, const std::vector<uint8_t>& data) {
  UploadSession s(cas, Options());
  size_t pos = 0;
  auto r = s.AddFile([&](std::span<uint8_t> buf) -> Result<size_t> {
    const size_t n = std::min(buf.size(), data.size() - pos);
    std::copy(data.begin() + pos, data.begin() + pos + n, buf.begin());
    pos += n;
    return n;
  });
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(s.Finish().ok());
  return r.ok() ? *r : UploadedFile{};
}

struct Edited {
  UploadedFile up;
  uint64_t first_read = UINT64_MAX;  // lowest offset read
  uint64_t bytes_read = 0;
  std::vector<uint8_t> rebuilt;      // from the shard and the CAS
};

Result<Edited> UploadEdit(MemoryCas* cas, const FileDigest& base, const std::vector<uint8_t>& data,
                          uint64_t changed_begin, uint64_t changed_end) {
  UploadSession s(cas, Options());
  Edited e;
  FileEdit edit{&base, data.size(), changed_begin, changed_end};
  HUBFS_ASSIGN_OR_RETURN(
      e.up, s.AddEditedFile(edit, [&](uint64_t offset, std::span<uint8_t> buf) -> Result<size_t> {
        if (offset >= data.size()) return size_t{0};
        const size_t n = std::min<uint64_t>(buf.size(), data.size() - offset);
        std::copy(data.begin() + offset, data.begin() + offset + n, buf.begin());
        e.first_read = std::min(e.first_read, offset);
        e.bytes_read += n;
        return n;
      }));
  HUBFS_ASSIGN_OR_RETURN(Shard shard, s.Finish());
  for (const ShardFile& f : shard.files) {
    if (f.file_hash == e.up.file_hash) e.rebuilt = cas->Reconstruct(f);
  }
  return e;
}

// Hashing `data` from scratch: what the edited upload must equal.
void ExpectLikeFromScratch(const Edited& e, const std::vector<uint8_t>& data,
                           const std::string& what) {
  SCOPED_TRACE(what);
  FileHasher h(true);
  h.Update(data);
  h.Finish();
  EXPECT_EQ(e.up.file_hash, h.file_hash());
  EXPECT_EQ(e.up.sha256, *h.sha256());
  EXPECT_EQ(e.up.size, data.size());
  EXPECT_EQ(e.up.chunks, h.num_chunks());
  ASSERT_TRUE(e.up.digest != nullptr);
  ASSERT_EQ(e.up.digest->chunks.size(), h.chunks().size());
  for (size_t i = 0; i < h.chunks().size(); ++i) {
    ASSERT_EQ(e.up.digest->chunks[i].hash, h.chunks()[i].hash) << "chunk " << i;
    ASSERT_EQ(e.up.digest->chunks[i].length, h.chunks()[i].length) << "chunk " << i;
  }
  EXPECT_EQ(e.rebuilt, data);
  // The digest it leaves is the one a from-scratch upload leaves (midstates
  // included), so a later edit of this file starts from true states.
  MemoryCas scratch_cas;
  UploadedFile scratch = Upload(&scratch_cas, data);
  ASSERT_TRUE(scratch.digest != nullptr);
  EXPECT_EQ(*e.up.digest, *scratch.digest);
}


class EditedUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = RandomBytes(11, 3 * kMiB + 12345);
    UploadedFile up = Upload(&cas_, base_);
    ASSERT_TRUE(up.digest != nullptr);
    digest_ = *up.digest;
    ASSERT_TRUE(CheckFileDigest(digest_, up.file_hash, base_.size()).ok());
    ASSERT_EQ(digest_.midstates.size(), 12u);  // every 256 KiB
  }
  // Overwrites [offset, offset + n) with fresh bytes.
  std::vector<uint8_t> Overwrite(uint64_t offset, size_t n, uint64_t seed) {
    std::vector<uint8_t> out = base_;
    auto patch = RandomBytes(seed, n);
    std::copy(patch.begin(), patch.end(), out.begin() + offset);
    return out;
  }
  uint64_t BaseBoundaryNear(uint64_t offset) {
    uint64_t at = 0;
    for (const DigestChunk& c : digest_.chunks) {
      at += c.length;
      if (at >= offset) return at;
    }
    return at;
  }

  MemoryCas cas_;
  std::vector<uint8_t> base_;
  FileDigest digest_;
};

TEST_F(EditedUploadTest, OverwritesAnywhereHashLikeTheWholeFile) {
  const uint64_t size = base_.size();
  const uint64_t boundary = BaseBoundaryNear(size / 2 + kMiB);
  struct Case {
    const char* what;
    uint64_t offset;
    size_t n;
  };
  const Case cases[] = {
      {"start", 0, 1000},
      {"middle, 256 KiB", size / 2, kInterval},
      {"end", size - 500, 500},
      {"last byte", size - 1, 1},
      {"across a chunk boundary", boundary - 10, 20},
      {"one byte before a chunk boundary", boundary - 1, 1},
      {"one byte at a chunk boundary", boundary, 1},
      {"at a midstate", 4 * kInterval, 100},
      {"just before a midstate", 4 * kInterval - 1, 2},
      {"inside the first chunk", 100, 10},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    std::vector<uint8_t> edited = Overwrite(c.offset, c.n, ++seed);
    auto e = UploadEdit(&cas_, digest_, edited, c.offset, c.offset + c.n);
    ASSERT_TRUE(e.ok()) << c.what << ": " << e.status();
    ExpectLikeFromScratch(*e, edited, c.what);
    // Nothing is read before the last midstate before the chunk the
    // change falls in.
    const uint64_t chunk_start_bound = c.offset > kMaxChunkSize ? c.offset - kMaxChunkSize : 0;
    EXPECT_GE(e->first_read, chunk_start_bound / kInterval * kInterval) << c.what;
    EXPECT_LE(e->bytes_read, size - e->first_read) << c.what;
    // Only chunks near the change are new.
    EXPECT_LT(e->up.new_bytes, c.n + 4 * kMaxChunkSize) << c.what;
  }
}

TEST_F(EditedUploadTest, AMiddleEditReadsOnlyFromItsMidstateOn) {
  const uint64_t offset = 6 * kInterval + kInterval / 2;
  std::vector<uint8_t> edited = Overwrite(offset, 1000, 7);
  auto e = UploadEdit(&cas_, digest_, edited, offset, offset + 1000);
  ASSERT_TRUE(e.ok()) << e.status();
  ExpectLikeFromScratch(*e, edited, "middle");
  // From the last midstate before the chunk the edit falls in.
  uint64_t chunk_start = 0;
  for (const DigestChunk& c : digest_.chunks) {
    if (chunk_start + c.length > offset) break;
    chunk_start += c.length;
  }
  EXPECT_EQ(e->first_read, chunk_start / kInterval * kInterval);
  EXPECT_EQ(e->bytes_read, edited.size() - e->first_read);
}

TEST_F(EditedUploadTest, GrowingAndShrinkingHashLikeTheWholeFile) {
  const uint64_t size = base_.size();
  {
    std::vector<uint8_t> grown = base_;
    auto tail = RandomBytes(21, 300'000);  // past the last midstate
    grown.insert(grown.end(), tail.begin(), tail.end());
    auto e = UploadEdit(&cas_, digest_, grown, size, grown.size());
    ASSERT_TRUE(e.ok()) << e.status();
    ExpectLikeFromScratch(*e, grown, "appended");
  }
  {
    // An insertion moves the tail: everything from it on is changed.
    std::vector<uint8_t> inserted = base_;
    auto middle = RandomBytes(22, 5000);
    inserted.insert(inserted.begin() + 5 * kInterval + 7, middle.begin(), middle.end());
    auto e = UploadEdit(&cas_, digest_, inserted, 5 * kInterval + 7, inserted.size());
    ASSERT_TRUE(e.ok()) << e.status();
    ExpectLikeFromScratch(*e, inserted, "inserted");
  }
  for (uint64_t new_size : {size - 1, size - 100'000, 4 * kInterval, uint64_t{5000}}) {
    std::vector<uint8_t> shrunk(base_.begin(), base_.begin() + new_size);
    auto e = UploadEdit(&cas_, digest_, shrunk, new_size, new_size);
    ASSERT_TRUE(e.ok()) << e.status();
    ExpectLikeFromScratch(*e, shrunk, "truncated to " + std::to_string(new_size));
  }
  {
    // Truncated to a base chunk boundary: its last chunk is the base's.
    const uint64_t boundary = BaseBoundaryNear(size / 3);
    std::vector<uint8_t> shrunk(base_.begin(), base_.begin() + boundary);
    auto e = UploadEdit(&cas_, digest_, shrunk, boundary, boundary);
    ASSERT_TRUE(e.ok()) << e.status();
    ExpectLikeFromScratch(*e, shrunk, "truncated at a chunk boundary");
  }
}

TEST_F(EditedUploadTest, AnEditThatChangesNothingGivesTheBase) {
  // Nothing changed, or a range rewritten with the same bytes.
  for (auto [b, e] : {std::pair<uint64_t, uint64_t>{base_.size(), base_.size()},
                      std::pair<uint64_t, uint64_t>{kMiB, 2 * kMiB}}) {
    auto up = UploadEdit(&cas_, digest_, base_, b, e);
    ASSERT_TRUE(up.ok()) << up.status();
    ExpectLikeFromScratch(*up, base_, "unchanged from " + std::to_string(b));
    EXPECT_EQ(up->up.new_bytes, 0u);
  }
}

TEST_F(EditedUploadTest, ChunksTheCasIsNotKnownToHoldAreReadAndHashed) {
  cas_.local_index = false;
  std::vector<uint8_t> edited = Overwrite(base_.size() / 2, 4096, 31);
  auto e = UploadEdit(&cas_, digest_, edited, base_.size() / 2, base_.size() / 2 + 4096);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->first_read, 0u);
  ExpectLikeFromScratch(*e, edited, "no local index");
}

TEST_F(EditedUploadTest, AFileShorterThanItsSizeIsRefused) {
  std::vector<uint8_t> edited = Overwrite(kMiB, 10, 41);
  UploadSession s(&cas_, Options());
  FileEdit edit{&digest_, edited.size(), kMiB, kMiB + 10};
  auto r = s.AddEditedFile(edit, [&](uint64_t offset, std::span<uint8_t> buf) -> Result<size_t> {
    const uint64_t end = edited.size() - 1000;  // ends early
    if (offset >= end) return size_t{0};
    const size_t n = std::min<uint64_t>(buf.size(), end - offset);
    std::copy(edited.begin() + offset, edited.begin() + offset + n, buf.begin());
    return n;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
}

TEST(FileDigestTest, EncodesAndChecksAgainstTheFileHash) {
  MemoryCas cas;
  auto data = RandomBytes(3, kMiB + 5);
  UploadedFile up = Upload(&cas, data);
  ASSERT_TRUE(up.digest != nullptr);
  const FileDigest& d = *up.digest;
  ASSERT_EQ(d.midstates.size(), 4u);
  EXPECT_EQ(d.midstates[0].offset, kInterval);
  auto decoded = DecodeFileDigest(EncodeFileDigest(d));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, d);
  EXPECT_TRUE(CheckFileDigest(d, up.file_hash, data.size()).ok());
  EXPECT_FALSE(CheckFileDigest(d, up.file_hash, data.size() + 1).ok());
  EXPECT_FALSE(CheckFileDigest(d, Hash{}, data.size()).ok());
  FileDigest bad = d;
  bad.chunks[3].hash.bytes[0] ^= 1;
  EXPECT_EQ(CheckFileDigest(bad, up.file_hash, data.size()).code(), ErrorCode::kCorrupt);
  bad = d;
  std::swap(bad.chunks[1], bad.chunks[2]);
  EXPECT_EQ(CheckFileDigest(bad, up.file_hash, data.size()).code(), ErrorCode::kCorrupt);
  bad = d;
  bad.midstates[0].offset += 1;
  EXPECT_EQ(CheckFileDigest(bad, up.file_hash, data.size()).code(), ErrorCode::kCorrupt);
  auto bytes = EncodeFileDigest(d);
  bytes.pop_back();
  EXPECT_EQ(DecodeFileDigest(bytes).status().code(), ErrorCode::kCorrupt);
}

TEST(ResumableSha256Test, ResumingAtAMidstateGivesTheWholeDigest) {
  auto data = RandomBytes(5, 3 * 4096 + 77);
  ResumableSha256 whole;
  whole.RecordEvery(4096);
  // Uneven pieces: states are still taken exactly at multiples of 4096.
  for (size_t at = 0; at < data.size(); at += 1000) {
    whole.Update(std::span<const uint8_t>(data).subspan(at, std::min<size_t>(1000, data.size() - at)));
  }
  ASSERT_EQ(whole.midstates().size(), 3u);
  const auto digest = whole.Finalize();
  EXPECT_EQ(digest, Sha256Digest(data));
  for (const Sha256Midstate& m : whole.midstates()) {
    ResumableSha256 resumed;
    resumed.Resume(m);
    resumed.Update(std::span<const uint8_t>(data).subspan(m.offset));
    EXPECT_EQ(resumed.Finalize(), digest) << m.offset;
  }
}

}  // namespace
}  // namespace hubfs::chunkstore
