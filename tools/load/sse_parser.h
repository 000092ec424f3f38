#pragma once
// An incremental parser of one SSE response: the HTTP head, then the event stream.
//
// It keeps no line buffer. Every field the load generator needs is folded into numbers as the
// bytes arrive (the id into (ms, n), the publisher's "seq=<k> t=<ns> topic=<name>" payload
// into two integers and a hash), so an event split across reads at any byte parses exactly as
// if it had arrived whole, and a stream's parser is 64 bytes however large its events.
// It does no IO: tests feed it one byte at a time.
//
// The head is accepted by what matters, not by its exact bytes: the status, a Content-Type of
// text/event-stream (parameters such as nchan's "; charset=utf-8" allowed), and the transfer
// coding. A chunked body (Node's http module) is de-framed on the way in, so chunk boundaries
// fall anywhere in an event without effect. Ids that are not ringcast's "<ms>-<n>" (nchan's
// "1795453536:0") can be handed out as bytes instead of parsed: see next().
#include <cstdint>
#include <string_view>

#include "tools/load/event_id.h"

namespace ringcast::load {

enum class SseKind : std::uint8_t {
  message,  // no "event:" field, or "event: message"
  gap,      // "event: gap" (the server's resume/slow-consumer notice)
  other,    // any other event type
};

// Bits of SseEvent::fields.
namespace sse_field {
constexpr std::uint8_t id = 1;         // an "id:" line was present
constexpr std::uint8_t id_valid = 2;   // ... and it parsed as <ms>-<n>
constexpr std::uint8_t seq = 4;        // data carried seq=<k>
constexpr std::uint8_t sent = 8;       // data carried t=<ns>
constexpr std::uint8_t topic = 16;     // data carried topic=<name>
constexpr std::uint8_t malformed = 32; // a seq/t value was not a plain number
}  // namespace sse_field

// What one dispatched event carried.
struct SseEvent {
  EventId id;
  std::uint64_t seq = 0;
  std::uint64_t sent_ns = 0;
  std::uint32_t topic_hash = 0;
  std::uint16_t data_lines = 0;
  SseKind kind = SseKind::message;
  std::uint8_t fields = 0;

  bool has(std::uint8_t bit) const { return (fields & bit) != 0; }
};

enum class SseStep : std::uint8_t {
  need_more,  // every byte given was consumed
  head,       // the HTTP head is complete: status(), event_stream(), ... are valid
  event,      // an event was dispatched: event() is valid until the next call
  retry,      // a "retry:" field: retry_ms() is valid until the next call
  comment,    // a ": ..." comment line (heartbeats)
  id_begin,   // (ids as bytes) an "id" field began: its value follows as id_bytes steps
  id_bytes,   // (ids as bytes) *id_out holds the next piece of the id's value
  ended,      // the chunked body's last chunk arrived: the response is over
  malformed,  // the chunked framing is broken; every later byte is ignored
};

// FNV-1a, the hash of "topic=<name>" values (seeded with kTopicHashSeed).
constexpr std::uint32_t kTopicHashSeed = 2166136261u;
constexpr std::uint32_t topic_hash_step(std::uint32_t h, unsigned char c) {
  return (h ^ c) * 16777619u;
}
std::uint32_t topic_hash(std::string_view name);

class SseParser {
 public:
  // Consumes bytes from the front of `in`, stopping right after the first thing worth
  // reporting. Call again with the rest until it returns need_more. With `id_out`, id values
  // are not parsed but handed out as bytes (id_begin, then id_bytes pieces pointing into `in`);
  // the event's id then never has sse_field::id_valid.
  SseStep next(std::string_view& in, std::string_view* id_out = nullptr);

  // Back to the start of a response (a new connection).
  void reset() { *this = SseParser(); }
  // --h2: the head came as HEADERS (checked by the caller); every byte from now on is the
  // event stream (DATA, never chunked).
  void begin_body() {
    reset();
    mode_ = Mode::body;
  }

  bool in_body() const { return mode_ == Mode::body; }
  int status() const { return status_; }
  // Content-Type: text/event-stream, with or without parameters.
  bool event_stream() const { return bit(event_stream_seen); }
  // Transfer-Encoding: chunked (the body is de-framed).
  bool chunked() const { return bit(chunked_seen); }
  // A Transfer-Encoding other than chunked: the body cannot be read.
  bool unknown_coding() const { return bit(unknown_coding_seen); }
  const SseEvent& event() const { return event_; }
  std::uint32_t retry_ms() const { return std::uint32_t(name_); }  // right after SseStep::retry

 private:
  enum class Mode : std::uint8_t { status_line, headers, body };
  enum class Line : std::uint8_t { start, name, value, skip };
  enum class Field : std::uint8_t { none, id, event, data, retry, comment, unknown };
  enum class Kv : std::uint8_t { key, seq, sent, topic, skip_token, skip_line };

  SseStep head_byte(char c);
  void status_byte(char c);
  void header_byte(char c);
  void end_header_line();
  SseStep chunk_byte(char c);
  SseStep end_chunk_size();
  SseStep body(std::string_view& in, std::string_view* id_out);
  SseStep end_line();
  SseStep end_field();
  void begin_value();
  void name_byte(char c);
  void value_byte(char c);
  void data_byte(char c);
  void end_key();
  void add_digit(std::uint64_t& value, char c);
  std::size_t skip_run(std::string_view in) const;

  SseEvent event_;
  // A field name or payload key, packed little-endian (<= 8 chars); in a "retry:" value, its
  // digits (the name is no longer needed there, and this record exists per stream).
  std::uint64_t name_ = 0;
  std::uint32_t chunk_left_ = 0;   // chunked: data bytes left in this chunk, or the size so far
  std::uint16_t status_ = 0;
  std::uint8_t head_match_ = 0;    // head: which header this line is and how far it matched
  std::uint8_t chunk_state_ = 0;   // chunked: where in the framing (ChunkState)
  std::uint8_t name_len_ = 0;
  std::uint8_t value_len_ = 0;     // bytes of the current value (saturating); status line: 0 before
                                   // the code, 1 in it, 2 after it
  std::uint8_t value_state_ = 0;   // id: 0 ms, 1 n, 2 invalid; event/retry: 1 = no longer matches
  Mode mode_ = Mode::status_line;
  Line line_ = Line::start;
  Field field_ = Field::none;
  Kv kv_ = Kv::key;
  // Bit flags, one byte for what would be eight bools.
  enum Bit : std::uint8_t {
    cr = 1,                     // the last byte was CR: a following LF belongs to it
    value_first = 2,            // at the first value byte (one leading space is dropped)
    line_nonempty = 4,          // head: the current line has bytes
    reset_event = 8,            // event_ was reported; clear it before the next byte
    capture_ids = 16,           // this call hands id values out as bytes
    event_stream_seen = 32,     // head: Content-Type: text/event-stream
    chunked_seen = 64,          // head: Transfer-Encoding: chunked
    unknown_coding_seen = 128,  // head: another Transfer-Encoding
  };
  bool bit(Bit b) const { return (bits_ & b) != 0; }
  void set(Bit b, bool on) { bits_ = std::uint8_t(on ? bits_ | b : bits_ & ~b); }
  std::uint8_t bits_ = 0;
};
static_assert(sizeof(SseParser) <= 64, "the parser is most of a stream's per-stream memory");

}  // namespace ringcast::load
