#include "http/h2_request.h"

#include "base/assert.h"

namespace ringcast::http {

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool parse_decimal(std::string_view v, std::uint64_t& out) {
  if (v.empty() || v.size() > 19) return false;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = n;
  return true;
}

// RFC 9110 §5.6.2 tchar, lower case only (RFC 9113 §8.2.1: upper case is malformed).
bool name_char_ok(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool regular_name_ok(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!name_char_ok(c)) return false;
  }
  return true;
}

bool value_ok(std::string_view value) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
  }
  return true;
}

// RFC 9113 §8.2.2: fields that only mean something to an HTTP/1.1 connection.
bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

}  // namespace

bool h2_trailer_field_ok(std::string_view name, std::string_view value) {
  return regular_name_ok(name) && value_ok(value) && !connection_specific(name);
}

FieldVerdict H2RequestBuilder::add_field(std::string_view name, std::string_view value) {
  if (!value_ok(value)) return FieldVerdict::malformed;
  if (!name.empty() && name.front() == ':') {
    if (regular_seen_) return FieldVerdict::malformed;
    if (name == ":scheme") {
      if (scheme_seen_) return FieldVerdict::malformed;
      scheme_seen_ = true;
      return FieldVerdict::ok;
    }
    if (name != ":method" && name != ":path" && name != ":authority") return FieldVerdict::malformed;
    const Field f = name == ":method" ? method : name == ":path" ? path : authority;
    if (spans_[f].set) return FieldVerdict::malformed;
    put(f, value);
    return FieldVerdict::ok;
  }
  regular_seen_ = true;
  if (!regular_name_ok(name) || connection_specific(name)) return FieldVerdict::malformed;
  if (name == "te" && value != "trailers") return FieldVerdict::malformed;
  if (name == "content-length" && has_content_length_) return FieldVerdict::malformed;
  return add_header(name, value) ? FieldVerdict::ok : FieldVerdict::bad_request;
}

bool H2RequestBuilder::head_complete() const {
  if (!spans_[method].set) return false;
  if (get(method) != "CONNECT" && (!scheme_seen_ || !spans_[path].set || spans_[path].len == 0))
    return false;
  return spans_[authority].set || spans_[host].set;
}

void H2RequestBuilder::put(Field f, std::string_view value) {
  RC_ASSERT(f < kFields);
  RC_ASSERT(bytes_.size() + value.size() <= UINT32_MAX);
  spans_[f] = {static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(value.size()),
               true};
  bytes_.append(value);
}

bool H2RequestBuilder::add_header(std::string_view name, std::string_view value) {
  // add_field has checked the name, the value and the pseudo-headers.
  Field f;
  if (name == "host") f = host;
  else if (name == "authorization") f = authorization;
  else if (name == "origin") f = origin;
  else if (name == "last-event-id") f = last_event_id;
  else if (name == "cookie") {
    // RFC 9113 §8.2.3: cookie may be split into several fields; join them with "; ".
    if (!spans_[cookie].set) {
      put(cookie, value);
    } else {
      std::string joined(get(cookie));
      joined.append("; ").append(value);
      put(cookie, joined);
    }
    return true;
  } else if (name == "content-length") {
    // The session checks it against the DATA received, and reads it for an early 413.
    has_content_length_ = parse_decimal(value, content_length_);
    return has_content_length_;
  } else {
    return true;
  }
  if (spans_[f].set) return false;  // a field we act on, sent twice: 400
  put(f, value);
  return true;
}

Request H2RequestBuilder::request() const {
  Request req;
  req.method = get(method);
  req.target = get(path);
  std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view{} : req.target.substr(q + 1);
  req.version_minor = 1;
  req.keep_alive = true;
  req.has_content_length = has_content_length_;
  req.content_length = content_length_;
  req.has_last_event_id = spans_[last_event_id].set;
  req.last_event_id = trim(get(last_event_id));
  req.authorization = get(authorization);
  req.origin = get(origin);
  req.cookie = get(cookie);
  // RFC 9113 §8.3.1: :authority stands for Host; a Host field is used when it is absent.
  req.host = spans_[authority].set ? get(authority) : get(host);
  return req;
}

}  // namespace ringcast::http
