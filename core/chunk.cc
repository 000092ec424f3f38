#include "core/chunk.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "base/assert.h"
#include "core/mailbox.h"
#include "http/sse_encoder.h"

namespace ringcast {

namespace {
// One relaxed add per published event and per freed one: off the per-delivery path.
std::atomic<std::int64_t> g_live_chunks{0};
}  // namespace

std::int64_t live_chunks() { return g_live_chunks.load(std::memory_order_relaxed); }

Chunk* make_chunk(std::string_view topic, EventId id, std::string_view event,
                  std::string_view data, std::uint32_t refs, std::uint32_t links) {
  RC_ASSERT(topic.size() <= 255);
  RC_ASSERT(refs > 0);
  RC_ASSERT(links <= 255 && links < refs);  // each link carries a reference to its receiver
  char id_text[42];
  std::string_view id_view(id_text, format_event_id(id, id_text));
  std::size_t size = http::encoded_size(id_view, event, data);
  RC_ASSERT(size < 0xffffffffu);
  constexpr std::size_t align = alignof(ChunkMessage);
  const std::size_t link_offset = (sizeof(Chunk) + topic.size() + size + align - 1) / align * align;
  RC_ASSERT(link_offset <= 0xffffffffu);
  void* memory = std::malloc(link_offset + links * sizeof(ChunkMessage));
  if (memory == nullptr) throw std::bad_alloc();
  Chunk* chunk = new (memory) Chunk{};
  g_live_chunks.fetch_add(1, std::memory_order_relaxed);
  chunk->refs.store(refs, std::memory_order_relaxed);
  chunk->size = static_cast<std::uint32_t>(size);
  chunk->id = id;
  chunk->topic_len = static_cast<std::uint8_t>(topic.size());
  chunk->links = static_cast<std::uint8_t>(links);
  chunk->link_offset = static_cast<std::uint32_t>(link_offset);
  for (std::uint32_t i = 0; i < links; ++i)
    new (static_cast<char*>(memory) + link_offset + i * sizeof(ChunkMessage)) ChunkMessage(chunk);
  char* tail = reinterpret_cast<char*>(chunk + 1);
  std::memcpy(tail, topic.data(), topic.size());
  std::size_t written = http::encode_event(id_view, event, data, tail + topic.size());
  RC_ASSERT(written == size);
  return chunk;
}

ChunkMessage* chunk_message(Chunk* chunk, std::uint32_t i) {
  RC_ASSERT(i < chunk->links);
  char* base = reinterpret_cast<char*>(chunk) + chunk->link_offset;
  return std::launder(reinterpret_cast<ChunkMessage*>(base + i * sizeof(ChunkMessage)));
}

void release(Chunk* chunk) {
  // acq_rel: the last releaser must see every other shard's reads of the bytes finished.
  if (chunk->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    for (std::uint32_t i = 0; i < chunk->links; ++i) chunk_message(chunk, i)->~ChunkMessage();
    chunk->~Chunk();
    std::free(chunk);
    g_live_chunks.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace ringcast
