#include <string_view>
#include <utility>

#include "fs/content/xet_cas.h"
#include "hub/url.h"

namespace hubfs::fs {

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
  const std::string what = "fetch " + hub::UrlForLog(url) + " bytes " +
                           std::to_string(range.start) + "-" + std::to_string(range.end);
  if (range.end < range.start) return InvalidArgumentError(what + ": bad range");
  const uint64_t want = range.end - range.start + 1;
  if (want > options_.max_data_bytes) return ResourceExhaustedError(what + ": range too large");
  std::vector<uint8_t> out;
  out.reserve(want);
  Status st = client_.FetchRangeTo(url, hub::ByteRange{range.start, range.end},
                                   [&out, want](std::string_view piece) -> Status {
                                     if (piece.size() > want - out.size()) {
                                       return CorruptError("data answer longer than the range");
                                     }
                                     // As bytes: inserting chars into a byte vector
                                     // converts them one at a time.
                                     const auto* p = reinterpret_cast<const uint8_t*>(piece.data());
                                     out.insert(out.end(), p, p + piece.size());
                                     return Status::Ok();
                                   });
  if (!st.ok()) return st.WithContext(what);
  if (out.size() != want) {
    return CorruptError(what + ": got " + std::to_string(out.size()) + " bytes, expected " +
                        std::to_string(want));
  }
  return out;
}

}  // namespace hubfs::fs
