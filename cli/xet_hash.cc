// `hubfs xet hash [--json] FILE...`: Xet file hashes of local files, printed
// like sha256sum ("<hash>  <path>"), or one JSON object per line with the
// chunk list and SHA-256. Files stream through a fixed buffer.
#include <fcntl.h>
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

constexpr size_t kReadBuffer = 4 << 20;

Status HashFile(const std::string& path, bool json, std::vector<uint8_t>* buf) {
  int fd = path == "-" ? dup(STDIN_FILENO) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(path + ": " + std::strerror(errno));
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  chunkstore::FileHasher hasher(/*with_sha256=*/json);
  while (true) {
    ssize_t n = read(fd, buf->data(), buf->size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = IoError(path + ": " + std::strerror(errno));
      close(fd);
      return st;
    }
    if (n == 0) break;
    hasher.Update({buf->data(), static_cast<size_t>(n)});
  }
  close(fd);
  hasher.Finish();
  std::string hash = hasher.file_hash().ToString();
  if (!json) {
    std::printf("%s  %s\n", hash.c_str(), path.c_str());
    return Status::Ok();
  }
  nlohmann::json out;
  out["path"] = path;
  out["size"] = hasher.size();
  out["sha256"] = chunkstore::HexLower(*hasher.sha256());
  out["file_hash"] = hash;
  nlohmann::json chunks = nlohmann::json::array();
  for (const auto& c : hasher.chunks()) {
    chunks.push_back({{"offset", c.offset}, {"length", c.length}, {"hash", c.hash.ToString()}});
  }
  out["chunks"] = std::move(chunks);
  std::string line = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", line.c_str());
  return Status::Ok();
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
      std::puts("usage: hubfs xet hash [--json] FILE...\n"
                "Prints '<xet file hash>  <path>' per file (like sha256sum); '-' reads stdin.\n"
                "--json: one object per line: path, size, sha256, file_hash, chunks.");
      return 0;
    } else if (!no_more_flags && a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "hubfs xet hash: unknown option '%s'\n", std::string(a).c_str());
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) {
    std::fputs("usage: hubfs xet hash [--json] FILE...\n", stderr);
    return 2;
  }
  std::vector<uint8_t> buf(kReadBuffer);
  int rc = 0;
  for (const std::string& f : files) {
    Status st = HashFile(f, json, &buf);
    if (!st.ok()) {
      std::fflush(stdout);
      std::fprintf(stderr, "hubfs xet hash: %s\n", st.message().c_str());
      rc = 1;
    }
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace hubfs::cli
