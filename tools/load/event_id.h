#pragma once
// Event ids as ringcast writes them, "<unix ms>-<n>", compared as the pair (ms, n) — never as
// text, where "9-0" would sort after "10-0".
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::load {

struct EventId {
  std::uint64_t ms = 0;
  std::uint32_t n = 0;

  auto operator<=>(const EventId&) const = default;
  // The server's ms is wall-clock time, so 0-0 never names a real event: it means "none yet".
  bool none() const { return ms == 0 && n == 0; }
};

// The longest id text: 20 digits, '-', 10 digits.
constexpr std::size_t kEventIdMax = 32;

// Parses "<ms>-<n>" (digits only, no sign or spaces). False on anything else or overflow.
bool parse_event_id(std::string_view text, EventId& out);
// Writes "<ms>-<n>" into `out` (at least kEventIdMax bytes). Returns its length.
std::size_t format_event_id(EventId id, char* out);

}  // namespace ringcast::load
