// Services: the one place the commands and the mount build what talks to
// the Hub and the disk - settings -> HubServices (curl, retries, tokens, Hub
// client) with one network policy, the chunk cache, and the RepoSource
// stack over them - so that every entry point retries, times out,
// authenticates, caches and goes offline the same way.
#ifndef HUBFS_CLI_SERVICES_H_
#define HUBFS_CLI_SERVICES_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "chunkstore/cache.h"
#include "chunkstore/shared_tier.h"
#include "common/clock.h"
#include "common/status.h"
#include "fs/content/caching_repo_source.h"
#include "fs/content/offline_repo_source.h"
#include "fs/content/repo_source_hub.h"
#include "fs/content/revision_store.h"
#include "fs/content/xet_reader.h"
#include "hub/hub_services.h"
#include "hub/settings.h"

namespace hubfs::cli {

// The network policy of every entry point, from the deadline of one FUSE
// operation (the mount's --io-timeout). Idempotent requests are retried
// with jittered exponential backoff (200 ms doubling, at most 2 s a wait)
// until the operation's deadline: --io-timeout for a FUSE operation (set
// by fs/fuse on its worker), LongOperationTimeout for everything else
// (commands, mount set-up, read-ahead, uploads). An attempt gets a third
// of --io-timeout (at least 1 s) to connect and to make progress, so a
// stalled server costs a retry, not the deadline. A server asking for a
// wait that ends past the deadline is not waited for. An origin that stops
// answering (3 attempts in a row without a status line, none for a third
// of --io-timeout, at most 5 s) opens its circuit: requests fail at once
// for 2 s, then one probe goes ahead (hub/circuit.h).
hub::HubServicesOptions NetworkPolicy(double io_timeout_seconds);

// The bound of work that is not a FUSE operation: max(60 s, 2 x io-timeout).
std::chrono::milliseconds LongOperationTimeout(double io_timeout_seconds);

// The deadline of one operation when none is given.
inline constexpr double kDefaultIoTimeoutSeconds = 30;

// Chunk values kept in memory after their write (OpenChunkCache) unless a
// caller asks for more: enough for the commands, which do not read back
// what they fetched, and a mount's least.
inline constexpr uint64_t kDefaultRecentChunkBytes = 32ull << 20;

struct ServicesOptions {
  double io_timeout_seconds = kDefaultIoTimeoutSeconds;
  // The chunk cache under cache_dir + "/chunks"; not opened when !open_cache.
  std::string cache_dir;
  bool open_cache = true;
  std::optional<uint64_t> cache_max_bytes;  // default: CacheOptions'
  // false: the cache is not flushed to disk at exit (a one-shot command;
  // CacheOptions::flush_at_close).
  bool flush_cache_at_close = true;
  // The shared chunk tier (`--shared-cache`); nullopt: the settings'
  // (HUBFS_SHARED_CACHE); "": none.
  std::optional<std::string> shared_cache;
};

// What differs between the stacks of a one-shot command and of a mount.
struct SourceStackOptions {
  fs::XetReader* xet = nullptr;  // reads Xet files; nullptr when none are read
  // A command: once the endpoint is found unreachable, answer from the cache
  // only. A mount keeps trying: it lives long and the server may come back.
  bool fail_fast = false;
  // Where revisions resolved are recorded and found offline (commands);
  // nullptr: a mount, which asks the Hub at start and keeps its commit
  // while the Hub cannot be reached.
  const fs::RevisionStore* revisions = nullptr;
};

// The RepoSource stack: CachingRepoSource (the chunk cache of the Services
// when open) over OfflineRepoSource (HF_HUB_OFFLINE from the settings) over
// HubRepoSource. Not copyable: the layers point at each other.
class SourceStack {
 public:
  SourceStack(hub::HubClient* client, hub::HttpTransport* transport, hub::TokenProvider* tokens,
              chunkstore::ChunkCache* cache, bool offline, const SourceStackOptions& options);
  SourceStack(const SourceStack&) = delete;
  SourceStack& operator=(const SourceStack&) = delete;

  fs::RepoSource& top() { return caching_; }
  fs::OfflineRepoSource& policy() { return offline_; }
  fs::HubRepoSource& hub() { return hub_; }

 private:
  fs::HubRepoSource hub_;
  fs::OfflineRepoSource offline_;
  fs::CachingRepoSource caching_;
};

class Services {
 public:
  // REQUIRES: a CurlGlobal is alive (main) for the whole life of the object.
  // Errors: the transport's, the cache's ("open cache DIR: ..."), a
  // malformed shared cache URL (kInvalidArgument).
  static Result<std::unique_ptr<Services>> Create(const hub::Settings& settings,
                                                  const ServicesOptions& options);

  const hub::Settings& settings() const { return settings_; }
  hub::HubClient& hub() { return hub_->hub(); }
  hub::HttpTransport& transport() { return hub_->transport(); }
  hub::TokenProvider& tokens() { return hub_->tokens(); }
  // See hub::HubServices::ShutdownTransport.
  void ShutdownTransport() { hub_->ShutdownTransport(); }
  // nullptr until the cache is opened.
  chunkstore::ChunkCache* cache() { return cache_.get(); }
  // The shared chunk tier; nullptr when none is configured.
  chunkstore::SharedTier* shared_tier() { return shared_tier_.get(); }
  // Opens the chunk cache now (Create did not), keeping chunk values in
  // memory after their write up to recent_chunk_bytes (OpenChunkCache).
  // Errors: the cache's.
  Status OpenCache(const std::string& cache_dir, std::optional<uint64_t> max_bytes,
                   uint64_t recent_chunk_bytes = kDefaultRecentChunkBytes,
                   bool flush_at_close = true);
  // A RepoSource stack over these services (and the cache if open now).
  std::unique_ptr<SourceStack> NewSourceStack(const SourceStackOptions& options);

 private:
  Services() = default;
  hub::Settings settings_;
  std::unique_ptr<hub::HubServices> hub_;
  std::unique_ptr<chunkstore::ChunkCache> cache_;
  std::unique_ptr<chunkstore::SharedTier> shared_tier_;
};

// Opens the chunk cache under `dir` + "/chunks" (not durable: a cache needs
// no fsync per commit and is wiped if a crash lost writes), bounded by
// max_bytes, else $HUBFS_CACHE_SIZE (a bad value is kInvalidArgument), else
// CacheOptions' default (10G). Chunk values stay in memory after their
// write, for the reads that follow read-ahead, up to recent_chunk_bytes
// (counted with the values still queued): a mount keeps about
// as much as its read-ahead fetches ahead (half of --memory-limit), since a
// chunk that a full cache refused and memory dropped before its read is
// fetched again. flush_at_close: CacheOptions'.
Result<std::unique_ptr<chunkstore::ChunkCache>> OpenChunkCache(
    const std::string& dir, std::optional<uint64_t> max_bytes,
    uint64_t recent_chunk_bytes = kDefaultRecentChunkBytes, bool flush_at_close = true);

// Creates the cache directory `dir` if needed and checks that a file can be
// created in it (a probe file, removed at once), so a read-only or foreign
// directory is refused before anything else is done, with the reason.
// Errors: kIoError "cache dir DIR is not writable (REASON): ...".
Status PrepareCacheDir(const std::string& dir);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_SERVICES_H_
