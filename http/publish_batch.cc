#include "http/publish_batch.h"

#include "base/assert.h"
#include "http/json_reader.h"
#include "http/names.h"
#include "http/utf8.h"

namespace ringcast::http {

namespace {

bool fail(std::string& error, std::size_t line, std::string_view reason) {
  RC_ASSERT(line >= 1);  // lines are numbered from 1, as an editor shows them
  error = "line " + std::to_string(line) + ": ";
  error += reason;
  return false;
}

// One line: a JSON object with "topic" and "data" (strings) and optionally "event".
bool parse_line(std::string_view text, std::size_t line, const BatchLimits& limits, BatchEvent& e,
                std::string& error) {
  json::Reader r(text);
  if (r.peek() != json::Kind::object || !r.begin_object())
    return fail(error, line, "not a JSON object");
  bool first = true, has_topic = false, has_data = false, has_event = false;
  std::string key;
  while (r.next_member(first, key)) {
    std::string* field = key == "topic" ? &e.topic : key == "data" ? &e.data : key == "event" ? &e.event : nullptr;
    if (field == nullptr) return fail(error, line, "unknown member (topic, event and data are known)");
    bool& seen = key == "topic" ? has_topic : key == "data" ? has_data : has_event;
    if (seen) return fail(error, line, "a member appears twice");
    seen = true;
    if (r.peek() != json::Kind::string || !r.read_string(*field))
      return fail(error, line, "topic, event and data must be JSON strings");
  }
  if (r.failed() || !r.finish()) return fail(error, line, "malformed JSON");
  if (!has_topic) return fail(error, line, "no \"topic\"");
  if (!has_data) return fail(error, line, "no \"data\"");
  if (!valid_topic(e.topic)) return fail(error, line, "topic names are 1-128 characters of A-Z a-z 0-9 . _ ~ -");
  if (e.topic[0] == '_') return fail(error, line, "topics starting with '_' are the server's");
  if (has_event && !valid_event_type(e.event))
    return fail(error, line, "event types are 1-64 printable ASCII characters, no ':'");
  if (e.data.size() > limits.event_bytes_max) return fail(error, line, "data larger than --max-event-bytes");
  // The reader decodes escapes, a lone surrogate included: the result is checked like a body.
  if (!valid_utf8(e.data)) return fail(error, line, "data must be UTF-8");
  return true;
}

}  // namespace

bool parse_publish_batch(std::string_view body, const BatchLimits& limits,
                         std::vector<BatchEvent>& out, std::string& error) {
  out.clear();
  std::size_t line = 0;
  while (!body.empty()) {
    ++line;
    const std::size_t nl = body.find('\n');
    std::string_view text = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // a blank line
    if (out.size() == limits.events_max) {
      out.clear();
      return fail(error, line, "more events than --max-batch-events");
    }
    BatchEvent& e = out.emplace_back();
    if (!parse_line(text, line, limits, e, error)) {
      out.clear();
      return false;
    }
  }
  if (out.empty()) return fail(error, line == 0 ? 1 : line, "no events: send one JSON object per line");
  RC_ASSERT(out.size() <= limits.events_max);  // the caller sizes its id array by this bound
  return true;
}

void append_batch_answer(std::string& out, const std::vector<BatchEvent>& events,
                         const std::vector<EventId>& ids) {
  RC_ASSERT(events.size() == ids.size());
  out += "{\"events\":[";
  char id_text[42];
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    RC_ASSERT(valid_topic(events[i].topic));  // parse_line checked it: no JSON escaping needed
    out += "{\"topic\":\"";
    out += events[i].topic;
    out += "\",\"id\":\"";
    out.append(id_text, format_event_id(ids[i], id_text));
    out += "\"}";
  }
  out += "]}\n";
}

}  // namespace ringcast::http
