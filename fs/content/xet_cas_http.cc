#include <string_view>
#include <utility>

#include "common/log.h"
#include "fs/content/xet_cas.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

// Fetches of one data range again after bodies cut short.
constexpr int kMaxRefetches = 8;

}  // namespace

HttpXetCas::HttpXetCas(hub::HttpTransport* transport, CasTokenSource tokens,
                       HttpXetCasOptions options)
    : tokens_(std::move(tokens)),
      options_(options),
      client_(transport, hub::CasClientOptions{options.max_reconstruction_bytes,
                                               options.max_data_bytes, 1}) {}

Result<chunkstore::Reconstruction> HttpXetCas::GetReconstruction(
    const chunkstore::Hash& file_hash, std::optional<FileByteRange> range) {
  const std::string hash = file_hash.ToString();
  const std::string what = "reconstruction of " + hash;
  std::optional<hub::ByteRange> http_range;
  if (range.has_value()) {
    if (range->end <= range->start) return InvalidArgumentError(what + ": empty range");
    http_range = hub::ByteRange{range->start, range->end - 1};
  }
  Result<hub::ReconstructionAnswer> answer = client_.GetReconstruction(tokens_, hash, http_range);
  if (!answer.ok()) return answer.status().WithContext(what);
  Result<chunkstore::Reconstruction> recon =
      chunkstore::ParseReconstructionJson(answer->json, answer->version);
  if (!recon.ok()) return recon.status().WithContext(what);
  Status valid = chunkstore::ValidateReconstruction(*recon);
  if (!valid.ok()) return valid.WithContext(what);
  return recon;
}

Result<std::vector<uint8_t>> HttpXetCas::FetchData(const std::string& url,
                                                   const chunkstore::ByteRangeInclusive& range) {
  std::vector<uint8_t> out;
  HUBFS_RETURN_IF_ERROR(FetchDataInto(url, range, &out));
  return out;
}

Status HttpXetCas::FetchDataInto(const std::string& url,
                                 const chunkstore::ByteRangeInclusive& range,
                                 std::vector<uint8_t>* body) {
  const std::string what = "fetch " + hub::UrlForLog(url) + " bytes " +
                           std::to_string(range.start) + "-" + std::to_string(range.end);
  if (range.end < range.start) return InvalidArgumentError(what + ": bad range");
  const uint64_t want = range.end - range.start + 1;
  if (want > options_.max_data_bytes) return ResourceExhaustedError(what + ": range too large");
  std::vector<uint8_t>& out = *body;
  out.clear();
  out.reserve(want);
  auto sink = [&out, want](std::string_view piece) -> Status {
    if (piece.size() > want - out.size()) {
      return CorruptError("data answer longer than the range");
    }
    // As bytes: inserting chars into a byte vector converts them one at a time.
    const auto* p = reinterpret_cast<const uint8_t*>(piece.data());
    out.insert(out.end(), p, p + piece.size());
    return Status::Ok();
  };
  // A body cut short after some bytes is not retried by the transport (its
  // sink has them). The signed URL allows only the listed range, never the
  // rest of it (spec/xet.md 5.3): fetch the whole range again, a bounded
  // number of times; the operation's deadline bounds each fetch's retries.
  for (int refetches = 0;; ++refetches) {
    out.clear();
    Status st = client_.FetchRangeTo(url, hub::ByteRange{range.start, range.end}, sink);
    if (st.ok()) break;
    const bool transient =
        st.code() == ErrorCode::kUnavailable || st.code() == ErrorCode::kTimeout;
    if (!transient || out.empty() || refetches >= kMaxRefetches) return st.WithContext(what);
    HUBFS_LOG(kInfo) << what << ": " << st.message() << " after " << out.size()
                     << " bytes; fetching the range again";
  }
  if (out.size() != want) {
    return CorruptError(what + ": got " + std::to_string(out.size()) + " bytes, expected " +
                        std::to_string(want));
  }
  return Status::Ok();
}

}  // namespace hubfs::fs
