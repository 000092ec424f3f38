#pragma once
// What names the server accepts for topics and event types.
#include <cstddef>
#include <string_view>

namespace ringcast::http {

inline constexpr std::size_t topic_bytes_max = 128;
inline constexpr std::size_t event_type_bytes_max = 64;

// 1..128 bytes of [A-Za-z0-9._~-], except "." and ".." (dot-segments).
bool valid_topic(std::string_view topic);

// The server's occupancy events of topic T are published on "_occupancy.T" (README "Who is
// listening"); names starting with '_' are the server's, publishers get 403.
inline constexpr std::string_view kOccupancyPrefix = "_occupancy.";

// The topic whose readers may read `topic`: T for "_occupancy.T" (who listens to T is T's
// readers' business, so a token granting T grants its occupancy), the topic itself otherwise.
std::string_view access_subject(std::string_view topic);

// 1..64 bytes of printable ASCII except ':' (0x21..0x7e minus ':'); no spaces, CR or LF.
bool valid_event_type(std::string_view type);

}  // namespace ringcast::http
