// RegularFileReader: the content of files stored in git (and of legacy LFS
// files without Xet), read through `resolve` with Range (design §3 step 5).
// HubRepoSource reads with it (without a cache: CachingRepoSource above it
// keeps small files, for the commands and the mounts alike):
//   - files up to `max_small_bytes` are fetched whole, checked against their
//     git blob id when stored in git, and cached by git oid when `cache`;
//   - larger ones are read range by range and checked for length only.
// Every answer must be exactly the requested bytes (206, or 200 for a range
// that is the whole file).
//
// Thread-safety: Read() is thread-safe; no lock is held across I/O.
#ifndef HUBFS_FS_CONTENT_REGULAR_FILE_H_
#define HUBFS_FS_CONTENT_REGULAR_FILE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "common/status.h"
#include "hub/http.h"
#include "hub/hub_client.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::fs {

struct RegularFile {
  hub::RepoId repo;
  std::string commit;
  std::string path;
  std::string oid;   // git blob id (of the LFS pointer when `lfs`)
  uint64_t size = 0;
  bool lfs = false;  // content is not the blob named by `oid`
};

struct RegularFileHooks {
  // Asked before any request with what is being read ("read org/m@sha/f");
  // an error is returned instead of fetching (e.g. offline mode).
  std::function<Status(std::string_view what)> before_fetch;
  // Told of every transport failure (e.g. to switch to offline).
  std::function<void(const Status&)> on_transport_error;
};

class RegularFileReader {
 public:
  // Everything must outlive the reader; `cache` may be nullptr.
  RegularFileReader(hub::HubClient* hub, hub::HttpTransport* transport,
                    hub::TokenProvider* tokens, chunkstore::ChunkCache* cache,
                    uint64_t max_small_bytes, RegularFileHooks hooks = {});

  // Reads up to out.size() bytes at `offset`; returns the count (short only
  // at the end, 0 at or past it). Errors: kCorrupt (wrong length, ignored
  // Range, content not matching the git blob id: nothing is cached), the
  // Hub's and the transport's errors, before_fetch's error.
  Result<size_t> Read(const RegularFile& file, uint64_t offset, std::span<uint8_t> out);

 private:
  Result<std::vector<uint8_t>> Fetch(const RegularFile& file, uint64_t first, uint64_t last);

  hub::HubClient* const hub_;
  hub::HttpTransport* const transport_;
  hub::TokenProvider* const tokens_;
  chunkstore::ChunkCache* const cache_;
  const uint64_t max_small_bytes_;
  const RegularFileHooks hooks_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_REGULAR_FILE_H_
