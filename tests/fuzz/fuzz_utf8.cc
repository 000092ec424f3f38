// Publish bodies must be UTF-8 (http/utf8.h): the validator is checked against a reference
// written the slow, obvious way from RFC 3629 (decode each code point, then judge it), on
// arbitrary bytes and on every prefix of them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/utf8.h"

namespace {

bool reference(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = std::uint8_t(s[i]);
    std::uint32_t cp;
    std::size_t len;
    if (b < 0x80) { cp = b; len = 1; }
    else if ((b & 0xE0) == 0xC0) { cp = b & 0x1F; len = 2; }
    else if ((b & 0xF0) == 0xE0) { cp = b & 0x0F; len = 3; }
    else if ((b & 0xF8) == 0xF0) { cp = b & 0x07; len = 4; }
    else return false;  // a continuation byte or 0xF8..0xFF where a sequence must start
    if (i + len > s.size()) return false;  // truncated
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = std::uint8_t(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min) return false;                      // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate
    if (cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  for (std::size_t n = size > 64 ? size - 64 : 0; n <= size; ++n) {
    if (ringcast::http::valid_utf8(s.substr(0, n)) != reference(s.substr(0, n)))
      __builtin_trap();
  }
  return 0;
}
