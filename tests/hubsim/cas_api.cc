#include "tests/hubsim/cas_api.h"

#include <cstdio>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "chunkstore/reconstruction.h"
#include "tests/hubsim/http_util.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

using chunkstore::Hash;
using nlohmann::json;

namespace {

constexpr size_t kIoBlock = 1 << 20;

// An open file shared by a response's content provider; closed when the
// response is destroyed.
struct OpenFile {
  int fd = -1;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes file bytes [off, off + len) to the sink, at most kIoBlock per call.
bool WriteFileSlice(int fd, uint64_t off, uint64_t len, httplib::DataSink& sink) {
  thread_local std::unique_ptr<char[]> buf(new char[kIoBlock]);
  size_t n = static_cast<size_t>(std::min<uint64_t>(len, kIoBlock));
  ssize_t got = ::pread(fd, buf.get(), n, static_cast<off_t>(off));
  if (got <= 0) return false;
  return sink.write(buf.get(), static_cast<size_t>(got));
}

// One piece of a response body: literal text or a file slice.
struct Piece {
  std::string text;
  uint64_t file_off = 0, file_len = 0;
  uint64_t size() const { return text.empty() ? file_len : text.size(); }
};

// Serves `pieces` (in order) through a content provider.
void ServePieces(httplib::Response& res, std::shared_ptr<OpenFile> file,
                 std::shared_ptr<std::vector<Piece>> pieces, const std::string& type) {
  uint64_t total = 0;
  for (const auto& p : *pieces) total += p.size();
  if (total == 0) {
    res.set_content("", type);
    return;
  }
  res.set_content_provider(
      total, type, [file, pieces](size_t offset, size_t /*length*/, httplib::DataSink& sink) {
        uint64_t pos = 0;
        for (const Piece& p : *pieces) {
          uint64_t sz = p.size();
          if (offset < pos + sz) {
            uint64_t in = offset - pos;
            if (!p.text.empty()) return sink.write(p.text.data() + in, p.text.size() - in);
            return WriteFileSlice(file->fd, p.file_off + in, p.file_len - in, sink);
          }
          pos += sz;
        }
        return false;
      });
}

Status CheckToken(Services& s, const httplib::Request& req, Scope need,
                  XetTokenClaims* out = nullptr) {
  std::string token = BearerToken(req);
  if (token.empty()) return Status(ErrorCode::kUnauthenticated, "missing Xet token").WithHttp(401);
  auto claims = s.signer->VerifyXetToken(token, s.now());
  if (!claims.ok()) return claims.status().WithHttp(401);
  if (need == Scope::kWrite && claims->scope != Scope::kWrite)
    return Status(ErrorCode::kPermissionDenied, "token lacks write scope").WithHttp(403);
  if (out) *out = *claims;
  return Status::Ok();
}

// The repo a Xet token was issued for ("model/ns/name" in its claims).
std::optional<RepoKey> TokenRepo(const XetTokenClaims& claims) {
  size_t slash = claims.repo.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto type = ParseRepoType(std::string_view(claims.repo).substr(0, slash));
  if (!type) return std::nullopt;
  return RepoKey{*type, claims.repo.substr(slash + 1)};
}

}  // namespace

std::string CasApi::RouteClass(const httplib::Request& req) {
  auto seg = RawSegments(req);
  if (seg.size() >= 2 && seg[1] == "reconstructions") return "reconstruction";
  if (seg.size() >= 2 && seg[1] == "xorbs") return "xorb-upload";
  if (seg.size() >= 2 && seg[1] == "shards") return "shard-upload";
  if (seg.size() >= 2 && seg[1] == "chunks") return "dedup";
  return "other";
}

void CasApi::Handle(const httplib::Request& req, httplib::Response& res) {
  auto seg = RawSegments(req);
  const std::string& m = req.method;
  if (seg.size() == 3 && (seg[0] == "v1" || seg[0] == "v2") && seg[1] == "reconstructions" &&
      m == "GET") {
    Status st = CheckToken(s_, req, Scope::kRead);
    if (!st.ok()) return SendStatus(res, st);
    return Reconstruction(req, res, seg[0] == "v1" ? 1 : 2, seg[2]);
  }
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "xorbs" && (m == "POST" || m == "HEAD")) {
    Status st = CheckToken(s_, req, m == "POST" ? Scope::kWrite : Scope::kRead);
    if (!st.ok()) return SendStatus(res, st);
    if (seg[2] != "default") return SendError(res, 400, "", "unknown xorb prefix " + seg[2]);
    auto hash = Hash::Parse(seg[3]);
    if (!hash.ok()) return SendError(res, 400, "", "bad xorb hash");
    if (m == "HEAD") {
      res.status = s_.cas->GetXorb(*hash).ok() ? 200 : 404;
      return;
    }
    // A WAN uplink's pace, when the fault spec sets one (`uprate`).
    std::this_thread::sleep_for(s_.faults.UploadTime(req.body.size()));
    auto inserted = s_.cas->PutXorb(
        *hash, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(req.body.data()),
                                        req.body.size()));
    if (!inserted.ok()) {
      // A refused upload is worth a line on stderr: clients often show only
      // the status.
      std::fprintf(stderr, "hubsim: xorb %s refused: %s\n", seg[3].c_str(),
                   inserted.status().message().c_str());
      return SendStatus(res, inserted.status());
    }
    return SendJson(res, 200, json{{"was_inserted", *inserted}});
  }
  if (seg.size() == 2 && seg[1] == "shards" && m == "POST") {
    if (seg[0] != "v1") return SendError(res, 404, "", "use /v1/shards");
    XetTokenClaims claims;
    Status st = CheckToken(s_, req, Scope::kWrite, &claims);
    if (!st.ok()) return SendStatus(res, st);
    std::vector<std::string> sha256s;
    auto inserted =
        s_.cas->PutShard(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(req.body.data()),
                                                  req.body.size()),
                         s_.now(), &sha256s);
    if (!inserted.ok()) {
      std::fprintf(stderr, "hubsim: shard refused: %s\n", inserted.status().message().c_str());
      return SendStatus(res, inserted.status());
    }
    // The files now belong to the repo the write token was issued for, so its
    // commits may name them by sha256 (a deleted repo gets nothing).
    if (auto key = TokenRepo(claims)) {
      Status g = s_.repos->GrantLfsObjects(*key, sha256s);
      if (!g.ok() && g.code() != ErrorCode::kNotFound) return SendStatus(res, g);
    }
    return SendJson(res, 200, json{{"result", *inserted ? 1 : 0}});
  }
  if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "chunks" && m == "GET") {
    Status st = CheckToken(s_, req, Scope::kRead);
    if (!st.ok()) return SendStatus(res, st);
    if (seg[2] != "default" && seg[2] != "default-merkledb")
      return SendError(res, 400, "", "unknown chunk prefix " + seg[2]);
    auto hash = Hash::Parse(seg[3]);
    if (!hash.ok()) return SendError(res, 400, "", "bad chunk hash");
    auto shard = s_.cas->DedupShard(*hash, s_.now());
    if (!shard.ok()) return SendStatus(res, shard.status());
    res.status = 200;
    res.set_content(std::string(shard->begin(), shard->end()), "application/octet-stream");
    return;
  }
  SendError(res, 404, "", "Not found");
}

void CasApi::Reconstruction(const httplib::Request& req, httplib::Response& res, int version,
                            const std::string& hash_str) {
  std::optional<std::string> range_header = TakeRange(req);
  auto hash = Hash::Parse(hash_str);
  if (!hash.ok()) return SendError(res, 400, "", "bad file hash");
  std::optional<chunkstore::RangeSpec> range;
  if (range_header) {
    auto r = chunkstore::ParseRangeHeader(*range_header);
    if (!r.ok()) return SendError(res, 400, "", "bad Range: " + r.status().message());
    range = *r;
  }
  auto file = s_.cas->GetFile(*hash);
  if (!file.ok()) return SendStatus(res, file.status());
  // Pin the layouts of every xorb the file uses for the callback below.
  std::map<Hash, std::shared_ptr<const StoredXorb>> xorbs;
  for (const auto& t : (*file)->terms) {
    if (xorbs.count(t.xorb)) continue;
    auto x = s_.cas->GetXorb(t.xorb);
    if (!x.ok()) return SendError(res, 500, "", "stored file references a missing xorb");
    xorbs.emplace(t.xorb, *x);
  }
  std::string data = OriginFor(req, s_.data_port, s_.opts.host);
  int64_t exp = s_.now() + s_.opts.url_ttl;
  int serial = 0;
  chunkstore::SignUrlFn sign = [&](const Hash& xorb, std::span<const chunkstore::FetchRange> rs) {
    std::string ranges;
    for (const auto& r : rs) {
      if (!ranges.empty()) ranges += ',';
      ranges += std::to_string(r.bytes.start) + "-" + std::to_string(r.bytes.end);
    }
    std::string object = "xorb/" + xorb.ToString();
    // `n` makes every URL of one answer distinct even for equal ranges.
    return data + "/" + object + "?r=" + ranges + "&e=" + std::to_string(exp) +
           "&n=" + std::to_string(serial++) + "&s=" + s_.signer->SignData(object, ranges, exp);
  };
  chunkstore::XorbLayoutFn layouts = [&](const Hash& x) -> const chunkstore::XorbLayout* {
    auto it = xorbs.find(x);
    return it == xorbs.end() ? nullptr : &it->second->layout;
  };
  chunkstore::BuildOptions opts;
  opts.version = version;
  // Keeps signed URLs (which list their ranges) well under 8 KiB.
  opts.max_ranges_per_entry = 128;
  auto recon =
      chunkstore::BuildReconstruction((*file)->terms, layouts, (*file)->size, range, sign, opts);
  if (!recon.ok()) {
    if (recon.status().code() == ErrorCode::kOutOfRange)
      res.set_header("Content-Range", "bytes */" + std::to_string((*file)->size));
    return SendStatus(res, recon.status());
  }
  res.status = 200;
  res.set_content(version == 1 ? chunkstore::ReconstructionToJsonV1(*recon)
                               : chunkstore::ReconstructionToJsonV2(*recon),
                  kJsonType);
}

std::string DataApi::RouteClass(const httplib::Request& req) {
  auto seg = RawSegments(req);
  if (!seg.empty() && seg[0] == "xorb") return "xorb-data";
  if (!seg.empty() && seg[0] == "file") return "file-data";
  return "other";
}

void DataApi::Handle(const httplib::Request& req, httplib::Response& res) {
  auto seg = RawSegments(req);
  if (seg.size() == 2 && (req.method == "GET" || req.method == "HEAD")) {
    if (seg[0] == "xorb") return ServeXorb(req, res, seg[1]);
    if (seg[0] == "file") return ServeFile(req, res, seg[1]);
  }
  SendError(res, 404, "", "Not found");
}

void DataApi::ServeXorb(const httplib::Request& req, httplib::Response& res,
                        const std::string& hash_str) {
  std::optional<std::string> range_header = TakeRange(req);
  std::string ranges = req.get_param_value("r");
  std::string sig = req.get_param_value("s");
  int64_t exp = std::strtoll(req.get_param_value("e").c_str(), nullptr, 10);
  std::string object = "xorb/" + hash_str;
  if (ranges.size() > 64 * 1024 || !s_.signer->CheckData(object, ranges, exp, sig))
    return SendError(res, 403, "", "Signature does not match");
  if (exp <= s_.now()) return SendError(res, 403, "", "Request has expired");
  auto hash = Hash::Parse(hash_str);
  if (!hash.ok()) return SendError(res, 403, "", "bad object");
  if (!range_header) return SendError(res, 403, "", "a signed Range is required");
  // The issued ranges, as signed.
  std::vector<std::pair<uint64_t, uint64_t>> issued;
  for (std::string_view r : Split(ranges, ',')) {
    size_t dash = r.find('-');
    if (dash == std::string_view::npos) return SendError(res, 403, "", "bad signed range");
    issued.emplace_back(std::strtoull(std::string(r.substr(0, dash)).c_str(), nullptr, 10),
                        std::strtoull(std::string(r.substr(dash + 1)).c_str(), nullptr, 10));
  }
  auto x = s_.cas->GetXorb(*hash);
  if (!x.ok()) return SendError(res, 404, "", "xorb not found");
  uint64_t size = (*x)->body_size();
  bool unsat = false;
  auto asked = ParseByteRanges(*range_header, size, &unsat, 4096);
  if (!asked) return SendError(res, 403, "", "Range not allowed by the signature");
  for (const auto& a : *asked) {
    bool ok = false;
    for (const auto& [s, e] : issued) ok |= a.first == s && a.last == e;
    if (!ok) {
      if (unsat) {
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        return SendError(res, 416, "", "Requested range not satisfiable");
      }
      return SendError(res, 403, "", "Range not allowed by the signature");
    }
  }
  if (unsat) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return SendError(res, 416, "", "Requested range not satisfiable");
  }
  if (req.method != "HEAD") {
    // A WAN's pace, when the fault spec sets one (`rate`).
    uint64_t bytes = 0;
    for (const auto& a : *asked) bytes += a.last - a.first + 1;
    std::this_thread::sleep_for(s_.faults.DataTime(bytes));
  }
  auto file = std::make_shared<OpenFile>();
  file->fd = ::open(s_.cas->XorbPath(*hash).c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) return SendError(res, 500, "", "cannot open xorb");
  auto pieces = std::make_shared<std::vector<Piece>>();
  res.status = 206;
  if (asked->size() == 1) {
    const ByteRange& a = (*asked)[0];
    res.set_header("Content-Range", "bytes " + std::to_string(a.first) + "-" +
                                        std::to_string(a.last) + "/" + std::to_string(size));
    pieces->push_back({{}, a.first, a.last - a.first + 1});
    if (req.method == "HEAD") {
      res.set_header("Content-Length", std::to_string(a.last - a.first + 1));
      return;
    }
    return ServePieces(res, file, pieces, "application/octet-stream");
  }
  std::string boundary = "hubsim" + RandomHex(12);
  for (const auto& a : *asked) {
    pieces->push_back({"--" + boundary +
                           "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes " +
                           std::to_string(a.first) + "-" + std::to_string(a.last) + "/" +
                           std::to_string(size) + "\r\n\r\n",
                       0, 0});
    pieces->push_back({{}, a.first, a.last - a.first + 1});
    pieces->push_back({"\r\n", 0, 0});
  }
  pieces->push_back({"--" + boundary + "--\r\n", 0, 0});
  ServePieces(res, file, pieces, "multipart/byteranges; boundary=" + boundary);
}

void DataApi::ServeFile(const httplib::Request& req, httplib::Response& res,
                        const std::string& hash_str) {
  std::optional<std::string> range_header = TakeRange(req);
  std::string sig = req.get_param_value("s");
  int64_t exp = std::strtoll(req.get_param_value("e").c_str(), nullptr, 10);
  std::string object = "file/" + hash_str;
  if (!s_.signer->CheckData(object, "*", exp, sig))
    return SendError(res, 403, "", "Signature does not match");
  if (exp <= s_.now()) return SendError(res, 403, "", "Request has expired");
  auto hash = Hash::Parse(hash_str);
  if (!hash.ok()) return SendError(res, 403, "", "bad object");
  auto file = s_.cas->GetFile(*hash);
  if (!file.ok()) return SendError(res, 404, "", "file not found");
  uint64_t size = (*file)->size;
  uint64_t begin = 0, end = size;
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("ETag", "\"" + (*file)->sha256 + "\"");
  if (range_header) {
    bool unsat = false;
    auto asked = ParseByteRanges(*range_header, size, &unsat, 1);
    if (!asked || unsat) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      return SendError(res, 416, "", "Requested range not satisfiable");
    }
    begin = (*asked)[0].first;
    end = (*asked)[0].last + 1;
    res.status = 206;
    res.set_header("Content-Range", "bytes " + std::to_string(begin) + "-" +
                                        std::to_string(end - 1) + "/" + std::to_string(size));
  } else {
    res.status = 200;
  }
  if (req.method == "HEAD" || end == begin) {
    res.set_header("Content-Length", std::to_string(end - begin));
    return;
  }
  std::shared_ptr<const StoredFile> f = *file;
  CasStore* cas = s_.cas.get();
  // Decode window by window as the client reads.
  res.set_content_provider(
      end - begin, "application/octet-stream",
      [f, cas, begin, end](size_t offset, size_t /*length*/, httplib::DataSink& sink) {
        uint64_t from = begin + offset;
        uint64_t to = std::min<uint64_t>(end, from + (8 << 20));
        std::string out;
        if (!cas->ReadFileRange(*f, from, to, &out).ok() || out.empty()) return false;
        return sink.write(out.data(), out.size());
      });
}

}  // namespace hubfs::hubsim
