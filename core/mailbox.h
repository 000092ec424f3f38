#pragma once
// Cross-shard messages. Any shard pushes into another shard's mailbox (wait-free, one atomic
// exchange); only the owning shard pops. After pushing during a loop pass, the sender rings the
// receiver's doorbell once (an IORING_OP_MSG_RING completion) so a sleeping shard wakes up.
// Messages from one sender arrive in the order they were pushed.
//
// The queue is Dmitry Vyukov's intrusive MPSC queue. pop() may return nullptr while a
// producer is between its exchange and its link store; that producer's doorbell follows,
// so the consumer is woken again and nothing is stranded.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/chunk.h"

namespace ringcast {

enum class MessageKind : std::uint8_t {
  stub,
  chunk,        // owner -> every shard: a new event for a topic's history
  publish,      // any shard -> owner: please publish this event
  publish_ack,  // owner -> origin shard: the id the event got (or a failure status)
  drop,         // any shard -> every other shard: close the streams of a topic (admin)
  drop_ack,     // -> origin shard: how many streams were closed
  // Redis mode (redis/bridge.h); "bridge" is the node's Redis bridge thread.
  redis_entry,      // bridge -> topic owner: an entry read from the topic's stream
  stream_open,      // shard -> bridge: watch topics and/or fetch missed entries for a stream
  stream_open_ack,  // bridge -> shard: the watches are in effect; here are the missed entries
  unwatch,          // shard -> bridge: the shard's last subscriber of a topic left
  // Who is listening (core/topic_messages.h).
  topic_info,        // shard -> every other shard: your counts of a topic, or a page of topics
  topic_info_ack,    // -> origin shard: the answer
  occupancy_counts,  // shard -> occupancy aggregator shard / Redis occupancy thread: counts
  cluster_counts,    // Redis occupancy thread -> every shard: the other nodes' counts
  flow,              // shard -> topic owner: this shard's streams of a topic are (no longer) behind
};

struct Message {
  std::atomic<Message*> next{nullptr};
  MessageKind kind = MessageKind::stub;
  virtual ~Message() = default;
};

// One per shard a chunk is posted to, built inside the chunk's own allocation (make_chunk's
// `links`, chunk_message()): posting an event to every shard allocates nothing more, and the
// link is never deleted; it goes with the chunk. The receiver takes over one reference.
struct ChunkMessage final : Message {
  explicit ChunkMessage(Chunk* c) : chunk(c) { kind = MessageKind::chunk; }
  Chunk* chunk;  // carries one reference for the receiver
};

// One publish's round trip in one message: the origin shard fills the request half and posts
// it to the topic's owner (kind publish); the owner (or the Redis bridge) fills the answer half
// and posts the same message back (kind publish_ack). The origin keeps answered messages for
// its next publishes (Shard::take_publish), their strings' capacity included, so a publish
// through another shard allocates nothing once a few have gone by.
struct PublishMessage final : Message {
  PublishMessage() { kind = MessageKind::publish; }
  // --- the request, from the origin ---
  std::uint32_t origin_shard = 0;
  std::uint64_t conn_token = 0;  // the publishing connection on the origin shard
  std::string topic;
  std::string event;
  std::string data;
  // Not a publish: a refusal already written into the answer half, which the owner only
  // echoes so that it reaches the connection in order behind earlier publishes.
  bool refusal = false;
  std::uint32_t batch_index = 0;      // 1 + the event's line in a batch publish (0: none)
  // --- the answer, from the owner ---
  int status = 202;  // 202; 503 when the topic table is full; a refusal's own status
  EventId id;
  const char* detail = nullptr;  // set for a refusal (static text)
  const char* headers = "";      // its extra header lines (static text)

  // Turns the request into its answer (the topic and the origin's fields stay).
  void answer(int answer_status, const char* answer_detail = nullptr, const char* answer_headers = "") {
    kind = MessageKind::publish_ack;
    status = answer_status;
    detail = answer_detail;
    headers = answer_headers;
  }
  // Ready to carry a new request; the strings keep their capacity.
  void reset() {
    kind = MessageKind::publish;
    topic.clear();
    event.clear();
    data.clear();
    refusal = false;
    batch_index = 0;
    status = 202;
    id = EventId{};
    detail = nullptr;
    headers = "";
  }
};

// Publish flow control (core/shard_flow.cc): sent on each change only, so they alternate.
struct FlowMessage final : Message {
  FlowMessage() { kind = MessageKind::flow; }
  std::uint32_t shard = 0;
  bool behind = false;
  std::string topic;
};

// One entry of a topic's Redis stream, or of a replay.
struct StreamEntry {
  EventId id;
  std::string event;
  std::string data;
};

struct RedisEntryMessage final : Message {
  RedisEntryMessage() { kind = MessageKind::redis_entry; }
  std::string topic;
  StreamEntry entry;
};

struct StreamOpenMessage final : Message {
  StreamOpenMessage() { kind = MessageKind::stream_open; }
  std::uint32_t origin_shard = 0;
  std::uint64_t conn_token = 0;
  struct Watch {
    std::string topic;
    std::uint32_t gen;  // the shard's watch generation of the topic (stale-ack guard)
  };
  std::vector<Watch> watches;        // topics this shard starts watching
  std::vector<std::string> replays;  // topics whose entries after `after` must be fetched
  EventId after;
  std::string last_id;               // the client's Last-Event-ID as sent (echoed in gap events)
  bool id_known = false;             // another topic of the stream holds that id locally
};

struct StreamOpenAckMessage final : Message {
  StreamOpenAckMessage() { kind = MessageKind::stream_open_ack; }
  std::uint64_t conn_token = 0;
  std::vector<StreamOpenMessage::Watch> watches;  // echoed: now in effect
  struct Replay {
    std::string topic;
    bool ok = false;         // false: Redis was unavailable, nothing fetched
    bool found = false;      // the stream still holds the resume id itself
    bool truncated = false;  // more entries followed the resume id than a replay carries
    std::vector<StreamEntry> entries;  // oldest first
  };
  std::vector<Replay> replays;
  std::string last_id;
  bool id_known = false;
};

struct UnwatchMessage final : Message {
  UnwatchMessage() { kind = MessageKind::unwatch; }
  std::uint32_t origin_shard = 0;
  std::string topic;
};

struct DropMessage final : Message {
  DropMessage() { kind = MessageKind::drop; }
  std::uint32_t origin_shard = 0;
  std::uint64_t conn_token = 0;
  std::string topic;
};

struct DropAckMessage final : Message {
  DropAckMessage() { kind = MessageKind::drop_ack; }
  std::uint64_t conn_token = 0;
  std::uint32_t dropped = 0;
};

// Frees a message taken from a mailbox that no one will handle (at shutdown): a chunk's link
// goes with the chunk's reference, any other message is deleted.
inline void dispose(Message* m) {
  if (m->kind == MessageKind::chunk) return release(static_cast<ChunkMessage*>(m)->chunk);
  delete m;
}

class Mailbox {
 public:
  Mailbox() : head_(&stub_), tail_(&stub_) {}
  Mailbox(const Mailbox&) = delete;

  void push(Message* message) {
    message->next.store(nullptr, std::memory_order_relaxed);
    Message* previous = head_.exchange(message, std::memory_order_acq_rel);
    previous->next.store(message, std::memory_order_release);
  }

  // Consumer only.
  Message* pop() {
    Message* tail = tail_;
    Message* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // producer mid-push
    push(&stub_);
    next = tail->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    return nullptr;
  }

  // Chunks posted to this shard that it has not delivered yet (publish flow control,
  // core/shard_flow.cc): a shard that falls behind on its mailbox would otherwise get a burst
  // of events longer than a history in one pass. Producers add, the consumer subtracts.
  alignas(64) std::atomic<std::uint32_t> chunks_pending{0};

 private:
  alignas(64) std::atomic<Message*> head_;
  alignas(64) Message* tail_;
  Message stub_;
};

}  // namespace ringcast
