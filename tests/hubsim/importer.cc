#include "tests/hubsim/importer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "tests/hubsim/lfs_rule.h"
#include "tests/hubsim/services.h"
#include "tests/hubsim/util.h"
#include "tests/hubsim/xet_packer.h"

namespace hubfs::hubsim {
namespace {

namespace fs = std::filesystem;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status PreadAll(int fd, uint64_t off, size_t len, std::vector<uint8_t>* out) {
  out->resize(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, out->data() + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("short read");
    got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Chunks, packs and registers one file; returns its tree entry.
Result<TreeEntry> ImportLfsFile(Services& s, const fs::path& path, uint64_t size) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return IoError("open " + path.string());
  return StoreAsXetFile(s, size, [&](uint64_t off, size_t len, std::vector<uint8_t>* out) {
    return PreadAll(f.fd, off, len, out);
  });
}

}  // namespace

Result<std::string> ImportFolder(const ImportOptions& opts) {
  std::string spec = opts.repo;
  RepoType type = RepoType::kModel;
  for (const char* p : {"models/", "datasets/", "spaces/"}) {
    if (spec.rfind(p, 0) == 0) {
      type = *ParseRepoType(std::string(p).substr(0, std::string(p).size() - 1));
      spec = spec.substr(std::string(p).size());
    }
  }
  std::string branch = "main";
  size_t at = spec.find('@');
  if (at != std::string::npos) {
    branch = spec.substr(at + 1);
    spec = spec.substr(0, at);
  }
  size_t slash = spec.find('/');
  if (slash == std::string::npos || !ValidRepoPart(spec.substr(0, slash)) ||
      !ValidRepoPart(spec.substr(slash + 1)) || branch.empty())
    return InvalidArgumentError("bad repo " + opts.repo + " (want [type/]ns/name[@branch])");
  RepoKey key{type, spec};

  ServerOptions so;
  so.data_dir = opts.data_dir;
  HUBFS_ASSIGN_OR_RETURN(auto services, OpenServices(so));
  Services& s = *services;
  std::string user = opts.user.empty() ? key.Namespace() : opts.user;

  if (!s.repos->Get(key).ok()) {
    std::map<std::string, TreeEntry> initial;
    std::string attrs = DefaultGitAttributes();
    TreeEntry e;
    e.oid = GitBlobOid(attrs);
    e.size = attrs.size();
    HUBFS_RETURN_IF_ERROR(WriteFileAtomic(s.BlobPath(e.oid), attrs));
    initial[".gitattributes"] = e;
    HUBFS_RETURN_IF_ERROR(s.repos->Create(key, opts.make_private, user, initial).status());
  }
  HUBFS_ASSIGN_OR_RETURN(RepoMeta meta, s.repos->Get(key));
  if (!meta.refs.branches.count(branch))
    HUBFS_RETURN_IF_ERROR(s.repos->CreateBranch(key, branch, "main", false));
  HUBFS_ASSIGN_OR_RETURN(auto head, s.repos->Resolve(key, branch));

  // Collect files (sorted), skipping .git and .cache directories.
  fs::path root(opts.local_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return InvalidArgumentError("not a directory: " + opts.local_dir);
  std::vector<std::pair<std::string, fs::path>> files;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return IoError("walk " + opts.local_dir + ": " + ec.message());
    std::string name = it->path().filename().string();
    if (it->is_directory() && (name == ".git" || name == ".cache")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root).generic_string();
    if (!ValidRepoPath(rel)) return InvalidArgumentError("invalid repo path: " + rel);
    files.emplace_back(rel, it->path());
  }
  std::sort(files.begin(), files.end());

  std::string attrs;
  for (const auto& [rel, p] : files)
    if (rel == ".gitattributes") attrs = ReadFile(p, 1 << 20).value_or("");
  if (attrs.empty()) {
    auto it = head->tree.find(".gitattributes");
    if (it != head->tree.end()) attrs = ReadFile(s.BlobPath(it->second.oid), 1 << 20).value_or("");
  }
  LfsRule rule(attrs);

  CommitRequest req;
  req.target = branch;
  req.author = user;
  req.title = opts.message.empty() ? "Import " + opts.local_dir : opts.message;
  for (const auto& [rel, p] : files) {
    uint64_t size = fs::file_size(p, ec);
    if (ec) return IoError("stat " + p.string());
    std::string sample;
    {
      Fd f;
      f.fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (f.fd < 0) return IoError("open " + p.string());
      std::vector<uint8_t> b;
      HUBFS_RETURN_IF_ERROR(
          PreadAll(f.fd, 0, static_cast<size_t>(std::min<uint64_t>(512, size)), &b));
      sample.assign(b.begin(), b.end());
    }
    FileChange ch;
    ch.path = rel;
    if (rule.IsLfs(rel, size, sample)) {
      HUBFS_ASSIGN_OR_RETURN(ch.entry, ImportLfsFile(s, p, size));
    } else {
      HUBFS_ASSIGN_OR_RETURN(std::string content, ReadFile(p));
      ch.entry.oid = GitBlobOid(content);
      ch.entry.size = content.size();
      HUBFS_RETURN_IF_ERROR(WriteFileAtomic(s.BlobPath(ch.entry.oid), content));
    }
    req.changes.push_back(std::move(ch));
  }
  HUBFS_ASSIGN_OR_RETURN(CommitResult result, s.repos->ApplyCommit(key, req));
  return result.commit_id;
}

}  // namespace hubfs::hubsim
