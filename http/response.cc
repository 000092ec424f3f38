// Plain HTTP/1.1 responses. See response.h for the exact layout.
#include "http/response.h"

#include <charconv>

#include "base/assert.h"

namespace ringcast::http {
namespace {

void append_number(std::string& out, unsigned long long n) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, n);
  RC_ASSERT(res.ec == std::errc{});  // 20 digits at most
  out.append(buf, res.ptr);
}

// Extra header lines are whole lines, so the head's own lines stay lines: they come from the
// server (CORS answers built at start-up, static challenges), never from a request.
bool whole_lines(std::string_view headers) {
  return headers.empty() || headers.ends_with("\r\n");
}

void append_int(std::string& out, int n) {
  char buf[16];
  const auto res = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, res.ptr);
}

}  // namespace

std::string_view reason_phrase(int status) {
  // Phrases from RFC 9110 §15 (429 from RFC 6585, 431 from RFC 6585).
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

// Everything up to and including the blank line, for a body of `content_length` bytes.
void append_head(std::string& out, int status, std::string_view content_type,
                 std::size_t content_length, bool close, std::string_view extra_headers) {
  RC_ASSERT(status >= 100 && status <= 599);  // three digits (RFC 9110 §15)
  RC_ASSERT(content_type.find_first_of("\r\n") == std::string_view::npos);  // a literal
  RC_ASSERT(whole_lines(extra_headers));
  out += "HTTP/1.1 ";
  append_int(out, status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  append_number(out, content_length);
  // Acknowledgements, health and metrics are live answers: no cache may replay them.
  out += "\r\nCache-Control: no-store\r\n";
  out += extra_headers;
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
}

// Fixed text of a head without its variable parts, to size one reservation.
constexpr std::size_t kHeadOverhead = 128;

}  // namespace

void append_response(std::string& out, int status, std::string_view content_type,
                     std::string_view body, bool close, std::string_view extra_headers) {
  out.reserve(out.size() + kHeadOverhead + content_type.size() + extra_headers.size() +
              body.size());
  append_head(out, status, content_type, body.size(), close, extra_headers);
  out += body;
}

void append_error(std::string& out, int status, std::string_view detail,
                  std::string_view extra_headers) {
  RC_ASSERT(status >= 400 && status <= 599);
  char code[16];
  const auto res = std::to_chars(code, code + sizeof code, status);
  const std::string_view code_text(code, static_cast<std::size_t>(res.ptr - code));
  const std::string_view reason = reason_phrase(status);
  // "<status> <reason>: <detail>\n"; without a detail the ": " would only be noise.
  const std::size_t body_size =
      code_text.size() + 1 + reason.size() + (detail.empty() ? 0 : 2 + detail.size()) + 1;
  out.reserve(out.size() + kHeadOverhead + extra_headers.size() + body_size);
  // An error ends the conversation: whatever follows in the buffer cannot be trusted.
  append_head(out, status, "text/plain", body_size, true, extra_headers);
  const std::size_t body_start = out.size();
  out += code_text;
  out += ' ';
  out += reason;
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  out += '\n';
  RC_ASSERT(out.size() - body_start == body_size);  // what Content-Length announced
}

std::string_view stream_head() {
  // Built once at compile time: every subscriber gets the same bytes.
  // X-Accel-Buffering: no stops nginx-style proxies from holding events back.
  static constexpr std::string_view kHead =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n"
      "Connection: keep-alive\r\n"
      "\r\n";
  return kHead;
}

std::string stream_head(std::string_view extra_headers) {
  RC_ASSERT(whole_lines(extra_headers));
  std::string head(stream_head());
  head.insert(head.size() - 2, extra_headers);  // before the final blank line
  return head;
}

void append_no_content(std::string& out, bool close, std::string_view extra_headers) {
  RC_ASSERT(whole_lines(extra_headers));
  out += "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n";
  out += extra_headers;
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
}

}  // namespace ringcast::http
