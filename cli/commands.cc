#include "cli/commands.h"

#include <cstdio>
#include <string>

namespace hubfs::cli {
namespace {

constexpr char kUsage[] =
    "usage: hubfs <command> [options]\n"
    "\n"
    "commands:\n"
    "  mount SOURCE MOUNTPOINT     mount a repo revision (see hubfs mount --help)\n"
    "  unmount MOUNTPOINT          unmount, forcing a lazy detach if needed\n"
    "  status [--cache-dir DIR]    list hubfs mounts, their daemons and cache use\n"
    "  prefetch [-j N] PATH...     warm a mount's cache for files and folders in it\n"
    "  prefetch [-j N] SOURCE      warm the cache for a repo's files, without a mount\n"
    "  ls [-l] [-R] SOURCE[/dir]   list a repo directory\n"
    "  cat [--range S-E] SOURCE/path  write a file (or bytes [S, E)) to stdout\n"
    "  cache {ls,prune,clear,verify}  inspect or maintain the local chunk cache\n"
    "  upload SOURCE LOCAL_PATH [PATH_IN_REPO]  commit a file or folder (see hubfs upload --help)\n"
    "  sync MOUNTPOINT             wait until a --rw mount's changes are committed\n"
    "  pending MOUNTPOINT [--json] list a --rw mount's changes not yet committed\n"
    "  xet hash [--json] FILE...   print the Xet file hash of local files\n"
    "  version                     print the version\n"
    "\n"
    "SOURCE = [hf://][datasets/|spaces/|models/]ns/name[@rev]; the cache is --cache-dir,\n"
    "else $HUBFS_CACHE_DIR, else $HF_HOME/hubfs. HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE apply.\n";

}  // namespace

int Run(std::span<const std::string_view> args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::puts("hubfs " HUBFS_VERSION);
    return 0;
  }
  if (args[0] == "mount") return MountCommand(args.subspan(1));
  if (args[0] == "unmount") return UnmountCommand(args.subspan(1));
  if (args[0] == "status") return StatusCommand(args.subspan(1));
  if (args[0] == "prefetch") return PrefetchCommand(args.subspan(1));
  if (args[0] == "ls") return LsCommand(args.subspan(1));
  if (args[0] == "cat") return CatCommand(args.subspan(1));
  if (args[0] == "cache") return CacheCommand(args.subspan(1));
  if (args[0] == "upload") return UploadCommand(args.subspan(1));
  if (args[0] == "sync") return SyncCommand(args.subspan(1));
  if (args[0] == "pending") return PendingCommand(args.subspan(1));
  if (args[0] == "xet" && args.size() >= 2 && args[1] == "hash") {
    return XetHashCommand(args.subspan(2));
  }
  std::fprintf(stderr, "hubfs: unknown command '%s'\n%s", std::string(args[0]).c_str(), kUsage);
  return 2;
}

}  // namespace hubfs::cli
