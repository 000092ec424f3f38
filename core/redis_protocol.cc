#include "core/redis_protocol.h"

#include <hiredis/hiredis.h>

#include <cstdlib>

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

Command xrevrange_after(std::string_view key, EventId after, std::uint32_t count) {
  return {"XREVRANGE", std::string(key), "+", "(" + id_text(after), "COUNT", std::to_string(count)};
}

Command xrevrange_last(std::string_view key) {
  return {"XREVRANGE", std::string(key), "+", "-", "COUNT", "1"};
}

Command xrange_exact(std::string_view key, EventId id) {
  return {"XRANGE", std::string(key), id_text(id), id_text(id)};
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

bool parse_xadd(const redisReply* reply, EventId& id) {
  return is_string(reply) && parse_event_id(view(reply), id);
}

bool parse_entry(const redisReply* reply, StreamEntry& entry) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return false;
  const redisReply* id = reply->element[0];
  const redisReply* fields = reply->element[1];
  if (!is_string(id) || !parse_event_id(view(id), entry.id)) return false;
  entry.event.clear();
  entry.data.clear();
  // A trimmed-and-deleted entry can come back with nil fields; treat it as an empty event.
  if (fields->type == REDIS_REPLY_NIL) return true;
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) return false;
  for (std::size_t i = 0; i < fields->elements; i += 2) {
    const redisReply* name = fields->element[i];
    const redisReply* value = fields->element[i + 1];
    if (!is_string(name) || !is_string(value)) return false;
    if (view(name) == kDataField) entry.data.assign(view(value));
    else if (view(name) == kEventField) entry.event.assign(view(value));
  }
  return true;
}

bool parse_entries(const redisReply* reply, std::vector<StreamEntry>& entries) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    StreamEntry e;
    if (!parse_entry(reply->element[i], e)) return false;
    entries.push_back(std::move(e));
  }
  return true;
}

bool parse_xread(const redisReply* reply, std::vector<KeyedEntry>& out) {
  if (reply == nullptr) return false;
  if (reply->type == REDIS_REPLY_NIL) return true;  // BLOCK timed out, or CLIENT UNBLOCK
  if (reply->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* stream = reply->element[i];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) return false;
    if (!is_string(stream->element[0])) return false;
    std::vector<StreamEntry> entries;
    if (!parse_entries(stream->element[1], entries)) return false;
    for (StreamEntry& e : entries)
      out.push_back({std::string(view(stream->element[0])), std::move(e)});
  }
  return true;
}

}  // namespace ringcast::redis
