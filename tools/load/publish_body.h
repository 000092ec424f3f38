#pragma once
// What a publish request carries and what a batch answer says, as bytes: no IO, no allocation.
//
// Single publish (--batch 1): POST <pub-path><topic>, text/plain body = the payload.
// Batch (--batch N > 1): POST <batch-path> (no topic), Content-Type: application/x-ndjson, one
// JSON object per event, lines separated by '\n':
//   {"topic":"t0","data":"seq=1 t=… topic=t0"}
// The server answers 202 {"events":[{"topic":"t0","id":"<ms>-<n>"},…]}, one entry per line in
// request order, or refuses the whole batch with a 4xx whose text body names the line
// ("line 3: …").
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::load {

// The payload every server delivers: "seq=<k> t=<ns> topic=<name>", padded with " pad=xxx…" to
// `event_bytes` when that is longer. Writes it at `out`; returns its length, which is at most
// payload_bytes_max(name.size(), event_bytes).
std::size_t write_payload(char* out, std::string_view name, std::uint64_t k, std::uint64_t now_ns,
                          std::uint32_t event_bytes);
constexpr std::size_t payload_bytes_max(std::size_t name_bytes, std::uint32_t event_bytes) {
  // "seq=" 20 digits " t=" 20 digits " topic=" name
  const std::size_t base = 4 + 20 + 3 + 20 + 7 + name_bytes;
  return base + 5 > event_bytes ? base + 5 : event_bytes;
}

// JSON string contents for `s` (no quotes): '"' and '\\' escaped, control bytes as \n, \r, \t or
// \u00XX; other bytes (UTF-8 included) as they are. json_escaped_size: the length it writes.
std::size_t json_escaped_size(std::string_view s);
std::size_t write_json_escaped(char* out, std::string_view s);

// One NDJSON line {"topic":"<topic>","data":"<data>"} (with ,"event":"<event>" when not
// empty) and its '\n'. Returns its length: ndjson_line_size(...) bytes.
std::size_t ndjson_line_size(std::string_view topic, std::string_view data, std::string_view event = {});
std::size_t write_ndjson_line(char* out, std::string_view topic, std::string_view data,
                              std::string_view event = {});

// One entry of a batch answer: its strings as they appear between the quotes (escapes left in;
// ids and our topic names never hold one).
struct BatchAckEntry {
  std::string_view topic;
  std::string_view id;
};

enum class BatchAckStatus : std::uint8_t { ok, malformed, too_many };

// Reads {"events":[{"topic":"…","id":"…"},…]} (whitespace anywhere JSON allows it, other
// members ignored, members in any order) into out[0..count). too_many when it holds more than
// `max` entries; malformed for anything else that is not that shape. Bounded by the body.
BatchAckStatus parse_batch_ack(std::string_view body, BatchAckEntry* out, std::size_t max, std::size_t& count);

}  // namespace ringcast::load
