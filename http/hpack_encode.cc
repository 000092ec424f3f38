#include "http/hpack_encode.h"

#include <array>

#include "base/assert.h"

namespace ringcast::http::hpack {

namespace {

// RFC 7541 Appendix A: the names of static table entries 1..61 (index = position + 1).
constexpr std::array<std::string_view, 61> kStaticNames = {
    ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status",
    ":status", ":status", ":status", ":status", ":status", ":status", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "accept",
    "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
    "content-disposition", "content-encoding", "content-language", "content-length",
    "content-location", "content-range", "content-type", "cookie", "date", "etag", "expect",
    "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
    "if-unmodified-since", "last-modified", "link", "location", "max-forwards",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
    "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent", "vary",
    "via", "www-authenticate"};

void append_string(std::string& out, std::string_view s) {
  append_int(out, 0x00, 7, s.size());  // H = 0: raw octets
  out.append(s);
}

}  // namespace

void append_int(std::string& out, std::uint8_t first, int prefix_bits, std::uint64_t value) {
  RC_ASSERT(prefix_bits >= 1 && prefix_bits <= 8);
  const std::uint64_t max_prefix = (std::uint64_t{1} << prefix_bits) - 1;
  RC_ASSERT((first & max_prefix) == 0);
  if (value < max_prefix) {
    out += static_cast<char>(first | value);
    return;
  }
  out += static_cast<char>(first | max_prefix);
  value -= max_prefix;
  while (value >= 128) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

int static_name_index(std::string_view name) {
  for (std::size_t i = 0; i < kStaticNames.size(); ++i) {
    if (kStaticNames[i] == name) return static_cast<int>(i) + 1;
  }
  return 0;
}

void append_status(std::string& out, int status) {
  RC_ASSERT(status >= 100 && status <= 999);
  int index = 0;
  switch (status) {  // RFC 7541 Appendix A, entries 8..14
    case 200: index = 8; break;
    case 204: index = 9; break;
    case 206: index = 10; break;
    case 304: index = 11; break;
    case 400: index = 12; break;
    case 404: index = 13; break;
    case 500: index = 14; break;
    default: break;
  }
  if (index != 0) {
    append_int(out, 0x80, 7, static_cast<std::uint64_t>(index));  // indexed field
    return;
  }
  const char code[3] = {char('0' + status / 100), char('0' + status / 10 % 10),
                        char('0' + status % 10)};
  append_int(out, 0x00, 4, 8);  // literal without indexing, name ":status" by index
  append_string(out, {code, 3});
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  RC_ASSERT(!name.empty());
  const int index = static_name_index(name);
  if (index != 0) {
    append_int(out, 0x00, 4, static_cast<std::uint64_t>(index));
  } else {
    out += '\0';  // literal without indexing, new name
    append_string(out, name);
  }
  append_string(out, value);
}

}  // namespace ringcast::http::hpack
