#include "base/event_id.h"

#include <cstdio>

#include "base/assert.h"

namespace ringcast {

std::size_t format_event_id(EventId id, char* out) {
  int n = std::snprintf(out, 42, "%llu-%llu", static_cast<unsigned long long>(id.ms),
                        static_cast<unsigned long long>(id.n));
  RC_ASSERT(n > 0 && n < 42);
  return static_cast<std::size_t>(n);
}

bool parse_event_id(std::string_view text, EventId& id) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return false;
  auto parse = [](std::string_view digits, std::uint64_t& out) {
    if (digits.size() > 19) return false;  // fits in 64 bits without overflow checks
    out = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return false;
      out = out * 10 + std::uint64_t(ch - '0');
    }
    return true;
  };
  return parse(text.substr(0, dash), id.ms) && parse(text.substr(dash + 1), id.n);
}

}  // namespace ringcast
