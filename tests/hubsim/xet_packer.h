// Stores content the server received whole (import, classic LFS PUT) as a
// Xet file: chunks it with FileHasher, packs the chunks into xorbs with
// XorbBuilder (LZ4) and registers file, xorbs and the SHA-256 mapping exactly
// like a client upload would. (Client Xet uploads are never re-chunked; this
// is only for content that arrives unchunked.)
#ifndef HUBFS_TESTS_HUBSIM_XET_PACKER_H_
#define HUBFS_TESTS_HUBSIM_XET_PACKER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "tests/hubsim/repos.h"
#include "tests/hubsim/services.h"

namespace hubfs::hubsim {

// Reads bytes [off, off + len) of the content into *out (resized to len).
using ReadAtFn = std::function<Status(uint64_t off, size_t len, std::vector<uint8_t>* out)>;

// Returns the tree entry of an LFS file with this content (sha256, size,
// pointer oid, xet hash). Content already known by SHA-256 is not stored again.
Result<TreeEntry> StoreAsXetFile(Services& s, uint64_t size, const ReadAtFn& read_at);

}  // namespace hubfs::hubsim

#endif  // HUBFS_TESTS_HUBSIM_XET_PACKER_H_
