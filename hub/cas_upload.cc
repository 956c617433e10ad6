#include "hub/cas_upload.h"

#include <nlohmann/json.hpp>

#include "hub/repo_id.h"
#include "hub/url.h"

namespace hubfs::hub {

CasWriter::CasWriter(HttpTransport* transport, CasWriterOptions options)
    : transport_(transport), options_(options) {}

Result<HttpResponse> CasWriter::SendWithToken(const XetTokenSupplier& tokens, HttpRequest request,
                                              const std::string& path,
                                              const std::string& context) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<XetToken> token = tokens(/*force_refresh=*/attempt > 0);
    if (!token.ok()) return token.status().WithContext(context);
    request.url = token->cas_url + path;
    request.auth = BearerAuth{OriginOf(token->cas_url), token->access_token};
    Result<HttpResponse> resp = transport_->Send(request);
    if (!resp.ok()) return resp.status().WithContext(context);
    if (resp->status == 401 && attempt == 0) continue;
    return resp;
  }
  return InternalError(context + ": unreachable");
}

namespace {

// {"was_inserted": bool} (xorbs) or {"result": 0|1} (shards v1). An answer
// without either still means success (any 2xx).
bool InsertedFrom(std::string_view body, const char* field) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains(field)) return true;
  const auto& v = j[field];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  return true;
}

}  // namespace

Result<bool> CasWriter::UploadXorb(const XetTokenSupplier& tokens, std::string_view xorb_hash,
                                   std::string body) {
  std::string context = "upload xorb " + std::string(xorb_hash.substr(0, 64));
  if (!IsHex64(xorb_hash)) return InvalidArgumentError(context + ": not a 64-hex hash");
  HttpRequest req;
  req.method = "POST";
  req.headers.Add("Content-Type", "application/octet-stream");
  req.body = std::move(body);
  req.stall_timeout = options_.upload_stall_timeout;
  req.max_body_bytes = 1u << 20;
  HUBFS_ASSIGN_OR_RETURN(
      HttpResponse resp,
      SendWithToken(tokens, std::move(req), "/v1/xorbs/default/" + std::string(xorb_hash), context));
  HUBFS_RETURN_IF_ERROR(StatusFromResponse(resp, context));
  return InsertedFrom(resp.body, "was_inserted");
}

Result<bool> CasWriter::UploadShard(const XetTokenSupplier& tokens, std::string body) {
  std::string context = "upload shard of " + std::to_string(body.size()) + " bytes";
  HttpRequest req;
  req.method = "POST";
  req.headers.Add("Content-Type", "application/octet-stream");
  req.body = std::move(body);
  req.stall_timeout = options_.upload_stall_timeout;
  req.max_body_bytes = 1u << 20;
  HUBFS_ASSIGN_OR_RETURN(HttpResponse resp,
                         SendWithToken(tokens, std::move(req), "/v1/shards", context));
  HUBFS_RETURN_IF_ERROR(StatusFromResponse(resp, context));
  return InsertedFrom(resp.body, "result");
}

Result<std::optional<std::string>> CasWriter::QueryChunk(const XetTokenSupplier& tokens,
                                                         std::string_view chunk_hash) {
  std::string context = "global dedup query " + std::string(chunk_hash.substr(0, 64));
  if (!IsHex64(chunk_hash)) return InvalidArgumentError(context + ": not a 64-hex hash");
  HttpRequest req;
  req.max_body_bytes = options_.max_dedup_answer_bytes;
  HUBFS_ASSIGN_OR_RETURN(
      HttpResponse resp,
      SendWithToken(tokens, std::move(req), "/v1/chunks/default/" + std::string(chunk_hash),
                    context));
  if (resp.status == 404) return std::optional<std::string>();
  HUBFS_RETURN_IF_ERROR(StatusFromResponse(resp, context));
  return std::optional<std::string>(std::move(resp.body));
}

}  // namespace hubfs::hub
