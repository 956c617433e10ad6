// Per-mount state files: a running mount daemon records itself in
// <cache>/mounts/<pid>.json (source, mountpoint, cache dir, fetch counters),
// rewrites it while it runs, and removes it at exit; `hubfs status` reads
// them. A file whose pid no longer runs is stale.
#ifndef HUBFS_CLI_MOUNT_STATE_H_
#define HUBFS_CLI_MOUNT_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fs/content/xet_reader.h"
#include "fs/write/writer_set.h"

namespace hubfs::cli {

// The per-process records under <cache>/<kind>/ (mount daemons, prefetches):
// <dir>/<pid>.json, replaced whole (written beside, then renamed) so that a
// reader never sees half of one.
bool WriteProcessRecord(const std::string& dir, pid_t pid, const nlohmann::json& record);
// The records in `dir` whose process still runs; records of processes gone
// are removed, unreadable ones (being written, damaged) skipped.
std::vector<nlohmann::json> ReadLiveProcessRecords(const std::string& dir);
// A record's field, or "" / 0 when missing or of another type.
std::string RecordString(const nlohmann::json& record, const char* key);
uint64_t RecordNumber(const nlohmann::json& record, const char* key);

// One writable view of a --rw mount (one branch of one repo): where its
// commits go, its journal, its counters (as MountState's totals below).
struct WriteViewState {
  std::string repo;    // e.g. "datasets/org/data"
  std::string branch;  // "main", "feature/x", "refs/pr/3"
  std::string target;  // the branch, or refs/pr/N after --create-pr
  std::string journal_dir;
  uint64_t pending = 0;
  uint64_t commits = 0;
  uint64_t conflict_prs = 0;
  std::string last_commit_error;
  int64_t commits_paused_until = 0;
  std::string commit_pause_reason;
};

struct MountState {
  pid_t pid = 0;
  std::string source;      // as given to hubfs mount
  std::string repo;        // e.g. "datasets/org/data"
  std::string revision;    // the revision the view follows; "" for --revisions and hub
  std::string commit;      // the commit the view shows (refreshed with the counters)
  std::string mountpoint;  // absolute
  std::string cache_dir;
  // The mount's device as /proc/self/mountinfo shows it ("0:52"): what tells
  // this mount from an older one at the same mountpoint ("" when unknown).
  std::string dev;
  int64_t started = 0;     // unix seconds
  // Cumulative counters of the Xet reader, refreshed every few seconds.
  uint64_t reads = 0;
  uint64_t warm_reads = 0;
  uint64_t plans = 0;  // reconstruction requests (full and ranged)
  uint64_t data_fetches = 0;
  uint64_t data_bytes = 0;
  // Bytes of chunks read and not cached because the cache's disk lagged
  // (CacheStats::skipped_bytes of the mount's cache, this process's).
  uint64_t not_cached_bytes = 0;
  // Gauges at the last refresh: data fetches running, read-ahead bytes in
  // flight or held against the memory budget, the budget (--memory-limit),
  // the most ever held.
  uint64_t fetches_in_flight = 0;
  uint64_t readahead_bytes = 0;
  uint64_t memory_limit = 0;
  uint64_t readahead_peak = 0;
  // The origin's round trip as the reader estimates it (0: no plan yet), and
  // whether it counts as distant (read-ahead keeps twice as much in flight).
  uint64_t round_trip_us = 0;
  bool far_origin = false;
  // Folder read-ahead (cumulative): files and bytes read ahead for a
  // copier before it came, requests and segments dropped because it
  // stopped early.
  uint64_t folder_files = 0;
  uint64_t folder_bytes = 0;
  uint64_t folder_cancelled = 0;
  // Tensor files swept for a loader reading every tensor, and the bytes
  // their sweeps queued (cumulative).
  uint64_t tensor_sweeps = 0;
  uint64_t tensor_sweep_bytes = 0;
  // Of them, bytes the kernel took into the page cache of the open files
  // (the FUSE server's page feed; not from FillReaderStats).
  uint64_t tensor_sweep_stored = 0;
  // Sweeps stopped when their file's last handle was released.
  uint64_t sweeps_stopped = 0;
  // The shared chunk tier ("" = none) and its counters: chunks served from
  // it, absent from it, engine errors, entries refused, bytes served; whether
  // servers are down now (their keys bypassed), of how many.
  std::string shared_cache;
  uint64_t tier_hits = 0;
  uint64_t tier_misses = 0;
  uint64_t tier_errors = 0;
  uint64_t tier_refused = 0;
  uint64_t tier_bytes = 0;
  bool tier_down = false;  // tier_servers_down != 0
  uint64_t tier_servers = 0;
  uint64_t tier_servers_down = 0;
  int64_t updated = 0;     // unix seconds of the last refresh
  uint64_t inodes = 0;     // inodes the mount holds (known to the kernel or open)
  uint64_t dir_reads = 0;  // directory reads the kernel sent (FuseServer::dir_reads)
  // --rw mounts: where commits go, changes journaled and not yet committed,
  // commits made, changes sent to pull requests after a conflict, the last
  // commit error ("" when the last attempt succeeded).
  bool writable = false;
  std::string write_target;
  uint64_t pending = 0;
  uint64_t commits = 0;
  uint64_t conflict_prs = 0;
  // Files committed as edits of a Hub file whose chunk list was cached: only
  // their changed bytes were chunked and hashed.
  uint64_t edits_hashed = 0;
  // Files committed from an upload made while they were written (nothing
  // left to hash at their commit).
  uint64_t uploaded_while_written = 0;
  std::string last_commit_error;
  // Commits paused for the repo's commit budget until this unix time (0:
  // not paused) and the Hub's answer; the journal directory (`hubfs pending`).
  int64_t commits_paused_until = 0;
  std::string commit_pause_reason;
  std::string journal_dir;
  // Every writable view open in the mount (a single-branch mount: its one
  // view; --revisions and hub mounts: the branches written so far or with
  // journaled changes). The fields above are their totals, and the target
  // and journal of the first.
  std::vector<WriteViewState> write_views;
};

// Copies the reader's counters and gauges into `state` and stamps `updated`.
void FillReaderStats(const fs::XetReaderStats& stats, MountState* state);
// The write side's part: every open writable view (`write_views`), their
// totals, and the target and journal of the first (for older readers).
void FillWriteStats(const std::vector<fs::WriterSet::Entry>& views, MountState* state);

// The value of `hubfs mount --memory-limit`: bytes, or with a K, M or G
// suffix (binary units; integers only). nullopt when malformed or below
// kMinMemoryLimit.
inline constexpr uint64_t kMinMemoryLimit = 4ull << 20;
std::optional<uint64_t> ParseMemoryLimit(std::string_view s);

// <cache_dir>/mounts/<pid>.json
std::string MountStatePath(const std::string& cache_dir, pid_t pid);

// Writes atomically (temporary file + rename). Returns false on failure.
bool WriteMountState(const MountState& state);

void RemoveMountState(const std::string& cache_dir, pid_t pid);

// States under <cache_dir>/mounts whose pid is alive; files of dead pids are
// removed (best effort).
std::vector<MountState> ReadMountStates(const std::string& cache_dir);

// The records of running mounts, by mountpoint, found in `dirs`, the default
// cache dir and the cache dirs named on the command lines of running mount
// daemons (`hubfs status`, `hubfs prefetch`).
std::map<std::string, MountState> FindMountStates(std::set<std::string> dirs);
// Every record of a process not yet gone (running or dying) whose mountpoint
// is `mountpoint`, from the same dirs; oldest first.
std::vector<MountState> FindMountStatesAt(const std::string& mountpoint,
                                          std::set<std::string> dirs);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_MOUNT_STATE_H_
