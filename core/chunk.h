#pragma once
// An event serialized once into its final wire bytes. Immutable after make_chunk(); shared
// by every shard's copy of the topic history; freed when the last shard lets go.
#include <atomic>
#include <cstdint>
#include <string_view>

#include "base/event_id.h"  // EventId

namespace ringcast {

struct ChunkMessage;

struct Chunk {
  std::atomic<std::uint32_t> refs;
  std::uint32_t size;   // wire bytes
  EventId id;
  std::uint8_t topic_len;
  std::uint8_t links;         // ChunkMessages built in (chunk_message())
  std::uint32_t link_offset;  // where they start, from `this`
  // followed by topic_len bytes of topic name, then `size` wire bytes, then the links

  std::string_view topic() const {
    return {reinterpret_cast<const char*>(this + 1), topic_len};
  }
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1) + topic_len; }
};

// Serializes the event (see http/sse_encoder.h) into a new chunk holding `refs` references,
// with `links` mailbox messages built in for posting it to other shards: the one allocation a
// published event costs.
Chunk* make_chunk(std::string_view topic, EventId id, std::string_view event,
                  std::string_view data, std::uint32_t refs, std::uint32_t links = 0);

// The chunk's i-th built-in message (i < links). Never deleted: it lives as long as the chunk,
// and the shard that takes it from its mailbox holds one of the chunk's references.
ChunkMessage* chunk_message(Chunk* chunk, std::uint32_t i);

// Drops one reference; frees the chunk when it was the last.
void release(Chunk* chunk);

// Chunks allocated and not yet freed, process-wide (leak checks in tests).
std::int64_t live_chunks();

}  // namespace ringcast
