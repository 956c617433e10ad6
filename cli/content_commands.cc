// `hubfs ls`, `hubfs cat` and `hubfs cache ...`: the read path without FUSE.
// The wiring: Services (settings → CurlTransport → RetryingTransport →
// HubClient, the ChunkCache) → the RepoSource stack of a one-shot command
// (RevisionStore, fail fast) → RepoView (revisions, listings, regular files)
// and, per Xet file, HttpXetCas → XetReader over the shared ChunkCache.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/hash.h"
#include "cli/commands.h"
#include "cli/source_prefetch.h"
#include "cli/errors.h"
#include "cli/services.h"
#include "cli/size_arg.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "fs/content/repo_view.h"
#include "fs/content/revision_store.h"
#include "fs/content/xet_cas.h"
#include "fs/content/xet_reader.h"
#include "hub/hub_client.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::cli {
namespace {

constexpr size_t kCatBlock = 8u << 20;

struct CommonOptions {
  std::optional<std::string> cache_dir;
  // --cache-size; unset: $HUBFS_CACHE_SIZE, else the cache's default (10G).
  std::optional<uint64_t> cache_size;
  std::optional<std::string> shared_cache;  // --shared-cache URL
  std::vector<std::string> positional;
};

int Fail(const std::string& msg) {
  std::fprintf(stderr, "hubfs: %s\n", msg.c_str());
  return 1;
}

int Usage(const char* usage) {
  std::fputs(usage, stderr);
  return kUsageExitStatus;
}

// Takes --cache-dir / --cache-size / --shared-cache (either "--x v" or "--x=v") out of
// `args`; `flag` sees every other option and returns false on an unknown one.
bool ParseCommon(std::span<const std::string_view> args, CommonOptions* out,
                 const std::function<bool(std::string_view opt, std::string_view* value,
                                          bool* consumed_value)>& flag,
                 std::string* error) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view name = a;
    std::optional<std::string_view> inline_value;
    if (a.substr(0, 2) == "--" && a.find('=') != std::string_view::npos) {
      name = a.substr(0, a.find('='));
      inline_value = a.substr(a.find('=') + 1);
    }
    auto value = [&]() -> std::optional<std::string_view> {
      if (inline_value.has_value()) return inline_value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (name == "--cache-dir") {
      auto v = value();
      if (!v.has_value()) {
        *error = "--cache-dir needs a value";
        return false;
      }
      out->cache_dir = std::string(*v);
    } else if (name == "--cache-size") {
      auto v = value();
      auto size = v.has_value() ? ParseSize(*v) : std::nullopt;
      if (!size.has_value() || *size == 0) {
        *error = "--cache-size needs a size";
        return false;
      }
      out->cache_size = *size;
    } else if (name == "--shared-cache") {
      auto v = value();
      if (!v.has_value()) {
        *error = "--shared-cache needs memcached://HOST:PORT[,HOST:PORT...]";
        return false;
      }
      out->shared_cache = std::string(*v);
    } else if (a.size() > 1 && a[0] == '-') {
      std::string_view v;
      bool consumed = false;
      if (inline_value.has_value()) v = *inline_value;
      else if (i + 1 < args.size()) v = args[i + 1];
      if (!flag(name, &v, &consumed)) {
        *error = "unknown option " + std::string(a);
        return false;
      }
      if (consumed && !inline_value.has_value()) ++i;
    } else {
      out->positional.emplace_back(a);
    }
  }
  return true;
}

// Everything a command that talks to the Hub needs, owned in wiring order.
struct Client {
  std::unique_ptr<Services> services;
  std::unique_ptr<fs::RevisionStore> revisions;
  std::unique_ptr<SourceStack> stack;
  std::unique_ptr<fs::RepoView> view;
};

Result<std::string> CacheDir(const hub::Settings& settings, const CommonOptions& opts) {
  std::string dir = opts.cache_dir.value_or(settings.cache_dir);
  if (dir.empty()) return InvalidArgumentError("no cache directory (set --cache-dir)");
  HUBFS_RETURN_IF_ERROR(PrepareCacheDir(dir));
  return dir;
}

// flush_cache_at_close: CacheOptions::flush_at_close.
Result<std::unique_ptr<Client>> OpenClient(const CommonOptions& opts, bool need_cache = true,
                                           bool flush_cache_at_close = true) {
  auto c = std::make_unique<Client>();
  HUBFS_ASSIGN_OR_RETURN(hub::Settings settings, hub::LoadSettings(hub::ProcessEnvironment()));
  ServicesOptions sopts;
  HUBFS_ASSIGN_OR_RETURN(sopts.cache_dir, CacheDir(settings, opts));
  sopts.open_cache = need_cache;
  sopts.cache_max_bytes = opts.cache_size;
  sopts.flush_cache_at_close = flush_cache_at_close;
  sopts.shared_cache = opts.shared_cache;
  HUBFS_ASSIGN_OR_RETURN(c->services, Services::Create(settings, sopts));
  Services& s = *c->services;
  c->revisions = std::make_unique<fs::RevisionStore>(sopts.cache_dir + "/refs");
  SourceStackOptions stack_opts;
  stack_opts.fail_fast = true;
  stack_opts.revisions = c->revisions.get();
  c->stack = s.NewSourceStack(stack_opts);
  c->view = std::make_unique<fs::RepoView>(&c->stack->top(), &c->stack->policy(), &s.hub());
  return c;
}

// One line for the user, from an error anywhere below.
std::string Explain(const Status& st, const hub::Source& src, const std::string& path) {
  return ExplainError(st, ErrorSubject{src.repo.ToString(), src.revision.value_or(""), path, ""})
      .message;
}

void WarnIfStale(const fs::ResolvedRevision& r, const hub::Source& src) {
  if (!r.possibly_stale) return;
  std::fprintf(stderr,
               "hubfs: warning: Hub unreachable or offline; %s@%s is commit %s as last seen "
               "(possibly stale)\n",
               src.repo.ToString().c_str(), r.revision.c_str(), r.commit.c_str());
}

const char* KindName(const hub::TreeEntry& e) {
  if (e.type == hub::TreeEntry::Type::kDirectory) return "-";
  switch (fs::KindOf(e)) {
    case fs::ContentKind::kXet: return "xet";
    case fs::ContentKind::kLegacyLfs: return "lfs";
    case fs::ContentKind::kRegular: return "git";
  }
  return "?";
}

constexpr char kLsUsage[] =
    "usage: hubfs ls [-l] [-R] [--cache-dir DIR] SOURCE[/dir]\n"
    "  SOURCE = [hf://][datasets/|spaces/|models/]ns/name[@rev]\n";

constexpr char kCatUsage[] =
    "usage: hubfs cat [--range START-END] [--sha256] [--cache-dir DIR] SOURCE/path\n"
    "  END is exclusive; bytes go to stdout. A whole-file cat verifies the Xet file hash\n"
    "  after streaming (with --sha256 the listed SHA-256 too) and exits non-zero on a\n"
    "  mismatch.\n";

constexpr char kCacheUsage[] =
    "usage: hubfs cache ls [-l] | prune --max-size SIZE | clear | verify   [--cache-dir DIR]\n";

Status WriteOut(std::span<const uint8_t> data) {
  if (data.empty()) return Status::Ok();
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size()) {
    return IoError("write to stdout failed");
  }
  return Status::Ok();
}

// The Xet reader of `hubfs cat` and `hubfs prefetch`: whole files are read
// 32 MiB ahead (ReadAllVerified), and fetched bodies land in reused buffers,
// up to `reuse_bytes` of them kept. `wait_for_cache` false (cat): chunks the
// cache's disk writes lag behind are not cached rather than waited for.
fs::XetReaderOptions CommandReaderOptions(Services& services, uint64_t reuse_bytes,
                                          bool wait_for_cache) {
  fs::XetReaderOptions o;
  o.readahead_bytes = 32ull << 20;
  o.reuse_body_bytes = reuse_bytes;
  o.wait_for_cache = wait_for_cache;
  o.shared_tier = services.shared_tier();
  return o;
}

// The file a Xet entry names. A whole-file read checks the Xet file hash, a
// cryptographic hash of every byte, against the listing's; the listing's
// SHA-256 is checked only when `with_sha256`: a second hash of every byte,
// about a third of a cold `hubfs cat`'s CPU, that catches a Hub whose two
// hashes of a file disagree, not a byte the Xet file hash would let through.
Result<fs::XetFileRef> XetRefOf(const hub::TreeEntry& e, bool with_sha256) {
  fs::XetFileRef ref;
  HUBFS_ASSIGN_OR_RETURN(ref.hash, chunkstore::Hash::Parse(*e.xet_hash));
  ref.size = e.size;
  if (with_sha256 && e.lfs.has_value()) {
    auto sha = chunkstore::ParseHex(e.lfs->sha256);
    if (sha.ok() && sha->size() == 32) {
      std::array<uint8_t, 32> d;
      std::copy(sha->begin(), sha->end(), d.begin());
      ref.sha256 = d;
    }
  }
  return ref;
}

}  // namespace

int LsCommand(std::span<const std::string_view> args) {
  CommonOptions opts;
  bool long_format = false;
  bool recursive = false;
  std::string error;
  bool ok = ParseCommon(args, &opts,
                        [&](std::string_view opt, std::string_view*, bool*) {
                          if (opt.size() >= 2 && opt[0] == '-' && opt[1] != '-') {
                            for (char c : opt.substr(1)) {
                              if (c == 'l') long_format = true;
                              else if (c == 'R') recursive = true;
                              else return false;
                            }
                            return true;
                          }
                          return false;
                        },
                        &error);
  if (!ok || opts.positional.size() != 1) {
    if (!error.empty()) std::fprintf(stderr, "hubfs ls: %s\n", error.c_str());
    return Usage(kLsUsage);
  }
  Result<hub::Source> src = hub::ParseSource(opts.positional[0]);
  if (!src.ok()) return Fail("invalid source '" + opts.positional[0] + "': " + src.status().message());
  Result<std::unique_ptr<Client>> client = OpenClient(opts);
  if (!client.ok()) return Fail(client.status().ToString());
  fs::RepoView& view = *(*client)->view;
  Result<fs::ResolvedRevision> rev = view.Resolve(src->repo, src->revision);
  if (!rev.ok()) return Fail(Explain(rev.status(), *src, ""));
  WarnIfStale(*rev, *src);
  if (!src->subdir.empty()) {
    Result<hub::TreeEntry> e = view.Stat(src->repo, rev->commit, src->subdir);
    if (!e.ok()) return Fail(Explain(e.status(), *src, src->subdir));
    if (e->type == hub::TreeEntry::Type::kFile) {
      if (long_format) {
        std::printf("- %14llu %-3s %s\n", static_cast<unsigned long long>(e->size), KindName(*e),
                    e->path.c_str());
      } else {
        std::printf("%s\n", e->path.c_str());
      }
      return 0;
    }
  }
  Result<std::vector<hub::TreeEntry>> entries =
      view.List(src->repo, rev->commit, src->subdir, recursive);
  if (!entries.ok()) return Fail(Explain(entries.status(), *src, src->subdir));
  const size_t strip = src->subdir.empty() ? 0 : src->subdir.size() + 1;
  for (const hub::TreeEntry& e : *entries) {
    const bool dir = e.type == hub::TreeEntry::Type::kDirectory;
    const std::string rel = e.path.size() > strip ? e.path.substr(strip) : e.path;
    if (long_format) {
      std::printf("%c %14llu %-3s %s%s\n", dir ? 'd' : '-', static_cast<unsigned long long>(e.size),
                  KindName(e), rel.c_str(), dir ? "/" : "");
    } else {
      std::printf("%s%s\n", rel.c_str(), dir ? "/" : "");
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// Copies [start, end) to stdout through `read`, one buffer at a time.
Status CopyOut(uint64_t start, uint64_t end, std::vector<uint8_t>& buf,
               const std::function<Result<size_t>(uint64_t, std::span<uint8_t>)>& read) {
  for (uint64_t off = start; off < end;) {
    std::span<uint8_t> out(buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), end - off)));
    Result<size_t> n = read(off, out);
    if (!n.ok()) return n.status();
    if (*n == 0) return InternalError("short read");
    HUBFS_RETURN_IF_ERROR(WriteOut(out.first(*n)));
    off += *n;
  }
  return Status::Ok();
}

// A Xet file to stdout: the whole file verified, or the range asked for.
Status CatXet(Client& c, const fs::XetFileRef& ref, fs::CasTokenSource tokens,
              const std::optional<std::pair<uint64_t, uint64_t>>& range, uint64_t start,
              uint64_t end, std::vector<uint8_t>& buf) {
  fs::HttpXetCas cas(&c.services->transport(), std::move(tokens));
  // A whole file (ReadAllVerified: no read-ahead) does not wait for the
  // cache; a range is read with read-ahead, whose chunks reach the read
  // through the cache, so it waits.
  fs::XetReader reader(&cas, c.services->cache(),
                       CommandReaderOptions(*c.services, 64ull << 20,
                                            /*wait_for_cache=*/!range.has_value()));
  Status st;
  if (!range.has_value()) {
    st = reader.ReadAllVerified(ref, kCatBlock, WriteOut);
  } else {
    st = CopyOut(start, end, buf, [&](uint64_t off, std::span<uint8_t> out) {
      return reader.Read(ref, off, out);
    });
  }
  if (std::getenv("HUBFS_READER_STATS") != nullptr) {
    const fs::XetReaderStats s = reader.Stats();
    std::fprintf(stderr,
                 "hubfs: reads=%llu warm=%llu reconstructions=%llu data_fetches=%llu "
                 "data_bytes=%llu shared=%llu expired_retries=%llu xorbs_verified=%llu "
                 "cache_skipped_bytes=%llu\n",
                 (unsigned long long)s.reads, (unsigned long long)s.warm_reads,
                 (unsigned long long)s.reconstructions, (unsigned long long)s.data_fetches,
                 (unsigned long long)s.data_bytes, (unsigned long long)s.shared_fetches,
                 (unsigned long long)s.expired_url_retries,
                 (unsigned long long)s.xorbs_verified,
                 (unsigned long long)(c.services->cache() != nullptr
                                          ? c.services->cache()->Stats().skipped_bytes
                                          : 0));
  }
  return st;
}

int CatCommand(std::span<const std::string_view> args) {
  CommonOptions opts;
  std::optional<std::pair<uint64_t, uint64_t>> range;
  bool check_sha256 = false;
  std::string range_error;
  std::string error;
  bool ok = ParseCommon(args, &opts,
                        [&](std::string_view opt, std::string_view* v, bool* consumed) {
                          if (opt == "--sha256") {
                            check_sha256 = true;
                            return true;
                          }
                          if (opt != "--range") return false;
                          *consumed = true;
                          const size_t dash = v->find('-');
                          uint64_t a = 0;
                          uint64_t b = 0;
                          if (dash == std::string_view::npos ||
                              std::from_chars(v->data(), v->data() + dash, a).ptr !=
                                  v->data() + dash ||
                              std::from_chars(v->data() + dash + 1, v->data() + v->size(), b)
                                      .ptr != v->data() + v->size() ||
                              dash == 0 || dash + 1 == v->size() || b < a) {
                            range_error = "bad --range '" + std::string(*v) +
                                          "' (want START-END, END exclusive, START <= END)";
                            return true;
                          }
                          range = std::make_pair(a, b);
                          return true;
                        },
                        &error);
  if (!range_error.empty()) return Fail(range_error);
  if (check_sha256 && range.has_value()) return Fail("--sha256 checks a whole file: not with --range");
  if (!ok || opts.positional.size() != 1) {
    if (!error.empty()) std::fprintf(stderr, "hubfs cat: %s\n", error.c_str());
    return Usage(kCatUsage);
  }
  Result<hub::Source> src = hub::ParseSource(opts.positional[0]);
  if (!src.ok()) return Fail("invalid source '" + opts.positional[0] + "': " + src.status().message());
  if (src->subdir.empty()) return Fail("cat needs a file path: SOURCE/path");
  // The user waits for the bytes, not for the cache to reach the disk: the
  // kernel writes it back, and its marker stays until a later flush.
  Result<std::unique_ptr<Client>> client =
      OpenClient(opts, /*need_cache=*/true, /*flush_cache_at_close=*/false);
  if (!client.ok()) return Fail(client.status().ToString());
  Client& c = **client;
  Result<fs::ResolvedRevision> rev = c.view->Resolve(src->repo, src->revision);
  if (!rev.ok()) return Fail(Explain(rev.status(), *src, ""));
  WarnIfStale(*rev, *src);
  Result<hub::TreeEntry> e = c.view->Stat(src->repo, rev->commit, src->subdir);
  if (!e.ok()) return Fail(Explain(e.status(), *src, src->subdir));
  if (e->type == hub::TreeEntry::Type::kDirectory) return Fail(src->subdir + ": is a directory");
  uint64_t start = 0;
  uint64_t end = e->size;
  if (range.has_value()) {
    start = std::min(range->first, e->size);
    end = std::min(range->second, e->size);
  }
  // A block buffer for ranges and regular files (a whole Xet file streams
  // through the reader's own buffers): allocated only for those.
  std::vector<uint8_t> buf;
  auto block = [&]() -> std::vector<uint8_t>& {
    if (buf.empty()) {
      buf.resize(static_cast<size_t>(std::min<uint64_t>(kCatBlock, std::max<uint64_t>(end - start, 1))));
    }
    return buf;
  };
  Status st;
  switch (fs::KindOf(*e)) {
    case fs::ContentKind::kLegacyLfs:
      return Fail(src->subdir + ": legacy LFS file without Xet storage: not supported yet");
    case fs::ContentKind::kRegular:
      if (check_sha256) {
        std::fprintf(stderr, "hubfs cat: warning: %s is a git file: no SHA-256 is listed for it\n",
                     src->subdir.c_str());
      }
      st = CopyOut(start, end, block(), [&](uint64_t off, std::span<uint8_t> out) {
        return c.view->ReadRegular(src->repo, rev->commit, *e, off, out);
      });
      break;
    case fs::ContentKind::kXet: {
      Result<fs::XetFileRef> ref = XetRefOf(*e, check_sha256);
      if (!ref.ok()) return Fail("bad xet hash in listing: " + ref.status().message());
      if (check_sha256 && !ref->sha256.has_value()) {
        std::fprintf(stderr, "hubfs cat: warning: no SHA-256 listed for %s: checking the Xet file "
                     "hash only\n", src->subdir.c_str());
      }
      st = CatXet(c, *ref, c.view->CasTokens(src->repo, rev->commit), range, start, end,
                  range.has_value() ? block() : buf);
      break;
    }
  }
  const bool flushed = std::fflush(stdout) == 0;
  if (!st.ok()) return Fail(Explain(st, *src, src->subdir));
  if (!flushed) return Fail("write to stdout failed");
  if (c.services->cache() != nullptr) {
    Status fl = c.services->cache()->Flush();
    if (!fl.ok()) std::fprintf(stderr, "hubfs: warning: cache write failed: %s\n", fl.ToString().c_str());
  }
  return 0;
}

Result<SourcePrefetch> OpenSourcePrefetch(const std::string& source,
                                          const std::optional<std::string>& cache_dir) {
  Result<hub::Source> src = hub::ParseSource(source);
  if (!src.ok()) {
    return InvalidArgumentError("invalid source '" + source + "': " + src.status().message());
  }
  CommonOptions opts;
  opts.cache_dir = cache_dir;
  HUBFS_ASSIGN_OR_RETURN(hub::Settings settings, hub::LoadSettings(hub::ProcessEnvironment()));
  HUBFS_ASSIGN_OR_RETURN(opts.cache_dir, CacheDir(settings, opts));
  HUBFS_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, OpenClient(opts));
  std::shared_ptr<Client> c(std::move(client));
  Result<fs::ResolvedRevision> rev = c->view->Resolve(src->repo, src->revision);
  if (!rev.ok()) return Status(rev.status().code(), Explain(rev.status(), *src, ""));
  WarnIfStale(*rev, *src);
  std::vector<hub::TreeEntry> entries;
  Result<hub::TreeEntry> top = src->subdir.empty()
                                   ? Result<hub::TreeEntry>(NotFoundError(""))
                                   : c->view->Stat(src->repo, rev->commit, src->subdir);
  if (!src->subdir.empty() && !top.ok()) {
    return Status(top.status().code(), Explain(top.status(), *src, src->subdir));
  }
  if (top.ok() && top->type == hub::TreeEntry::Type::kFile) {
    entries.push_back(*top);
  } else {
    Result<std::vector<hub::TreeEntry>> listed =
        c->view->List(src->repo, rev->commit, src->subdir, /*recursive=*/true);
    if (!listed.ok()) return Status(listed.status().code(), Explain(listed.status(), *src, src->subdir));
    for (auto& e : *listed) {
      if (e.type == hub::TreeEntry::Type::kFile) entries.push_back(std::move(e));
    }
  }
  SourcePrefetch out;
  out.cache_dir = *opts.cache_dir;
  const std::string base = source.substr(0, source.size() - src->subdir.size());
  for (const auto& e : entries) {
    const std::string shown =
        src->subdir.empty() ? (base.empty() || base.back() == '/' ? base : base + "/") + e.path
                            : base + e.path;
    out.files.push_back({shown, e.size});
  }
  auto shared = std::make_shared<std::pair<hub::Source, std::vector<hub::TreeEntry>>>(
      *src, std::move(entries));
  const std::string commit = rev->commit;
  out.read = [c, shared, commit](size_t i, std::atomic<uint64_t>* done,
                                 const std::atomic<bool>* stop) -> std::string {
    const hub::Source& s = shared->first;
    const hub::TreeEntry& e = shared->second[i];
    Status st;
    switch (fs::KindOf(e)) {
      case fs::ContentKind::kLegacyLfs:
        return "legacy LFS file without Xet storage: not supported yet";
      case fs::ContentKind::kRegular: {
        // Small git files: cached whole by the first read.
        std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(e.size, kCatBlock)));
        for (uint64_t off = 0; off < e.size && st.ok() && !stop->load();) {
          Result<size_t> n = c->view->ReadRegular(s.repo, commit, e, off, buf);
          if (!n.ok()) {
            st = n.status();
          } else if (*n == 0) {
            st = InternalError("short read");
          } else {
            off += *n;
            done->fetch_add(*n);
          }
        }
        break;
      }
      case fs::ContentKind::kXet: {
        Result<fs::XetFileRef> ref = XetRefOf(e, /*with_sha256=*/false);
        if (!ref.ok()) return "bad xet hash in listing: " + ref.status().message();
        fs::HttpXetCas cas(&c->services->transport(), c->view->CasTokens(s.repo, commit));
        // One reader per file, several files at once (--jobs): a smaller
        // share of kept bodies each.
        fs::XetReader reader(&cas, c->services->cache(),
                             CommandReaderOptions(*c->services, 16ull << 20, /*wait_for_cache=*/true));
        st = reader.ReadAllVerified(*ref, kCatBlock, [&](std::span<const uint8_t> data) {
          if (stop->load()) return Status(ErrorCode::kCancelled, "interrupted");
          done->fetch_add(data.size());
          return Status::Ok();
        });
        break;
      }
    }
    if (!st.ok() && !stop->load()) return Explain(st, s, e.path);
    return "";
  };
  out.finish = [c]() -> std::string {
    if (c->services->cache() == nullptr) return "";
    const Status st = c->services->cache()->Flush();
    return st.ok() ? "" : "cache write failed: " + st.ToString();
  };
  out.keep = c;
  return out;
}

int CacheCommand(std::span<const std::string_view> args) {
  if (args.empty()) return Usage(kCacheUsage);
  const std::string_view sub = args[0];
  CommonOptions opts;
  std::optional<uint64_t> max_size;
  bool long_format = false;
  std::string error;
  std::string bad_size;
  bool ok = ParseCommon(args.subspan(1), &opts,
                        [&](std::string_view opt, std::string_view* v, bool* consumed) {
                          if (opt == "-l") {
                            long_format = true;
                            return true;
                          }
                          if (opt != "--max-size") return false;
                          *consumed = true;
                          max_size = ParseSize(*v);
                          if (!max_size.has_value()) bad_size = std::string(*v);
                          return true;
                        },
                        &error);
  if (!ok || !opts.positional.empty()) {
    if (!error.empty()) std::fprintf(stderr, "hubfs cache: %s\n", error.c_str());
    return Usage(kCacheUsage);
  }
  if (!bad_size.empty()) return Fail("bad --max-size '" + bad_size + "'");
  if (sub != "ls" && sub != "prune" && sub != "clear" && sub != "verify") return Usage(kCacheUsage);
  if (sub == "prune" && !max_size.has_value()) return Fail("cache prune needs --max-size SIZE");
  Result<hub::Settings> settings = hub::LoadSettings(hub::ProcessEnvironment());
  if (!settings.ok()) return Fail(settings.status().ToString());
  Result<std::string> dir = CacheDir(*settings, opts);
  if (!dir.ok()) return Fail(dir.status().ToString());
  Result<std::unique_ptr<chunkstore::ChunkCache>> cache = OpenChunkCache(*dir, opts.cache_size);
  if (!cache.ok()) return Fail(cache.status().ToString());
  chunkstore::ChunkCache& cc = **cache;
  if (sub == "ls") {
    auto usage = cc.Usage();
    if (!usage.ok()) return Fail(usage.status().ToString());
    uint64_t entries = 0;
    uint64_t bytes = 0;
    std::printf("cache %s\n", dir->c_str());
    std::printf("%-8s %10s %14s\n", "kind", "entries", "bytes");
    for (const chunkstore::CacheKindUsage& u : *usage) {
      std::printf("%-8s %10llu %14llu\n", std::string(chunkstore::CacheKindName(u.kind)).c_str(),
                  (unsigned long long)u.entries, (unsigned long long)u.bytes);
      entries += u.entries;
      bytes += u.bytes;
    }
    std::printf("%-8s %10llu %14llu\n", "total", (unsigned long long)entries,
                (unsigned long long)bytes);
    if (long_format) {
      auto list = cc.List(std::nullopt, 100000);
      if (!list.ok()) return Fail(list.status().ToString());
      for (const chunkstore::CacheEntryInfo& e : *list) {
        std::printf("%10llu %s\n", (unsigned long long)e.bytes, e.description.c_str());
      }
    }
    return 0;
  }
  if (sub == "prune") {
    auto n = cc.Prune(*max_size);
    if (!n.ok()) return Fail(n.status().ToString());
    std::printf("evicted %llu entries\n", (unsigned long long)*n);
    return 0;
  }
  if (sub == "clear") {
    Status st = cc.Clear();
    if (!st.ok()) return Fail(st.ToString());
    st = fs::RevisionStore(*dir + "/refs").Clear();
    if (!st.ok()) return Fail(st.ToString());
    std::printf("cache cleared\n");
    return 0;
  }
  auto report = cc.Verify();
  if (!report.ok()) return Fail(report.status().ToString());
  std::printf("checked %llu entries, %llu corrupt (%llu bytes) removed\n",
              (unsigned long long)report->checked, (unsigned long long)report->corrupt,
              (unsigned long long)report->corrupt_bytes);
  return report->corrupt == 0 ? 0 : 1;
}

}  // namespace hubfs::cli
