#include "tests/hubsim/hostile.h"

#include <httplib.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "chunkstore/xorb.h"
#include "tests/hubsim/http_util.h"
#include "tests/hubsim/repos.h"
#include "tests/hubsim/services.h"

namespace hubfs::hubsim {
namespace {

using json = nlohmann::json;

const std::set<std::string>& Kinds() {
  static const std::set<std::string> kinds = {
      "name-dotdot", "name-dot",      "name-slash", "name-nul",  "name-long",
      "big-dir",     "big-dir-paged", "size",          "range",      "xorb-missing", "xorb-mismatch",
      "bomb",        "redirect",      "slow",       "other-branch", "sha256"};
  return kinds;
}

constexpr size_t kBigDirEntries = 1'000'000;

// The repo path listed by GET /api/{T}s/{ns}/{name}/tree/{rev}[/{path}]
// ("" for the root), or the common prefix of a paths-info answer's paths.
std::string ListedDir(const httplib::Request& req) {
  auto seg = RawSegments(req);
  if (seg.size() < 6 || seg[4] != "tree") return "";
  std::string dir;
  for (size_t i = 6; i < seg.size(); ++i) {
    if (!dir.empty()) dir += '/';
    dir += seg[i];
  }
  return dir;
}

void AddNamedEntries(const std::set<std::string>& kinds, const std::string& dir, json& arr) {
  const std::string prefix = dir.empty() ? "" : dir + "/";
  auto add = [&](const std::string& name) {
    arr.push_back({{"type", "file"},
                   {"oid", std::string(40, '0')},
                   {"size", 5},
                   {"path", prefix + name}});
  };
  if (kinds.count("name-dotdot")) add("..");
  if (kinds.count("name-dot")) add(".");
  if (kinds.count("name-slash")) add("x/y");
  if (kinds.count("name-nul")) add(std::string("a\0b", 3));
  if (kinds.count("name-long")) add(std::string(300, 'n'));
}

// A new buffered body. Post-routing runs after cpp-httplib wrote the
// honest body's Content-Length into the headers: it is replaced here.
void SetBody(httplib::Response& res, std::string body) {
  res.headers.erase("Content-Length");
  res.set_header("Content-Length", std::to_string(body.size()));
  res.body = std::move(body);
}

// Streams a JSON array of kBigDirEntries files under `dir`.
void ServeBigDir(httplib::Response& res, const std::string& dir) {
  res.status = 200;
  res.body.clear();
  res.headers.erase("Content-Length");
  res.headers.erase("Link");
  res.set_chunked_content_provider(
      "application/json", [dir, next = size_t{0}](size_t, httplib::DataSink& sink) mutable {
        if (next >= kBigDirEntries) {
          sink.done();
          return true;
        }
        std::string out = next == 0 ? "[" : "";
        for (size_t end = std::min(kBigDirEntries, next + 1000); next < end; ++next) {
          if (next > 0) out += ',';
          out += "{\"type\":\"file\",\"oid\":\"" + std::string(40, '1') +
                 "\",\"size\":1,\"path\":\"" + dir + "/f" + std::to_string(next) + "\"}";
        }
        if (next >= kBigDirEntries) out += ']';
        return sink.write(out.data(), out.size());
      });
}

// Page `cursor` (1000 entries) of a 10^6-entry listing of `dir`, with a
// Link to the next page.
void ServeBigDirPage(Services& s, const httplib::Request& req, httplib::Response& res,
                     const std::string& dir) {
  const size_t cursor =
      req.has_param("cursor") ? std::strtoull(req.get_param_value("cursor").c_str(), nullptr, 10)
                              : 0;
  const size_t end = std::min(kBigDirEntries, cursor + 1000);
  json page = json::array();
  for (size_t i = cursor; i < end; ++i) {
    page.push_back({{"type", "file"},
                    {"oid", std::string(40, '1')},
                    {"size", 1},
                    {"path", dir + "/f" + std::to_string(i)}});
  }
  std::string out = page.dump();
  res.status = 200;
  res.headers.erase("Link");
  if (end < kBigDirEntries) {
    std::string link(1, '<');
    link.append(OriginFor(req, s.hub_port, s.opts.host));
    link.append(req.path);
    link.append("?cursor=");
    link.append(std::to_string(end));
    link.append(">; rel=\"next\"");
    res.set_header("Link", link);
  }
  SetBody(res, std::move(out));
}

// Replaces the body (or provider) by one byte a second, at most 120 bytes.
void ServeSlowly(httplib::Response& res) {
  res.body.clear();
  res.headers.erase("Content-Length");
  res.content_provider_ = nullptr;
  res.content_length_ = 0;
  res.set_chunked_content_provider(
      "application/octet-stream", [sent = 0](size_t, httplib::DataSink& sink) mutable {
        if (sent >= 120) return false;
        std::this_thread::sleep_for(std::chrono::seconds(1));
        ++sent;
        return sink.write(sent == 1 ? "[" : " ", 1);
      });
}

// Passes the body of `res` through `edit(offset, bytes)` before it is sent.
void EditBody(httplib::Response& res,
              std::function<void(size_t offset, std::string& bytes)> edit) {
  if (!res.content_provider_) {
    edit(0, res.body);
    return;
  }
  auto inner = res.content_provider_;
  res.content_provider_ = [inner, edit](size_t offset, size_t length, httplib::DataSink& sink) {
    std::string got;
    httplib::DataSink collect;
    collect.write = [&](const char* d, size_t n) {
      got.append(d, n);
      return true;
    };
    collect.is_writable = sink.is_writable;
    collect.done = sink.done;
    if (!inner(offset, length, collect)) return false;
    edit(offset, got);
    return got.empty() || sink.write(got.data(), got.size());
  };
}

// A chunk record that declares 64 bytes and holds an LZ4 frame of 128 KiB
// of zeros.
std::string BombRecord() {
  std::vector<uint8_t> zeros(chunkstore::kMaxChunkUncompressedSize, 0);
  std::vector<uint8_t> record;
  chunkstore::AppendChunkRecord(zeros, chunkstore::CompressionPolicy::kLz4, &record);
  Result<chunkstore::ChunkRecordHeader> h = chunkstore::ParseChunkRecordHeader(record);
  if (h.ok()) {
    chunkstore::ChunkRecordHeader lie = *h;
    lie.uncompressed_size = 64;
    chunkstore::WriteChunkRecordHeader(lie, record.data());
  }
  return std::string(record.begin(), record.end());
}

std::string ShiftContentRange(const std::string& value) {
  // "bytes A-B/T" -> "bytes A+1-B+1/T"
  unsigned long long a = 0, b = 0;
  char total[64] = {0};
  if (std::sscanf(value.c_str(), "bytes %llu-%llu/%63s", &a, &b, total) != 3) return value;
  return "bytes " + std::to_string(a + 1) + "-" + std::to_string(b + 1) + "/" + total;
}

}  // namespace

Result<std::set<std::string>> ParseHostileSpec(std::string_view spec) {
  std::set<std::string> out;
  size_t start = 0;
  while (start < spec.size()) {
    size_t comma = spec.find(',', start);
    std::string kind(spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start));
    if (!kind.empty()) {
      if (!Kinds().count(kind)) return InvalidArgumentError("unknown hostile kind '" + kind + "'");
      out.insert(kind);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

void Hostile::Set(std::set<std::string> kinds) {
  std::lock_guard<std::mutex> lock(mu_);
  kinds_ = std::move(kinds);
}
std::set<std::string> Hostile::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kinds_;
}
bool Hostile::Any() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !kinds_.empty();
}
bool Hostile::Has(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  return kinds_.count(kind) != 0;
}

void ApplyHostile(Services& s, const std::string& origin, const std::string& route,
                  const httplib::Request& req, httplib::Response& res) {
  const std::set<std::string> kinds = s.hostile.Get();
  if (kinds.empty() || route == "admin") return;
  auto has = [&](const char* k) { return kinds.count(k) != 0; };
  const bool ok = res.status >= 200 && res.status < 300;
  const bool listing = origin == "hub" && (route == "tree" || route == "paths-info");
  const bool xorb = origin == "data" && route == "xorb-data" && req.method == "GET";

  if (has("redirect") && ((origin == "hub" && route == "tree") || xorb)) {
    const int port = origin == "hub" ? s.data_port : s.hub_port;
    res.body.clear();
    res.content_provider_ = nullptr;
    res.content_length_ = 0;
    res.headers.clear();
    res.status = 302;
    res.set_header("Location", OriginFor(req, port, s.opts.host) + "/hostile" + req.target);
    return SetBody(res, "");
  }
  if (has("slow") && ok && ((origin == "hub" && route == "tree") || xorb)) {
    return ServeSlowly(res);
  }
  if ((has("big-dir") || has("big-dir-paged")) && ok && origin == "hub" && route == "tree") {
    const std::string dir = ListedDir(req);
    const size_t slash = dir.rfind('/');
    if ((slash == std::string::npos ? dir : dir.substr(slash + 1)) == "big") {
      if (has("big-dir")) return ServeBigDir(res, dir);
      return ServeBigDirPage(s, req, res, dir);
    }
  }
  if (listing && ok && !res.body.empty()) {
    json arr = json::parse(res.body, nullptr, false);
    if (arr.is_array()) {
      if (has("size")) {
        for (json& e : arr) {
          if (e.value("type", "") != "file") continue;
          e["size"] = e.value("size", uint64_t{0}) + 1000;
          if (e.contains("lfs") && e["lfs"].is_object()) {
            e["lfs"]["size"] = e["lfs"].value("size", uint64_t{0}) + 1000;
          }
        }
      }
      if (has("sha256")) {
        for (json& e : arr) {
          if (!e.contains("lfs") || !e["lfs"].is_object()) continue;
          std::string sha = e["lfs"].value("oid", std::string());
          if (sha.empty()) continue;
          sha[0] = sha[0] == '0' ? '1' : '0';
          e["lfs"]["oid"] = sha;
        }
      }
      if (route == "tree") AddNamedEntries(kinds, ListedDir(req), arr);
      SetBody(res, arr.dump());
    }
  }
  if (has("range") && res.status == 206 && (origin == "data" || route == "resolve")) {
    auto it = res.headers.find("Content-Range");
    if (it != res.headers.end()) it->second = ShiftContentRange(it->second);
  }
  if (has("xorb-missing") && xorb) {
    res.content_provider_ = nullptr;
    res.content_length_ = 0;
    res.headers.erase("Content-Range");
    SendError(res, 404, "", "xorb not found");
    return SetBody(res, res.body);
  }
  if (has("xorb-mismatch") && xorb && res.status == 206) {
    // The middle byte of the first 64 KiB of every answer.
    EditBody(res, [](size_t offset, std::string& bytes) {
      const size_t target = 32 * 1024;
      if (offset <= target && target < offset + bytes.size()) bytes[target - offset] ^= 0x20;
    });
  }
  if (has("bomb") && xorb && res.status == 206) {
    const std::string bomb = BombRecord();
    EditBody(res, [bomb](size_t offset, std::string& bytes) {
      for (size_t i = 0; i < bytes.size(); ++i) {
        if (offset + i < bomb.size()) bytes[i] = bomb[offset + i];
      }
    });
  }
  if (has("other-branch") && ok && origin == "hub" && route == "commit") {
    json answer = json::parse(res.body, nullptr, false);
    auto seg = RawSegments(req);
    auto type = seg.size() > 2 ? ParseRepoType(seg[1]) : std::nullopt;
    if (!answer.is_object() || !answer.contains("commitOid") || !type || seg.size() < 6) return;
    RepoKey key{*type, seg[2] + "/" + seg[3]};
    auto meta = s.repos->Get(key);
    if (!meta.ok()) return;
    const std::string branch = seg[5];
    for (const auto& [name, head] : meta->refs.branches) {
      if (name != branch && head != answer["commitOid"]) {
        answer["commitOid"] = head;
        SetBody(res, answer.dump());
        return;
      }
    }
  }
}

}  // namespace hubfs::hubsim
