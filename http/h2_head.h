#pragma once
// The shard writes every answer as HTTP/1.1 bytes (http/response.h); an HTTP/2 stream sends the
// same answer as a HEADERS frame and DATA. This turns the HTTP/1.1 head at the front of such
// bytes into what H2Session::submit_headers() takes: the status, the content type and the other
// fields, lower-cased, without the connection-specific ones RFC 9113 §8.2.2 forbids
// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade). No IO, no allocation
// beyond `names`.
#include <cstddef>
#include <string>
#include <string_view>

#include "http/h2_session.h"

namespace ringcast::http {

struct H1Head {
  static constexpr std::size_t kFieldsMax = 15;  // H2Session takes 16 extra fields
  int status = 0;
  std::string_view content_type;
  H2Header fields[kFieldsMax];
  std::size_t field_count = 0;
  std::size_t head_bytes = 0;  // the head's length, blank line included
};

// False if `bytes` do not start with a complete "HTTP/1.1 NNN ...\r\n...\r\n\r\n" head or it has
// more fields than kFieldsMax. Views point into `bytes` and `names` (cleared and reserved first,
// so they stay valid until `names` changes).
bool parse_h1_head(std::string_view bytes, H1Head& head, std::string& names);

}  // namespace ringcast::http
