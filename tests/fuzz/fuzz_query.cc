// libFuzzer target: query-string walking and percent-decoding on arbitrary bytes. Every pair
// lies inside the input; decoding never grows the text; the walk ends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/query.h"
#include "http/names.h"
#include "http/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(bytes), size);
  ringcast::http::QueryIter it(query);
  std::string_view key, value;
  std::string decoded;
  std::size_t pairs = 0;
  while (it.next(key, value)) {
    if (++pairs > size + 1) std::abort();
    if (ringcast::http::percent_decode(value, decoded) && decoded.size() > value.size()) std::abort();
    // Whatever a client sends, a name the server accepts is safe to echo in JSON.
    if (ringcast::http::valid_topic(decoded)) {
      for (char ch : decoded) {
        if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) std::abort();
      }
    }
  }
  (void)ringcast::http::valid_utf8(query);
  return 0;
}
