#include "fs/content/regular_file.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "chunkstore/hash.h"
#include "hub/url.h"

namespace hubfs::fs {
namespace {

bool IsGitOid(std::string_view oid) {
  return oid.size() == 40 && oid.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string What(const RegularFile& file) {
  return "read " + file.repo.ToString() + "@" + file.commit + "/" + file.path;
}

}  // namespace

RegularFileReader::RegularFileReader(hub::HubClient* hub, hub::HttpTransport* transport,
                                     hub::TokenProvider* tokens, chunkstore::ChunkCache* cache,
                                     uint64_t max_small_bytes, RegularFileHooks hooks)
    : hub_(hub),
      transport_(transport),
      tokens_(tokens),
      cache_(cache),
      max_small_bytes_(max_small_bytes),
      hooks_(std::move(hooks)) {}

Result<size_t> RegularFileReader::Read(const RegularFile& file, uint64_t offset,
                                       std::span<uint8_t> out) {
  if (offset >= file.size || out.empty()) return size_t{0};
  const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset));
  if (file.size > max_small_bytes_) {
    HUBFS_ASSIGN_OR_RETURN(std::vector<uint8_t> part, Fetch(file, offset, offset + n - 1));
    std::copy_n(part.data(), n, out.data());
    return n;
  }
  std::optional<std::vector<uint8_t>> whole;
  if (cache_ != nullptr && !file.oid.empty()) {
    auto cached = cache_->GetSmallFile(file.oid);
    if (cached.ok() && cached->has_value() && (*cached)->size() == file.size) {
      whole = std::move(**cached);
    }
  }
  if (!whole.has_value()) {
    HUBFS_ASSIGN_OR_RETURN(whole, Fetch(file, 0, file.size - 1));
    // A file stored in git is named by the SHA-1 of its content: a whole
    // fetch is checked against it before anything is served or cached.
    if (!file.lfs && IsGitOid(file.oid)) {
      std::string got = chunkstore::GitBlobId(*whole);
      if (got != file.oid) {
        return CorruptError(What(file) + ": content has git blob id " + got + ", the tree lists " +
                            file.oid);
      }
    }
    if (cache_ != nullptr && !file.oid.empty()) cache_->PutSmallFile(file.oid, *whole);
  }
  std::copy_n(whole->data() + offset, n, out.data());
  return n;
}

Result<std::vector<uint8_t>> RegularFileReader::Fetch(const RegularFile& file, uint64_t first,
                                                      uint64_t last) {
  const std::string what = What(file);
  if (hooks_.before_fetch) HUBFS_RETURN_IF_ERROR(hooks_.before_fetch(what));
  const uint64_t want = last - first + 1;
  hub::HttpRequest req;
  req.url = hub_->ResolveUrl(file.repo, file.commit, file.path);
  req.ranges.push_back(hub::ByteRange{first, last});
  req.max_redirects = 5;
  req.max_body_bytes = want + 1;  // one more, so that a longer body is a length error
  if (std::optional<std::string> token = tokens_->HubToken()) {
    req.auth = hub::BearerAuth{hub::OriginOf(hub_->endpoint()), *token};
  }
  Result<hub::HttpResponse> resp = transport_->Send(req);
  if (!resp.ok() && resp.status().code() == ErrorCode::kResourceExhausted) {
    // The body passed the limit above: the server ignored the Range or lies.
    return CorruptError(what + ": the answer is longer than the " + std::to_string(want) +
                        " bytes asked for (" + resp.status().message() + ")");
  }
  if (!resp.ok()) {
    if (hooks_.on_transport_error) hooks_.on_transport_error(resp.status());
    return resp.status().WithContext(what);
  }
  HUBFS_RETURN_IF_ERROR(hub::StatusFromResponse(*resp, what));
  // 206 with exactly the range; 200 only when the range is the whole file
  // (a server may ignore Range then).
  const bool whole_ok = resp->status == 200 && first == 0 && want == file.size;
  if (resp->status != 206 && !whole_ok) {
    return CorruptError(what + ": the server ignored the Range (HTTP " +
                        std::to_string(resp->status) + ")");
  }
  if (resp->body.size() != want) {
    return CorruptError(what + ": got " + std::to_string(resp->body.size()) +
                        " bytes, expected " + std::to_string(want));
  }
  return std::vector<uint8_t>(resp->body.begin(), resp->body.end());
}

}  // namespace hubfs::fs
