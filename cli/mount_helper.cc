// mount.hubfs: the helper mount(8) runs for /etc/fstab entries of type
// "hubfs" (or "fuse.hubfs" through a mount.fuse.hubfs link):
//   mount.hubfs SOURCE MOUNTPOINT [-s] [-f] [-n] [-v] [-N NS] [-o OPTIONS] [-t TYPE]
// The -o options become `hubfs mount` flags; the mount then daemonizes and
// returns once it is ready, exactly like `hubfs mount`.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

namespace hubfs::cli {
namespace {

constexpr char kHelperUsage[] =
    "usage: mount.hubfs SOURCE MOUNTPOINT [-s] [-f] [-n] [-v] [-o OPTIONS]\n"
    "OPTIONS (comma-separated): ro, writable (hubfs mount --rw), create_pr, allow_other,\n"
    "  allow_other_private, revisions, uid=N, gid=N,\n"
    "  cache_dir=DIR, cache_size=SIZE, metadata_ttl=S, io_timeout=S, memory_limit=SIZE,\n"
    "  commit_delay=S, sync_timeout=S, upload_while_writing=on|off, folder_readahead=on|off,\n"
    "  shared_cache=memcached://HOST:PORT[+HOST:PORT...] (repeatable: the servers add up),\n"
    "  log_level=LEVEL, foreground;\n"
    "  ignored: rw, defaults, auto, noauto, user, users, nouser, _netdev, nofail,\n"
    "  exec, noexec, suid, nosuid, dev, nodev, atime, noatime, relatime, async,\n"
    "  sync, x-*, comment=*.\n"
    "The mount is read-only unless the writable option is given.\n";

// Options mount(8), systemd or fstab add that mean nothing to hubfs.
bool IsIgnored(const std::string& o) {
  static const char* const kIgnored[] = {
      "rw",    "defaults", "auto",   "noauto",  "user",    "users",    "nouser",
      "owner", "_netdev",  "nofail", "exec",    "noexec",  "suid",     "nosuid",
      "dev",   "nodev",    "atime",  "noatime", "relatime", "nodiratime", "async",
      "sync",  "lazytime", "strictatime"};
  for (const char* i : kIgnored) {
    if (o == i) return true;
  }
  return o.rfind("x-", 0) == 0 || o.rfind("comment=", 0) == 0;
}

// The `hubfs mount` flags for mount options `options`, appended to `flags`.
// False (after a message) on an unknown option unless `sloppy`.
bool AddMountFlags(const std::vector<std::string>& options, bool sloppy, bool verbose,
                   std::vector<std::string>* flags) {
  // shared_cache: -o splits at commas, so servers are joined by '+' (which
  // the tier's parser takes for ','), and repeated options add servers.
  std::string shared_cache;
  for (const std::string& o : options) {
    size_t eq = o.find('=');
    std::string key = o.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : o.substr(eq + 1);
    bool has_value = eq != std::string::npos;
    if (o == "ro" || IsIgnored(o)) continue;
    if (o == "allow_other") {
      flags->push_back("--allow-other");
    } else if (o == "allow_other_private") {
      flags->push_back("--allow-other-private");
    } else if (o == "foreground") {
      flags->push_back("-f");
    } else if (o == "revisions") {
      flags->push_back("--revisions");
    } else if (o == "writable") {
      // Not "rw": mount(8) passes rw by default (it is ignored above).
      flags->push_back("--rw");
    } else if (o == "create_pr") {
      flags->push_back("--create-pr");
    } else if (key == "shared_cache" && has_value) {
      constexpr std::string_view kScheme = "memcached://";
      if (shared_cache.empty()) {
        shared_cache = value;
      } else {
        // A later one's servers join the first's (without the scheme; any
        // other text is refused with the tier's message).
        const size_t from = value.rfind(kScheme, 0) == 0 ? kScheme.size() : 0;
        shared_cache.push_back('+');
        shared_cache.append(value, from, std::string::npos);
      }
    } else if (has_value && (key == "uid" || key == "gid" || key == "cache_dir" ||
                             key == "metadata_ttl" || key == "io_timeout" ||
                             key == "memory_limit" || key == "cache_size" ||
                             key == "log_level" || key == "folder_readahead" ||
                             key == "commit_delay" || key == "sync_timeout" ||
                             key == "upload_while_writing")) {
      std::string flag = "--" + key;
      for (char& c : flag) {
        if (c == '_') c = '-';
      }
      flags->push_back(flag);
      flags->push_back(value);
    } else if (sloppy) {
      if (verbose) std::fprintf(stderr, "mount.hubfs: ignoring option '%s'\n", o.c_str());
    } else {
      std::fprintf(stderr, "mount.hubfs: unknown mount option '%s'\n%s", o.c_str(),
                   kHelperUsage);
      return false;
    }
  }
  if (!shared_cache.empty()) {
    flags->push_back("--shared-cache");
    flags->push_back(shared_cache);
  }
  return true;
}

}  // namespace

int MountHelperCommand(std::span<const std::string_view> argv) {
  std::vector<std::string> positional;
  std::vector<std::string> options;
  bool sloppy = false, fake = false, verbose = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kHelperUsage, stdout);
      return 0;
    } else if (a == "-o" || a == "-t" || a == "-N") {
      if (i + 1 >= argv.size()) {
        std::fprintf(stderr, "mount.hubfs: %s needs a value\n%s", std::string(a).c_str(),
                     kHelperUsage);
        return 2;
      }
      std::string_view v = argv[++i];
      if (a == "-o") {
        std::stringstream ss{std::string(v)};
        std::string o;
        while (std::getline(ss, o, ',')) {
          if (!o.empty()) options.push_back(o);
        }
      } else if (a == "-N") {
        std::fprintf(stderr, "mount.hubfs: -N (mount namespaces) is not supported\n");
        return 2;
      }
      // -t TYPE: nothing to do, the type is what brought us here.
    } else if (a.size() > 2 && a.substr(0, 2) == "-o") {
      std::stringstream ss{std::string(a.substr(2))};
      std::string o;
      while (std::getline(ss, o, ',')) {
        if (!o.empty()) options.push_back(o);
      }
    } else if (a == "-s") {
      sloppy = true;
    } else if (a == "-f") {
      fake = true;
    } else if (a == "-n") {
      // No mtab to write: the kernel's mount table is the only one.
    } else if (a == "-v") {
      verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "mount.hubfs: unknown option '%s'\n%s", std::string(a).c_str(),
                   kHelperUsage);
      return 2;
    } else {
      positional.emplace_back(a);
    }
  }
  if (positional.size() != 2) {
    std::fprintf(stderr, "mount.hubfs: expected SOURCE and MOUNTPOINT\n%s", kHelperUsage);
    return 2;
  }
  std::string source = positional[0];
  // The old "fuse" style device names the program: hubfs#SOURCE.
  if (source.rfind("hubfs#", 0) == 0) source = source.substr(6);

  std::vector<std::string> flags = {source, positional[1]};
  if (!AddMountFlags(options, sloppy, verbose, &flags)) return 2;
  if (verbose || fake) {
    std::fprintf(stderr, "mount.hubfs: hubfs mount");
    for (const auto& f : flags) std::fprintf(stderr, " %s", f.c_str());
    std::fprintf(stderr, "\n");
  }
  if (fake) return 0;
  std::vector<std::string_view> views(flags.begin(), flags.end());
  return MountCommand(views);
}

}  // namespace hubfs::cli
