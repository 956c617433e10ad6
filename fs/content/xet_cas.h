// XetCas: what the reader needs from the Xet CAS (spec/xet.md §5.1–§5.3),
// and HttpXetCas, its implementation over hub's HttpTransport.
//
// The reader depends on the interface only, so unit tests can put an
// in-memory CAS below it and a CAS client from hub/ can replace HttpXetCas
// without touching the reader.
#ifndef HUBFS_FS_CONTENT_XET_CAS_H_
#define HUBFS_FS_CONTENT_XET_CAS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "common/status.h"
#include "hub/cas_client.h"
#include "hub/http.h"
#include "hub/hub_types.h"

namespace hubfs::fs {

// File bytes [start, end) (end exclusive).
struct FileByteRange {
  uint64_t start = 0;
  uint64_t end = 0;
};

class XetCas {
 public:
  virtual ~XetCas() = default;

  // The reconstruction of `file_hash` for `range` (the whole file when
  // nullopt): validated, URLs included. Thread-safe.
  // Errors: kNotFound (unknown file), kOutOfRange (416), kUnauthenticated /
  // kPermissionDenied (token), kUnavailable / kTimeout (network, offline),
  // kCorrupt (malformed answer), kResourceExhausted (answer too large).
  virtual Result<chunkstore::Reconstruction> GetReconstruction(
      const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) = 0;

  // GETs `url` with exactly `range` (as listed by a reconstruction) and
  // returns exactly range.end - range.start + 1 bytes. No credentials are
  // sent. Thread-safe.
  // Errors: kPermissionDenied with http_status() 403 (URL expired: get a new
  // reconstruction), kCorrupt (wrong length or Content-Range), network errors.
  virtual Result<std::vector<uint8_t>> FetchData(const std::string& url,
                                                 const chunkstore::ByteRangeInclusive& range) = 0;

  // FetchData into `out` (replacing what it held), reusing its capacity: a
  // caller that keeps buffers (fs/content/buffer_pool.h) writes the body
  // into memory touched before. On error `out` holds nothing meaningful.
  virtual Status FetchDataInto(const std::string& url, const chunkstore::ByteRangeInclusive& range,
                               std::vector<uint8_t>* out) {
    Result<std::vector<uint8_t>> body = FetchData(url, range);
    if (!body.ok()) return body.status();
    if (out->capacity() >= body->size()) {
      out->assign(body->begin(), body->end());  // keeps the caller's buffer
    } else {
      *out = std::move(body).value();
    }
    return Status::Ok();
  }
};

// Supplies a CAS token; `force_refresh` after the CAS answered 401.
// Thread-safe.
using CasTokenSource = std::function<Result<hub::XetToken>(bool force_refresh)>;

struct HttpXetCasOptions {
  // Bound on a reconstruction JSON body.
  uint64_t max_reconstruction_bytes = 64ull << 20;
  // Bound on one data range (a xorb body is at most 64 MiB).
  uint64_t max_data_bytes = (64ull << 20) + (1u << 20);
};

// The CAS over HTTP, through hub::CasClient: reconstructions from /v2/ (v1
// fallback on 404/501, one token refresh on 401) parsed and validated here;
// data GETs of exactly one listed range each, without credentials.
class HttpXetCas final : public XetCas {
 public:
  // `transport` must outlive this object; it should already retry.
  HttpXetCas(hub::HttpTransport* transport, CasTokenSource tokens, HttpXetCasOptions options = {});

  Result<chunkstore::Reconstruction> GetReconstruction(const chunkstore::Hash& file_hash,
                                                       std::optional<FileByteRange> range) override;
  Result<std::vector<uint8_t>> FetchData(const std::string& url,
                                         const chunkstore::ByteRangeInclusive& range) override;
  Status FetchDataInto(const std::string& url, const chunkstore::ByteRangeInclusive& range,
                       std::vector<uint8_t>* out) override;

 private:
  const CasTokenSource tokens_;
  const HttpXetCasOptions options_;
  hub::CasClient client_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_XET_CAS_H_
