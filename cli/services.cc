#include "cli/services.h"

#include <algorithm>
#include <chrono>

namespace hubfs::cli {

hub::HubServicesOptions NetworkPolicy(double io_timeout_seconds) {
  using std::chrono::milliseconds;
  const milliseconds deadline(static_cast<int64_t>(io_timeout_seconds * 1000));
  const milliseconds attempt = std::max<milliseconds>(deadline / 3, std::chrono::seconds(1));
  hub::HubServicesOptions o;
  o.transport.connect_timeout = attempt;
  o.transport.stall_timeout = attempt;
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = milliseconds(200);
  o.retry.max_backoff = milliseconds(1000);
  o.retry.max_server_wait = std::min<milliseconds>(deadline, std::chrono::seconds(5));
  return o;
}

Result<std::unique_ptr<chunkstore::ChunkCache>> OpenChunkCache(const std::string& dir,
                                                               std::optional<uint64_t> max_bytes) {
  chunkstore::CacheOptions o;
  o.dir = dir + "/chunks";
  if (max_bytes) o.max_bytes = *max_bytes;
  o.durable = false;
  auto cache = chunkstore::ChunkCache::Open(o);
  if (!cache.ok()) return cache.status().WithContext("open cache " + o.dir);
  return cache;
}

Result<std::unique_ptr<Services>> Services::Create(const hub::Settings& settings,
                                                   const ServicesOptions& options) {
  std::unique_ptr<Services> s(new Services());
  s->settings_ = settings;
  HUBFS_ASSIGN_OR_RETURN(s->hub_,
                         hub::HubServices::Create(s->settings_, SystemClock::Default(),
                                                  NetworkPolicy(options.io_timeout_seconds)));
  if (options.open_cache) {
    HUBFS_RETURN_IF_ERROR(s->OpenCache(options.cache_dir, options.cache_max_bytes));
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

Status Services::OpenCache(const std::string& cache_dir, std::optional<uint64_t> max_bytes) {
  HUBFS_ASSIGN_OR_RETURN(cache_, OpenChunkCache(cache_dir, max_bytes));
  return Status::Ok();
}

}  // namespace hubfs::cli
