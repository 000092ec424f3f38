#pragma once
// Serializes one SSE event into its final wire bytes, exactly once per published event.
#include <cstddef>
#include <string_view>

namespace ringcast::http {

// Wire format (WHATWG HTML "Server-sent events"):
//   "id: <id>\n"          only if id is non-empty
//   "event: <event>\n"    only if event is non-empty
//   "data: <line>\n"      once per line of `data`; CR, LF and CRLF each end a line, so a
//                         payload "a\r\nb\rc\n" becomes lines "a","b","c","" (a trailing line
//                         ending yields a final empty data line, preserving the payload).
//                         Empty data yields one "data: \n" so the event is still dispatched.
//   "\n"                  ends the event
// `id` and `event` must not contain CR, LF or NUL (callers validate them).
std::size_t encoded_size(std::string_view id, std::string_view event, std::string_view data);

// Writes the event into `out`, which must hold encoded_size() bytes. Returns bytes written
// (always equal to encoded_size()).
std::size_t encode_event(std::string_view id, std::string_view event, std::string_view data,
                         char* out);

}  // namespace ringcast::http
