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

}  // namespace

void H2RequestBuilder::put(Field f, std::string_view value) {
  RC_ASSERT(f < kFields);
  RC_ASSERT(bytes_.size() + value.size() <= UINT32_MAX);
  spans_[f] = {static_cast<std::uint32_t>(bytes_.size()), static_cast<std::uint32_t>(value.size()),
               true};
  bytes_.append(value);
}

bool H2RequestBuilder::add_header(std::string_view name, std::string_view value) {
  // nghttp2 (HTTP messaging on) has already checked pseudo-header order, duplicates of
  // pseudo-headers, upper-case names and connection-specific fields.
  Field f;
  if (name == ":method") f = method;
  else if (name == ":path") f = path;
  else if (name == ":authority") f = authority;
  else if (name == "host") f = host;
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
    // nghttp2 checks it against the DATA received; we only read it for an early 413.
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
