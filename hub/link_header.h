// RFC 8288 Link header values: `<url>; rel="next", <url2>; rel="xet-auth"`.
#ifndef HUBFS_HUB_LINK_HEADER_H_
#define HUBFS_HUB_LINK_HEADER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hubfs::hub {

struct LinkValue {
  std::string url;
  std::string rel;  // may hold several space-separated relations
};

// Parses one Link header value; malformed items are skipped. At most 64 items.
std::vector<LinkValue> ParseLinkHeader(std::string_view value);

// The URL of the first link whose rel list contains `rel`, over all given
// header values; nullopt when none.
std::optional<std::string> FindLink(const std::vector<std::string_view>& header_values,
                                    std::string_view rel);

}  // namespace hubfs::hub

#endif  // HUBFS_HUB_LINK_HEADER_H_
