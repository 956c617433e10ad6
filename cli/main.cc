// hubfs: mount Hugging Face Hub repositories as directories.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return hubfs::cli::Run(args);
}
