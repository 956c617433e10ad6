#include "cli/prefetch_state.h"

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace hubfs::cli {
namespace {

std::string RecordPath(const std::string& cache_dir, pid_t pid) {
  return cache_dir + "/prefetch/" + std::to_string(pid) + ".json";
}

bool PidAlive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

bool WritePrefetchState(const PrefetchState& s) {
  std::error_code ec;
  std::filesystem::create_directories(s.cache_dir + "/prefetch", ec);
  if (ec) return false;
  const nlohmann::json j = {
      {"pid", s.pid},                 {"mountpoint", s.mountpoint},
      {"cache_dir", s.cache_dir},     {"paths", s.paths},
      {"files_total", s.files_total}, {"files_done", s.files_done},
      {"bytes_total", s.bytes_total}, {"bytes_done", s.bytes_done},
      {"started", s.started},         {"updated", s.updated},
  };
  const std::string path = RecordPath(s.cache_dir, s.pid);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out.good()) return false;
  }
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

void RemovePrefetchState(const std::string& cache_dir, pid_t pid) {
  std::error_code ec;
  std::filesystem::remove(RecordPath(cache_dir, pid), ec);
}

std::vector<PrefetchState> ReadPrefetchStates(const std::string& cache_dir) {
  std::vector<PrefetchState> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(cache_dir + "/prefetch", ec)) {
    const auto& p = e.path();
    if (p.extension() != ".json") continue;
    std::ifstream in(p);
    std::stringstream buf;
    buf << in.rdbuf();
    auto j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;  // being written, or damaged: skipped
    auto num = [&](const char* k) -> uint64_t {
      return j.contains(k) && j[k].is_number_unsigned() ? j[k].get<uint64_t>() : 0;
    };
    auto str = [&](const char* k) {
      return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
    };
    PrefetchState s;
    s.pid = static_cast<pid_t>(num("pid"));
    if (!PidAlive(s.pid)) {
      std::error_code rm;
      std::filesystem::remove(p, rm);
      continue;
    }
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
