// Fuzzes Link header parsing: at most 64 links, each with a URL taken from
// between '<' and '>' of the input, and FindLink answering only URLs the
// parser produced.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hub/link_header.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hubfs::hub;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<LinkValue> links = ParseLinkHeader(in);
  FUZZ_CHECK(links.size() <= 64);
  for (const LinkValue& l : links) {
    FUZZ_CHECK(!l.url.empty());
    FUZZ_CHECK(l.url.find('>') == std::string::npos);
    std::string bracketed(1, '<');
    bracketed.append(l.url);
    bracketed.push_back('>');
    FUZZ_CHECK(in.find(bracketed) != std::string_view::npos);
    FUZZ_CHECK(l.rel.size() <= in.size());
  }
  // Two header values: the input split at its first newline.
  size_t nl = in.find('\n');
  std::vector<std::string_view> values = {in.substr(0, nl)};
  if (nl != std::string_view::npos) values.push_back(in.substr(nl + 1));
  for (std::string_view rel : {"next", "xet-auth", "xet-reconstruction-info"}) {
    std::optional<std::string> url = FindLink(values, rel);
    if (!url) continue;
    bool produced = false;
    for (std::string_view v : values) {
      for (const LinkValue& l : ParseLinkHeader(v)) produced = produced || l.url == *url;
    }
    FUZZ_CHECK(produced);
  }
  return 0;
}
