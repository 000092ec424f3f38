// libFuzzer target: batch publish bodies (NDJSON) on arbitrary bytes. Whatever is accepted
// obeys a single publish's rules and the limits; whatever is refused names a line that exists.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/names.h"
#include "http/publish_batch.h"
#include "http/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(bytes), size);
  ringcast::http::BatchLimits limits;
  limits.events_max = 8;
  limits.event_bytes_max = 64;
  std::vector<ringcast::http::BatchEvent> events;
  std::string error;
  if (!ringcast::http::parse_publish_batch(body, limits, events, error)) {
    if (!events.empty() || error.compare(0, 5, "line ") != 0) std::abort();
    const std::size_t line = std::strtoul(error.c_str() + 5, nullptr, 10);
    std::size_t lines = 1;
    for (char ch : body) lines += ch == '\n';
    if (line < 1 || line > lines) std::abort();
    return 0;
  }
  if (events.empty() || events.size() > limits.events_max) std::abort();
  for (const ringcast::http::BatchEvent& e : events) {
    if (!ringcast::http::valid_topic(e.topic) || e.topic[0] == '_') std::abort();
    if (!e.event.empty() && !ringcast::http::valid_event_type(e.event)) std::abort();
    if (e.data.size() > limits.event_bytes_max || !ringcast::http::valid_utf8(e.data)) std::abort();
  }
  return 0;
}
