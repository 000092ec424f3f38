#include "tools/load/publish_body.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace ringcast::load {

namespace {

char* put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

char* put(char* out, std::uint64_t v) { return std::to_chars(out, out + 20, v).ptr; }

// The escape for byte c, or nullptr when c goes as it is.
const char* short_escape(unsigned char c) {
  switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: return nullptr;
  }
}

// A read position in a JSON text. Every step consumes bytes or fails, so a parse is bounded
// by the text's length (and nesting by kDepthMax).
struct Cursor {
  static constexpr int kDepthMax = 16;
  std::string_view s;
  std::size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i >= s.size() || s[i] != c) return false;
    ++i;
    return true;
  }
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    const std::size_t start = i;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        out = s.substr(start, i - start);
        ++i;
        return true;
      }
      if (c < 0x20) return false;
      i += c == '\\' ? 2 : 1;
    }
    return false;
  }
  // Any value of a member we ignore.
  bool skip_value(int depth) {
    ws();
    if (i >= s.size() || depth > kDepthMax) return false;
    std::string_view ignored;
    if (s[i] == '"') return string(ignored);
    if (s[i] == '{' || s[i] == '[') {
      const char close = s[i] == '{' ? '}' : ']';
      ++i;
      if (eat(close)) return true;
      do {
        if (close == '}' && (!string(ignored) || !eat(':'))) return false;
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    const std::size_t start = i;  // a number, true, false or null
    while (i < s.size() && (std::strchr("+-.eE", s[i]) != nullptr || (s[i] >= '0' && s[i] <= '9') ||
                            (s[i] >= 'a' && s[i] <= 'z')))
      ++i;
    return i > start;
  }
};

bool ack_entry(Cursor& c, BatchAckEntry& out) {
  if (!c.eat('{')) return false;
  bool topic = false, id = false;
  if (c.eat('}')) return false;
  do {
    std::string_view key;
    if (!c.string(key) || !c.eat(':')) return false;
    if (key == "topic") topic = c.string(out.topic);
    else if (key == "id") id = c.string(out.id);
    else if (!c.skip_value(1)) return false;
    if ((key == "topic" && !topic) || (key == "id" && !id)) return false;
  } while (c.eat(','));
  return c.eat('}') && topic && id;
}

BatchAckStatus ack_array(Cursor& c, BatchAckEntry* out, std::size_t max, std::size_t& count) {
  count = 0;
  if (!c.eat('[')) return BatchAckStatus::malformed;
  if (c.eat(']')) return BatchAckStatus::ok;
  do {
    BatchAckEntry e;
    if (!ack_entry(c, e)) return BatchAckStatus::malformed;
    if (count == max) return BatchAckStatus::too_many;
    out[count++] = e;
  } while (c.eat(','));
  return c.eat(']') ? BatchAckStatus::ok : BatchAckStatus::malformed;
}

}  // namespace

std::size_t write_payload(char* const begin, std::string_view name, std::uint64_t k, std::uint64_t now_ns,
                          std::uint32_t event_bytes) {
  char* out = begin;
  out = put(out, "seq=");
  out = put(out, k);
  out = put(out, " t=");
  out = put(out, now_ns);
  out = put(out, " topic=");
  out = put(out, name);
  constexpr std::size_t kPadKey = 5;  // " pad="
  const auto base = std::size_t(out - begin);
  if (event_bytes > base + kPadKey) {
    const std::size_t pad = event_bytes - base - kPadKey;
    out = put(out, " pad=");
    std::memset(out, 'x', pad);
    out += pad;
  }
  const auto len = std::size_t(out - begin);
  if (len > payload_bytes_max(name.size(), event_bytes)) std::abort();  // the bound is wrong
  return len;
}

std::size_t json_escaped_size(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (const char* e = short_escape(c)) n += std::strlen(e);
    else n += c < 0x20 || c == 0x7f ? 6 : 1;
  }
  return n;
}

std::size_t write_json_escaped(char* const begin, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  char* out = begin;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (const char* e = short_escape(c)) {
      out = put(out, e);
    } else if (c < 0x20 || c == 0x7f) {
      out = put(out, "\\u00");
      *out++ = kHex[c >> 4];
      *out++ = kHex[c & 15];
    } else {
      *out++ = ch;
    }
  }
  return std::size_t(out - begin);
}

std::size_t ndjson_line_size(std::string_view topic, std::string_view data, std::string_view event) {
  // {"topic":"…","data":"…"}\n, and ,"event":"…" before the brace
  std::size_t n = 10 + json_escaped_size(topic) + 10 + json_escaped_size(data) + 3;
  if (!event.empty()) n += 11 + json_escaped_size(event);
  return n;
}

std::size_t write_ndjson_line(char* const begin, std::string_view topic, std::string_view data,
                              std::string_view event) {
  char* out = begin;
  out = put(out, "{\"topic\":\"");
  out += write_json_escaped(out, topic);
  out = put(out, "\",\"data\":\"");
  out += write_json_escaped(out, data);
  if (!event.empty()) {
    out = put(out, "\",\"event\":\"");
    out += write_json_escaped(out, event);
  }
  out = put(out, "\"}\n");
  return std::size_t(out - begin);
}

BatchAckStatus parse_batch_ack(std::string_view body, BatchAckEntry* out, std::size_t max, std::size_t& count) {
  count = 0;
  Cursor c{body};
  if (!c.eat('{') || c.eat('}')) return BatchAckStatus::malformed;
  bool found = false;
  do {
    std::string_view key;
    if (!c.string(key) || !c.eat(':')) return BatchAckStatus::malformed;
    if (key == "events" && !found) {
      found = true;
      if (const BatchAckStatus st = ack_array(c, out, max, count); st != BatchAckStatus::ok) return st;
    } else if (!c.skip_value(1)) {
      return BatchAckStatus::malformed;
    }
  } while (c.eat(','));
  if (!c.eat('}') || !found) return BatchAckStatus::malformed;
  c.ws();
  return c.i == body.size() ? BatchAckStatus::ok : BatchAckStatus::malformed;
}

}  // namespace ringcast::load
