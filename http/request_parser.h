#pragma once
// HTTP/1.1 request-head parser. Works on bytes only: no sockets, no allocation.
// The parsed Request borrows string_views into the caller's buffer.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::http {

struct ParseLimits {
  std::size_t header_bytes_max = 8192;  // request line + headers + final blank line
  std::size_t url_bytes_max = 2048;     // request target
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Off only in tests of other rules.
  bool require_host = true;
};

enum class ParseStatus : std::uint8_t {
  incomplete,  // need more bytes; nothing is wrong yet
  complete,    // `request` is filled; `request.head_bytes` bytes were consumed
  error,       // `error_status` says which 4xx/5xx to answer, then close
};

struct Request {
  std::string_view method;       // "GET", "POST", ... (case-sensitive, as sent)
  std::string_view target;       // raw request target, e.g. "/sse?topic=a"
  std::string_view path;         // target up to '?', not decoded
  std::string_view query;        // after '?', empty if none, not decoded
  std::uint8_t version_minor = 1;  // HTTP/1.0 -> 0, HTTP/1.1 -> 1
  bool keep_alive = true;        // HTTP/1.1 default true unless "Connection: close";
                                 // HTTP/1.0 default false unless "Connection: keep-alive"
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool chunked = false;          // "Transfer-Encoding: chunked" was sent
  bool has_last_event_id = false;
  std::string_view last_event_id;  // header value, trimmed of surrounding spaces/tabs
  std::string_view authorization;  // header value or empty
  std::string_view origin;         // header value or empty
  std::string_view cookie;         // header value or empty (one Cookie line, RFC 6265 §5.4)
  std::string_view host;           // header value or empty
  bool expect_continue = false;    // "Expect: 100-continue" (any other Expect value: 417)
  std::size_t head_bytes = 0;      // bytes of the request head, including the blank line
};

struct ParseResult {
  ParseStatus status = ParseStatus::incomplete;
  int error_status = 0;            // 400, 413, 414, 431, 501, 505 when status == error
  std::string_view error_reason;   // short static text for the error body
};

// Parses the request head at the start of `bytes`.
// - Lines end in CRLF; a bare LF is accepted as well (RFC 9112 §2.2 allows it).
// - error 414 if the request target exceeds url_bytes_max (checked as soon as the request
//   line is known to be too long, even before the head is complete);
// - error 431 if no complete head within header_bytes_max bytes;
// - error 400 for a malformed request line, header line, duplicate or invalid
//   Content-Length, both Content-Length and Transfer-Encoding, control characters, an
//   HTTP/1.1 request without Host (unless !limits.require_host), Host sent twice;
// - error 505 for a version other than HTTP/1.0 or HTTP/1.1;
// - error 501 for a Transfer-Encoding other than chunked;
// - error 417 for an Expect other than 100-continue.
// Header names are matched case-insensitively.
ParseResult parse_request(std::string_view bytes, const ParseLimits& limits, Request& request);

}  // namespace ringcast::http
