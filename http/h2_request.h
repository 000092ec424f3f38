#pragma once
// Assembles one HTTP/2 request from nghttp2's header and DATA callbacks into the
// http::Request shape the routes take. Lives only while the request arrives; its bytes are
// bounded by the header list and body limits the session enforces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace ringcast::http {

class H2RequestBuilder {
 public:
  // Records a header field the routes care about (others are ignored). False: a field that
  // makes the request malformed for us (a second :path, :method or :authority).
  bool add_header(std::string_view name, std::string_view value);
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
  std::string_view get(Field f) const { return {bytes_.data() + spans_[f].off, spans_[f].len}; }
  void put(Field f, std::string_view value);

  std::string bytes_;  // the recorded values
  std::string body_;
  Span spans_[kFields];
  std::uint64_t content_length_ = 0;
  bool has_content_length_ = false;
};

}  // namespace ringcast::http
