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
// XREVRANGE <key> <end> (<after> COUNT <count>: the newest `count` entries after `after`, below
// `before` (exclusive) if given, else from the newest ("+"). One page of a replay.
Command xrevrange_after(std::string_view key, EventId after, std::uint32_t count,
                        const EventId* before = nullptr);
// XREVRANGE <key> + - COUNT 1: the newest entry (where a new watch starts reading).
Command xrevrange_last(std::string_view key);
// XRANGE <key> <id> <id> COUNT 1: does the stream still hold this entry?
Command xrange_exact(std::string_view key, EventId id);
Command auth(std::string_view password);
Command select(std::uint32_t db);
Command client_id();
Command client_unblock(long long id);

// The RESP bytes hiredis sends for `command` (what goes on the wire).
std::string format(const Command& command);

// An error reply's text, or empty if `reply` is not an error.
std::string error_text(const redisReply* reply);
// A stream id: "<ms>-<seq>", each a decimal 64-bit number (Redis's full range). False for
// anything else.
bool parse_stream_id(std::string_view text, EventId& id);
// XADD: the new entry's id. False if the reply is not a valid id.
bool parse_xadd(const redisReply* reply, EventId& id);

// Stream entries are data from outside: whoever can write the stream keys writes them. Each
// entry read is held to the rules of a publish (core/shard_http.cc), and one that breaks them
// is skipped and counted, never fanned out: this is why.
enum class Reject : std::uint8_t {
  none = 0,
  malformed,   // not [id, [field, value, ...]] (a broken or hostile server, or a key not ours)
  id,          // the id is not a stream id
  event_type,  // "e" is not an event type (http::valid_event_type)
  utf8,        // "d" is not UTF-8 (http::valid_utf8)
  too_large,   // "d" is over --max-event-bytes
};
inline constexpr std::size_t kRejectReasons = 6;
// The reason as a metric label / log value ("none" for Reject::none).
std::string_view reject_name(Reject reason);

// One entry as read, and the verdict on it.
struct ReadEntry {
  StreamEntry entry;  // event and data are set only if accepted
  Reject reject = Reject::none;
  bool has_id = false;  // entry.id was read: a cursor can move past the entry, even rejected
};
// One entry: [id, [field, value, ...]] (unknown fields are ignored; a later duplicate field
// wins; nil fields, as a deleted entry can show, make an empty event).
ReadEntry read_entry(const redisReply* reply, std::uint32_t max_event_bytes);
// XRANGE/XREVRANGE: every entry, judged, in the reply's order. False if not an array.
bool parse_entries(const redisReply* reply, std::uint32_t max_event_bytes,
                   std::vector<ReadEntry>& entries);
// XREAD: nil (timeout) or [[key, [entry...]], ...]. Appends (key, entry) pairs in reply order.
// False if the reply's shape is wrong (an error reply, or a stream that is not [key, array]).
struct KeyedEntry {
  std::string key;
  ReadEntry read;
};
bool parse_xread(const redisReply* reply, std::uint32_t max_event_bytes,
                 std::vector<KeyedEntry>& out);

}  // namespace ringcast::redis
