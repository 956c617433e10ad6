#include "cli/services.h"

#include <algorithm>
#include <chrono>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "cli/size_arg.h"

namespace hubfs::cli {

std::chrono::milliseconds LongOperationTimeout(double io_timeout_seconds) {
  using std::chrono::milliseconds;
  const milliseconds twice(static_cast<int64_t>(io_timeout_seconds * 2000));
  return std::max<milliseconds>(twice, std::chrono::seconds(60));
}

hub::HubServicesOptions NetworkPolicy(double io_timeout_seconds) {
  using std::chrono::milliseconds;
  const milliseconds deadline(static_cast<int64_t>(io_timeout_seconds * 1000));
  const milliseconds attempt = std::max<milliseconds>(deadline / 3, std::chrono::seconds(1));
  hub::HubServicesOptions o;
  o.transport.connect_timeout = attempt;
  o.transport.stall_timeout = attempt;
  o.retry.default_deadline = LongOperationTimeout(io_timeout_seconds);
  o.retry.max_attempts = 0;
  o.retry.initial_backoff = milliseconds(200);
  o.retry.max_backoff = milliseconds(2000);
  o.retry.max_server_wait = std::chrono::seconds(60);
  o.retry.attempt_timeout = attempt;
  o.retry.circuit.failures_to_open = 3;
  // A restart of a few seconds stays within the quiet window of the default
  // --io-timeout; a short --io-timeout gives up on a dead server sooner.
  o.retry.circuit.quiet_window = std::min<milliseconds>(attempt, std::chrono::seconds(5));
  o.retry.circuit.cool_down = std::chrono::seconds(2);
  return o;
}

Result<std::unique_ptr<chunkstore::ChunkCache>> OpenChunkCache(const std::string& dir,
                                                               std::optional<uint64_t> max_bytes,
                                                               uint64_t recent_chunk_bytes,
                                                               bool flush_at_close) {
  chunkstore::CacheOptions o;
  o.dir = dir + "/chunks";
  if (!max_bytes) {
    if (const char* env = std::getenv("HUBFS_CACHE_SIZE"); env != nullptr && *env != '\0') {
      max_bytes = ParseSize(env);
      if (!max_bytes || *max_bytes < (1u << 20)) {
        return InvalidArgumentError(std::string("HUBFS_CACHE_SIZE is not a size of at least 1M: ") +
                                    env);
      }
    }
  }
  if (max_bytes) o.max_bytes = *max_bytes;
  o.durable = false;
  o.flush_at_close = flush_at_close;
  // Read-ahead puts chunks moments before the demand reads want them: kept
  // in memory for those, the store is not read back (docs/CACHE_FORMAT.md).
  // As far as read-ahead runs ahead of its readers: a chunk the full cache
  // refused and memory dropped before its read is fetched again (a 6 GiB
  // stream through a 2 GiB cache fetched 11.1 GB with 32 MiB kept besides
  // the queue, 6.55 GB with 64 MiB counting the queue).
  o.recent_max_bytes = recent_chunk_bytes;
  auto cache = chunkstore::ChunkCache::Open(o);
  if (!cache.ok()) return cache.status().WithContext("open cache " + o.dir);
  return cache;
}

Status PrepareCacheDir(const std::string& dir) {
  const auto refuse = [&dir](const std::string& why) {
    return IoError("cache dir " + dir + " is not writable (" + why +
                   "): the chunk cache, the write journal, the log and the mount records are kept "
                   "there; give --cache-dir (or HUBFS_CACHE_DIR) a writable directory");
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return refuse(ec.message());
  std::string probe = dir + "/.hubfs-probe-XXXXXX";
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) return refuse(std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

Result<std::unique_ptr<Services>> Services::Create(const hub::Settings& settings,
                                                   const ServicesOptions& options) {
  std::unique_ptr<Services> s(new Services());
  s->settings_ = settings;
  HUBFS_ASSIGN_OR_RETURN(s->hub_,
                         hub::HubServices::Create(s->settings_, SystemClock::Default(),
                                                  NetworkPolicy(options.io_timeout_seconds)));
  const std::string tier_url = options.shared_cache.value_or(settings.shared_cache);
  if (!tier_url.empty()) {
    // Connects lazily: a tier down now is bypassed, never fatal.
    HUBFS_ASSIGN_OR_RETURN(s->shared_tier_, chunkstore::OpenSharedTier(tier_url));
  }
  if (options.open_cache) {
    HUBFS_RETURN_IF_ERROR(s->OpenCache(options.cache_dir, options.cache_max_bytes,
                                       kDefaultRecentChunkBytes, options.flush_cache_at_close));
  }
  return s;
}

SourceStack::SourceStack(hub::HubClient* client, hub::HttpTransport* transport,
                         hub::TokenProvider* tokens, chunkstore::ChunkCache* cache, bool offline,
                         const SourceStackOptions& options)
    : hub_(client, transport, tokens, options.xet),
      offline_(&hub_, fs::OfflineOptions{offline, options.fail_fast, options.revisions,
                                         client->endpoint()}),
      caching_(&offline_, cache) {}

std::unique_ptr<SourceStack> Services::NewSourceStack(const SourceStackOptions& options) {
  return std::make_unique<SourceStack>(&hub(), &transport(), &tokens(), cache(),
                                       settings_.offline, options);
}

Status Services::OpenCache(const std::string& cache_dir, std::optional<uint64_t> max_bytes,
                           uint64_t recent_chunk_bytes, bool flush_at_close) {
  HUBFS_ASSIGN_OR_RETURN(cache_,
                         OpenChunkCache(cache_dir, max_bytes, recent_chunk_bytes, flush_at_close));
  return Status::Ok();
}

}  // namespace hubfs::cli
