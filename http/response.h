#pragma once
// Plain HTTP/1.1 responses (errors, JSON acknowledgements, health, metrics).
#include <string>
#include <string_view>

namespace ringcast::http {

// "Not Found" for 404, etc.; "Unknown" for codes it does not know.
std::string_view reason_phrase(int status);

// Appends a full response to `out`:
//   HTTP/1.1 <status> <reason>\r\n
//   Content-Type: <content_type>\r\n
//   Content-Length: <body.size()>\r\n
//   Cache-Control: no-store\r\n
//   <extra_headers>            (each line must already end in \r\n; may be empty)
//   Connection: close\r\n      only if close == true
//   \r\n
//   <body>
void append_response(std::string& out, int status, std::string_view content_type,
                     std::string_view body, bool close, std::string_view extra_headers = {});

// An error response: text/plain body "<status> <reason>: <detail>\n", always Connection: close.
void append_error(std::string& out, int status, std::string_view detail,
                  std::string_view extra_headers = {});

// The head of an event stream (status line and headers, no body):
//   HTTP/1.1 200 OK, Content-Type: text/event-stream, Cache-Control: no-cache,
//   X-Accel-Buffering: no, Connection: keep-alive, then the blank line.
std::string_view stream_head();
// The same head with `extra_headers` (lines ending in CRLF, e.g. CORS) before the blank line.
std::string stream_head(std::string_view extra_headers);

// 204 No Content (no Content-Type, no Content-Length: RFC 9110 §8.6 forbids a length on 204)
// with `extra_headers`; used for CORS preflights.
void append_no_content(std::string& out, bool close, std::string_view extra_headers);

}  // namespace ringcast::http
