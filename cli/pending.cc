// `hubfs pending MOUNTPOINT [--json] [--cache-dir DIR]`: what a --rw mount
// has journaled and not yet committed. Read from the mount's journal file
// (its directory is in the daemon's mount record), not asked of the daemon:
// it answers also while the daemon is busy committing or paused for the
// repo's commit budget, and a change shows as soon as its close returned.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/mount_state.h"
#include "common/file_env.h"
#include "fs/write/journal.h"

namespace hubfs::cli {
namespace {

constexpr char kPendingUsage[] =
    "usage: hubfs pending MOUNTPOINT [--json] [--cache-dir DIR]\n"
    "Lists the changes a --rw mount has journaled and not yet committed: kind\n"
    "(new, modified, renamed, deleted, new-dir, removed-dir), size, since when, path\n"
    "in the repo; in a --revisions or hub mount also the repo and branch of each.\n"
    "--json prints one JSON object instead.\n";

const char* KindName(const fs::PendingChange& c) {
  switch (c.kind) {
    case fs::PendingChange::Kind::kStaged:
      return c.was_remote ? "modified" : "new";
    case fs::PendingChange::Kind::kCopy:
      return "renamed";
    case fs::PendingChange::Kind::kDeleted:
      return "deleted";
    case fs::PendingChange::Kind::kNewDir:
      return "new-dir";
    case fs::PendingChange::Kind::kDeletedDir:
      return "removed-dir";
  }
  return "?";
}

std::string LocalTime(int64_t unix_s) {
  if (unix_s <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// One writable view's journal, read beside the daemon.
struct ViewJournal {
  std::string repo;    // "" in a single-branch mount
  std::string branch;
  std::string target;
  fs::JournalSnapshot snap;
};

int PrintPending(const MountState& s, const std::vector<ViewJournal>& views, bool as_json) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const bool multi = views.size() != 1 || !views[0].repo.empty();
  nlohmann::json changes = nlohmann::json::array();
  for (const ViewJournal& v : views) {
    for (const auto& [path, c] : v.snap.table.entries()) {
      nlohmann::json j{{"path", path}, {"kind", KindName(c)}, {"since", c.since}};
      if (!c.is_dir() && c.kind != fs::PendingChange::Kind::kDeleted) j["size"] = c.size;
      if (c.kind == fs::PendingChange::Kind::kCopy && c.base) j["from"] = c.base->path;
      if (multi) {
        j["repo"] = v.repo;
        j["branch"] = v.branch;
      }
      j["target"] = v.target;
      changes.push_back(std::move(j));
    }
  }
  if (as_json) {
    nlohmann::json out{{"mountpoint", s.mountpoint},
                       {"target", s.write_target},
                       {"changes", changes},
                       {"commits_paused_until", s.commits_paused_until}};
    std::puts(out.dump(2).c_str());
    return 0;
  }
  if (multi) {
    std::printf("%s: %zu change(s) journaled, not yet committed, in %zu branch view(s)\n",
                s.mountpoint.c_str(), changes.size(), views.size());
  } else {
    std::printf("%s: %zu change(s) journaled, not yet committed to %s\n", s.mountpoint.c_str(),
                changes.size(), s.write_target.c_str());
  }
  if (s.commits_paused_until > now) {
    std::printf("commits paused for the repo's commit budget for %lld s more\n",
                static_cast<long long>(s.commits_paused_until - now));
  }
  if (changes.empty()) return 0;
  if (multi) {
    std::printf("%-11s %12s  %-19s  %-28s %s\n", "KIND", "SIZE", "SINCE", "BRANCH", "PATH");
  } else {
    std::printf("%-11s %12s  %-19s  %s\n", "KIND", "SIZE", "SINCE", "PATH");
  }
  for (const auto& j : changes) {
    std::string size = j.contains("size") ? std::to_string(j["size"].get<uint64_t>()) : "-";
    std::string path = j["path"].get<std::string>();
    if (j.contains("from")) path += " (from " + j["from"].get<std::string>() + ")";
    if (multi) {
      const std::string branch =
          j["repo"].get<std::string>() + "@" + j["branch"].get<std::string>();
      std::printf("%-11s %12s  %-19s  %-28s %s\n", j["kind"].get<std::string>().c_str(),
                  size.c_str(), LocalTime(j["since"].get<int64_t>()).c_str(), branch.c_str(),
                  path.c_str());
    } else {
      std::printf("%-11s %12s  %-19s  %s\n", j["kind"].get<std::string>().c_str(), size.c_str(),
                  LocalTime(j["since"].get<int64_t>()).c_str(), path.c_str());
    }
  }
  return 0;
}

}  // namespace

int PendingCommand(std::span<const std::string_view> args) {
  std::set<std::string> dirs;
  std::string mnt;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-h" || args[i] == "--help") {
      std::fputs(kPendingUsage, stdout);
      return 0;
    }
    if (args[i] == "--json") {
      as_json = true;
    } else if (args[i] == "--cache-dir" && i + 1 < args.size()) {
      dirs.insert(std::string(args[++i]));
    } else if (args[i].rfind("--cache-dir=", 0) == 0) {
      dirs.insert(std::string(args[i].substr(12)));
    } else if (mnt.empty() && !args[i].empty() && args[i][0] != '-') {
      mnt = std::string(args[i]);
    } else {
      std::fprintf(stderr, "hubfs pending: unexpected argument '%s'\n%s",
                   std::string(args[i]).c_str(), kPendingUsage);
      return 2;
    }
  }
  if (mnt.empty()) {
    std::fputs(kPendingUsage, stderr);
    return 2;
  }
  std::error_code ec;
  const std::filesystem::path canon = std::filesystem::canonical(mnt, ec);
  const auto records = FindMountStates(dirs);
  auto it = records.find(ec ? mnt : canon.string());
  if (it == records.end()) {
    std::fprintf(stderr, "hubfs pending: %s: not a hubfs mount (no mount record found; try "
                 "--cache-dir)\n", mnt.c_str());
    return 1;
  }
  const MountState& state = it->second;
  if (!state.writable) {
    std::fprintf(stderr, "hubfs pending: %s: not a writable (--rw) mount\n", mnt.c_str());
    return 1;
  }
  const bool multi = state.repo == "hub" || state.revision.empty();
  std::vector<ViewJournal> views;
  std::vector<WriteViewState> listed = state.write_views;
  if (listed.empty() && !state.journal_dir.empty()) {  // an older daemon's record
    WriteViewState only;
    only.target = state.write_target;
    only.journal_dir = state.journal_dir;
    listed.push_back(std::move(only));
  }
  for (const WriteViewState& v : listed) {
    auto snap = fs::WriteJournal::ReadSnapshot(FileEnv::Default(), v.journal_dir);
    if (!snap.ok()) {
      std::fprintf(stderr, "hubfs pending: %s: %s: %s\n", mnt.c_str(), v.target.c_str(),
                   snap.status().ToString().c_str());
      return 1;
    }
    views.push_back(ViewJournal{multi ? v.repo : "", v.branch, v.target, std::move(*snap)});
  }
  return PrintPending(state, views, as_json);
}

}  // namespace hubfs::cli
