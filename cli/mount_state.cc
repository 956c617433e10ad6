#include "cli/mount_state.h"

#include "cli/size_arg.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hub/settings.h"

namespace hubfs::cli {
namespace {

bool PidAlive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

bool WriteProcessRecord(const std::string& dir, pid_t pid, const nlohmann::json& record) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  const std::string path = dir + "/" + std::to_string(pid) + ".json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << record.dump() << "\n";
    if (!out.good()) return false;
  }
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

std::vector<nlohmann::json> ReadLiveProcessRecords(const std::string& dir) {
  std::vector<nlohmann::json> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return out;
  for (const auto& entry : it) {
    const auto& p = entry.path();
    if (p.extension() != ".json") continue;
    std::ifstream in(p);
    std::stringstream buf;
    buf << in.rdbuf();
    auto j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) continue;
    if (!PidAlive(j["pid"].get<pid_t>())) {
      std::error_code rm;
      std::filesystem::remove(p, rm);
      continue;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string RecordString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t RecordNumber(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

namespace {

std::vector<std::string> ReadCmdline(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> argv;
  std::string a;
  while (std::getline(in, a, '\0')) argv.push_back(a);
  return argv;
}

// A process's command line. When its main thread has exited (a daemon
// killed while another thread is stuck in the kernel) /proc/PID/cmdline is
// empty, but a remaining thread's still shows it.
std::vector<std::string> CmdlineOf(const std::filesystem::path& proc_pid) {
  std::vector<std::string> argv = ReadCmdline(proc_pid / "cmdline");
  if (!argv.empty()) return argv;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator(proc_pid / "task", ec)) {
    argv = ReadCmdline(t.path() / "cmdline");
    if (!argv.empty()) return argv;
  }
  return argv;
}

// Cache dirs named on the command lines of running hubfs mount processes
// ("--cache-dir DIR" or "-o ...,cache_dir=DIR").
std::set<std::string> CacheDirsOfDaemons() {
  std::set<std::string> dirs;
  std::error_code ec;
  for (const auto& p : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = p.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::vector<std::string> argv = CmdlineOf(p.path());
    if (argv.empty()) continue;
    std::string prog = std::filesystem::path(argv[0]).filename().string();
    if (prog != "hubfs" && prog != "mount.hubfs" && prog != "mount.fuse.hubfs") continue;
    for (size_t i = 1; i < argv.size(); ++i) {
      if (argv[i] == "--cache-dir" && i + 1 < argv.size()) dirs.insert(argv[i + 1]);
      if (argv[i] == "-o" && i + 1 < argv.size()) {
        std::stringstream opts(argv[i + 1]);
        std::string o;
        while (std::getline(opts, o, ',')) {
          if (o.rfind("cache_dir=", 0) == 0) dirs.insert(o.substr(10));
        }
      }
    }
  }
  return dirs;
}

}  // namespace

std::string MountStatePath(const std::string& cache_dir, pid_t pid) {
  return cache_dir + "/mounts/" + std::to_string(pid) + ".json";
}

bool WriteMountState(const MountState& s) {
  nlohmann::json j = {
      {"pid", s.pid},           {"source", s.source},         {"repo", s.repo},
      {"revision", s.revision}, {"commit", s.commit},         {"mountpoint", s.mountpoint},
      {"cache_dir", s.cache_dir}, {"dev", s.dev}, {"started", s.started},     {"reads", s.reads},
      {"warm_reads", s.warm_reads}, {"plans", s.plans}, {"data_fetches", s.data_fetches},
      {"data_bytes", s.data_bytes}, {"not_cached_bytes", s.not_cached_bytes},
      {"fetches_in_flight", s.fetches_in_flight},
      {"readahead_bytes", s.readahead_bytes}, {"memory_limit", s.memory_limit},
      {"readahead_peak", s.readahead_peak}, {"round_trip_us", s.round_trip_us},
      {"far_origin", s.far_origin}, {"folder_files", s.folder_files},
      {"folder_bytes", s.folder_bytes}, {"folder_cancelled", s.folder_cancelled},
      {"tensor_sweeps", s.tensor_sweeps}, {"tensor_sweep_bytes", s.tensor_sweep_bytes},
      {"tensor_sweep_stored", s.tensor_sweep_stored}, {"sweeps_stopped", s.sweeps_stopped},
      {"updated", s.updated}, {"inodes", s.inodes}, {"dir_reads", s.dir_reads},
      {"writable", s.writable}, {"write_target", s.write_target}, {"pending", s.pending},
      {"commits", s.commits}, {"conflict_prs", s.conflict_prs},
      {"edits_hashed", s.edits_hashed}, {"uploaded_while_written", s.uploaded_while_written},
      {"last_commit_error", s.last_commit_error},
      {"commits_paused_until", s.commits_paused_until},
      {"commit_pause_reason", s.commit_pause_reason}, {"journal_dir", s.journal_dir},
      {"shared_cache", s.shared_cache}, {"tier_hits", s.tier_hits},
      {"tier_misses", s.tier_misses}, {"tier_errors", s.tier_errors},
      {"tier_refused", s.tier_refused}, {"tier_bytes", s.tier_bytes},
      {"tier_down", s.tier_down}, {"tier_servers", s.tier_servers},
      {"tier_servers_down", s.tier_servers_down},
  };
  nlohmann::json views = nlohmann::json::array();
  for (const WriteViewState& v : s.write_views) {
    views.push_back({{"repo", v.repo}, {"branch", v.branch}, {"target", v.target},
                     {"journal_dir", v.journal_dir}, {"pending", v.pending},
                     {"commits", v.commits}, {"conflict_prs", v.conflict_prs},
                     {"last_commit_error", v.last_commit_error},
                     {"commits_paused_until", v.commits_paused_until},
                     {"commit_pause_reason", v.commit_pause_reason}});
  }
  j["write_views"] = std::move(views);
  return WriteProcessRecord(s.cache_dir + "/mounts", s.pid, j);
}

void FillReaderStats(const fs::XetReaderStats& st, MountState* s) {
  s->reads = st.reads;
  s->warm_reads = st.warm_reads;
  s->plans = st.reconstructions;
  s->data_fetches = st.data_fetches;
  s->data_bytes = st.data_bytes;
  s->fetches_in_flight = st.fetches_in_flight;
  s->readahead_bytes = st.readahead_in_flight;
  s->memory_limit = st.memory_limit;
  s->readahead_peak = st.readahead_peak;
  s->round_trip_us = st.round_trip_us;
  s->far_origin = st.far_origin;
  s->folder_files = st.speculative_files;
  s->folder_bytes = st.speculative_bytes;
  s->folder_cancelled = st.speculative_cancelled;
  s->tensor_sweeps = st.tensor_sweeps;
  s->tensor_sweep_bytes = st.tensor_sweep_bytes;
  s->sweeps_stopped = st.sweeps_stopped;
  s->tier_hits = st.tier.hits;
  s->tier_misses = st.tier.misses;
  s->tier_errors = st.tier.errors;
  s->tier_refused = st.tier.corrupt;
  s->tier_bytes = st.tier_bytes;
  s->tier_down = st.tier.down;
  s->tier_servers = st.tier.servers;
  s->tier_servers_down = st.tier.servers_down;
  s->updated = static_cast<int64_t>(std::time(nullptr));
}

void FillWriteStats(const std::vector<fs::WriterSet::Entry>& views, MountState* state) {
  state->writable = true;
  state->write_views.clear();
  state->pending = state->commits = state->conflict_prs = state->edits_hashed = 0;
  state->uploaded_while_written = 0;
  state->last_commit_error.clear();
  state->commits_paused_until = 0;
  state->commit_pause_reason.clear();
  for (const fs::WriterSet::Entry& e : views) {
    const fs::CommitterStats cs = e.view->stats();
    WriteViewState v;
    v.repo = e.repo.ToString();
    v.branch = e.branch;
    v.target = e.view->target();
    v.journal_dir = e.view->journal_dir();
    for (const auto& [path, change] : e.view->Pending()) v.pending += !change.is_dir();
    v.commits = cs.commits;
    v.conflict_prs = cs.conflict_prs;
    v.last_commit_error = cs.last_error;
    v.commits_paused_until = cs.paused_until;
    v.commit_pause_reason = cs.pause_reason;
    state->pending += v.pending;
    state->commits += v.commits;
    state->conflict_prs += v.conflict_prs;
    state->edits_hashed += cs.edits_hashed;
    state->uploaded_while_written += cs.uploaded_while_written;
    if (state->last_commit_error.empty()) state->last_commit_error = v.last_commit_error;
    if (v.commits_paused_until > state->commits_paused_until) {
      state->commits_paused_until = v.commits_paused_until;
      state->commit_pause_reason = v.commit_pause_reason;
    }
    state->write_views.push_back(std::move(v));
  }
  state->write_target = state->write_views.empty() ? "" : state->write_views[0].target;
  state->journal_dir = state->write_views.empty() ? "" : state->write_views[0].journal_dir;
}

std::optional<uint64_t> ParseMemoryLimit(std::string_view s) {
  std::optional<uint64_t> v = ParseSize(s);
  if (!v || *v < kMinMemoryLimit) return std::nullopt;
  return v;
}

void RemoveMountState(const std::string& cache_dir, pid_t pid) {
  std::error_code ec;
  std::filesystem::remove(MountStatePath(cache_dir, pid), ec);
}

std::vector<MountState> ReadMountStates(const std::string& cache_dir) {
  std::vector<MountState> out;
  for (const nlohmann::json& j : ReadLiveProcessRecords(cache_dir + "/mounts")) {
    MountState s;
    s.pid = j["pid"].get<pid_t>();
    auto str = [&](const char* k) { return RecordString(j, k); };
    auto num = [&](const char* k) { return RecordNumber(j, k); };
    s.source = str("source");
    s.repo = str("repo");
    s.revision = str("revision");
    s.commit = str("commit");
    s.mountpoint = str("mountpoint");
    s.cache_dir = str("cache_dir");
    s.dev = str("dev");
    s.started = static_cast<int64_t>(num("started"));
    s.reads = num("reads");
    s.warm_reads = num("warm_reads");
    s.plans = num("plans");
    s.data_fetches = num("data_fetches");
    s.data_bytes = num("data_bytes");
    s.not_cached_bytes = num("not_cached_bytes");
    s.fetches_in_flight = num("fetches_in_flight");
    s.readahead_bytes = num("readahead_bytes");
    s.memory_limit = num("memory_limit");
    s.readahead_peak = num("readahead_peak");
    s.round_trip_us = num("round_trip_us");
    s.far_origin =
        j.contains("far_origin") && j["far_origin"].is_boolean() && j["far_origin"].get<bool>();
    s.folder_files = num("folder_files");
    s.folder_bytes = num("folder_bytes");
    s.folder_cancelled = num("folder_cancelled");
    s.tensor_sweeps = num("tensor_sweeps");
    s.tensor_sweep_bytes = num("tensor_sweep_bytes");
    s.tensor_sweep_stored = num("tensor_sweep_stored");
    s.sweeps_stopped = num("sweeps_stopped");
    s.updated = static_cast<int64_t>(num("updated"));
    s.shared_cache = str("shared_cache");
    s.tier_hits = num("tier_hits");
    s.tier_misses = num("tier_misses");
    s.tier_errors = num("tier_errors");
    s.tier_refused = num("tier_refused");
    s.tier_bytes = num("tier_bytes");
    s.tier_down = j.contains("tier_down") && j["tier_down"].is_boolean() &&
                  j["tier_down"].get<bool>();
    s.tier_servers = num("tier_servers");
    s.tier_servers_down = num("tier_servers_down");
    s.inodes = num("inodes");
    s.dir_reads = num("dir_reads");
    s.writable = j.contains("writable") && j["writable"].is_boolean() && j["writable"].get<bool>();
    s.write_target = str("write_target");
    s.pending = num("pending");
    s.commits = num("commits");
    s.conflict_prs = num("conflict_prs");
    s.edits_hashed = num("edits_hashed");
    s.uploaded_while_written = num("uploaded_while_written");
    s.last_commit_error = str("last_commit_error");
    s.commits_paused_until = static_cast<int64_t>(num("commits_paused_until"));
    s.commit_pause_reason = str("commit_pause_reason");
    s.journal_dir = str("journal_dir");
    if (auto views = j.find("write_views"); views != j.end() && views->is_array()) {
      for (const nlohmann::json& v : *views) {
        if (!v.is_object()) continue;
        WriteViewState w;
        w.repo = RecordString(v, "repo");
        w.branch = RecordString(v, "branch");
        w.target = RecordString(v, "target");
        w.journal_dir = RecordString(v, "journal_dir");
        w.pending = RecordNumber(v, "pending");
        w.commits = RecordNumber(v, "commits");
        w.conflict_prs = RecordNumber(v, "conflict_prs");
        w.last_commit_error = RecordString(v, "last_commit_error");
        w.commits_paused_until = static_cast<int64_t>(RecordNumber(v, "commits_paused_until"));
        w.commit_pause_reason = RecordString(v, "commit_pause_reason");
        s.write_views.push_back(std::move(w));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// The records in `dirs`, the default cache dir and the cache dirs of running
// mount daemons, each dir read once.
std::vector<MountState> SearchMountStates(std::set<std::string> dirs) {
  if (auto settings = hub::LoadSettings(hub::ProcessEnvironment()); settings.ok()) {
    dirs.insert(settings->cache_dir);
  }
  for (const auto& d : CacheDirsOfDaemons()) dirs.insert(d);
  std::vector<MountState> out;
  std::set<std::string> seen_dirs;
  for (const auto& d : dirs) {
    std::error_code ec;
    auto canon = std::filesystem::weakly_canonical(d, ec);
    std::string key = ec ? d : canon.string();
    if (!seen_dirs.insert(key).second) continue;
    for (auto& s : ReadMountStates(key)) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::map<std::string, MountState> FindMountStates(std::set<std::string> dirs) {
  // With several records for one mountpoint (stacked mounts) the newest
  // wins, as it is the visible one.
  std::map<std::string, MountState> by_mountpoint;
  for (auto& s : SearchMountStates(std::move(dirs))) {
    auto it = by_mountpoint.find(s.mountpoint);
    if (it == by_mountpoint.end() || it->second.started <= s.started) {
      by_mountpoint[s.mountpoint] = std::move(s);
    }
  }
  return by_mountpoint;
}

std::vector<MountState> FindMountStatesAt(const std::string& mountpoint,
                                          std::set<std::string> dirs) {
  std::vector<MountState> out;
  for (auto& s : SearchMountStates(std::move(dirs))) {
    if (s.mountpoint == mountpoint) out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const MountState& a, const MountState& b) {
    return a.started < b.started;
  });
  return out;
}

}  // namespace hubfs::cli
