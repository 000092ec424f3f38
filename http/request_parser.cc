// HTTP/1.1 request-head parser (RFC 9112 §2-§3, §5-§6). See request_parser.h for the contract.
//
// Design notes:
// - Only the first header_bytes_max bytes are ever examined. Nothing beyond them can belong
//   to an acceptable head, so this bounds the work per call and makes every answer a
//   function of that window alone.
// - Complete lines are validated as soon as they arrive, so a bad request is refused before
//   its head is complete. The answer for a prefix is therefore either `incomplete` or the
//   answer for any longer input: callers may re-parse the growing buffer after every read.
// - Nothing is allocated; every view in Request points into `bytes`.
#include "http/request_parser.h"

#include <array>
#include <cstring>
#include <limits>

#include "base/assert.h"

namespace ringcast::http {
namespace {

constexpr std::size_t npos = std::string_view::npos;

// tchar (RFC 9110 §5.6.2): the characters of methods and field names.
constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = make_tchar_table();

bool is_tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

// A field value may hold HTAB, visible ASCII, SP and obs-text (RFC 9110 §5.5); any other
// control character (NUL, CR, LF, DEL, ...) is a smuggling or injection risk.
bool is_field_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

// Status 0 means "no fault"; otherwise the response to send before closing.
struct Fault {
  int status = 0;
  std::string_view reason;
  explicit operator bool() const { return status != 0; }
};

constexpr Fault kMalformedLine{400, "malformed request line"};
constexpr Fault kBadMethod{400, "invalid method"};
constexpr Fault kTargetTooLong{414, "request target too long"};
constexpr Fault kHeadTooLarge{431, "request head too large"};

ParseResult fail(Fault f) {
  // Every refusal is an answer the caller can send: a 4xx/5xx with a reason for the body.
  RC_ASSERT(f.status >= 400 && f.status <= 599 && !f.reason.empty());
  return {ParseStatus::error, f.status, f.reason};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + ('a' - 'A'));
    if (x != y) return false;
  }
  return true;
}

// Strips optional whitespace (SP / HTAB) from both ends, as RFC 9110 §5.5 requires.
std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Takes the next LF-terminated line starting at `pos`, without its CRLF or bare LF.
// Returns false (pos unchanged) when the line is not complete yet.
bool next_line(std::string_view window, std::size_t& pos, std::string_view& line) {
  if (pos >= window.size()) return false;  // also keeps a null data() away from memchr
  const void* lf = std::memchr(window.data() + pos, '\n', window.size() - pos);
  if (lf == nullptr) return false;
  const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(lf) - window.data());
  RC_ASSERT(end >= pos && end < window.size());  // memchr searched [pos, size) only
  line = window.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = end + 1;
  return true;
}

// RFC 9112 §2.2: a server SHOULD ignore empty lines received before the request line
// (some clients send a stray CRLF after a POST body).
std::size_t skip_leading_blank_lines(std::string_view window) {
  std::size_t pos = 0;
  for (;;) {
    if (pos < window.size() && window[pos] == '\n') {
      pos += 1;
    } else if (pos + 1 < window.size() && window[pos] == '\r' && window[pos + 1] == '\n') {
      pos += 2;
    } else {
      return pos;
    }
  }
}

// `method` is everything before the first SP of the request line.
Fault check_method(std::string_view method) {
  if (method.empty()) return kBadMethod;
  for (char c : method) {
    if (!is_tchar(c)) return kBadMethod;
  }
  return {};
}

// The request line has not ended yet: refuse it early if what has arrived is already bad
// (a TLS handshake, a huge target). Uses the same checks, in the same order, as
// parse_request_line so the early answer matches the eventual one.
Fault check_partial_request_line(std::string_view partial, const ParseLimits& limits) {
  // A final CR may be the first half of the CRLF that ends the line.
  if (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
  const std::size_t sp = partial.find(' ');
  if (sp == npos) {
    for (char c : partial) {
      if (!is_tchar(c)) return kBadMethod;
    }
    return {};
  }
  if (Fault f = check_method(partial.substr(0, sp))) return f;
  // The target ends at the next SP; a CR also stops counting because it may end the line.
  std::size_t n = 0;
  for (std::size_t i = sp + 1; i < partial.size() && partial[i] != ' ' && partial[i] != '\r'; ++i) {
    ++n;
  }
  if (n > limits.url_bytes_max) return kTargetTooLong;
  return {};
}

// "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3). Well-formed versions we do not speak get 505;
// anything else is not a version at all and gets 400.
Fault parse_version(std::string_view v, Request& req) {
  const bool well_formed = v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[5] >= '0' &&
                           v[5] <= '9' && v[6] == '.' && v[7] >= '0' && v[7] <= '9';
  if (!well_formed) return kMalformedLine;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return {505, "unsupported HTTP version"};
  req.version_minor = static_cast<std::uint8_t>(v[7] - '0');
  return {};
}

// Only origin-form ("/path?query") and, for OPTIONS, asterisk-form are served.
Fault check_target(std::string_view method, std::string_view target) {
  if (target.empty()) return kMalformedLine;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return {400, "invalid request target"};
  }
  if (target == "*") {
    if (method == "OPTIONS") return {};
    return {400, "invalid request target"};
  }
  if (target.front() != '/') return {400, "invalid request target"};
  return {};
}

// "METHOD SP TARGET SP VERSION" with exactly one SP between the parts (RFC 9112 §3).
Fault parse_request_line(std::string_view line, const ParseLimits& limits, Request& req) {
  const std::size_t sp1 = line.find(' ');
  if (Fault f = check_method(line.substr(0, sp1))) return f;
  if (sp1 == npos) return kMalformedLine;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  const std::string_view target = line.substr(sp1 + 1, sp2 == npos ? npos : sp2 - sp1 - 1);
  if (target.size() > limits.url_bytes_max) return kTargetTooLong;
  if (sp2 == npos) return kMalformedLine;
  if (Fault f = parse_version(line.substr(sp2 + 1), req)) return f;
  const std::string_view method = line.substr(0, sp1);
  if (Fault f = check_target(method, target)) return f;
  req.method = method;
  req.target = target;
  const std::size_t q = target.find('?');
  req.path = target.substr(0, q);
  req.query = q == npos ? std::string_view{} : target.substr(q + 1);
  // check_target let through only "*" or "/...": routing may rely on a non-empty path.
  RC_ASSERT(!req.path.empty() && req.path.size() <= target.size());
  return {};
}

// What the header lines have said so far, beyond what Request records.
struct HeadState {
  bool saw_transfer_encoding = false;
  bool saw_host = false;
  bool saw_authorization = false;
  bool saw_origin = false;
  bool saw_cookie = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
};

// 1*DIGIT that fits in 64 bits.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// RFC 9112 §6.3: a repeated Content-Length is only harmless when every copy agrees.
Fault apply_content_length(std::string_view value, Request& req) {
  std::uint64_t n = 0;
  if (!parse_u64(value, n)) return {400, "invalid Content-Length"};
  if (req.has_content_length && req.content_length != n) {
    return {400, "conflicting Content-Length"};
  }
  req.has_content_length = true;
  req.content_length = n;
  return {};
}

// Only a lone "chunked" is understood. Applying chunked twice is invalid (RFC 9112 §6.1),
// so a second Transfer-Encoding line is malformed rather than merely unsupported.
Fault apply_transfer_encoding(std::string_view value, HeadState& st, Request& req) {
  if (st.saw_transfer_encoding) return {400, "repeated Transfer-Encoding"};
  st.saw_transfer_encoding = true;
  if (!iequals(value, "chunked")) return {501, "unsupported Transfer-Encoding"};
  req.chunked = true;
  return {};
}

// Connection is a comma-separated token list and may be repeated; unknown options
// (e.g. "Upgrade") are ignored.
void apply_connection(std::string_view value, HeadState& st) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view token = trim_ows(value.substr(0, comma));
    if (iequals(token, "close")) st.connection_close = true;
    if (iequals(token, "keep-alive")) st.connection_keep_alive = true;
    value = comma == npos ? std::string_view{} : value.substr(comma + 1);
  }
}

// Singleton fields sent twice are malformed (RFC 9110 §5.3); for Host, Authorization,
// Origin and Cookie an ambiguous value is also a security problem, so refuse instead of picking one.
Fault set_once(bool& seen, std::string_view value, std::string_view* out) {
  if (seen) return {400, "duplicate header"};
  seen = true;
  if (out != nullptr) *out = value;
  return {};
}

Fault apply_header(std::string_view name, std::string_view value, HeadState& st,
                   Request& req) {
  if (iequals(name, "content-length")) return apply_content_length(value, req);
  if (iequals(name, "transfer-encoding")) return apply_transfer_encoding(value, st, req);
  if (iequals(name, "connection")) {
    apply_connection(value, st);
    return {};
  }
  if (iequals(name, "last-event-id")) {
    return set_once(req.has_last_event_id, value, &req.last_event_id);
  }
  if (iequals(name, "authorization")) {
    return set_once(st.saw_authorization, value, &req.authorization);
  }
  if (iequals(name, "origin")) return set_once(st.saw_origin, value, &req.origin);
  // A user agent sends one Cookie line (RFC 6265 §5.4); two could carry two tokens.
  if (iequals(name, "cookie")) return set_once(st.saw_cookie, value, &req.cookie);
  if (iequals(name, "host")) return set_once(st.saw_host, value, &req.host);
  if (iequals(name, "expect")) {
    // curl sends "Expect: 100-continue" before bodies over 1 KiB and waits for the go-ahead.
    if (!iequals(value, "100-continue")) return {417, "unsupported Expect"};
    req.expect_continue = true;
  }
  return {};
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
Fault parse_header_line(std::string_view line, HeadState& st, Request& req) {
  RC_ASSERT(!line.empty());  // the empty line ends the head before it gets here
  // obs-fold (a continuation line) is refused, as RFC 9112 §5.2 allows: folding is a
  // classic way to make two parsers disagree about a header.
  if (line.front() == ' ' || line.front() == '\t') return {400, "obsolete line folding"};
  const std::size_t colon = line.find(':');
  if (colon == npos) return {400, "header line without colon"};
  if (colon == 0) return {400, "empty header name"};
  const std::string_view name = line.substr(0, colon);
  for (char c : name) {
    // Also catches whitespace before the colon, which RFC 9112 §5.1 says MUST get a 400.
    if (!is_tchar(c)) return {400, "invalid header name"};
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if (!is_field_value_char(c)) return {400, "control character in header value"};
  }
  return apply_header(name, value, st, req);
}

// Checks that need the whole head, then derives keep_alive.
Fault finish_head(const HeadState& st, const ParseLimits& limits, Request& req) {
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
  if (limits.require_host && req.version_minor >= 1 && !st.saw_host) {
    return {400, "HTTP/1.1 request without Host"};
  }
  // RFC 9112 §6.1: both framings at once is a smuggling attempt.
  if (req.has_content_length && req.chunked) {
    return {400, "both Content-Length and Transfer-Encoding"};
  }
  // RFC 9112 §6.1: HTTP/1.0 has no chunked framing, so the body length is unknowable.
  if (req.chunked && req.version_minor == 0) return {400, "Transfer-Encoding in HTTP/1.0"};
  const bool persistent_by_default = req.version_minor >= 1;
  req.keep_alive = !st.connection_close && (persistent_by_default || st.connection_keep_alive);
  return {};
}

// No complete head in what has arrived: wait, unless the window is already full.
ParseResult need_more(std::size_t received, const ParseLimits& limits) {
  if (received >= limits.header_bytes_max) return fail(kHeadTooLarge);
  return {};
}

}  // namespace

ParseResult parse_request(std::string_view bytes, const ParseLimits& limits, Request& request) {
  // Start clean: callers re-parse into the same Request as more bytes arrive, and stale
  // fields (say, a Content-Length) would otherwise look like duplicates.
  request = Request{};
  const std::string_view window = bytes.substr(0, limits.header_bytes_max);
  std::size_t pos = skip_leading_blank_lines(window);
  std::string_view line;
  if (!next_line(window, pos, line)) {
    if (Fault f = check_partial_request_line(window.substr(pos), limits)) return fail(f);
    return need_more(bytes.size(), limits);
  }
  if (Fault f = parse_request_line(line, limits, request)) return fail(f);
  HeadState st;
  for (;;) {
    if (!next_line(window, pos, line)) return need_more(bytes.size(), limits);
    if (line.empty()) break;
    if (Fault f = parse_header_line(line, st, request)) return fail(f);
  }
  if (Fault f = finish_head(st, limits, request)) return fail(f);
  // The head is consumed from the window only: never more than was given, nor than the limit,
  // and every view handed out points into it.
  RC_ASSERT(pos <= window.size() && window.size() <= bytes.size());
  RC_ASSERT(request.target.data() >= window.data() &&
            request.target.data() + request.target.size() <= window.data() + pos);
  request.head_bytes = pos;
  return {ParseStatus::complete, 0, {}};
}

}  // namespace ringcast::http
