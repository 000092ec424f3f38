// SSE event serialisation (WHATWG HTML, "Server-sent events", event stream format).
// See sse_encoder.h for the wire contract. Runs once per published event, whatever the
// number of subscribers, so it writes straight into the caller's buffer without allocating.
#include "http/sse_encoder.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"

namespace ringcast::http {
namespace {

constexpr std::string_view kIdPrefix = "id: ";
constexpr std::string_view kEventPrefix = "event: ";
constexpr std::string_view kDataPrefix = "data: ";

// CR is rare in real payloads; when it is absent, LF is the only terminator and memchr /
// std::count can do the scanning.
bool has_cr(std::string_view data) {
  return !data.empty() && std::memchr(data.data(), '\r', data.size()) != nullptr;
}

// How many line terminators `data` holds and how many bytes they take (CRLF is one
// terminator of two bytes).
struct Terminators {
  std::size_t count = 0;
  std::size_t bytes = 0;
};

Terminators count_terminators(std::string_view data) {
  if (!has_cr(data)) {
    const auto n = static_cast<std::size_t>(std::count(data.begin(), data.end(), '\n'));
    return {n, n};
  }
  Terminators t;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') {
      t.count += 1;
      t.bytes += 1;
    } else if (data[i] == '\r') {
      const bool crlf = i + 1 < data.size() && data[i + 1] == '\n';
      t.count += 1;
      t.bytes += crlf ? 2 : 1;
      i += crlf ? 1 : 0;
    }
  }
  return t;
}

// True if `s` can be one field's value: a CR or LF would end the field early (and let a
// publisher forge fields); a NUL makes readers drop an id.
bool single_line(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

char* put(char* p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());  // memcpy(p, nullptr, 0) is UB
  return p + s.size();
}

// "<prefix><value>\n"
char* put_field(char* p, std::string_view prefix, std::string_view value) {
  p = put(p, prefix);
  p = put(p, value);
  *p = '\n';
  return p + 1;
}

char* put_data_lines_lf_only(char* p, std::string_view data) {
  for (;;) {
    const void* lf = data.empty() ? nullptr : std::memchr(data.data(), '\n', data.size());
    if (lf == nullptr) return put_field(p, kDataPrefix, data);
    const auto len = static_cast<std::size_t>(static_cast<const char*>(lf) - data.data());
    p = put_field(p, kDataPrefix, data.substr(0, len));
    data.remove_prefix(len + 1);
  }
}

char* put_data_lines(char* p, std::string_view data) {
  if (!has_cr(data)) return put_data_lines_lf_only(p, data);
  std::size_t start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c != '\r' && c != '\n') continue;
    p = put_field(p, kDataPrefix, data.substr(start, i - start));
    if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;  // CRLF is one break
    start = i + 1;
  }
  // The text after the last terminator (possibly empty) is a line too: that is what keeps
  // a trailing line break, and makes empty data still produce one "data: " line.
  return put_field(p, kDataPrefix, data.substr(start));
}

}  // namespace

std::size_t encoded_size(std::string_view id, std::string_view event, std::string_view data) {
  std::size_t size = 0;
  if (!id.empty()) size += kIdPrefix.size() + id.size() + 1;
  if (!event.empty()) size += kEventPrefix.size() + event.size() + 1;
  const Terminators t = count_terminators(data);
  // Each terminator is one or two bytes of data: the subtraction below cannot wrap.
  RC_ASSERT(t.count <= t.bytes && t.bytes <= data.size() && t.bytes <= 2 * t.count);
  const std::size_t lines = t.count + 1;
  size += lines * (kDataPrefix.size() + 1) + (data.size() - t.bytes);
  return size + 1;  // the blank line that dispatches the event
}

std::size_t encode_event(std::string_view id, std::string_view event, std::string_view data,
                         char* out) {
  // The callers' contract (valid_event_type, format_event_id), checked because a broken one
  // would let a publisher's bytes read as other fields. Cheap: an id's text, a type's 64 bytes.
  RC_ASSERT(single_line(id) && single_line(event));
  char* p = out;
  if (!id.empty()) p = put_field(p, kIdPrefix, id);
  if (!event.empty()) p = put_field(p, kEventPrefix, event);
  p = put_data_lines(p, data);
  *p = '\n';
  return static_cast<std::size_t>(p + 1 - out);
}

}  // namespace ringcast::http
