#include "auth/base64url.h"

#include <array>
#include <cstdint>

#include "base/assert.h"

namespace ringcast::http {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}
constexpr std::array<std::uint8_t, 256> kTable = make_table();

}  // namespace

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    const std::uint8_t v = kTable[static_cast<unsigned char>(ch)];
    if (v == kInvalid) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // n % 4 == 1 was refused, so 0, 2 or 4 bits are left and every whole byte was written.
  RC_ASSERT((bits == 0 || bits == 2 || bits == 4) && out.size() == in.size() * 3 / 4);
  // 2 or 4 leftover bits must be zero: "AB" and "AC" must not both decode to the same byte.
  return (acc & ((1u << bits) - 1)) == 0;
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  RC_ASSERT(out.size() == (in.size() * 4 + 2) / 3);  // what the reservation assumed
  return out;
}

}  // namespace ringcast::http
