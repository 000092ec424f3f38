#pragma once
// What names the server accepts for topics and event types.
#include <cstddef>
#include <string_view>

namespace ringcast::http {

inline constexpr std::size_t topic_bytes_max = 128;
inline constexpr std::size_t event_type_bytes_max = 64;

// 1..128 bytes of [A-Za-z0-9._~-], except "." and ".." (dot-segments).
bool valid_topic(std::string_view topic);

// 1..64 bytes of printable ASCII except ':' (0x21..0x7e minus ':'); no spaces, CR or LF.
bool valid_event_type(std::string_view type);

}  // namespace ringcast::http
