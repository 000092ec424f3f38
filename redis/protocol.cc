#include "redis/protocol.h"

#include <hiredis/hiredis.h>

#include <array>
#include <cstdlib>

#include "http/names.h"
#include "http/utf8.h"

namespace ringcast::redis {

namespace {

std::string id_text(EventId id) {
  char text[42];
  return std::string(text, format_event_id(id, text));
}

std::string_view view(const redisReply* r) { return {r->str, std::size_t(r->len)}; }

bool is_string(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

}  // namespace

Command xadd(std::string_view key, std::uint32_t maxlen, std::string_view event,
             std::string_view data) {
  Command c{"XADD", std::string(key), "MAXLEN", "~", std::to_string(maxlen), "*",
            std::string(kDataField), std::string(data)};
  if (!event.empty()) {
    c.emplace_back(kEventField);
    c.emplace_back(event);
  }
  return c;
}

Command xread(const std::vector<std::string>& keys, const std::vector<EventId>& after,
              std::uint32_t count, std::uint32_t block_ms) {
  Command c{"XREAD", "COUNT", std::to_string(count), "BLOCK", std::to_string(block_ms), "STREAMS"};
  c.insert(c.end(), keys.begin(), keys.end());
  for (EventId id : after) c.push_back(id_text(id));
  return c;
}

Command xrevrange_after(std::string_view key, EventId after, std::uint32_t count,
                        const EventId* before) {
  return {"XREVRANGE", std::string(key), before != nullptr ? "(" + id_text(*before) : "+",
          "(" + id_text(after), "COUNT", std::to_string(count)};
}

Command xrevrange_last(std::string_view key) {
  return {"XREVRANGE", std::string(key), "+", "-", "COUNT", "1"};
}

Command xrange_exact(std::string_view key, EventId id) {
  return {"XRANGE", std::string(key), id_text(id), id_text(id), "COUNT", "1"};
}

Command auth(std::string_view password) { return {"AUTH", std::string(password)}; }
Command select(std::uint32_t db) { return {"SELECT", std::to_string(db)}; }
Command client_id() { return {"CLIENT", "ID"}; }
Command client_unblock(long long id) { return {"CLIENT", "UNBLOCK", std::to_string(id)}; }

std::string format(const Command& command) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  char* out = nullptr;
  const int n = redisFormatCommandArgv(&out, int(argv.size()), argv.data(), lens.data());
  std::string text = n > 0 ? std::string(out, std::size_t(n)) : std::string();
  redisFreeCommand(out);
  return text;
}

std::string error_text(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ERROR) return {};
  return std::string(view(reply));
}

bool parse_stream_id(std::string_view text, EventId& id) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  auto parse = [](std::string_view digits, std::uint64_t& out) {
    if (digits.empty() || digits.size() > 20) return false;
    out = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return false;
      const auto digit = std::uint64_t(ch - '0');
      if (out > (UINT64_MAX - digit) / 10) return false;  // past 2^64 - 1
      out = out * 10 + digit;
    }
    return true;
  };
  return parse(text.substr(0, dash), id.ms) && parse(text.substr(dash + 1), id.n);
}

bool parse_xadd(const redisReply* reply, EventId& id) {
  return is_string(reply) && parse_stream_id(view(reply), id);
}

std::string_view reject_name(Reject reason) {
  static constexpr std::array<std::string_view, kRejectReasons> kNames = {
      "none", "malformed", "id", "event_type", "utf8", "too_large"};
  return kNames[std::size_t(reason)];
}

namespace {

// The fields of an entry whose id was read, held to the checks of a publish.
Reject read_fields(const redisReply* fields, std::uint32_t max_event_bytes, StreamEntry& entry) {
  // A trimmed-and-deleted entry can come back with nil fields; treat it as an empty event.
  if (fields->type == REDIS_REPLY_NIL) return Reject::none;
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) return Reject::malformed;
  const redisReply* event = nullptr;
  const redisReply* data = nullptr;
  for (std::size_t i = 0; i < fields->elements; i += 2) {
    const redisReply* name = fields->element[i];
    const redisReply* value = fields->element[i + 1];
    if (!is_string(name) || !is_string(value)) return Reject::malformed;
    if (view(name) == kDataField) data = value;
    else if (view(name) == kEventField) event = value;
  }
  // The size first, as a publish's Content-Length is judged before its body is read: an
  // oversized value is neither scanned nor copied.
  if (data != nullptr && data->len > max_event_bytes) return Reject::too_large;
  // An empty "e" is what a publish without ?event= would be: no event line.
  if (event != nullptr && event->len != 0 && !http::valid_event_type(view(event)))
    return Reject::event_type;
  if (data != nullptr && !http::valid_utf8(view(data))) return Reject::utf8;
  if (event != nullptr) entry.event.assign(view(event));
  if (data != nullptr) entry.data.assign(view(data));
  return Reject::none;
}

}  // namespace

ReadEntry read_entry(const redisReply* reply, std::uint32_t max_event_bytes) {
  ReadEntry out;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
    out.reject = Reject::malformed;
    return out;
  }
  const redisReply* id = reply->element[0];
  if (!is_string(id) || !parse_stream_id(view(id), out.entry.id)) {
    out.entry.id = {};
    out.reject = Reject::id;
    return out;
  }
  out.has_id = true;
  out.reject = read_fields(reply->element[1], max_event_bytes, out.entry);
  return out;
}

bool parse_entries(const redisReply* reply, std::uint32_t max_event_bytes,
                   std::vector<ReadEntry>& entries) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i < reply->elements; ++i)
    entries.push_back(read_entry(reply->element[i], max_event_bytes));
  return true;
}

bool parse_xread(const redisReply* reply, std::uint32_t max_event_bytes,
                 std::vector<KeyedEntry>& out) {
  if (reply == nullptr) return false;
  if (reply->type == REDIS_REPLY_NIL) return true;  // BLOCK timed out, or CLIENT UNBLOCK
  if (reply->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* stream = reply->element[i];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) return false;
    if (!is_string(stream->element[0])) return false;
    const redisReply* entries = stream->element[1];
    if (entries->type != REDIS_REPLY_ARRAY) return false;
    for (std::size_t k = 0; k < entries->elements; ++k)
      out.push_back({std::string(view(stream->element[0])),
                     read_entry(entries->element[k], max_event_bytes)});
  }
  return true;
}

}  // namespace ringcast::redis
