#include "tests/hubsim/services.h"

#include <chrono>

#include "chunkstore/hash.h"
#include "tests/hubsim/util.h"

namespace hubfs::hubsim {

Result<std::unique_ptr<Services>> OpenServices(const ServerOptions& opts) {
  auto s = std::make_unique<Services>();
  s->opts = opts;
  std::error_code ec;
  std::filesystem::create_directories(opts.data_dir, ec);
  if (ec) return IoError("create data dir " + opts.data_dir + ": " + ec.message());
  for (const auto& u : opts.users) HUBFS_RETURN_IF_ERROR(s->users.Add(u));
  HUBFS_ASSIGN_OR_RETURN(std::string secret, LoadOrCreateSecret(opts.data_dir));
  s->signer = std::make_unique<Signer>(secret);
  s->now = [] {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  };
  s->repos = std::make_unique<RepoStore>(opts.data_dir, s->now);
  // The dedup HMAC key is derived from the secret: stable across restarts.
  auto digest = chunkstore::Sha256Digest(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(secret.data()), secret.size()));
  chunkstore::Key key{};
  std::copy(digest.begin(), digest.end(), key.begin());
  s->cas = std::make_unique<CasStore>(opts.data_dir, key);
  s->blob_dir = std::filesystem::path(opts.data_dir) / "blobs";
  HUBFS_ASSIGN_OR_RETURN(FaultSpec spec, ParseFaultSpec(opts.faults));
  s->faults.Set(std::move(spec));
  HUBFS_ASSIGN_OR_RETURN(std::set<std::string> hostile, ParseHostileSpec(opts.hostile));
  s->hostile.Set(std::move(hostile));
  HUBFS_ASSIGN_OR_RETURN(CommitBudgetSpec budget, ParseCommitBudget(opts.commit_budget));
  s->commit_budget.Set(std::move(budget));
  return s;
}

}  // namespace hubfs::hubsim
