#include "http/poll_json.h"

#include "base/assert.h"

namespace ringcast::http {

namespace {

// Takes the next "name: value\n" line off `wire`; false if there is none or it is malformed.
bool field(std::string_view& wire, std::string_view name, std::string_view& value) {
  if (wire.substr(0, name.size()) != name || wire.size() <= name.size() || wire[name.size()] != ':')
    return false;
  const std::size_t nl = wire.find('\n');
  if (nl == std::string_view::npos) return false;
  RC_ASSERT(nl > name.size());  // the line starts with "<name>:" and names hold no LF
  value = wire.substr(name.size() + 1, nl - name.size() - 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  wire.remove_prefix(nl + 1);
  return true;
}

}  // namespace

bool decode_sse_event(std::string_view wire, SseEventText& out) {
  out = {};
  std::string_view value;
  if (field(wire, "id", value)) out.id = value;
  if (field(wire, "event", value)) out.event = value;
  bool any = false;
  while (field(wire, "data", value)) {
    if (any) out.data += '\n';
    out.data.append(value);
    any = true;
  }
  return any && wire == "\n";
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += ch;  // UTF-8 passes through: JSON text is UTF-8
    }
  }
  out += '"';
}

bool append_poll_event(std::string& out, std::string_view wire) {
  SseEventText event;
  if (!decode_sse_event(wire, event)) return false;
  // Chunks always carry their id (make_chunk); a poll answer without one could not resume.
  RC_ASSERT(!event.id.empty());
  out += "{\"id\":";
  append_json_string(out, event.id);
  if (!event.event.empty()) {
    out += ",\"event\":";
    append_json_string(out, event.event);
  }
  out += ",\"data\":";
  append_json_string(out, event.data);
  out += '}';
  return true;
}

}  // namespace ringcast::http
