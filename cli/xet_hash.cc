// `hubfs xet hash [--json] FILE...`: Xet file hashes of local files, printed
// like sha256sum ("<hash>  <path>"), or one JSON object per line with the
// chunk list and SHA-256. Files stream through a fixed buffer; in plain mode
// memory stays bounded whatever the file size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chunkstore/file_hasher.h"
#include "cli/commands.h"
#include "common/status.h"

namespace hubfs::cli {
namespace {

// Large enough that read() overhead vanishes next to hashing, small enough to
// stay in L2/L3 while the chunker and BLAKE3 pass over it.
constexpr size_t kReadBuffer = 1 << 20;

constexpr char kUsage[] =
    "usage: hubfs xet hash [--json] FILE...\n"
    "Prints '<xet file hash>  <path>' per file (like sha256sum); '-' reads stdin.\n"
    "--json: one object per line: path, size, sha256, file_hash, chunks "
    "[{offset, length, hash}].\n";

Status ErrnoError(const std::string& path, int err) {
  return IoError(path + ": " + std::strerror(err));
}

// Like sha256sum: a name with a newline or backslash is escaped and the line
// starts with a backslash.
std::string PlainLine(const std::string& hash, const std::string& path) {
  if (path.find_first_of("\n\\") == std::string::npos) return hash + "  " + path + "\n";
  std::string escaped;
  for (char c : path) {
    if (c == '\n') {
      escaped += "\\n";
    } else if (c == '\\') {
      escaped += "\\\\";
    } else {
      escaped.push_back(c);
    }
  }
  return "\\" + hash + "  " + escaped + "\n";
}

std::string JsonLine(const std::string& path, const chunkstore::FileHasher& hasher) {
  nlohmann::ordered_json out;
  out["path"] = path;
  out["size"] = hasher.size();
  out["sha256"] = chunkstore::HexLower(*hasher.sha256());
  out["file_hash"] = hasher.file_hash().ToString();
  nlohmann::ordered_json chunks = nlohmann::ordered_json::array();
  for (const auto& c : hasher.chunks()) {
    chunks.push_back({{"offset", c.offset}, {"length", c.length}, {"hash", c.hash.ToString()}});
  }
  out["chunks"] = std::move(chunks);
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

// Hashes one file (or stdin for "-") and returns the line to print.
Result<std::string> HashFile(const std::string& path, bool json, std::vector<uint8_t>* buf) {
  int fd = path == "-" ? dup(STDIN_FILENO) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Status s = ErrnoError(path, errno);
    close(fd);
    return s;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return ErrnoError(path, EISDIR);
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  chunkstore::FileHasher hasher(/*with_sha256=*/json, /*keep_chunks=*/json);
  while (true) {
    ssize_t n = read(fd, buf->data(), buf->size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoError(path, errno);
      close(fd);
      return s;
    }
    if (n == 0) break;
    hasher.Update({buf->data(), static_cast<size_t>(n)});
  }
  close(fd);
  hasher.Finish();
  if (json) return JsonLine(path, hasher);
  return PlainLine(hasher.file_hash().ToString(), path);
}

}  // namespace

int XetHashCommand(std::span<const std::string_view> args) {
  bool json = false;
  std::vector<std::string> files;
  bool no_more_flags = false;
  for (std::string_view a : args) {
    if (!no_more_flags && a == "--") {
      no_more_flags = true;
    } else if (!no_more_flags && a == "--json") {
      json = true;
    } else if (!no_more_flags && (a == "-h" || a == "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!no_more_flags && a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "hubfs xet hash: unknown option '%s'\n%s", std::string(a).c_str(),
                   kUsage);
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::vector<uint8_t> buf(kReadBuffer);
  int rc = 0;
  for (const std::string& f : files) {
    Result<std::string> line = HashFile(f, json, &buf);
    if (!line.ok()) {
      // Keep stdout and stderr in order when both go to the same place.
      std::fflush(stdout);
      std::fprintf(stderr, "hubfs xet hash: %s\n", line.status().message().c_str());
      rc = 1;
      continue;
    }
    std::fwrite(line->data(), 1, line->size(), stdout);
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "hubfs xet hash: write error: %s\n", std::strerror(errno));
    return 1;
  }
  return rc;
}

}  // namespace hubfs::cli
