// libFuzzer target: Last-Event-ID parsing. Accepted ids format back to the same text when they
// are canonical (no leading zeros); parse(format(id)) == id always; nothing else is accepted
// than "<digits>-<digits>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/event_id.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  ringcast::EventId id;
  if (!ringcast::parse_event_id(text, id)) return 0;
  const std::size_t dash = text.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash + 1 == size) std::abort();
  for (char ch : text) {
    if (ch != '-' && (ch < '0' || ch > '9')) std::abort();
  }
  char out[42];
  const std::size_t n = ringcast::format_event_id(id, out);
  ringcast::EventId again;
  if (!ringcast::parse_event_id(std::string_view(out, n), again) || !(again == id)) std::abort();
  return 0;
}
