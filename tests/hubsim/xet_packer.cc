#include "tests/hubsim/xet_packer.h"

#include "chunkstore/file_hasher.h"
#include "chunkstore/xorb.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

Result<TreeEntry> StoreAsXetFile(Services& s, uint64_t size, const ReadAtFn& read_at) {
  constexpr uint64_t kBlock = 4 << 20;
  chunkstore::FileHasher hasher(/*with_sha256=*/true);
  std::vector<uint8_t> buf;
  for (uint64_t off = 0; off < size; off += kBlock) {
    HUBFS_RETURN_IF_ERROR(read_at(off, static_cast<size_t>(std::min(kBlock, size - off)), &buf));
    hasher.Update(buf);
  }
  hasher.Finish();
  std::string sha = chunkstore::HexLower(*hasher.sha256());
  TreeEntry e;
  e.sha256 = sha;
  e.size = size;
  e.oid = GitBlobOid(LfsPointer(sha, size));
  if (auto known = s.cas->FindSha256(sha); known && known->size == size) {
    e.xet_hash = known->xet_hash;
    return e;
  }
  StoredFile file;
  file.hash = hasher.file_hash();
  file.size = size;
  file.sha256 = sha;
  chunkstore::XorbBuilder builder(chunkstore::CompressionPolicy::kLz4);
  auto flush = [&]() -> Status {
    if (builder.num_chunks() == 0) return Status::Ok();
    uint32_t n = static_cast<uint32_t>(builder.num_chunks());
    auto x = builder.Finish();
    HUBFS_RETURN_IF_ERROR(s.cas->PutXorb(x.info.hash, std::span<const uint8_t>(x.body)).status());
    chunkstore::FileTerm t;
    t.xorb = x.info.hash;
    t.range = {0, n};
    file.terms.push_back(t);
    return Status::Ok();
  };
  for (const auto& c : hasher.chunks()) {
    if (!builder.CanAdd(c.length)) HUBFS_RETURN_IF_ERROR(flush());
    HUBFS_RETURN_IF_ERROR(read_at(c.offset, c.length, &buf));
    HUBFS_RETURN_IF_ERROR(builder.Add(c.hash, buf));
  }
  HUBFS_RETURN_IF_ERROR(flush());
  HUBFS_RETURN_IF_ERROR(s.cas->RegisterFile(file));
  e.xet_hash = file.hash.ToString();
  return e;
}

}  // namespace hubfs::hubsim
