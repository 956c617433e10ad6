#include "cli/mount_serve.h"

#include "chunkstore/hash.h"
#include "common/file_env.h"
#include "fs/upload/repo_uploader.h"
#include "fs/write/writer_set.h"
#include "hub/cas_upload.h"
#include "hub/commit_client.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/errors.h"
#include "cli/dead_mount.h"
#include "cli/mount_state.h"
#include "cli/services.h"
#include "common/log_file.h"
#include "common/mutex.h"
#include "common/process_guard.h"
#include "fs/content/repo_source_hub.h"
#include "fs/content/xet_cas.h"
#include "fs/fuse/fuse_server.h"
#include "fs/vfs/vfs_core.h"

namespace hubfs::cli {
namespace {

// Sets the kernel readahead of the FUSE mount at `mountpoint` to `kb`
// (field notes: the 128 KiB default halves sequential speed; about 1 MiB is
// right, the daemon streams ahead itself). Needs root; best effort. Reads
// /proc/self/mountinfo rather than stat(2)ing the mount, which would wait for
// the session loop.
void SetMountReadahead(const std::string& mountpoint, unsigned kb) {
  std::string real = mountpoint;
  if (char* r = realpath(mountpoint.c_str(), nullptr)) {
    real = r;
    free(r);
  }
  FILE* f = std::fopen("/proc/self/mountinfo", "r");
  if (f == nullptr) return;
  char line[4096];
  std::string dev;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    // id parent major:minor root mountpoint ...
    char majmin[64], root[1024], mp[2048];
    if (std::sscanf(line, "%*s %*s %63s %1023s %2047s", majmin, root, mp) == 3 && real == mp) {
      dev = majmin;  // the last match is the newest mount
    }
  }
  std::fclose(f);
  if (dev.empty()) return;
  std::string path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  if (FILE* ra = std::fopen(path.c_str(), "w")) {
    std::fprintf(ra, "%u\n", kb);
    std::fclose(ra);
  }
}

// The name of the repo's default branch. The Hub maps the revision "HEAD" to
// the default branch; its name is the branch whose head is that commit. When
// several branches share the commit, "main" wins if it is one of them; when
// none can be named (e.g. the branch moved in between), "HEAD" itself is the
// revision, which still follows the default branch.
Result<std::string> DefaultBranch(hub::HubClient* client, fs::RepoSource* resolver,
                                  const hub::RepoId& repo) {
  HUBFS_ASSIGN_OR_RETURN(fs::RevisionInfo head, resolver->ResolveRevision(repo, "HEAD"));
  HUBFS_ASSIGN_OR_RETURN(hub::Refs refs, client->ListRefs(repo, /*include_prs=*/false));
  std::vector<std::string> names;
  for (const hub::GitRef& b : refs.branches) {
    if (b.target_commit == head.commit) names.push_back(b.name);
  }
  if (names.size() == 1) return names[0];
  if (std::find(names.begin(), names.end(), "main") != names.end()) return std::string("main");
  HUBFS_LOG(kWarning) << repo.ToString() << ": cannot name the default branch ("
                      << names.size() << " branches at " << head.commit
                      << "); following HEAD";
  return std::string("HEAD");
}

std::string Explain(const Status& st, const std::string& repo, const std::string& revision,
                    const std::string& what) {
  return ExplainError(st, ErrorSubject{repo, revision, "", what}).message;
}

// What the mount is, from the arguments.
struct MountConfig {
  std::string cache_dir;
  bool multi = false;  // several revisions (--revisions) or the whole Hub
  std::string fs_name;
};

// Everything a running mount owns, in build order (destroyed in reverse).
struct MountStack {
  std::unique_ptr<Services> services;
  std::string revision;  // single revision: as resolved from the arguments
  fs::RevisionInfo resolved;
  std::unique_ptr<fs::XetCas> cas;
  std::unique_ptr<fs::XetReader> reader;
  std::unique_ptr<SourceStack> source;  // a mount's: keeps trying, no RevisionStore
  std::unique_ptr<fs::VfsCore> core;
  // --rw: the write side, built after the core (it reads through it).
  std::unique_ptr<hub::CommitClient> commits;
  std::unique_ptr<hub::CasWriter> cas_writer;
  std::unique_ptr<fs::RepoUploader> uploader;
  std::unique_ptr<fs::WriterSet> writers;
  // --revisions/hub --rw: held for the mount's life, one such mount per repo
  // (hub: per endpoint) and cache dir.
  std::unique_ptr<File> multi_write_lock;
  // Called when a writable view opened (the mount record lists it at once).
  std::function<void()> writers_changed;
  std::unique_ptr<fs::FuseServer> server;
  std::string what;  // the mounted thing, for messages
  unsigned max_readahead = 0;
};

// The cache directory and the log. Returns an error message or "".
std::string Configure(const MountArgs& args, const hub::Settings& settings, bool daemon,
                      MountConfig* config) {
  config->cache_dir = args.cache_dir.empty() ? settings.cache_dir : args.cache_dir;
  config->multi = args.revisions || args.hub;
  if (Status s = PrepareCacheDir(config->cache_dir); !s.ok()) return s.message();
  log::SetMinLevel(args.log_level);
  if (daemon) {
    // Bounded: the file rotates once to hubfs-mount.log.1 at 16 MiB.
    auto log_file = log::RotatingLogFile::Open(config->cache_dir + "/hubfs-mount.log", 16ull << 20);
    if (log_file.ok()) {
      std::shared_ptr<log::RotatingLogFile> file = std::move(*log_file);
      log::SetSink([file](log::Level, std::string_view line) { file->Write(line); });
    }
  }
  return "";
}

// The revision a single-revision mount shows: @REV, or the default branch
// by name. Returns an error message or "".
std::string ResolveRevision(const hub::Source& source, MountStack* m) {
  // Without @REV the view follows the repo's default branch, found by name.
  hub::HubClient& client = m->services->hub();
  // The mount's stack without a reader (the cache is not open yet).
  std::unique_ptr<SourceStack> stack = m->services->NewSourceStack(SourceStackOptions{});
  fs::RepoSource& resolver = stack->top();
  if (source.revision) {
    m->revision = *source.revision;
  } else {
    auto branch = DefaultBranch(&client, &resolver, source.repo);
    if (!branch.ok()) return Explain(branch.status(), source.repo.ToString(), "", "");
    m->revision = *branch;
  }
  auto r = resolver.ResolveRevision(source.repo, m->revision);
  if (!r.ok()) {
    return Explain(r.status(), source.repo.ToString(), m->revision,
                   source.repo.ToString() + "@" + m->revision);
  }
  m->resolved = *r;
  return "";
}

// The reader and the source of file contents. CAS tokens are per repo: one
// repo and commit for a single revision; several revisions and repos ask
// with the repo each file is read from.
void BuildContent(const MountArgs& args, const MountConfig& config, const hub::Source& source,
                  MountStack* m) {
  hub::HubClient& client = m->services->hub();
  hub::HttpTransport* transport = &m->services->transport();
  fs::PerRepoXetCas* routed = nullptr;
  if (config.multi) {
    auto per_repo = std::make_unique<fs::PerRepoXetCas>(
        transport, [&client](const hub::RepoId& r, const std::string& c, bool force) {
          return client.XetReadToken(r, c, force);
        });
    routed = per_repo.get();
    m->cas = std::move(per_repo);
  } else {
    const hub::RepoId repo = source.repo;
    const std::string commit = m->resolved.commit;
    m->cas = std::make_unique<fs::HttpXetCas>(transport, [&client, repo, commit](bool force) {
      return client.XetReadToken(repo, commit, force);
    });
  }
  fs::XetReaderOptions reader_opts;
  reader_opts.memory_limit = args.memory_limit;
  // Fetched bodies land in reused buffers (given back every 30 s, below).
  reader_opts.reuse_body_bytes = std::min<uint64_t>(64ull << 20, args.memory_limit / 2);
  reader_opts.shared_tier = m->services->shared_tier();
  m->reader = std::make_unique<fs::XetReader>(m->cas.get(), m->services->cache(), reader_opts);
  SourceStackOptions stack_opts;
  stack_opts.xet = m->reader.get();
  m->source = m->services->NewSourceStack(stack_opts);
  if (routed != nullptr) m->source->hub().RouteXetTokens(routed);
}

// The core over the source, its root checked. Returns an error message or "".
std::string BuildCore(const MountArgs& args, const MountConfig& config, const hub::Source& source,
                      MountStack* m) {
  fs::VfsOptions vopts;
  vopts.uid = args.uid.value_or(getuid());
  vopts.gid = args.gid.value_or(getgid());
  vopts.metadata_ttl_seconds = args.metadata_ttl;
  vopts.folder_readahead.enabled = args.folder_readahead;
  // What is read ahead of a copier and not yet read sits in the cache's
  // probation with the copier's own chunks: at most a quarter of it, and at
  // most half of the read-ahead memory budget in flight.
  if (chunkstore::ChunkCache* cache = m->services->cache()) {
    vopts.folder_readahead.lead_bytes =
        std::min(vopts.folder_readahead.lead_bytes, cache->ProbationBytes() / 4);
  }
  vopts.folder_readahead.lead_bytes =
      std::min(vopts.folder_readahead.lead_bytes, args.memory_limit / 2);
  if (config.multi) {
    fs::VfsLayout layout;
    layout.kind = args.hub ? fs::VfsLayout::Kind::kHub : fs::VfsLayout::Kind::kRevisions;
    layout.repo = source.repo;
    layout.subdir = source.subdir;
    layout.mount_time = static_cast<int64_t>(std::time(nullptr));
    m->core = std::make_unique<fs::VfsCore>(&m->source->top(), layout, vopts);
    m->what = args.hub ? std::string("hub") : source.repo.ToString() + " (revisions)";
  } else {
    fs::ViewSpec view;
    view.repo = source.repo;
    view.revision = m->revision;
    view.resolved = m->resolved;
    view.subdir = source.subdir;
    view.immutable = hub::IsCommitSha(m->revision);
    m->core = std::make_unique<fs::VfsCore>(&m->source->top(), view, vopts);
    m->what = source.repo.ToString() + "@" + m->revision +
              (source.subdir.empty() ? "" : "/" + source.subdir);
  }
  auto root = m->core->CheckRoot();
  if (root.ok()) return "";
  if (config.multi) return Explain(root.error().cause, source.repo.ToString(), "", "");
  return root.error().code == fs::VfsErrc::kNoEntry
             ? m->what + ": folder not found"
             : m->what + ": cannot list: " + root.error().cause.ToString();
}

// Where a writable view keeps its journal and staging files, one directory
// per (endpoint, repo, branch) under the cache dir, and the repo's commit
// budget shared by every mount of it from this cache.
std::string WriteKey(const std::string& endpoint, const hub::RepoId& repo,
                     const std::string& branch, bool with_branch) {
  std::string id = endpoint + "\n" + repo.ToString();
  if (with_branch) id += "\n" + branch;
  auto digest = chunkstore::Sha256Digest(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(id.data()), id.size()));
  std::string name = repo.ToString();
  for (char& c : name) {
    if (c == '/') c = '-';
  }
  return name + "-" + chunkstore::HexLower(digest).substr(0, 16);
}

// A write token of `branch` proves write access before anything is
// mounted. Returns an error message (with `hint` after the reason) or "".
std::string CheckWriteToken(const hub::RepoId& repo, const std::string& branch, bool create_pr,
                            const std::string& hint, MountStack* m) {
  auto token = m->commits->XetWriteToken(repo, branch, create_pr);
  if (token.ok()) return "";
  const ErrorCode c = token.status().code();
  if (c == ErrorCode::kUnauthenticated || c == ErrorCode::kPermissionDenied) {
    return m->what + ": no write access (" +
           (m->services->tokens().HubToken() ? std::string("the token may not write here")
                                             : std::string("no token: set HF_TOKEN")) +
           hint + ")";
  }
  return Explain(token.status(), repo.ToString(), branch, m->what);
}

// A single-branch --rw mount: the revision must be a branch (or refs/pr/N)
// the token may write. Returns an error message or "".
std::string CheckWritableBranch(const MountArgs& args, const hub::Source& source,
                                MountStack* m) {
  const std::string& rev = m->revision;
  const bool pr = rev.rfind("refs/pr/", 0) == 0;
  if (!pr) {
    auto refs = m->services->hub().ListRefs(source.repo, false);
    if (!refs.ok()) return Explain(refs.status(), source.repo.ToString(), rev, m->what);
    bool branch = false;
    for (const auto& b : refs->branches) branch |= b.name == rev || b.ref == rev;
    if (!branch) {
      return m->what + " is not a branch: tags and commits are read-only (mount a branch with --rw)";
    }
  }
  if (args.create_pr && pr) return "--create-pr needs a branch, not a pull request";
  return CheckWriteToken(source.repo, rev, args.create_pr, "", m);
}

// A --revisions or hub --rw mount takes a lock for its whole source, so a
// second one of the same repo (any branch of a hub mount) from the same
// cache dir is refused at mount instead of answering EROFS at its writes.
// A --revisions mount also proves write access to the repo now, with the
// write token of its main branch (else its first branch); a hub mount
// cannot know its repos before they are written. Returns an error message
// or "".
std::string CheckWritableSource(const MountArgs& args, const hub::Source& source,
                                const std::string& root, const std::string& endpoint,
                                MountStack* m) {
  const std::string key =
      args.hub ? "hub-" + WriteKey(endpoint, hub::RepoId{}, "", false)
               : WriteKey(endpoint, source.repo, "", false);
  auto lock = FileEnv::Default()->Open(root + "/mount-" + key + ".lock", OpenMode::kReadWrite);
  if (!lock.ok()) return m->what + ": " + lock.status().ToString();
  auto locked = (*lock)->TryLock();
  if (!locked.ok()) return m->what + ": " + locked.status().ToString();
  if (!*locked) {
    return m->what + ": already mounted writable from this cache dir by another hubfs process "
                     "(unmount it, or give this mount another --cache-dir)";
  }
  m->multi_write_lock = std::move(*lock);
  if (args.hub) return "";
  auto refs = m->services->hub().ListRefs(source.repo, false);
  if (!refs.ok()) return Explain(refs.status(), source.repo.ToString(), "", m->what);
  if (refs->branches.empty()) return "";
  std::string branch = refs->branches.front().name;
  for (const auto& b : refs->branches) {
    if (b.name == "main") branch = b.name;
  }
  return CheckWriteToken(source.repo, branch, /*create_pr=*/false, "; mount without --rw to read",
                         m);
}

// --rw: builds the write side, one writable view per branch written. A
// single-branch mount checks its branch and opens its view now; a
// --revisions or hub mount opens a branch's view on its first change (write
// access checked then, per repo) and now only those with journaled changes.
// Returns an error message or "".
std::string BuildWritable(const MountArgs& args, const MountConfig& config,
                          const hub::Source& source, const hub::Settings& settings, MountStack* m) {
  if (config.multi && args.create_pr) {
    return "--create-pr is for a single branch: a --revisions or hub mount commits to each "
           "branch directly (mount REPO@BRANCH --rw --create-pr instead)";
  }
  hub::CommitClientOptions copts;
  copts.endpoint = settings.endpoint;
  copts.offline = settings.offline;
  m->commits = std::make_unique<hub::CommitClient>(&m->services->transport(), SystemClock::Default(),
                                                   &m->services->tokens(), copts);
  const std::string root = config.cache_dir + "/write";
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (!config.multi) {
    if (std::string err = CheckWritableBranch(args, source, m); !err.empty()) return err;
  } else if (std::string err = CheckWritableSource(args, source, root, settings.endpoint, m);
             !err.empty()) {
    return err;
  }
  m->cas_writer = std::make_unique<hub::CasWriter>(&m->services->transport());
  m->uploader = std::make_unique<fs::RepoUploader>(&m->services->hub(), m->commits.get(),
                                                   m->cas_writer.get(), m->services->cache());
  fs::WritableViewOptions wopts;
  wopts.commit_delay = std::chrono::milliseconds(static_cast<int64_t>(args.commit_delay * 1000));
  wopts.sync_timeout = std::chrono::milliseconds(static_cast<int64_t>(args.sync_timeout * 1000));
  wopts.create_pr = args.create_pr;
  if (!args.upload_while_writing) wopts.upload_while_writing_at = 0;
  fs::WriterSetHooks hooks;
  const std::string endpoint = settings.endpoint;
  hooks.journal_dir = [root, endpoint](const hub::RepoId& repo, const std::string& branch) {
    return root + "/" + WriteKey(endpoint, repo, branch, true);
  };
  hooks.budget_path = [root, endpoint](const hub::RepoId& repo) {
    return root + "/budget-" + WriteKey(endpoint, repo, "", false);
  };
  hooks.check_access = [commits = m->commits.get()](const hub::RepoId& repo,
                                                    const std::string& branch) {
    return commits->XetWriteToken(repo, branch, /*create_pr=*/false).status();
  };
  hooks.base_readers = [core = m->core.get()](const hub::RepoId& repo, const std::string& branch) {
    return core->BaseReaders(repo, branch);
  };
  hooks.on_opened = [m] {
    if (m->writers_changed) m->writers_changed();
  };
  m->writers = std::make_unique<fs::WriterSet>(FileEnv::Default(), m->uploader.get(),
                                               SystemClock::Default(), root, endpoint, wopts,
                                               std::move(hooks));
  m->core->EnableWrites(m->writers.get());
  if (config.multi) {
    const hub::RepoId repo = source.repo;
    const bool hub = args.hub;
    size_t resumed =
        m->writers->Resume([repo, hub](const hub::RepoId& r) { return hub || r == repo; });
    // A --revisions mount also looks for its branches' journals by name
    // (a journal of an older single-branch mount has no target file).
    if (!hub) {
      if (auto refs = m->services->hub().ListRefs(repo, /*include_prs=*/true); refs.ok()) {
        std::vector<std::string> branches;
        for (const auto& b : refs->branches) branches.push_back(b.name);
        for (const auto& p : refs->pull_requests) branches.push_back("refs/pr/" + p.name);
        resumed += m->writers->ResumeBranches(repo, branches);
      }
    }
    if (resumed > 0) {
      HUBFS_LOG(kInfo) << resumed << " branch view(s) with journaled changes resumed";
    }
    return "";
  }
  auto view = m->writers->Open(source.repo, m->revision, m->resolved.commit,
                               /*check_access=*/false);
  if (!view.ok()) {
    return view.status().code() == ErrorCode::kFailedPrecondition
               ? m->what + ": already mounted writable from this cache dir (" +
                     view.status().message() + ")"
               : view.status().ToString();
  }
  return "";
}

// --allow-other lets every local user read what the mount shows, so a
// private repo (or, for a hub mount, whatever private repo the token
// reaches) is shared only when asked for by name. Without a token nothing
// private can be read. A repo info answer without the flag counts as
// private. Returns an error message or "".
std::string CheckSharing(const MountArgs& args, const hub::Source& source, MountStack* m) {
  if (!args.allow_other || args.allow_other_private || !m->services->tokens().HubToken()) {
    return "";
  }
  const std::string how =
      ": --allow-other would let every local user read it; use --allow-other-private to share "
      "it anyway, or mount without a token";
  if (args.hub) return "a hub mount with a token reaches private repos" + how;
  Result<bool> is_private = m->services->hub().IsPrivate(source.repo);
  if (!is_private.ok()) {
    return "cannot tell whether " + source.repo.ToString() +
           " is private (" + is_private.status().message() + ")" + how;
  }
  if (*is_private) return source.repo.ToString() + " is private" + how;
  return "";
}

// Builds everything and mounts. Returns an error message or "".
std::string Build(const MountArgs& args, const hub::Source& source, const hub::Settings& settings,
                  const MountConfig& config, MountStack* m) {
  // libcurl's global state was set up by main(); no transport exists yet.
  ServicesOptions sopts;
  sopts.io_timeout_seconds = args.io_timeout;
  sopts.cache_dir = config.cache_dir;
  sopts.open_cache = false;  // after the revision resolved
  sopts.shared_cache = args.shared_cache;
  auto services = Services::Create(settings, sopts);
  if (!services.ok()) return services.status().ToString();
  m->services = std::move(*services);
  // Resolve first: a missing repo or revision fails before anything else.
  // A mount of several revisions checks its repo with CheckRoot.
  if (!config.multi) {
    if (std::string err = ResolveRevision(source, m); !err.empty()) return err;
  }
  // Read-ahead's chunks stay in memory after their write until read (with
  // those still queued): half the memory limit, a read-ahead window's reach
  // by default (64 MiB), at least 32 MiB. The whole limit kept a 6 GiB
  // stream's refetches at 1% as well, with 76 MiB more of peak RSS.
  const uint64_t recent = std::max(kDefaultRecentChunkBytes, args.memory_limit / 2);
  if (Status st = m->services->OpenCache(config.cache_dir, args.cache_size, recent); !st.ok()) {
    return st.ToString();
  }
  BuildContent(args, config, source, m);
  if (std::string err = BuildCore(args, config, source, m); !err.empty()) return err;
  if (args.rw) {
    if (std::string err = BuildWritable(args, config, source, settings, m); !err.empty()) {
      return err;
    }
  }
  if (std::string err = CheckSharing(args, source, m); !err.empty()) return err;
  fs::FuseServerOptions fopts;
  fopts.writable = args.rw;
  // Swept bytes waiting for the kernel count like read-ahead held.
  fopts.page_feed_bytes = std::min<uint64_t>(fopts.page_feed_bytes, args.memory_limit / 2);
  fopts.sync_timeout_seconds = args.sync_timeout;
  // Unmounted: nothing more is fetched. Requests still in flight (a server
  // trickling a body keeps one open for as long as it likes) fail at once,
  // so that the I/O threads waiting on them join without waiting for it. A
  // writable mount still commits after unmount (bounded), so it keeps its
  // transport; its requests are bounded by their stall timeouts.
  if (!args.rw) {
    fopts.on_session_end = [services = m->services.get()] { services->ShutdownTransport(); };
  }
  fopts.mountpoint = args.mountpoint;
  fopts.fs_name = "hubfs:" + (args.hub ? std::string("hub") : source.repo.ToString());
  fopts.allow_other = args.allow_other;
  fopts.request_timeout_seconds = args.io_timeout;
  // Tests only: reproduces the hang a kill -9 can leave (see the option).
  if (const char* stall = std::getenv("HUBFS_TEST_STALL_LOOKUP")) fopts.test_stall_lookup = stall;
  auto server = fs::FuseServer::Mount(m->core.get(), fopts);
  if (!server.ok()) return server.status().message();
  m->server = std::move(*server);
  m->max_readahead = fopts.max_readahead;
  return "";
}

std::string RealPath(const std::string& path) {
  std::string out = path;
  if (char* r = realpath(path.c_str(), nullptr)) {
    out = r;
    free(r);
  }
  return out;
}

// Serves until unmounted; the status file is refreshed every 2 s.
int Run(const MountArgs& args, const hub::Source& source, const MountConfig& config,
        MountStack& m, ReadyPipe* ready, bool daemon, const sigset_t& stop) {
  // A descriptor mount has no path here: its caller tunes the bdi if it wants.
  const bool fd_mount = FuseFdOf(args.mountpoint).has_value();
  if (geteuid() == 0 && !fd_mount) SetMountReadahead(args.mountpoint, m.max_readahead / 1024);
  const std::string& commit = m.resolved.commit;
  HUBFS_LOG(kInfo) << "mounted " << m.what << (commit.empty() ? "" : " (" + commit + ")")
                   << " at " << args.mountpoint;
  // Record the mount for `hubfs status`, refreshed with the reader's counters.
  MountState state;
  state.pid = getpid();
  state.source = args.source;
  state.repo = args.hub ? std::string("hub") : source.repo.ToString();
  state.revision = config.multi ? std::string() : m.revision;  // empty: every revision
  state.commit = commit;
  // realpath would turn /dev/fd/N into /dev/fuse.
  state.mountpoint = fd_mount ? args.mountpoint : RealPath(args.mountpoint);
  state.cache_dir = RealPath(config.cache_dir);
  // The device tells this mount from an older one at the same place (which
  // `hubfs unmount` may find hung by a killed daemon).
  if (!fd_mount) {
    if (std::optional<MountInfo> mi = FindMount(state.mountpoint)) state.dev = DevString(*mi);
  }
  state.started = static_cast<int64_t>(std::time(nullptr));
  if (m.services->shared_tier() != nullptr) {
    state.shared_cache = args.shared_cache.value_or(m.services->settings().shared_cache);
  }
  auto refresh_state = [&state, &m, &config] {
    FillReaderStats(m.reader->Stats(), &state);
    if (chunkstore::ChunkCache* cache = m.services->cache()) {
      state.not_cached_bytes = cache->Stats().skipped_bytes;
    }
    state.tensor_sweep_stored = m.server->page_feed_stored_bytes();
    state.dir_reads = m.server->dir_reads();
    state.inodes = m.core->inode_count();
    if (m.writers) FillWriteStats(m.writers->All(), &state);
    if (!config.multi) state.commit = m.core->current().commit;  // a branch view follows its head
    WriteMountState(state);
  };
  refresh_state();
  Mutex record_mu;  // one writer of the record at a time
  auto refresh_locked = [&] {
    MutexLock lock(&record_mu);
    refresh_state();
  };
  // A view opened by a write is in the record before that write's close
  // returns (`hubfs pending` reads its journal from there).
  m.writers_changed = refresh_locked;
  ready->Report("ok");
  Mutex state_mu;
  CondVar state_cv;
  bool state_stop = false;
  // The same thread gives freed heap memory back every 30 s, so the RSS
  // follows what is in use instead of keeping its high-water mark (5 min
  // into a soak, 50 of 138 MiB of anonymous memory was free heap).
  std::thread state_thread([&] {
    MutexLock lock(&state_mu);
    int tick = 0;
    while (!state_stop) {
      if (state_cv.WaitFor(&state_mu, std::chrono::seconds(2)) || state_stop) continue;
      refresh_locked();
      if (++tick % 15 == 0) {
        m.reader->ReleaseIdleBuffers();
        ReleaseFreedMemory();
      }
    }
  });
  if (daemon) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      close(null_fd);
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  // A loader's swept tensor files reach the page cache ahead of its reads
  // (read-only mounts; fs/fuse/page_feed.h), while the session runs.
  m.reader->SetPageSink(m.server->page_sink());
  Status st = m.server->Run();
  m.reader->SetPageSink(nullptr);
  {
    MutexLock lock(&state_mu);
    state_stop = true;
  }
  state_cv.NotifyAll();
  state_thread.join();
  if (m.writers) {
    // Unmounted: what is pending in every view gets a bounded time to reach
    // the Hub (all views at once); the rest stays journaled for the next
    // mount (logged per view).
    m.writers_changed = nullptr;
    (void)m.writers->Shutdown(
        std::chrono::milliseconds(static_cast<int64_t>(args.unmount_wait * 1000)));
  }
  RemoveMountState(state.cache_dir, state.pid);
  HUBFS_LOG(kInfo) << "unmounted " << args.mountpoint;
  if (!st.ok()) {
    HUBFS_LOG(kError) << st;
    return 1;
  }
  return 0;
}

}  // namespace

std::optional<int> FuseFdOf(std::string_view mountpoint) {
  constexpr std::string_view kPrefix = "/dev/fd/";
  if (mountpoint.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view digits = mountpoint.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 9) return std::nullopt;
  int fd = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    fd = fd * 10 + (c - '0');
  }
  return fd;
}

int Serve(const MountArgs& args, const hub::Source& source, const hub::Settings& settings,
          ReadyPipe* ready, bool daemon) {
  // Stop signals stay blocked in every thread started from here; Run()
  // unblocks them where libfuse handles them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  MountConfig config;
  if (std::string err = Configure(args, settings, daemon, &config); !err.empty()) {
    ready->Report(err);
    return 1;
  }
  MountStack stack;
  if (std::string err = Build(args, source, settings, config, &stack); !err.empty()) {
    ready->Report(err);
    return 1;
  }
  return Run(args, source, config, stack, ready, daemon, stop);
}

}  // namespace hubfs::cli
