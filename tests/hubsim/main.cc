// hubsim: a local Hugging Face Hub + Xet CAS for tests.
//
//   hubsim serve --data DIR --listen HOST:PORT [--user NAME:TOKEN]... [--faults SPEC]
//                [--cas-port P] [--data-port P] [--threads N] [--token-ttl S] [--url-ttl S]
//   hubsim import --data DIR [--user NAME] REPO[@BRANCH] LOCAL_DIR [--message M]
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tests/hubsim/importer.h"
#include "tests/hubsim/server.h"

namespace {

using hubfs::hubsim::ServerOptions;

int Usage() {
  std::fprintf(stderr,
               "usage: hubsim serve --data DIR --listen HOST:PORT [--user NAME:TOKEN]... "
               "[--faults SPEC] [--hostile KIND,...] [--commit-budget N[/SECONDS]]\n"
               "                    [--cas-port P] [--data-port P] [--threads N] "
               "[--token-ttl S] [--url-ttl S]\n"
               "       hubsim import --data DIR [--user NAME] REPO[@BRANCH] LOCAL_DIR "
               "[--message M]\n"
               "REPO is [models/|datasets/|spaces/]NS/NAME.\n");
  return 2;
}

bool ParsePort(const std::string& s, int* out) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || v < 0 || v > 65535) return false;
  *out = static_cast<int>(v);
  return true;
}

int Serve(const std::vector<std::string>& args) {
  ServerOptions opts;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    const std::string* v = nullptr;
    if (a == "--data" && (v = next()))
      opts.data_dir = *v;
    else if (a == "--listen" && (v = next())) {
      size_t colon = v->rfind(':');
      if (colon == std::string::npos || !ParsePort(v->substr(colon + 1), &opts.port))
        return Usage();
      opts.host = v->substr(0, colon);
    } else if (a == "--user" && (v = next()))
      opts.users.push_back(*v);
    else if (a == "--faults" && (v = next()))
      opts.faults = *v;
    else if (a == "--hostile" && (v = next()))
      opts.hostile = *v;
    else if (a == "--commit-budget" && (v = next()))
      opts.commit_budget = *v;
    else if (a == "--cas-port" && (v = next())) {
      if (!ParsePort(*v, &opts.cas_port)) return Usage();
    } else if (a == "--data-port" && (v = next())) {
      if (!ParsePort(*v, &opts.data_port)) return Usage();
    } else if (a == "--threads" && (v = next())) {
      opts.threads = std::max(4, std::atoi(v->c_str()));
    } else if (a == "--token-ttl" && (v = next())) {
      opts.token_ttl = std::max(1L, std::atol(v->c_str()));
    } else if (a == "--url-ttl" && (v = next())) {
      opts.url_ttl = std::max(1L, std::atol(v->c_str()));
    } else {
      return Usage();
    }
  }
  if (opts.data_dir.empty()) return Usage();
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto services = hubfs::hubsim::OpenServices(opts);
  if (!services.ok()) {
    std::cerr << "hubsim: " << services.status() << "\n";
    return 1;
  }
  hubfs::hubsim::Server server(std::move(*services));
  hubfs::Status st = server.Start();
  if (!st.ok()) {
    std::cerr << "hubsim: " << st << "\n";
    return 1;
  }
  std::string host = opts.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::printf("hubsim listening on http://%s:%d\n", host.c_str(), server.hub_port());
  std::printf("hubsim cas on http://%s:%d\n", host.c_str(), server.cas_port());
  std::printf("hubsim data on http://%s:%d\n", host.c_str(), server.data_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  // Close the listeners, then leave without waiting for idle keep-alive
  // connections (cpp-httplib would hold each for its keep-alive timeout).
  // Every write to the data dir is a rename of a complete file, so an abrupt
  // exit loses at most the requests in flight.
  server.Stop();
  std::fflush(nullptr);
  std::_Exit(0);
}

int Import(const std::vector<std::string>& args) {
  hubfs::hubsim::ImportOptions opts;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--data" && i + 1 < args.size())
      opts.data_dir = args[++i];
    else if (a == "--user" && i + 1 < args.size())
      opts.user = args[++i];
    else if (a == "--message" && i + 1 < args.size())
      opts.message = args[++i];
    else if (a == "--private")
      opts.make_private = true;
    else if (!a.empty() && a[0] == '-')
      return Usage();
    else
      positional.push_back(a);
  }
  if (opts.data_dir.empty() || positional.size() != 2) return Usage();
  opts.repo = positional[0];
  opts.local_dir = positional[1];
  auto result = hubfs::hubsim::ImportFolder(opts);
  if (!result.ok()) {
    std::cerr << "hubsim import: " << result.status() << "\n";
    return 1;
  }
  std::printf("%s\n", result->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "serve") return Serve(args);
  if (cmd == "import") return Import(args);
  return Usage();
}
