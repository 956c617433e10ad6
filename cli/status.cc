// `hubfs status`: the hubfs mounts of this mount namespace (from
// /proc/self/mountinfo, filesystem type fuse.hubfs), each with the daemon's
// pid, source and cache use from the state file the daemon keeps under
// <cache>/mounts/ (see cli/mount_state.h).
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/mount_state.h"
#include "cli/prefetch_state.h"
#include "hub/settings.h"

namespace hubfs::cli {
namespace {

constexpr char kStatusUsage[] =
    "usage: hubfs status [--cache-dir DIR]...\n"
    "Lists the hubfs mounts: mountpoint, source, daemon pid, cache use and the\n"
    "daemon's fetch counters, fetches in flight and read-ahead memory held against\n"
    "its --memory-limit (refreshed every 2 s). Mount records are looked up in the\n"
    "default cache dir, in each --cache-dir given, and in the cache dirs named by\n"
    "running mount daemons. Running `hubfs prefetch` processes are shown under the\n"
    "mount they warm.\n";

struct KernelMount {
  std::string mountpoint;
  std::string fsname;
};

// Undoes the octal escapes (\040 etc.) of /proc/self/mountinfo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<KernelMount> HubfsMounts() {
  std::vector<KernelMount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    std::string w;
    while (f >> w) fields.push_back(w);
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() < 5 || dash + 2 >= fields.size()) continue;
    if (fields[dash + 1] != "fuse.hubfs") continue;
    out.push_back({Unescape(fields[4]), Unescape(fields[dash + 2])});
  }
  return out;
}

// Bytes allocated on disk under `dir` (mount records excluded).
uint64_t DiskUsage(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      dir, std::filesystem::directory_options::skip_permission_denied, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

std::string Human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// One writable view's line: where its commits go and its counters.
void PrintWriteView(const std::string& target, uint64_t pending, uint64_t commits,
                    uint64_t conflict_prs, int64_t paused_until, const std::string& pause_reason,
                    const std::string& last_error) {
  std::printf("  writes:   to %s: %llu pending, %llu commits made, %llu sent to pull requests\n",
              target.c_str(), static_cast<unsigned long long>(pending),
              static_cast<unsigned long long>(commits),
              static_cast<unsigned long long>(conflict_prs));
  if (paused_until > 0) {
    const int64_t left = paused_until - static_cast<int64_t>(std::time(nullptr));
    std::printf("  commits:  paused for the repo's commit budget, %lld s left (%s); the "
                "changes stay journaled\n",
                static_cast<long long>(std::max<int64_t>(0, left)), pause_reason.c_str());
  }
  if (!last_error.empty()) std::printf("  last commit error: %s\n", last_error.c_str());
}

// A --rw mount's writable views: one block each (a --revisions or hub mount
// names the repo and branch of each; the record of an older daemon has the
// totals only).
void PrintWrites(const MountState& s) {
  if (s.edits_hashed > 0 || s.uploaded_while_written > 0) {
    // What the commits did not have to hash again (mount-wide totals).
    std::printf("  hashing:  %llu files committed as edits (changed bytes only), %llu uploaded "
                "while written\n",
                static_cast<unsigned long long>(s.edits_hashed),
                static_cast<unsigned long long>(s.uploaded_while_written));
  }
  if (s.write_views.empty() && (s.repo == "hub" || s.revision.empty())) {
    std::printf("  writes:   branch views writable; none written yet\n");
    return;
  }
  if (s.write_views.empty()) {
    PrintWriteView(s.write_target, s.pending, s.commits, s.conflict_prs, s.commits_paused_until,
                   s.commit_pause_reason, s.last_commit_error);
    return;
  }
  const bool multi = s.repo == "hub" || s.revision.empty();
  for (const WriteViewState& v : s.write_views) {
    const std::string target = multi ? v.repo + "@" + v.target : v.target;
    PrintWriteView(target, v.pending, v.commits, v.conflict_prs, v.commits_paused_until,
                   v.commit_pause_reason, v.last_commit_error);
  }
}

}  // namespace

int StatusCommand(std::span<const std::string_view> args) {
  std::set<std::string> dirs;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::fputs(kStatusUsage, stdout);
      return 0;
    }
    if (args[i] == "--cache-dir" && i + 1 < args.size()) {
      dirs.insert(std::string(args[++i]));
    } else if (args[i].rfind("--cache-dir=", 0) == 0) {
      dirs.insert(std::string(args[i].substr(12)));
    } else {
      std::fprintf(stderr, "hubfs status: unexpected argument '%s'\n%s",
                   std::string(args[i]).c_str(), kStatusUsage);
      return 2;
    }
  }
  const std::map<std::string, MountState> by_mountpoint = FindMountStates(dirs);

  auto mounts = HubfsMounts();
  // A daemon serving a /dev/fd/N descriptor its caller mounted does not know
  // the mount's path: its record is shown by descriptor, while it runs.
  std::vector<const MountState*> fd_mounts;
  for (const auto& [mp, s] : by_mountpoint) {
    if (mp.rfind("/dev/fd/", 0) == 0 && s.pid > 0 && kill(s.pid, 0) == 0) fd_mounts.push_back(&s);
  }
  for (const MountState* s : fd_mounts) {
    std::printf("%s (a descriptor its caller mounted)\n", s->mountpoint.c_str());
    std::printf("  source:   %s\n", s->source.c_str());
    std::printf("  daemon:   pid %d\n", static_cast<int>(s->pid));
    std::printf("  cache:    %s\n", s->cache_dir.c_str());
  }
  // `hubfs prefetch SOURCE` runs without a mount: its record is in the
  // cache dir it fills (the default one, a --cache-dir, or a mount's).
  std::set<std::string> cache_dirs = dirs;
  if (auto settings = hub::LoadSettings(hub::ProcessEnvironment()); settings.ok()) {
    cache_dirs.insert(settings->cache_dir);
  }
  for (const auto& [mp, s] : by_mountpoint) cache_dirs.insert(s.cache_dir);
  bool unmounted_prefetch = false;
  for (const std::string& dir : cache_dirs) {
    for (const PrefetchState& p : ReadPrefetchStates(dir)) {
      if (!p.mountpoint.empty()) continue;
      std::printf("prefetch of %s into %s (no mount): pid %d, %s of %s, %llu of %llu files\n",
                  p.paths.c_str(), dir.c_str(), static_cast<int>(p.pid),
                  Human(p.bytes_done).c_str(), Human(p.bytes_total).c_str(),
                  static_cast<unsigned long long>(p.files_done),
                  static_cast<unsigned long long>(p.files_total));
      unmounted_prefetch = true;
    }
  }
  if (mounts.empty() && fd_mounts.empty()) {
    if (!unmounted_prefetch) std::puts("no hubfs mounts");
    return 0;
  }
  std::map<std::string, uint64_t> usage;
  for (const auto& m : mounts) {
    auto it = by_mountpoint.find(m.mountpoint);
    std::printf("%s\n", m.mountpoint.c_str());
    if (it == by_mountpoint.end()) {
      std::printf("  source:   %s\n", m.fsname.c_str());
      std::printf("  daemon:   unknown (no mount record found; try --cache-dir)\n");
      continue;
    }
    const MountState& s = it->second;
    const std::vector<PrefetchState> prefetches = ReadPrefetchStates(s.cache_dir);
    std::printf("  source:   %s\n", s.source.c_str());
    if (s.revision.empty()) {
      std::printf("  revision: every revision, as directories\n");
    } else {
      // A --create-pr mount shows its pull request once it exists.
      const bool pr = s.writable && !s.write_target.empty() && s.write_target != s.revision;
      std::printf("  revision: %s%s%s (commit %s)\n", s.revision.c_str(),
                  pr ? ", showing " : "", pr ? s.write_target.c_str() : "", s.commit.c_str());
    }
    std::printf("  daemon:   pid %d\n", static_cast<int>(s.pid));
    if (!usage.count(s.cache_dir)) usage[s.cache_dir] = DiskUsage(s.cache_dir);
    std::printf("  cache:    %s (%s on disk)\n", s.cache_dir.c_str(),
                Human(usage[s.cache_dir]).c_str());
    if (s.not_cached_bytes != 0) {
      // docs/CACHE_FORMAT.md, "Chunks read through".
      std::printf("            %s read and not cached so far (the cache's disk lagged; "
                  "hubfs prefetch caches all)\n",
                  Human(s.not_cached_bytes).c_str());
    }
    std::printf("  reads:    %llu (%llu from cache), %llu plans, %llu data fetches, %s fetched\n",
                static_cast<unsigned long long>(s.reads),
                static_cast<unsigned long long>(s.warm_reads),
                static_cast<unsigned long long>(s.plans),
                static_cast<unsigned long long>(s.data_fetches), Human(s.data_bytes).c_str());
    std::printf("  fetching: %llu in flight, read-ahead %s held of %s (peak %s)\n",
                static_cast<unsigned long long>(s.fetches_in_flight),
                Human(s.readahead_bytes).c_str(), Human(s.memory_limit).c_str(),
                Human(s.readahead_peak).c_str());
    if (s.round_trip_us != 0) {
      std::printf("  origin:   round trip about %.1f ms%s\n", s.round_trip_us / 1000.0,
                  s.far_origin ? " (distant: twice the read-ahead in flight)" : "");
    }
    std::printf("  folder:   %llu files read ahead of a copier (%s), %llu cancelled\n",
                static_cast<unsigned long long>(s.folder_files), Human(s.folder_bytes).c_str(),
                static_cast<unsigned long long>(s.folder_cancelled));
    std::printf("  tensors:  %llu files swept for a loader reading every tensor (%s, %s of it "
                "into the page cache), %llu stopped when their file was closed\n",
                static_cast<unsigned long long>(s.tensor_sweeps),
                Human(s.tensor_sweep_bytes).c_str(), Human(s.tensor_sweep_stored).c_str(),
                static_cast<unsigned long long>(s.sweeps_stopped));
    if (!s.shared_cache.empty()) {
      std::string down;
      if (s.tier_down) {
        down = " (" + std::to_string(s.tier_servers_down) + " of " +
               std::to_string(s.tier_servers) + " servers down, their keys bypassed)";
      }
      std::printf("  shared:   %s%s: %llu hits, %llu misses, %llu errors, %llu refused, %s served\n",
                  s.shared_cache.c_str(), down.c_str(),
                  static_cast<unsigned long long>(s.tier_hits),
                  static_cast<unsigned long long>(s.tier_misses),
                  static_cast<unsigned long long>(s.tier_errors),
                  static_cast<unsigned long long>(s.tier_refused), Human(s.tier_bytes).c_str());
    }
    std::printf("  inodes:   %llu held\n", static_cast<unsigned long long>(s.inodes));
    for (const PrefetchState& p : prefetches) {
      if (p.mountpoint != s.mountpoint) continue;
      std::printf("  prefetch: pid %d, %s of %s, %llu of %llu files (%s)\n", static_cast<int>(p.pid),
                  Human(p.bytes_done).c_str(), Human(p.bytes_total).c_str(),
                  static_cast<unsigned long long>(p.files_done),
                  static_cast<unsigned long long>(p.files_total), p.paths.c_str());
    }
    if (s.writable) PrintWrites(s);
  }
  return 0;
}

}  // namespace hubfs::cli
