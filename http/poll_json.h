#pragma once
// The long-poll answer (GET /poll/{topic}): the events a stream would have received, as JSON
//   {"events":[{"id":"…","event":"…","data":"…"},…],"lastEventId":"…"}
// built from the same chunks the streams send. A chunk holds an event's SSE wire bytes, so an
// answer decodes them back (events are serialized once, for the streams; a poll pays the
// decoding, a stream never pays anything for polls). No IO here.
#include <string>
#include <string_view>

namespace ringcast::http {

// One event decoded from its wire bytes (http/sse_encoder.h). `data` keeps the data lines
// joined with LF, which is what an EventSource client sees.
struct SseEventText {
  std::string_view id;
  std::string_view event;
  std::string data;
};
// False if `wire` is not one event as encode_event writes it.
bool decode_sse_event(std::string_view wire, SseEventText& out);

// Appends `text` as a JSON string (quotes included); `text` must be UTF-8.
void append_json_string(std::string& out, std::string_view text);

// Appends one event's JSON object, decoded from its wire bytes; false if they do not decode.
bool append_poll_event(std::string& out, std::string_view wire);

}  // namespace ringcast::http
