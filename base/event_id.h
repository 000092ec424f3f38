#pragma once
// Event ids, Redis-stream style "<unix ms>-<n>". In base/ because every layer that names an
// event speaks them: http/ (batch answers, Last-Event-ID), core/ (chunks, history), redis/.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast {

// Event id: Redis-stream style "<unix ms>-<n>", strictly increasing per topic.
struct EventId {
  std::uint64_t ms = 0;
  std::uint64_t n = 0;
  friend bool operator==(const EventId&, const EventId&) = default;
  friend auto operator<=>(const EventId&, const EventId&) = default;
};

// Formats "<ms>-<n>" into `out` (at least 42 bytes); returns the length.
std::size_t format_event_id(EventId id, char* out);
// Parses "<ms>-<n>" (decimal, no sign, no spaces). False for anything else.
bool parse_event_id(std::string_view text, EventId& id);

}  // namespace ringcast
