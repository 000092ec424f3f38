#include "tools/load/event_id.h"

#include <charconv>

namespace ringcast::load {

bool parse_event_id(std::string_view text, EventId& out) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return false;
  const char* begin = text.data();
  const char* end = begin + text.size();
  EventId id;
  // from_chars accepts no sign and no spaces for unsigned types, which is what we want.
  auto ms = std::from_chars(begin, begin + dash, id.ms);
  if (ms.ec != std::errc() || ms.ptr != begin + dash) return false;
  auto n = std::from_chars(begin + dash + 1, end, id.n);
  if (n.ec != std::errc() || n.ptr != end) return false;
  out = id;
  return true;
}

std::size_t format_event_id(EventId id, char* out) {
  char* end = out + kEventIdMax;
  auto ms = std::to_chars(out, end, id.ms);
  *ms.ptr = '-';
  auto n = std::to_chars(ms.ptr + 1, end, id.n);
  return static_cast<std::size_t>(n.ptr - out);
}

}  // namespace ringcast::load
