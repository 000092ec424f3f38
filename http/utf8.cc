// UTF-8 validation per RFC 3629 / Unicode Table 3-7 ("well-formed byte sequences").
#include "http/utf8.h"

#include <cstdint>
#include <cstring>

#include "base/assert.h"

namespace ringcast::http {
namespace {

// Payloads are mostly ASCII (JSON), so skip 8 bytes per step while no high bit is set.
std::size_t skip_ascii(const unsigned char* s, std::size_t i, std::size_t n) {
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  while (i + 8 <= n) {
    std::uint64_t word;
    std::memcpy(&word, s + i, sizeof word);  // unaligned-safe load
    if ((word & kHighBits) != 0) break;
    i += 8;
  }
  while (i < n && s[i] < 0x80) ++i;
  return i;
}

// Length of the well-formed multi-byte sequence at `s`, or 0 if it is not one.
// The second byte's range carries every special case of Table 3-7: E0 and F0 exclude
// overlongs, ED excludes surrogates, F4 excludes code points above U+10FFFF.
std::size_t sequence_length(const unsigned char* s, std::size_t avail) {
  const unsigned char b0 = s[0];
  unsigned char lo = 0x80, hi = 0xBF;
  std::size_t len;
  if (b0 >= 0xC2 && b0 <= 0xDF) {  // C0, C1 would only encode overlong ASCII
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {  // F5..FF would only encode > U+10FFFF
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;  // a stray continuation byte or an invalid lead byte
  }
  if (avail < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

bool valid_utf8(std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      i = skip_ascii(s, i, n);
      continue;
    }
    const std::size_t len = sequence_length(s + i, n - i);
    if (len == 0) return false;
    RC_ASSERT(len >= 2 && len <= 4 && len <= n - i);  // sequence_length read only what was there
    i += len;
  }
  RC_ASSERT(i == n);  // no step went past the end
  return true;
}

}  // namespace ringcast::http
