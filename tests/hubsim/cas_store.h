// The CAS side of hubsim's storage: xorbs, files (reconstruction terms), the
// SHA-256 → file index used by commits, and the global-dedup index.
// Persistent under DIR/cas/:
//   xorbs/<hh>/<hash>        the uploaded chunk records (a footer, if sent, is stripped)
//   xorbs/<hh>/<hash>.idx    binary index: "HSXI" u32 n, then n × {hash[32], u32 len, u32 end}
//   files/<hh>/<hash>.json   {"size","sha256","terms":[[xorb,start,end,unpacked],…]}
//   sha256/<hh>/<sha256>     "<file hash> <size>"
//   dedup/<hh>/<chunk hash>  "<xorb hash>"
// Everything uploaded is validated in full before anything is written, and
// uploads are never re-chunked.
#ifndef HUBFS_TESTS_HUBSIM_CAS_STORE_H_
#define HUBFS_TESTS_HUBSIM_CAS_STORE_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "chunkstore/shard.h"
#include "common/status.h"

namespace hubfs::hubsim {

struct StoredXorb {
  chunkstore::Hash hash;
  std::vector<chunkstore::Hash> chunk_hashes;
  chunkstore::XorbLayout layout;  // lengths and record ends
  uint64_t body_size() const { return layout.record_ends.empty() ? 0 : layout.record_ends.back(); }
};

struct StoredFile {
  chunkstore::Hash hash;
  uint64_t size = 0;
  std::string sha256;  // lowercase hex, may be empty
  std::vector<chunkstore::FileTerm> terms;
};

struct Sha256Target {
  std::string xet_hash;
  uint64_t size = 0;
};

// Thread-safe: caches behind one mutex; files are written atomically, and
// only content-addressed, so concurrent writers of one object agree.
class CasStore {
 public:
  CasStore(std::filesystem::path root, chunkstore::Key dedup_key);

  // Validates and stores a xorb body POSTed for `hash`. Returns whether it
  // was new. Errors: kCorrupt / kInvalidArgument (400) when malformed or the
  // hash differs; nothing is stored then.
  Result<bool> PutXorb(const chunkstore::Hash& hash, std::span<const uint8_t> body);
  // Validates a shard against stored xorbs (CAS blocks, terms, verification
  // hashes, file hash) and registers its files. Returns whether anything was
  // new; `sha256s` (optional) receives the SHA-256 of every file the shard
  // describes with one. Errors: 400 statuses; nothing is registered on error.
  Result<bool> PutShard(std::span<const uint8_t> bytes, int64_t now,
                        std::vector<std::string>* sha256s = nullptr);

  Result<std::shared_ptr<const StoredXorb>> GetXorb(const chunkstore::Hash& hash) const;
  Result<std::shared_ptr<const StoredFile>> GetFile(const chunkstore::Hash& hash) const;
  std::optional<Sha256Target> FindSha256(const std::string& sha256_hex) const;
  std::filesystem::path XorbPath(const chunkstore::Hash& hash) const;

  // The global-dedup answer for a chunk, or kNotFound.
  Result<std::vector<uint8_t>> DedupShard(const chunkstore::Hash& chunk_hash, int64_t now) const;
  // The CAS block of a stored xorb as a dedup answer lists it.
  chunkstore::ShardXorb DedupXorb(const StoredXorb& xorb) const;

  // Registers a file built locally (import): xorbs already stored.
  Status RegisterFile(const StoredFile& file);

  // Decodes bytes [begin, end) of a stored file (for plain downloads of Xet
  // files by clients without Xet). REQUIRES: end <= size.
  Status ReadFileRange(const StoredFile& file, uint64_t begin, uint64_t end,
                       std::string* out) const;

 private:
  std::filesystem::path ShardedPath(const char* kind, const std::string& name) const;
  Status WriteXorbIndex(const StoredXorb& x) const;
  // Records that `chunk` is in `xorb`; `companions` are the other xorbs of
  // the shard that registered it, returned with it (as the CAS returns the
  // shard that holds a chunk). An existing entry gains missing companions.
  Status IndexDedup(const chunkstore::Hash& chunk, const chunkstore::Hash& xorb,
                    const std::vector<chunkstore::Hash>& companions = {}) const;
  Status WriteFileRecord(const StoredFile& f) const;

  std::filesystem::path root_;
  chunkstore::Key dedup_key_;
  mutable std::mutex mu_;
  mutable std::map<chunkstore::Hash, std::shared_ptr<const StoredXorb>> xorbs_;  // GUARDED_BY(mu_)
  mutable std::map<chunkstore::Hash, std::shared_ptr<const StoredFile>> files_;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_CAS_STORE_H_
