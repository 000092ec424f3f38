#pragma once
// An incremental parser of one SSE response: the HTTP head, then the event stream.
//
// It keeps no line buffer. Every field the load generator needs is folded into numbers as the
// bytes arrive (the id into (ms, n), the publisher's "seq=<k> t=<ns> topic=<name>" payload
// into two integers and a hash), so an event split across reads at any byte parses exactly as
// if it had arrived whole, and a stream's parser is a few dozen bytes however large its events.
// It does no IO: tests feed it one byte at a time.
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
  head,       // the HTTP head is complete: status() is valid
  event,      // an event was dispatched: event() is valid until the next call
  retry,      // a "retry:" field: retry_ms() is valid
  comment,    // a ": ..." comment line (heartbeats)
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
  // reporting. Call again with the rest until it returns need_more.
  SseStep next(std::string_view& in);

  // Back to the start of a response (a new connection).
  void reset() { *this = SseParser(); }

  bool in_body() const { return mode_ == Mode::body; }
  int status() const { return status_; }
  const SseEvent& event() const { return event_; }
  std::uint32_t retry_ms() const { return value_num_; }  // right after SseStep::retry

 private:
  enum class Mode : std::uint8_t { status_line, headers, body };
  enum class Line : std::uint8_t { start, name, value, skip };
  enum class Field : std::uint8_t { none, id, event, data, retry, comment, unknown };
  enum class Kv : std::uint8_t { key, seq, sent, topic, skip_token, skip_line };

  SseStep head_byte(char c);
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
  std::uint64_t name_ = 0;  // field name or payload key, packed little-endian (<= 8 chars)
  std::uint32_t value_num_ = 0;  // "retry:" digits
  std::uint16_t status_ = 0;
  std::uint8_t name_len_ = 0;
  std::uint8_t value_len_ = 0;     // bytes of the current value (saturating)
  std::uint8_t value_state_ = 0;   // id: 0 ms, 1 n, 2 invalid; event/retry: 1 = no longer matches
  Mode mode_ = Mode::status_line;
  Line line_ = Line::start;
  Field field_ = Field::none;
  Kv kv_ = Kv::key;
  // Bit flags, one byte for what would be five bools (this record exists per stream).
  enum Bit : std::uint8_t {
    cr = 1,             // the last byte was CR: a following LF belongs to it
    value_first = 2,    // at the first value byte (one leading space is dropped)
    line_nonempty = 4,  // head: the current line has bytes
    status_done = 8,    // head: the status digits have ended
    reset_event = 16,   // event_ was reported; clear it before the next byte
  };
  bool bit(Bit b) const { return (bits_ & b) != 0; }
  void set(Bit b, bool on) { bits_ = std::uint8_t(on ? bits_ | b : bits_ & ~b); }
  std::uint8_t bits_ = 0;
};

}  // namespace ringcast::load
