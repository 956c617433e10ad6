// CasWriter: the CAS calls of the write path (xet.md §5.4–§5.6): xorb and
// shard uploads with a write token, and global-dedup queries. Bodies stay
// opaque bytes here; chunkstore/ builds and parses them. The CAS token goes
// only to the CAS origin. A 401 fetches a fresh token once and tries again.
#ifndef HUBFS_HUB_CAS_UPLOAD_H_
#define HUBFS_HUB_CAS_UPLOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hub/cas_client.h"
#include "hub/http.h"

namespace hubfs::hub {

struct CasWriterOptions {
  // Stall timeout of an upload (no byte moving); uploads have no total bound.
  std::chrono::milliseconds upload_stall_timeout{60'000};
  uint64_t max_dedup_answer_bytes = 64u << 20;
};

class CasWriter {
 public:
  // `transport` must outlive the writer. Thread-safe.
  explicit CasWriter(HttpTransport* transport, CasWriterOptions options = {});

  // POST {cas}/v1/xorbs/default/{hash}. Returns whether the CAS inserted it
  // (false: it already had it — not an error). Idempotent (content-addressed),
  // so the transport may retry it. Errors: kInvalidArgument (400: the CAS
  // refused the body), kUnauthenticated/kPermissionDenied, transport errors.
  Result<bool> UploadXorb(const XetTokenSupplier& tokens, std::string_view xorb_hash,
                          std::string body);

  // POST {cas}/v1/shards. Returns whether it was newly registered. Idempotent.
  // Errors as UploadXorb (400 also for a shard naming a missing xorb).
  Result<bool> UploadShard(const XetTokenSupplier& tokens, std::string body);

  // GET {cas}/v1/chunks/default/{hash}: the dedup shard's bytes, or nullopt
  // on 404 (nothing known). Errors: transport and auth errors.
  Result<std::optional<std::string>> QueryChunk(const XetTokenSupplier& tokens,
                                                std::string_view chunk_hash);

 private:
  // Sends `request` with the CAS token (refreshed once after a 401).
  Result<HttpResponse> SendWithToken(const XetTokenSupplier& tokens, HttpRequest request,
                                     const std::string& path, const std::string& context);

  HttpTransport* const transport_;
  const CasWriterOptions options_;
};

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_CAS_UPLOAD_H_
