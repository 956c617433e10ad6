// An in-memory CAS behind a fake HttpTransport, for testing the reader with
// the real HttpXetCas, the real reconstruction JSON and real chunk records.
// Files are chunked and packed into xorbs with chunkstore's own code; answers
// come from BuildReconstruction + the v1/v2 serializers. Data URLs accept only
// the ranges they were issued for, no Authorization, and expire by generation.
#ifndef HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_CAS_H_
#define HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_CAS_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "chunkstore/chunker.h"
#include "chunkstore/hash.h"
#include "chunkstore/reconstruction.h"
#include "chunkstore/xorb.h"
#include "hub/http.h"
#include "hub/url.h"

namespace hubfs::fs::testing {

inline constexpr char kCasUrl[] = "http://cas.test";
inline constexpr char kDataPrefix[] = "http://data.test/xorb/";
inline constexpr char kToken[] = "xet_good";

// Deterministic test content: random bytes with compressible stretches, so
// that the records mix scheme None and LZ4.
inline std::vector<uint8_t> TestContent(uint64_t seed, size_t n) {
  std::vector<uint8_t> out(n);
  uint64_t s = seed;
  auto next = [&] {
    s += 0x9E3779B97F4A7C15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (size_t i = 0; i < n; ++i) {
    const bool compressible = ((i / 50000) % 3) == 1;
    out[i] = compressible ? static_cast<uint8_t>("hubfs reads lazily "[i % 19])
                          : static_cast<uint8_t>(next());
  }
  return out;
}

struct StoredFile {
  std::vector<chunkstore::FileTerm> terms;
  uint64_t size = 0;
  std::vector<uint64_t> chunk_ends;  // file offsets where chunks end
  std::vector<uint64_t> xorb_ends;   // file offsets where xorbs change
};

class FakeCas final : public hub::HttpTransport {
  template <typename F>
  auto Locked(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f();
  }

 public:
  // Adds a file; returns its Xet hash. Chunks go into xorbs of at most
  // `chunks_per_xorb` chunks.
  chunkstore::Hash AddFile(const std::vector<uint8_t>& data, size_t chunks_per_xorb) {
    std::vector<size_t> lengths = chunkstore::ChunkLengths(data);
    std::vector<chunkstore::MerkleNode> nodes;
    StoredFile file;
    file.size = data.size();
    chunkstore::XorbBuilder builder(chunkstore::CompressionPolicy::kLz4);
    size_t off = 0;
    size_t first_chunk_of_xorb = 0;
    auto finish = [&] {
      if (builder.num_chunks() == 0) return;
      const uint32_t count = static_cast<uint32_t>(builder.num_chunks());
      chunkstore::XorbBuilder::Xorb x = builder.Finish();
      chunkstore::XorbLayout layout;
      for (const auto& c : x.info.chunks) {
        layout.chunk_lengths.push_back(c.length);
        layout.record_ends.push_back(c.record_end);
      }
      file.terms.push_back({x.info.hash, {0, count}});
      file.xorb_ends.push_back(off);
      std::lock_guard<std::mutex> lock(mu_);
      xorbs_[x.info.hash] = {std::move(x.body), std::move(layout)};
    };
    for (size_t i = 0; i < lengths.size(); ++i) {
      std::span<const uint8_t> chunk(data.data() + off, lengths[i]);
      const chunkstore::Hash h = chunkstore::ChunkHash(chunk);
      nodes.push_back({h, lengths[i]});
      if (i - first_chunk_of_xorb == chunks_per_xorb) {
        finish();
        first_chunk_of_xorb = i;
      }
      EXPECT_TRUE(builder.Add(h, chunk).ok());
      off += lengths[i];
      file.chunk_ends.push_back(off);
    }
    finish();
    const chunkstore::Hash file_hash = chunkstore::FileHash(nodes);
    std::lock_guard<std::mutex> lock(mu_);
    files_[file_hash] = std::move(file);
    return file_hash;
  }

  // Serves the terms of file `of` under the hash `alias` as well (a Hub
  // whose plan names other bytes than the hash asked for).
  void AddFileAlias(const chunkstore::Hash& alias, const chunkstore::Hash& of) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[alias] = files_.at(of);
  }

  const StoredFile& File(const chunkstore::Hash& h) {
    std::lock_guard<std::mutex> lock(mu_);
    return files_.at(h);
  }

  Result<hub::HttpResponse> Send(const hub::HttpRequest& req) override {
    if (req.url.rfind(kDataPrefix, 0) == 0) return Data(req);
    if (req.url.rfind(kCasUrl, 0) == 0) return Recon(req);
    return UnavailableError("fake: no route to " + req.url);
  }

  // Knobs.
  void set_v2_enabled(bool on) { Locked([&] { v2_enabled_ = on; }); }
  // URLs issued before now answer 403.
  void ExpireUrls() { Locked([&] { min_gen_ = gen_ + 1; }); }
  // The next `n` reconstruction requests answer 401 (token expired).
  void RejectTokens(int n) { Locked([&] { reject_tokens_ = n; }); }
  // Applied to every data answer body (after slicing the range).
  void set_corrupt(std::function<void(std::vector<uint8_t>*)> f) {
    Locked([&] { corrupt_ = std::move(f); });
  }
  // Data requests wait until Release() (or until `waiters` requests
  // reconstructions have been seen, whichever first).
  void HoldData(int recon_count) { Locked([&] { hold_until_recons_ = recon_count; }); }
  void Offline(bool on) { Locked([&] { offline_ = on; }); }
  // Every data answer takes this long (a distant origin).
  void set_data_delay(std::chrono::milliseconds d) { Locked([&] { data_delay_ = d; }); }
  // Reconstructions answer for the whole file whatever the Range says.
  void IgnoreRange(bool on) { Locked([&] { ignore_range_ = on; }); }

  int recon_calls() { return Locked([&] { return recon_calls_; }); }
  int data_calls() { return Locked([&] { return data_calls_; }); }
  uint64_t data_bytes() { return Locked([&] { return data_bytes_; }); }
  std::vector<std::string> data_ranges() { return Locked([&] { return data_ranges_; }); }
  void ResetCounters() {
    Locked([&] {
      recon_calls_ = data_calls_ = 0;
      data_bytes_ = 0;
      data_ranges_.clear();
    });
  }

 private:
  struct StoredXorb {
    std::vector<uint8_t> body;
    chunkstore::XorbLayout layout;
  };

  static hub::HttpResponse Answer(int status, std::string body) {
    hub::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.body_bytes = r.body.size();
    return r;
  }

  Result<hub::HttpResponse> Recon(const hub::HttpRequest& req) {
    std::unique_lock<std::mutex> lock(mu_);
    if (offline_) return UnavailableError("fake: connection refused");
    ++recon_calls_;
    cv_.notify_all();
    if (!req.auth.has_value() || req.auth->origin != hub::OriginOf(kCasUrl) ||
        req.auth->token != kToken) {
      return Answer(401, "{\"error\":\"no token\"}");
    }
    if (reject_tokens_ > 0) {
      --reject_tokens_;
      return Answer(401, "{\"error\":\"token expired\"}");
    }
    const std::string path = req.url.substr(std::string(kCasUrl).size());
    int version = 0;
    if (path.rfind("/v2/reconstructions/", 0) == 0) version = 2;
    if (path.rfind("/v1/reconstructions/", 0) == 0) version = 1;
    if (version == 0 || (version == 2 && !v2_enabled_)) return Answer(404, "{}");
    auto hash = chunkstore::Hash::Parse(path.substr(20));
    if (!hash.ok() || files_.count(*hash) == 0) return Answer(404, "{\"error\":\"no file\"}");
    const StoredFile& file = files_.at(*hash);
    std::optional<chunkstore::RangeSpec> range;
    if (!req.ranges.empty()) {
      range = chunkstore::RangeSpec{req.ranges[0].first, req.ranges[0].last, std::nullopt};
    } else if (auto h = req.headers.Get("Range"); h.has_value() && !ignore_range_) {
      auto parsed = chunkstore::ParseRangeHeader(*h);
      if (!parsed.ok()) return Answer(400, "{\"error\":\"bad range\"}");
      range = *parsed;
    }
    const uint64_t gen = ++gen_;
    auto recon = chunkstore::BuildReconstruction(
        file.terms,
        [this](const chunkstore::Hash& x) -> const chunkstore::XorbLayout* {
          auto it = xorbs_.find(x);
          return it == xorbs_.end() ? nullptr : &it->second.layout;
        },
        file.size, range,
        [gen](const chunkstore::Hash& x, std::span<const chunkstore::FetchRange> ranges) {
          std::string url = kDataPrefix + x.ToString() + "?gen=" + std::to_string(gen) + "&r=";
          for (const auto& r : ranges) {
            url += std::to_string(r.bytes.start) + "-" + std::to_string(r.bytes.end) + ",";
          }
          return url;
        },
        chunkstore::BuildOptions{version, 256});
    if (!recon.ok()) {
      return Answer(recon.status().code() == ErrorCode::kOutOfRange ? 416 : 500, "{}");
    }
    return Answer(200, version == 2 ? chunkstore::ReconstructionToJsonV2(*recon)
                                    : chunkstore::ReconstructionToJsonV1(*recon));
  }

  Result<hub::HttpResponse> Data(const hub::HttpRequest& req) {
    std::unique_lock<std::mutex> lock(mu_);
    if (offline_) return UnavailableError("fake: connection refused");
    ++data_calls_;
    if (hold_until_recons_ > 0) {
      cv_.wait_for(lock, std::chrono::seconds(5),
                   [&] { return recon_calls_ >= hold_until_recons_; });
      hold_until_recons_ = 0;
    }
    if (req.auth.has_value()) return Answer(400, "data URLs take no Authorization");
    const std::string rest = req.url.substr(std::string(kDataPrefix).size());
    const size_t q = rest.find('?');
    auto hash = chunkstore::Hash::Parse(rest.substr(0, q));
    const size_t g = rest.find("gen=");
    const size_t r = rest.find("&r=");
    if (!hash.ok() || q == std::string::npos || g == std::string::npos || r == std::string::npos ||
        xorbs_.count(*hash) == 0) {
      return Answer(404, "");
    }
    const uint64_t gen = std::stoull(rest.substr(g + 4, r - g - 4));
    if (gen < min_gen_) return Answer(403, "expired");
    if (req.ranges.size() != 1) return Answer(403, "one listed range per request");
    const std::string asked =
        std::to_string(req.ranges[0].first) + "-" + std::to_string(req.ranges[0].last) + ",";
    if (("," + rest.substr(r + 3)).find("," + asked) == std::string::npos) {
      return Answer(403, "range not signed");
    }
    const std::vector<uint8_t>& body = xorbs_.at(*hash).body;
    if (req.ranges[0].last >= body.size()) return Answer(416, "");
    std::vector<uint8_t> slice(body.begin() + static_cast<ptrdiff_t>(req.ranges[0].first),
                               body.begin() + static_cast<ptrdiff_t>(req.ranges[0].last + 1));
    if (corrupt_) corrupt_(&slice);
    data_bytes_ += slice.size();
    data_ranges_.push_back(rest.substr(0, q) + ":" + asked);
    hub::HttpResponse resp;
    resp.status = 206;
    resp.headers.Add("Content-Range", "bytes " + std::to_string(req.ranges[0].first) + "-" +
                                          std::to_string(req.ranges[0].last) + "/" +
                                          std::to_string(body.size()));
    std::string_view piece(reinterpret_cast<const char*>(slice.data()), slice.size());
    const std::chrono::milliseconds delay = data_delay_;
    lock.unlock();
    std::this_thread::sleep_for(delay);
    if (req.body_sink) {
      Status st = req.body_sink(piece);
      if (!st.ok()) return st;
    } else {
      resp.body.assign(piece);
    }
    resp.body_bytes = slice.size();
    return resp;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<chunkstore::Hash, StoredFile> files_;
  std::map<chunkstore::Hash, StoredXorb> xorbs_;
  bool v2_enabled_ = true;
  bool offline_ = false;
  bool ignore_range_ = false;
  uint64_t gen_ = 0;
  uint64_t min_gen_ = 0;
  int reject_tokens_ = 0;
  int hold_until_recons_ = 0;
  std::chrono::milliseconds data_delay_{0};
  std::function<void(std::vector<uint8_t>*)> corrupt_;
  int recon_calls_ = 0;
  int data_calls_ = 0;
  uint64_t data_bytes_ = 0;
  std::vector<std::string> data_ranges_;
};

// A token source that counts refreshes.
struct FakeTokens {
  int fetches = 0;
  int forced = 0;
  std::mutex mu;
  Result<hub::XetToken> operator()(bool force) {
    std::lock_guard<std::mutex> lock(mu);
    ++fetches;
    if (force) ++forced;
    return hub::XetToken{kToken, 2'000'000'000, kCasUrl};
  }
};

}  // namespace hubfs::fs::testing

#endif  // HUBFS_TESTS_UNIT_FS_CONTENT_FAKE_CAS_H_
