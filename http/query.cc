// Query-string helpers. See query.h for the contract.
#include "http/query.h"

#include "base/assert.h"

namespace ringcast::http {
namespace {

// Value of one hex digit, or -1.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  // Decoding never grows the text, so one reservation is enough.
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      const int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        // Leave nothing half-decoded behind for a caller that ignores the result.
        out.clear();
        return false;
      }
      RC_ASSERT(i + 2 < in.size());  // both hex digits were read from `in`
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  RC_ASSERT(out.size() <= in.size());  // decoding never grows the text: the one reservation held
  return true;
}

bool QueryIter::next(std::string_view& key, std::string_view& value) {
  while (!rest_.empty()) {
    const std::size_t amp = rest_.find('&');
    const std::string_view pair = rest_.substr(0, amp);
    const std::size_t before = rest_.size();
    rest_ = amp == std::string_view::npos ? std::string_view{} : rest_.substr(amp + 1);
    // The pair and its '&' are taken off the front: every call moves on (rest_ was not empty).
    RC_ASSERT(pair.size() + (amp == std::string_view::npos ? 0 : 1) + rest_.size() == before);
    if (pair.empty()) continue;  // "a=1&&b=2", a leading or a trailing '&'
    const std::size_t eq = pair.find('=');
    key = pair.substr(0, eq);
    value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    return true;
  }
  return false;
}

}  // namespace ringcast::http
