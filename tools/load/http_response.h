#pragma once
// Reads the publisher's HTTP/1.1 responses: one request is in flight per connection, so
// responses arrive one at a time, each small (a 202 with {"topic":"…","id":"…"}, or a short
// text/plain error). Bytes accumulate in a fixed buffer until a whole response is there.
// No IO; no allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tools/load/event_id.h"

namespace ringcast::load {

struct HttpResponse {
  int status = 0;
  bool close = false;        // "Connection: close": the server ends the connection after it
  std::string_view body;     // valid until the next feed()/consume()
};

enum class ReadStatus : std::uint8_t { incomplete, complete, malformed, too_large };

class ResponseReader {
 public:
  static constexpr std::size_t kCapacity = 4096;

  // Appends bytes. Returns false (and keeps nothing) if they do not fit.
  bool feed(std::string_view bytes);
  // Looks for one whole response at the front of what was fed.
  ReadStatus parse(HttpResponse& out) const;
  // Drops the response parse() returned.
  void consume(const HttpResponse& r);
  void reset() { len_ = 0; }
  std::size_t buffered() const { return len_; }

 private:
  char buf_[kCapacity];
  std::size_t len_ = 0;
};

// The "id" of a 202 body {"topic":"…","id":"<ms>-<n>"}. False if absent or malformed.
bool id_from_ack(std::string_view body, EventId& out);

}  // namespace ringcast::load
