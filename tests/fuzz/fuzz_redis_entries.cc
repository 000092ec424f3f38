// Redis replies are data from outside (redis/protocol.h): arbitrary bytes go through
// hiredis's own RESP reader, then every reply through the XREAD and XRANGE readers, which
// judge each entry by the rules of a publish, then pages of entries through the replay window
// (redis/replay.h). Checked: nothing crashes or aborts; an accepted entry is one a
// publish could have made, and its SSE serialization decodes back to it (the poll path
// asserts that); a replay never holds more than its bounds allow, in id order.
//
// Input: byte 0 picks --max-event-bytes (1..256) and byte 1 the replay's entry cap; the rest
// is RESP, as many replies as it holds.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http/names.h"
#include "http/poll_json.h"
#include "http/sse_encoder.h"
#include "http/utf8.h"
#include "redis/protocol.h"
#include "redis/replay.h"

namespace {

using namespace ringcast;

void check_accepted(const StreamEntry& e, std::uint32_t max_event_bytes) {
  if (!e.event.empty() && !http::valid_event_type(e.event)) __builtin_trap();
  if (e.data.size() > max_event_bytes || !http::valid_utf8(e.data)) __builtin_trap();
  char id_text[42];
  const std::string_view id(id_text, format_event_id(e.id, id_text));
  std::string wire(http::encoded_size(id, e.event, e.data), '\0');
  if (http::encode_event(id, e.event, e.data, wire.data()) != wire.size()) __builtin_trap();
  http::SseEventText back;
  if (!http::decode_sse_event(wire, back)) __builtin_trap();
  if (back.id != id || back.event != e.event) __builtin_trap();
}

// The reply as one replay page fed to a window with small bounds.
void check_replay(const redisReply* reply, std::uint32_t max_event_bytes, std::uint32_t entries_max) {
  std::vector<redis::ReadEntry> page;
  if (!redis::parse_entries(reply, max_event_bytes, page)) return;
  const std::uint64_t budget = 4 * std::uint64_t(max_event_bytes);
  redis::ReplayWindow window(EventId{0, 1}, entries_max, budget, max_event_bytes);
  const std::uint32_t asked = window.page_count();
  if (asked == 0 || asked > entries_max + 1) __builtin_trap();
  if (page.size() > asked) page.resize(asked);  // Redis sends at most COUNT
  window.feed(page, asked);
  if (window.bytes() > budget) __builtin_trap();
  const std::vector<StreamEntry> kept = window.take_entries();
  if (kept.size() > entries_max) __builtin_trap();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    check_accepted(kept[i], max_event_bytes);
    if (i > 0 && !(kept[i - 1].id < kept[i].id)) __builtin_trap();
  }
}

void check_reply(const redisReply* reply, std::uint32_t max_event_bytes, std::uint32_t entries_max) {
  std::vector<redis::KeyedEntry> read;
  if (redis::parse_xread(reply, max_event_bytes, read)) {
    for (const redis::KeyedEntry& k : read) {
      if (k.read.reject == redis::Reject::none) check_accepted(k.read.entry, max_event_bytes);
      if (k.read.reject == redis::Reject::none && !k.read.has_id) __builtin_trap();
      (void)redis::reject_name(k.read.reject);
    }
  }
  const redis::ReadEntry one = redis::read_entry(reply, max_event_bytes);
  if (one.reject == redis::Reject::none) check_accepted(one.entry, max_event_bytes);
  EventId id;
  (void)redis::parse_xadd(reply, id);
  (void)redis::error_text(reply);
  check_replay(reply, max_event_bytes, entries_max);
}

// hiredis 0.14 allocates an array as soon as its header announces it ("*888888888" is a 7 GB
// calloc from 10 bytes; with overcommit that costs address space, not memory, until a server
// actually sends the elements). That is hiredis trusting its server, not the code under test
// (see docs/security-redis-notes.md), so here arrays longer than an input could fill are
// refused the way hiredis refuses a failed allocation: the reader reports an error.
redisReplyObjectFunctions g_hiredis;
void* create_array(const redisReadTask* task, int elements) {
  return elements > 4096 ? nullptr : g_hiredis.createArray(task, elements);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t max_event_bytes = 1 + data[0];
  const std::uint32_t entries_max = 1 + data[1] % 16;
  redisReader* reader = redisReaderCreate();
  static redisReplyObjectFunctions bounded = [&] {
    g_hiredis = *reader->fn;
    redisReplyObjectFunctions fn = g_hiredis;
    fn.createArray = create_array;
    return fn;
  }();
  reader->fn = &bounded;
  redisReaderFeed(reader, reinterpret_cast<const char*>(data + 2), size - 2);
  for (int n = 0; n < 64; ++n) {  // bounded: each round consumes a reply or stops
    void* out = nullptr;
    if (redisReaderGetReply(reader, &out) != REDIS_OK || out == nullptr) break;
    check_reply(static_cast<redisReply*>(out), max_event_bytes, entries_max);
    freeReplyObject(out);
  }
  redisReaderFree(reader);
  return 0;
}
