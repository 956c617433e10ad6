#include "cli/prefetch_state.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/mount_state.h"

namespace hubfs::cli {
namespace {

std::string RecordPath(const std::string& cache_dir, pid_t pid) {
  return cache_dir + "/prefetch/" + std::to_string(pid) + ".json";
}

}  // namespace

bool WritePrefetchState(const PrefetchState& s) {
  const nlohmann::json j = {
      {"pid", s.pid},                 {"mountpoint", s.mountpoint},
      {"cache_dir", s.cache_dir},     {"paths", s.paths},
      {"files_total", s.files_total}, {"files_done", s.files_done},
      {"bytes_total", s.bytes_total}, {"bytes_done", s.bytes_done},
      {"started", s.started},         {"updated", s.updated},
  };
  return WriteProcessRecord(s.cache_dir + "/prefetch", s.pid, j);
}

void RemovePrefetchState(const std::string& cache_dir, pid_t pid) {
  std::error_code ec;
  std::filesystem::remove(RecordPath(cache_dir, pid), ec);
}

std::vector<PrefetchState> ReadPrefetchStates(const std::string& cache_dir) {
  std::vector<PrefetchState> out;
  for (const nlohmann::json& j : ReadLiveProcessRecords(cache_dir + "/prefetch")) {
    auto num = [&](const char* k) { return RecordNumber(j, k); };
    auto str = [&](const char* k) { return RecordString(j, k); };
    PrefetchState s;
    s.pid = j["pid"].get<pid_t>();
    s.mountpoint = str("mountpoint");
    s.cache_dir = str("cache_dir");
    s.paths = str("paths");
    s.files_total = num("files_total");
    s.files_done = num("files_done");
    s.bytes_total = num("bytes_total");
    s.bytes_done = num("bytes_done");
    s.started = static_cast<int64_t>(num("started"));
    s.updated = static_cast<int64_t>(num("updated"));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace hubfs::cli
