#pragma once
// Assembles one HTTP/2 request from the session's decoded header fields and DATA into the
// http::Request shape the routes take, and checks each field against RFC 9113 §8.2 and §8.3
// (a malformed request is a stream error). Lives only while the request arrives; its bytes are
// bounded by the header list and body limits the session enforces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace ringcast::http {

enum class FieldVerdict : std::uint8_t {
  ok,
  bad_request,  // valid HTTP/2, but not a request we take (a field we act on sent twice): 400
  malformed,    // RFC 9113 §8.1.1: RST_STREAM(PROTOCOL_ERROR)
};

// A field of a trailer section: a valid name and value, no pseudo-header, nothing
// connection-specific (RFC 9113 §8.1, §8.2.2).
bool h2_trailer_field_ok(std::string_view name, std::string_view value);

class H2RequestBuilder {
 public:
  // Checks one decoded field (lower-case token name, no NUL/CR/LF in the value, pseudo-headers
  // known, once each and before every regular field, no connection-specific field, `te` only
  // "trailers") and records it if the routes care about it.
  FieldVerdict add_field(std::string_view name, std::string_view value);
  // After the last field: the pseudo-headers a request needs are there (:method; :scheme and a
  // non-empty :path unless CONNECT; :authority or host).
  bool head_complete() const;
  void add_body(std::string_view bytes) { body_.append(bytes); }
  std::size_t body_bytes() const { return body_.size(); }
  bool has_content_length() const { return has_content_length_; }
  std::uint64_t content_length() const { return content_length_; }

  // The request; its views point into this builder.
  Request request() const;
  std::string_view body() const { return body_; }

 private:
  enum Field : std::uint8_t {
    method, path, authority, host, authorization, cookie, origin, last_event_id, kFields
  };
  struct Span {
    std::uint32_t off = 0;
    std::uint32_t len = 0;
    bool set = false;
  };
  bool add_header(std::string_view name, std::string_view value);
  std::string_view get(Field f) const { return {bytes_.data() + spans_[f].off, spans_[f].len}; }
  void put(Field f, std::string_view value);

  std::string bytes_;  // the recorded values
  std::string body_;
  Span spans_[kFields];
  std::uint64_t content_length_ = 0;
  bool has_content_length_ = false;
  bool regular_seen_ = false;  // a regular field came: no pseudo-header may follow
  bool scheme_seen_ = false;
};

}  // namespace ringcast::http
