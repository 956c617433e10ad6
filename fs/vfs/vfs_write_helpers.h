// Helpers shared by the two files of VfsCore's write side (vfs_write.cc,
// vfs_write_names.cc); not for other users.
#ifndef HUBFS_FS_VFS_VFS_WRITE_HELPERS_H_
#define HUBFS_FS_VFS_VFS_WRITE_HELPERS_H_

#include <memory>
#include <string>
#include <string_view>

#include "fs/content/repo_source.h"
#include "fs/vfs/vfs_types.h"
#include "fs/write/staged_file.h"

namespace hubfs::fs::write_detail {

// The meta of a local file or directory (one per kind, so that an inode
// keeps its number while its file changes).
std::shared_ptr<const NodeMeta> LocalMeta(bool is_dir);
bool IsLocal(const NodeMeta& m);
// What a renamed Hub file shows at its new name: the Hub's bytes, read where
// they are.
std::shared_ptr<const NodeMeta> CopyMeta(const RemoteFile& f);
// Names the Hub refuses in a path (hub-api.md §6.3), refused at creation.
bool RefusedName(std::string_view name);
std::string ParentPath(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace hubfs::fs::write_detail

#endif  // HUBFS_FS_VFS_VFS_WRITE_HELPERS_H_
