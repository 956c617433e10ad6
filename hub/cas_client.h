// CasClient: the Xet CAS calls of the read path (xet.md §5): reconstruction
// plans (v2 with a v1 fallback), returned as raw JSON for the layer that
// parses them, and data fetches of exactly the byte ranges a plan lists.
// The CAS token goes only to the CAS origin; presigned data URLs get no
// Authorization at all.
#ifndef HUBFS_HUB_CAS_CLIENT_H_
#define HUBFS_HUB_CAS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hub/http.h"
#include "hub/hub_types.h"

namespace hubfs::hub {

// Returns a CAS token; `force_refresh` after the CAS answered 401
// (HubClient::XetReadToken fits). Must be thread-safe.
using XetTokenSupplier = std::function<Result<XetToken>(bool force_refresh)>;

struct CasClientOptions {
  uint64_t max_reconstruction_bytes = 64u << 20;
  // Bound on the bytes of one data request (sum of its ranges).
  uint64_t max_fetch_bytes = 512u << 20;
  size_t max_ranges_per_request = 1024;
};

struct ReconstructionAnswer {
  int version = 2;   // 2, or 1 after the fallback
  std::string json;  // the body as received (bounded), not parsed here
};

class CasClient {
 public:
  // `transport` must outlive the client.
  explicit CasClient(HttpTransport* transport, CasClientOptions options = {});

  // GET {casUrl}/v2/reconstructions/{file_hash} (Range: bytes=first-last when
  // `range` is set), falling back to /v1/ when v2 answers 404 or 501. A 401
  // fetches a fresh token once and tries again. Thread-safe.
  // Errors: kInvalidArgument (hash not 64 hex), kOutOfRange (416: range
  // starts at or past the end), kNotFound, kUnauthenticated (still 401
  // after the refresh), transport errors, and the supplier's errors.
  Result<ReconstructionAnswer> GetReconstruction(const XetTokenSupplier& tokens,
                                                 std::string_view file_hash,
                                                 std::optional<ByteRange> range);

  // GET `url` with exactly `ranges` (inclusive, as listed by the plan, in
  // order, non-overlapping) and returns one buffer per range, in the same
  // order. One range: a 206 whose Content-Range matches (or a 200 whose body
  // has exactly the range's length). Several: a 206 multipart/byteranges
  // whose parts' Content-Ranges are exactly the requested ranges. Thread-safe.
  // Errors: kCorrupt (any mismatch in ranges or lengths, malformed
  // multipart), kPermissionDenied (403: URL expired, get a new plan),
  // kInvalidArgument (no ranges, too many, overlapping), transport errors.
  Result<std::vector<std::string>> FetchRanges(const std::string& url,
                                               const std::vector<ByteRange>& ranges);

  // One range streamed to `sink`. The length and Content-Range are checked
  // when the transfer ends: on any error, bytes already given to the sink
  // must be discarded by the caller. Errors as FetchRanges.
  Status FetchRangeTo(const std::string& url, ByteRange range, const BodySink& sink);

 private:
  HttpTransport* const transport_;
  const CasClientOptions options_;
};

// Splits a multipart/byteranges body into one buffer per requested range
// (xet.md §5.3). Every part must carry a Content-Range equal to one requested
// range, each range exactly once, each part's data exactly that long.
// Errors: kCorrupt.
Result<std::vector<std::string>> ParseMultipartByteranges(std::string_view content_type,
                                                          std::string_view body,
                                                          const std::vector<ByteRange>& ranges);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_CAS_CLIENT_H_
