// libFuzzer target: whatever the payload, the encoder's bytes read back, through the WHATWG
// "interpretation of an event stream" rules, as exactly one event with the same data (every
// CR and CRLF turned into LF), the same id and the same type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/sse_encoder.h"

namespace {

struct Event {
  std::string id, type, data;
};

// A compact reading of the WHATWG algorithm (the unit tests hold a fuller one).
std::vector<Event> parse(std::string_view stream) {
  std::vector<Event> out;
  std::string data, type, id, last_id;
  bool has_data = false;
  std::size_t i = 0;
  while (i < stream.size()) {
    std::size_t end = stream.find_first_of("\r\n", i);
    if (end == std::string_view::npos) break;  // an unterminated line is never processed
    const std::string_view line = stream.substr(i, end - i);
    i = end + ((stream[end] == '\r' && end + 1 < stream.size() && stream[end + 1] == '\n') ? 2 : 1);
    if (line.empty()) {
      if (has_data) {
        if (!data.empty() && data.back() == '\n') data.pop_back();
        out.push_back({last_id = id, type, data});
      }
      data.clear();
      type.clear();
      has_data = false;
      continue;
    }
    if (line[0] == ':') continue;
    const std::size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon), value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      data.append(value);
      data.push_back('\n');
      has_data = true;
    } else if (field == "event") {
      type = value;
    } else if (field == "id" && value.find('\0') == std::string_view::npos) {
      id = value;
    }
  }
  return out;
}

std::string normalize(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const std::string_view id = "1795450520683-7", type = size % 2 ? "update" : "";
  std::string wire(ringcast::http::encoded_size(id, type, data), '\0');
  if (ringcast::http::encode_event(id, type, data, wire.data()) != wire.size()) std::abort();
  const std::vector<Event> events = parse(wire);
  if (events.size() != 1) std::abort();
  if (events[0].data != normalize(data) || events[0].id != id || events[0].type != type) std::abort();
  return 0;
}
