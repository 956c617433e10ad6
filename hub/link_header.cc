#include "hub/link_header.h"

namespace hubfs::hub {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::vector<LinkValue> ParseLinkHeader(std::string_view value) {
  std::vector<LinkValue> out;
  size_t i = 0;
  while (i < value.size() && out.size() < 64) {
    size_t open = value.find('<', i);
    if (open == std::string_view::npos) break;
    size_t close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    LinkValue link;
    link.url = std::string(value.substr(open + 1, close - open - 1));
    // Parameters run until the next ',' outside quotes.
    size_t j = close + 1;
    bool in_quotes = false;
    size_t params_end = j;
    while (params_end < value.size()) {
      char c = value[params_end];
      if (c == '"') in_quotes = !in_quotes;
      if (c == ',' && !in_quotes) break;
      ++params_end;
    }
    std::string_view params = value.substr(j, params_end - j);
    size_t p = 0;
    while (p < params.size()) {
      size_t semi = params.find(';', p);
      if (semi == std::string_view::npos) break;
      size_t next = semi + 1;
      // Find the end of this parameter (next ';' outside quotes).
      bool q = false;
      size_t e = next;
      while (e < params.size()) {
        if (params[e] == '"') q = !q;
        if (params[e] == ';' && !q) break;
        ++e;
      }
      std::string_view param = Trim(params.substr(next, e - next));
      size_t eq = param.find('=');
      if (eq != std::string_view::npos) {
        std::string name;
        for (char c : Trim(param.substr(0, eq))) name.push_back(Lower(c));
        std::string_view v = Trim(param.substr(eq + 1));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        if (name == "rel" && link.rel.empty()) link.rel = std::string(v);
      }
      p = e;
    }
    if (!link.url.empty()) out.push_back(std::move(link));
    i = params_end + 1;
  }
  return out;
}

std::optional<std::string> FindLink(const std::vector<std::string_view>& header_values,
                                    std::string_view rel) {
  for (std::string_view hv : header_values) {
    for (const LinkValue& l : ParseLinkHeader(hv)) {
      std::string_view rels = l.rel;
      size_t start = 0;
      while (start <= rels.size()) {
        size_t sp = rels.find(' ', start);
        std::string_view one =
            rels.substr(start, sp == std::string_view::npos ? rels.npos : sp - start);
        if (one.size() == rel.size()) {
          bool eq = true;
          for (size_t k = 0; k < one.size(); ++k) eq = eq && Lower(one[k]) == Lower(rel[k]);
          if (eq) return l.url;
        }
        if (sp == std::string_view::npos) break;
        start = sp + 1;
      }
    }
  }
  return std::nullopt;
}

}  // namespace hubfs::hub
