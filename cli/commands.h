// Command dispatch for the hubfs binary.
#ifndef HUBFS_CLI_COMMANDS_H_
#define HUBFS_CLI_COMMANDS_H_

#include <span>
#include <string_view>

namespace hubfs::cli {

// Runs `hubfs <args...>`; returns the process exit status.
int Run(std::span<const std::string_view> args);

// `hubfs xet hash [--json] FILE...`
int XetHashCommand(std::span<const std::string_view> args);

// `hubfs mount SOURCE MOUNTPOINT [options]`, `hubfs unmount MOUNTPOINT`
int MountCommand(std::span<const std::string_view> args);
int UnmountCommand(std::span<const std::string_view> args);

// `hubfs status [--cache-dir DIR]...`
int StatusCommand(std::span<const std::string_view> args);

// `hubfs prefetch [-j N] [--cache-dir DIR] PATH...`: warms a mount's cache.
int PrefetchCommand(std::span<const std::string_view> args);

// `mount.hubfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS]`: the mount(8) helper,
// turning -o options into `hubfs mount` flags.
int MountHelperCommand(std::span<const std::string_view> args);

// `hubfs ls [-l] [-R] SOURCE[/dir]`
int LsCommand(std::span<const std::string_view> args);

// `hubfs cat [--range START-END] SOURCE/path`
int CatCommand(std::span<const std::string_view> args);

// `hubfs upload SOURCE LOCAL_PATH [PATH_IN_REPO] [options]`
int UploadCommand(std::span<const std::string_view> args);

// `hubfs sync MOUNTPOINT`: waits until a --rw mount's changes are on the Hub.
int SyncCommand(std::span<const std::string_view> args);

// `hubfs cache {ls,prune,clear,verify}`
int CacheCommand(std::span<const std::string_view> args);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_COMMANDS_H_
