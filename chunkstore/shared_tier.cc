// SharedTier: entry format, circuit, write-back queue, leases.
#include "chunkstore/shared_tier.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "chunkstore/cache_checksum.h"
#include "common/little_endian.h"
#include "common/log.h"

namespace hubfs::chunkstore {

namespace {

constexpr std::string_view kKeyPrefix = "hubfs1:";
// A record is at most a 64 KiB chunk plus its header, compressed or not;
// anything near a xorb's size is not a record.
constexpr uint32_t kMaxTierRecord = 1u << 20;

// CRC-32C of key ‖ header[0, 20) ‖ record.
uint32_t TierChecksum(const std::string& key, const uint8_t* header20,
                      std::span<const uint8_t> record) {
  using cache_format::Crc32c;
  uint32_t crc = Crc32c(0, std::span<const uint8_t>(
                               reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  crc = Crc32c(crc, std::span<const uint8_t>(header20, 20));
  return Crc32c(crc, record);
}

}  // namespace

std::string TierGroup(const Hash& xorb) { return std::string(kKeyPrefix) + xorb.ToString(); }

std::string TierChunkKey(const Hash& xorb, uint32_t index) {
  return std::string(kKeyPrefix) + xorb.ToString() + ":" + std::to_string(index);
}

std::string TierLeaseKey(const Hash& xorb, ChunkRange chunks) {
  return std::string(kKeyPrefix) + "lease:" + xorb.ToString() + ":" +
         std::to_string(chunks.start) + "-" + std::to_string(chunks.end);
}

// 0 u8 version | 1 u8[3] 0 | 4 u64 record offset | 12 u32 record length |
// 16 u32 reserved (0) | 20 u32 checksum | 24 record
std::vector<uint8_t> EncodeTierValue(const std::string& key, uint64_t record_offset,
                                     std::span<const uint8_t> record) {
  std::vector<uint8_t> v;
  v.resize(kTierHeaderSize + record.size());
  if (!record.empty()) std::memcpy(v.data() + kTierHeaderSize, record.data(), record.size());
  uint8_t* h = v.data();
  std::memset(h, 0, kTierHeaderSize);
  h[0] = kTierFormatVersion;
  StoreLe64(h + 4, record_offset);
  StoreLe32(h + 12, static_cast<uint32_t>(record.size()));
  StoreLe32(h + 20, TierChecksum(key, h, record));
  return v;
}

Result<TierRecord> DecodeTierValue(const std::string& key, std::span<const uint8_t> value) {
  if (value.size() < kTierHeaderSize) return CorruptError("tier entry " + key + ": too short");
  const uint8_t* h = value.data();
  if (h[0] != kTierFormatVersion || h[1] != 0 || h[2] != 0 || h[3] != 0 || LoadLe32(h + 16) != 0) {
    return CorruptError("tier entry " + key + ": unknown version");
  }
  const uint32_t len = LoadLe32(h + 12);
  if (len == 0 || len > kMaxTierRecord || len != value.size() - kTierHeaderSize) {
    return CorruptError("tier entry " + key + ": bad length");
  }
  std::span<const uint8_t> record = value.subspan(kTierHeaderSize);
  if (LoadLe32(h + 20) != TierChecksum(key, h, record)) {
    return CorruptError("tier entry " + key + ": checksum mismatch");
  }
  TierRecord out;
  out.offset = LoadLe64(h + 4);
  out.record.assign(record.begin(), record.end());
  return out;
}

SharedTier::SharedTier(std::unique_ptr<TierBackend> backend, SharedTierOptions options)
    : backend_(std::move(backend)), options_(options) {
  {
    MutexLock l(&circuit_mu_);
    circuits_.resize(std::max<size_t>(backend_->servers(), 1));
    for (Circuit& c : circuits_) c.backoff = options_.initial_backoff;
  }
  writer_ = std::thread([this] { WriterLoop(); });
}

SharedTier::~SharedTier() {
  Drain(options_.drain_timeout);
  {
    MutexLock l(&queue_mu_);
    stop_ = true;
  }
  queue_cv_.NotifyAll();
  writer_.join();
}

bool SharedTier::Drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&queue_mu_);
  while (!queue_.empty() || writing_) {
    if (!idle_cv_.WaitUntil(&queue_mu_, deadline)) return queue_.empty() && !writing_;
  }
  return true;
}

bool SharedTier::Admit(size_t server) {
  MutexLock l(&circuit_mu_);
  Circuit& c = circuits_[server % circuits_.size()];
  if (!c.down) return true;
  if (c.probing || std::chrono::steady_clock::now() < c.retry_at) {
    bypassed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  c.probing = true;  // this caller probes; the others keep bypassing
  return true;
}

void SharedTier::Succeeded(size_t server) {
  MutexLock l(&circuit_mu_);
  Circuit& c = circuits_[server % circuits_.size()];
  if (c.down) {
    HUBFS_LOG(kInfo) << "shared cache: server " << server + 1 << " of " << circuits_.size()
                     << " answering again";
  }
  c.down = false;
  c.probing = false;
  c.backoff = options_.initial_backoff;
}

void SharedTier::Failed(size_t server, const Status& st, const char* what) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  MutexLock l(&circuit_mu_);
  Circuit& c = circuits_[server % circuits_.size()];
  if (!c.down) {
    HUBFS_LOG(kWarning) << "shared cache: server " << server + 1 << " of " << circuits_.size()
                        << ": " << what << ": " << st.ToString() << "; its keys bypassed for "
                        << c.backoff.count() << " ms";
  } else {
    c.backoff = std::min(c.backoff * 2, options_.max_backoff);
  }
  c.down = true;
  c.probing = false;
  c.retry_at = std::chrono::steady_clock::now() + c.backoff;
}

std::map<uint32_t, TierRecord> SharedTier::Get(const Hash& xorb, ChunkRange chunks,
                                               bool recheck) {
  std::map<uint32_t, TierRecord> out;
  if (chunks.size() == 0) return out;
  const std::string group = TierGroup(xorb);
  const size_t server = backend_->ServerFor(group);
  std::vector<std::string> keys;
  keys.reserve(chunks.size());
  for (uint32_t i = chunks.start; i < chunks.end; ++i) keys.push_back(TierChunkKey(xorb, i));
  std::map<std::string, std::vector<uint8_t>> values;
  if (Admit(server)) {
    auto got = backend_->MultiGet(group, keys);
    if (got.ok()) {
      Succeeded(server);
      values = std::move(got).value();
    } else {
      Failed(server, got.status(), "get");
    }
  }
  uint64_t absent = 0;
  for (uint32_t i = chunks.start; i < chunks.end; ++i) {
    const std::string& key = keys[i - chunks.start];
    auto it = values.find(key);
    if (it == values.end()) {
      ++absent;
      continue;
    }
    Result<TierRecord> rec = DecodeTierValue(key, it->second);
    if (!rec.ok()) {
      // Refused; the origin's answer will overwrite it.
      HUBFS_LOG(kWarning) << "shared cache: " << rec.status().ToString();
      corrupt_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    out.emplace(i, std::move(rec).value());
  }
  if (!recheck) {
    misses_.fetch_add(absent, std::memory_order_relaxed);
    hits_.fetch_add(out.size(), std::memory_order_relaxed);
  } else if (out.size() == chunks.size()) {
    hits_.fetch_add(out.size(), std::memory_order_relaxed);
  }
  return out;
}

void SharedTier::Put(const Hash& xorb, ChunkRange chunks, std::vector<uint64_t> offsets,
                     std::vector<std::vector<uint8_t>> records, bool release_lease) {
  Job job;
  job.group = TierGroup(xorb);
  if (release_lease) job.release_lease = TierLeaseKey(xorb, chunks);
  job.sets.reserve(records.size());
  for (size_t j = 0; j < records.size() && j < offsets.size(); ++j) {
    std::string key = TierChunkKey(xorb, chunks.start + static_cast<uint32_t>(j));
    std::vector<uint8_t> value = EncodeTierValue(key, offsets[j], records[j]);
    job.bytes += value.size();
    job.sets.emplace_back(std::move(key), std::move(value));
  }
  {
    MutexLock l(&queue_mu_);
    if (queue_.size() < options_.queue_max_entries &&
        queued_bytes_ + job.bytes <= options_.queue_max_bytes) {
      queued_bytes_ += job.bytes;
      queue_.push_back(std::move(job));
      l.Unlock();
      queue_cv_.NotifyOne();
      return;
    }
  }
  dropped_.fetch_add(job.sets.size(), std::memory_order_relaxed);
}

void SharedTier::WriterLoop() {
  for (;;) {
    Job job;
    {
      MutexLock l(&queue_mu_);
      writing_ = false;
      idle_cv_.NotifyAll();
      while (!stop_ && queue_.empty()) queue_cv_.Wait(&queue_mu_);
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= job.bytes;
      writing_ = true;
    }
    size_t done = 0;
    const size_t server = backend_->ServerFor(job.group);
    for (const auto& [key, value] : job.sets) {
      if (!Admit(server)) break;
      Status st = backend_->Set(job.group, key, value, options_.entry_ttl_seconds);
      if (!st.ok()) {
        Failed(server, st, "set");
        break;
      }
      Succeeded(server);
      ++done;
    }
    puts_.fetch_add(done, std::memory_order_relaxed);
    dropped_.fetch_add(job.sets.size() - done, std::memory_order_relaxed);
    // The run is in the tier (or will not be): waiting nodes may stop waiting.
    if (!job.release_lease.empty()) {
      if (Admit(server)) {
        Status st = backend_->Delete(job.group, job.release_lease);
        if (st.ok()) {
          Succeeded(server);
        } else {
          Failed(server, st, "release lease");
        }
      }
    }
  }
}

SharedTier::Lease SharedTier::TryLease(const Hash& xorb, ChunkRange chunks) {
  const std::string group = TierGroup(xorb);
  const size_t server = backend_->ServerFor(group);
  if (!Admit(server)) return Lease::kUnavailable;
  static constexpr uint8_t kMark[1] = {1};
  Result<bool> added =
      backend_->Add(group, TierLeaseKey(xorb, chunks), kMark, options_.lease_ttl_seconds);
  if (!added.ok()) {
    Failed(server, added.status(), "lease");
    return Lease::kUnavailable;
  }
  Succeeded(server);
  return *added ? Lease::kWon : Lease::kLost;
}

void SharedTier::ReleaseLease(const Hash& xorb, ChunkRange chunks) {
  Job job;
  job.group = TierGroup(xorb);
  job.release_lease = TierLeaseKey(xorb, chunks);
  MutexLock l(&queue_mu_);
  if (queue_.size() >= options_.queue_max_entries) return;  // it expires on its own
  queue_.push_back(std::move(job));
  l.Unlock();
  queue_cv_.NotifyOne();
}

SharedTierStats SharedTier::Stats() const {
  SharedTierStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.corrupt = corrupt_.load(std::memory_order_relaxed);
  s.bypassed = bypassed_.load(std::memory_order_relaxed);
  s.puts = puts_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.lease_waits = lease_waits_.load(std::memory_order_relaxed);
  MutexLock l(&circuit_mu_);
  s.servers = circuits_.size();
  for (const Circuit& c : circuits_) s.servers_down += c.down ? 1 : 0;
  s.down = s.servers_down != 0;
  return s;
}

Result<std::vector<std::string>> ParseSharedCacheUrl(std::string_view url) {
  constexpr std::string_view kScheme = "memcached://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgumentError("shared cache " + std::string(url) +
                                ": expected memcached://HOST:PORT[,HOST:PORT...]");
  }
  std::vector<std::string> servers;
  std::string_view rest = url.substr(kScheme.size());
  while (true) {
    // ',' or '+' between servers ('+' survives mount -o lists).
    const size_t comma = rest.find_first_of(",+");
    std::string_view s = rest.substr(0, comma);
    const size_t colon = s.rfind(':');
    uint32_t port = 0;
    if (colon == std::string_view::npos || colon == 0 ||
        std::from_chars(s.data() + colon + 1, s.data() + s.size(), port).ptr !=
            s.data() + s.size() ||
        colon + 1 == s.size() || port == 0 || port > 65535 ||
        s.find_first_of("/ ") != std::string_view::npos) {
      return InvalidArgumentError("shared cache " + std::string(url) + ": bad server '" +
                                  std::string(s) + "' (expected HOST:PORT)");
    }
    servers.emplace_back(s);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return servers;
}

Result<std::unique_ptr<SharedTier>> OpenSharedTier(std::string_view url,
                                                   SharedTierOptions options) {
  HUBFS_ASSIGN_OR_RETURN(std::vector<std::string> servers, ParseSharedCacheUrl(url));
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<TierBackend> backend, NewMemcachedBackend(servers));
  return std::make_unique<SharedTier>(std::move(backend), options);
}

}  // namespace hubfs::chunkstore
