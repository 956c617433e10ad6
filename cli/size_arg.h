// Sizes given on the command line: "4096", "512K", "64M", "10G", "1T"
// (binary units, either case; integers only, so "1.5G" is refused).
#ifndef HUBFS_CLI_SIZE_ARG_H_
#define HUBFS_CLI_SIZE_ARG_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace hubfs::cli {

// The size in bytes, or nullopt for anything malformed or too large.
std::optional<uint64_t> ParseSize(std::string_view s);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_SIZE_ARG_H_
