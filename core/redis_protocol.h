#pragma once
// Redis commands the bridge sends and what their replies mean, with no IO: commands are built
// as argument lists (hiredis formats them), replies arrive as hiredis `redisReply` trees (parsed
// by hiredis's reader from whatever socket the caller drives). Unit-tested without sockets by
// feeding RESP bytes to a redisReader (tests/unit/test_redis_protocol.cc).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/mailbox.h"

struct redisReply;

namespace ringcast::redis {

using Command = std::vector<std::string>;

// Stream field names of an event (kept short: they are stored in every entry).
inline constexpr std::string_view kDataField = "d";
inline constexpr std::string_view kEventField = "e";

// XADD <key> MAXLEN ~ <maxlen> * d <data> [e <event>]
Command xadd(std::string_view key, std::uint32_t maxlen, std::string_view event,
             std::string_view data);
// XREAD COUNT <count> BLOCK <block_ms> STREAMS <key...> <after...>
Command xread(const std::vector<std::string>& keys, const std::vector<EventId>& after,
              std::uint32_t count, std::uint32_t block_ms);
// XREVRANGE <key> + (<after> COUNT <count>: the newest `count` entries after `after`.
Command xrevrange_after(std::string_view key, EventId after, std::uint32_t count);
// XREVRANGE <key> + - COUNT 1: the newest entry (where a new watch starts reading).
Command xrevrange_last(std::string_view key);
// XRANGE <key> <id> <id>: does the stream still hold this entry?
Command xrange_exact(std::string_view key, EventId id);
Command auth(std::string_view password);
Command select(std::uint32_t db);
Command client_id();
Command client_unblock(long long id);

// The RESP bytes hiredis sends for `command` (what goes on the wire).
std::string format(const Command& command);

// An error reply's text, or empty if `reply` is not an error.
std::string error_text(const redisReply* reply);
// XADD: the new entry's id. False if the reply is not a valid id.
bool parse_xadd(const redisReply* reply, EventId& id);
// One entry: [id, [field, value, ...]]. False if malformed (unknown fields are ignored).
bool parse_entry(const redisReply* reply, StreamEntry& entry);
// XRANGE/XREVRANGE: an array of entries (in the reply's order). False if malformed.
bool parse_entries(const redisReply* reply, std::vector<StreamEntry>& entries);
// XREAD: nil (timeout) or [[key, [entry...]], ...]. Appends (key, entry) pairs in reply order.
struct KeyedEntry {
  std::string key;
  StreamEntry entry;
};
bool parse_xread(const redisReply* reply, std::vector<KeyedEntry>& out);

}  // namespace ringcast::redis
