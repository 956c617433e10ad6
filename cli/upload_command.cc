// `hubfs upload SOURCE LOCAL_PATH [PATH_IN_REPO] ...`: one commit of a file
// or a folder, shaped like `hf upload`: the Services of cli/services.h, a
// CommitClient and CasWriter over its transport, and fs::RepoUploader. Its
// exit statuses (usage text, man page) say more than the generic table of
// cli/errors.h, because scripts branch on them.
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/status.h"
#include "fs/upload/repo_uploader.h"
#include "hub/cas_upload.h"
#include "hub/commit_client.h"
#include "cli/services.h"
#include "hub/hub_client.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::cli {
namespace {

constexpr char kUploadUsage[] =
    "usage: hubfs upload SOURCE LOCAL_PATH [PATH_IN_REPO] [-m MESSAGE] [--description TEXT]\n"
    "                    [--create-pr] [--include GLOB]... [--exclude GLOB]... [--delete GLOB]...\n"
    "                    [--cache-dir DIR] [--quiet]\n"
    "  SOURCE = [hf://][datasets/|spaces/|models/]ns/name[@BRANCH|@refs/pr/N]\n"
    "  A file goes to PATH_IN_REPO (default: its own name); a folder is uploaded recursively\n"
    "  into PATH_IN_REPO (default: the repo root). One commit for the whole call; prints the\n"
    "  commit sha and its URL (and the pull request URL with --create-pr).\n"
    "  --include/--exclude filter the folder's files (paths relative to LOCAL_PATH);\n"
    "  --delete removes remote files under PATH_IN_REPO that match and are not uploaded.\n"
    "exit status: 0 done (also when nothing changed), 1 error, 2 usage, 3 repo/branch/file\n"
    "  not found, 4 no write access, 5 the branch moved and an uploaded path changed there,\n"
    "  6 a local file changed while it was uploaded.\n";

// Exit codes (also in the usage text and man/hubfs.1).
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitAccess = 4;
constexpr int kExitConflict = 5;
constexpr int kExitLocalChange = 6;

struct UploadArgs {
  std::vector<std::string> positional;
  std::string message;
  std::string description;
  bool create_pr = false;
  bool quiet = false;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::vector<std::string> remove;
  std::optional<std::string> cache_dir;
};

bool ParseArgs(std::span<const std::string_view> args, UploadArgs* out, std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view name = a;
    std::optional<std::string_view> inline_value;
    if (a.substr(0, 2) == "--" && a.find('=') != std::string_view::npos) {
      name = a.substr(0, a.find('='));
      inline_value = a.substr(a.find('=') + 1);
    }
    auto value = [&](std::string* dst) {
      if (inline_value) {
        *dst = std::string(*inline_value);
        return true;
      }
      if (i + 1 >= args.size()) {
        *error = std::string(name) + " needs a value";
        return false;
      }
      *dst = std::string(args[++i]);
      return true;
    };
    auto push = [&](std::vector<std::string>* dst) {
      std::string v;
      if (!value(&v)) return false;
      dst->push_back(std::move(v));
      return true;
    };
    std::string tmp;
    if (name == "-m" || name == "--message" || name == "--commit-message") {
      if (!value(&out->message)) return false;
    } else if (name == "--description" || name == "--commit-description") {
      if (!value(&out->description)) return false;
    } else if (name == "--create-pr") {
      out->create_pr = true;
    } else if (name == "--quiet" || name == "-q") {
      out->quiet = true;
    } else if (name == "--include") {
      if (!push(&out->include)) return false;
    } else if (name == "--exclude") {
      if (!push(&out->exclude)) return false;
    } else if (name == "--delete") {
      if (!push(&out->remove)) return false;
    } else if (name == "--cache-dir") {
      if (!value(&tmp)) return false;
      out->cache_dir = tmp;
    } else if (a.size() > 1 && a[0] == '-') {
      *error = "unknown option " + std::string(a);
      return false;
    } else {
      out->positional.emplace_back(a);
    }
  }
  return true;
}

bool MatchesAny(const std::vector<std::string>& globs, const std::string& path) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return ::fnmatch(g.c_str(), path.c_str(), 0) == 0;
  });
}

// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string JoinRepoPath(const std::string& dir, const std::string& rel) {
  if (dir.empty()) return rel;
  if (rel.empty()) return dir;
  return dir + "/" + rel;
}

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The files of a folder (recursively, following symlinked files, skipping
// .git folders), relative to it, filtered by include/exclude.
Result<std::vector<std::pair<std::string, std::string>>> CollectFolder(
    const std::filesystem::path& root, const UploadArgs& args) {
  std::vector<std::pair<std::string, std::string>> out;  // (relative path, local path)
  std::error_code ec;
  auto it = std::filesystem::recursive_directory_iterator(root, ec);
  if (ec) return IoError("cannot read folder " + root.string() + ": " + ec.message());
  for (auto end = std::filesystem::recursive_directory_iterator(); it != end; it.increment(ec)) {
    if (ec) return IoError("cannot read folder " + root.string() + ": " + ec.message());
    const auto& entry = *it;
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && (name == ".git" || name == ".cache")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!entry.is_regular_file()) continue;
    std::string rel = std::filesystem::relative(entry.path(), root, ec).generic_string();
    if (ec) return IoError("cannot name " + entry.path().string() + ": " + ec.message());
    if (!args.include.empty() && !MatchesAny(args.include, rel)) continue;
    if (MatchesAny(args.exclude, rel)) continue;
    out.emplace_back(rel, entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

// Progress on stderr: a line rewritten in place on a TTY, plain lines (one per
// finished file) otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(::isatty(2) == 1) {}

  void Update(const fs::UploadProgress& p) {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - start_).count();
    if (tty_) {
      if (now - last_ < std::chrono::milliseconds(200) && p.hashed_bytes < p.total_bytes) return;
      last_ = now;
      const double rate = secs > 0 ? p.hashed_bytes / secs : 0;
      std::string eta = "-";
      if (rate > 0 && p.total_bytes >= p.hashed_bytes) {
        eta = std::to_string(static_cast<long>((p.total_bytes - p.hashed_bytes) / rate)) + " s";
      }
      std::fprintf(stderr, "\r\033[Khashed %s / %s, uploaded %s new, %s/s, ETA %s (file %zu/%zu)",
                   HumanBytes(p.hashed_bytes).c_str(), HumanBytes(p.total_bytes).c_str(),
                   HumanBytes(p.uploaded_bytes).c_str(), HumanBytes(rate).c_str(), eta.c_str(),
                   std::min(p.files_done + 1, p.files_total), p.files_total);
      drawn_ = true;
    } else if (p.files_done != files_done_) {
      files_done_ = p.files_done;
      std::fprintf(stderr, "hubfs: hashed %zu/%zu files, %s of %s, %s of new data uploaded\n",
                   p.files_done, p.files_total, HumanBytes(p.hashed_bytes).c_str(),
                   HumanBytes(p.total_bytes).c_str(), HumanBytes(p.uploaded_bytes).c_str());
    }
  }

  void Done() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }

 private:
  const bool quiet_;
  const bool tty_;
  bool drawn_ = false;
  size_t files_done_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

int ExitFor(const Status& st) {
  const std::string& msg = st.message();
  switch (st.code()) {
    case ErrorCode::kNotFound:
      return kExitNotFound;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return kExitAccess;
    case ErrorCode::kFailedPrecondition:
      if (msg.find("changed while it was being") != std::string::npos) return kExitLocalChange;
      return kExitConflict;
    case ErrorCode::kConflict:
      return kExitConflict;
    default:
      return kExitError;
  }
}

std::string ExplainUpload(const Status& st, const hub::Source& src) {
  const std::string repo = src.repo.ToString();
  const std::string rev = src.revision.value_or("main");
  const std::string& code = st.hub_error_code();
  switch (st.code()) {
    case ErrorCode::kNotFound:
      if (code == "RepoNotFound") return "repository " + repo + " not found";
      if (code == "RevisionNotFound") return "branch '" + rev + "' not found in " + repo;
      return st.message();
    case ErrorCode::kUnauthenticated:
      return "cannot write to " + repo + ": authentication required (set HF_TOKEN or log in)";
    case ErrorCode::kPermissionDenied:
      return "no write access to " + repo + ": " + st.message();
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      return "cannot reach the Hub: " + st.message() + " (nothing was committed)";
    default:
      return st.message().empty() ? st.ToString() : st.message();
  }
}

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "hubfs: %s\n", msg.c_str());
  return code;
}

}  // namespace

int UploadCommand(std::span<const std::string_view> argv) {
  UploadArgs args;
  std::string error;
  if (!argv.empty() && (argv[0] == "-h" || argv[0] == "--help")) {
    std::fputs(kUploadUsage, stdout);
    return 0;
  }
  if (!ParseArgs(argv, &args, &error)) {
    std::fprintf(stderr, "hubfs upload: %s\n%s", error.c_str(), kUploadUsage);
    return kExitUsage;
  }
  if (args.positional.size() < 2 || args.positional.size() > 3) {
    std::fputs(kUploadUsage, stderr);
    return kExitUsage;
  }
  auto src = hub::ParseSource(args.positional[0]);
  if (!src.ok()) {
    return Fail(kExitUsage, "invalid source '" + args.positional[0] + "': " + src.status().message());
  }
  const std::filesystem::path local(args.positional[1]);
  std::string dest = TrimSlashes(args.positional.size() == 3 ? args.positional[2] : src->subdir);
  std::error_code ec;
  const auto status = std::filesystem::status(local, ec);
  if (ec || !std::filesystem::exists(status)) {
    return Fail(kExitNotFound, "no such file or folder: " + local.string());
  }

  fs::UploadPlan plan;
  plan.repo = src->repo;
  plan.revision = src->revision.value_or("main");
  plan.create_pr = args.create_pr;
  plan.summary = args.message;
  plan.description = args.description;
  if (std::filesystem::is_directory(status)) {
    auto files = CollectFolder(local, args);
    if (!files.ok()) return Fail(kExitError, files.status().message());
    for (auto& [rel, path] : *files) plan.files.push_back({JoinRepoPath(dest, rel), path, nullptr});
  } else if (std::filesystem::is_regular_file(status)) {
    if (dest.empty() || (args.positional.size() == 2 && !src->subdir.empty() &&
                         args.positional[1].back() == '/')) {
      dest = JoinRepoPath(dest, local.filename().string());
    }
    plan.files.push_back({dest, local.string(), nullptr});
  } else {
    return Fail(kExitError, local.string() + " is neither a regular file nor a folder");
  }

  // Wiring: the one composition root (cli/services.h), plus the write-side
  // clients. The cache is optional for an upload: without it nothing is
  // deduplicated locally and nothing is kept for reading back.
  auto settings = hub::LoadSettings(hub::ProcessEnvironment());
  if (!settings.ok()) return Fail(kExitError, settings.status().ToString());
  ServicesOptions sopts;
  sopts.open_cache = false;
  auto services = Services::Create(*settings, sopts);
  if (!services.ok()) return Fail(kExitError, services.status().ToString());
  hub::HubClient& hub_client = (*services)->hub();
  hub::CommitClientOptions copts;
  copts.endpoint = settings->endpoint;
  copts.offline = settings->offline;
  hub::CommitClient commits(&(*services)->transport(), SystemClock::Default(),
                            &(*services)->tokens(), copts);
  hub::CasWriter cas(&(*services)->transport());
  const std::string cache_dir = args.cache_dir.value_or(settings->cache_dir);
  if (!cache_dir.empty()) {
    std::filesystem::create_directories(cache_dir, ec);
    Status st = (*services)->OpenCache(cache_dir, std::nullopt);
    if (!st.ok()) {
      std::fprintf(stderr, "hubfs: warning: chunk cache unavailable (%s); uploading without it\n",
                   st.ToString().c_str());
    }
  }
  chunkstore::ChunkCache* cache = (*services)->cache();

  // --delete patterns are relative to the folder uploaded into (for a file:
  // the folder that receives it).
  std::string delete_base = dest;
  if (!std::filesystem::is_directory(status)) {
    size_t slash = dest.rfind('/');
    delete_base = slash == std::string::npos ? "" : dest.substr(0, slash);
  }
  if (!args.remove.empty()) {
    auto tree = hub_client.ListTree(plan.repo, plan.revision, delete_base, {.recursive = true});
    if (!tree.ok() && tree.status().code() != ErrorCode::kNotFound) {
      return Fail(ExitFor(tree.status()), ExplainUpload(tree.status(), *src));
    }
    if (tree.ok()) {
      for (const auto& e : *tree) {
        if (e.type != hub::TreeEntry::Type::kFile) continue;
        std::string rel = delete_base.empty()
                              ? e.path
                              : e.path.substr(std::min(e.path.size(), delete_base.size() + 1));
        if (MatchesAny(args.remove, rel)) plan.deletes.push_back(e.path);
      }
    }
  }
  if (plan.files.empty() && plan.deletes.empty()) {
    return Fail(kExitError, "nothing to upload: no files matched");
  }

  fs::RepoUploader uploader(&hub_client, &commits, &cas, cache);
  ProgressPrinter printer(args.quiet);
  auto report = uploader.Upload(plan, [&](const fs::UploadProgress& p) { printer.Update(p); });
  printer.Done();
  if (cache) (void)cache->Flush();
  if (!report.ok()) return Fail(ExitFor(report.status()), ExplainUpload(report.status(), *src));

  const auto& r = *report;
  if (!args.quiet) {
    std::fprintf(stderr,
                 "hubfs: %zu file(s) inline, %zu via Xet%s, %zu unchanged, %zu deleted; "
                 "%s hashed, %s of new data in %llu xorb(s), %llu chunk(s) deduplicated\n",
                 r.inline_files, r.lfs_files, r.transfer.empty() ? "" : (" (" + r.transfer + ")").c_str(),
                 r.unchanged_files, r.deleted_files, HumanBytes(r.engine.bytes_hashed).c_str(),
                 HumanBytes(r.engine.xorb_bytes_uploaded).c_str(),
                 static_cast<unsigned long long>(r.engine.xorbs_uploaded),
                 static_cast<unsigned long long>(r.engine.dedup_session_chunks +
                                                 r.engine.dedup_local_chunks +
                                                 r.engine.dedup_global_chunks));
  }
  if (!r.committed) {
    std::fprintf(stderr, "hubfs: nothing changed; no commit made\n");
    std::printf("%s\n", r.commit.commit_oid.c_str());
    return 0;
  }
  std::printf("%s\n%s\n", r.commit.commit_oid.c_str(), r.commit.commit_url.c_str());
  if (r.commit.pr_url) std::printf("%s\n", r.commit.pr_url->c_str());
  return 0;
}

}  // namespace hubfs::cli

namespace hubfs::cli {

// An fsync of the mount's root directory: the daemon answers it once every
// change journaled so far is committed (fs/fuse's fsyncdir).
int SyncCommand(std::span<const std::string_view> args) {
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    std::fputs("usage: hubfs sync MOUNTPOINT\n", stderr);
    return 2;
  }
  const std::string mnt(args[0]);
  int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "hubfs: %s: %s\n", mnt.c_str(), std::strerror(errno));
    return 1;
  }
  int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return 0;
  if (err == ESTALE) {
    std::fprintf(stderr,
                 "hubfs: %s: a change went to a pull request (its path changed upstream; see "
                 "the mount's log)\n",
                 mnt.c_str());
  } else if (err == EIO) {
    std::fprintf(stderr,
                 "hubfs: %s: not committed yet (the changes stay journaled; see hubfs status)\n",
                 mnt.c_str());
  } else {
    std::fprintf(stderr, "hubfs: %s: %s\n", mnt.c_str(), std::strerror(err));
  }
  return 1;
}

}  // namespace hubfs::cli
