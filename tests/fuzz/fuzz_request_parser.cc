// libFuzzer target: the HTTP request-head parser on arbitrary bytes.
// Invariants: never crashes or reads out of bounds (ASan); a complete head is within the input
// and its views point into it; an error carries one of the documented statuses; the answer for
// the whole input equals the answer when the same bytes arrive with the head already complete.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.h"

using ringcast::http::ParseLimits;
using ringcast::http::ParseResult;
using ringcast::http::ParseStatus;
using ringcast::http::Request;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.header_bytes_max = 1024;
  limits.url_bytes_max = 256;
  Request req;
  const ParseResult r = ringcast::http::parse_request(bytes, limits, req);
  switch (r.status) {
    case ParseStatus::complete:
      check(req.head_bytes > 0 && req.head_bytes <= size && req.head_bytes <= limits.header_bytes_max);
      check(inside(req.method, bytes) && inside(req.target, bytes) && inside(req.path, bytes));
      check(inside(req.query, bytes) && inside(req.last_event_id, bytes));
      check(req.target.size() <= limits.url_bytes_max);
      check(!req.path.empty() || req.target == "*");
      break;
    case ParseStatus::error:
      check(r.error_status == 400 || r.error_status == 413 || r.error_status == 414 ||
            r.error_status == 417 || r.error_status == 431 || r.error_status == 501 ||
            r.error_status == 505);
      break;
    case ParseStatus::incomplete:
      check(size < limits.header_bytes_max);
      break;
  }
  // A complete head parses the same when nothing follows it.
  if (r.status == ParseStatus::complete) {
    Request again;
    const ParseResult r2 = ringcast::http::parse_request(bytes.substr(0, req.head_bytes), limits, again);
    check(r2.status == ParseStatus::complete && again.head_bytes == req.head_bytes);
  }
  return 0;
}
