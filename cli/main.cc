// hubfs: mount Hugging Face Hub repositories as directories.
#include <cstdio>
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"
#include "common/process_guard.h"
#include "hub/curl_transport.h"

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // glibc gives each thread that allocates its own arena (up to 8 per core)
  // and keeps what is freed there. Chunks and fetch buffers are allocated on
  // fetch threads and freed elsewhere, so a long read grows every arena to
  // its high-water mark: a 4 GiB `hubfs cat` reached ~300 MiB of anonymous
  // memory, ~135 MiB with one arena. Two arenas keep it bounded with no
  // measurable cost. MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
#endif
  // Every command may hold the Hub token: no core dumps, no ptrace by the
  // user's other processes (see SEMANTICS.md, "who can read it").
  {
    const char* keep = std::getenv("HUBFS_ALLOW_CORE_DUMPS");
    hubfs::GuardProcessMemory(keep != nullptr && std::string_view(keep) == "1");
  }
  std::vector<std::string_view> args(argv + 1, argv + argc);
  // Quiet by default: commands print their own one-line errors.
  hubfs::log::Level level = hubfs::log::Level::kError;
  if (const char* env = std::getenv("HUBFS_LOG"); env != nullptr) {
    if (!hubfs::log::ParseLevel(env, &level)) level = hubfs::log::Level::kError;
  }
  hubfs::log::SetMinLevel(level);
  // libcurl's global state, once, before any thread or transport exists.
  auto curl = hubfs::hub::CurlGlobal::Init();
  if (!curl.ok()) {
    std::fprintf(stderr, "hubfs: %s\n", curl.status().ToString().c_str());
    return 1;
  }
  // Installed (or linked) as mount.hubfs / mount.fuse.hubfs: the mount(8) helper.
  std::string_view prog = argc > 0 ? argv[0] : "hubfs";
  if (size_t slash = prog.rfind('/'); slash != std::string_view::npos) {
    prog = prog.substr(slash + 1);
  }
  if (prog == "mount.hubfs" || prog == "mount.fuse.hubfs") {
    return hubfs::cli::MountHelperCommand(args);
  }
  return hubfs::cli::Run(args);
}
