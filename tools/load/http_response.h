#pragma once
// Reads the publisher's HTTP/1.1 responses, in order, several per read when requests are
// pipelined. Each is small: ringcast's and the Node peer's 202 {"topic":"…","id":"…"}, nchan's
// 201/202 text/plain queue summary, a batch answer naming every event, or a short error; each
// has a Content-Length (none means an empty body). Bytes accumulate in a buffer sized once
// (the longest answer expected): feed what fits, take every whole response out, feed the rest.
// No IO; no allocation after construction.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tools/load/event_id.h"

namespace ringcast::load {

struct HttpResponse {
  int status = 0;
  bool accepted() const { return status >= 200 && status < 300; }
  bool interim() const { return status >= 100 && status < 200; }  // 100 Continue: more follows
  bool close = false;        // "Connection: close": the server ends the connection after it
  std::string_view body;     // valid until the next feed()/consume()
};

enum class ReadStatus : std::uint8_t {
  incomplete,
  complete,
  malformed,
  too_large,    // a head or body that cannot fit the buffer
  unsupported,  // a Transfer-Encoding: publish answers are expected with a Content-Length
};

class ResponseReader {
 public:
  static constexpr std::size_t kCapacity = 4096;  // the default: any single publish's answer

  explicit ResponseReader(std::size_t capacity = kCapacity) : buf_(capacity) {}

  // Appends as many of `bytes` as fit; returns how many.
  std::size_t feed(std::string_view bytes);
  // Looks for one whole response at the front of what was fed.
  ReadStatus parse(HttpResponse& out) const;
  // Drops the response parse() returned.
  void consume(const HttpResponse& r);
  void reset() { len_ = 0; }
  bool full() const { return len_ == buf_.size(); }
  std::size_t buffered() const { return len_; }
  std::size_t capacity() const { return buf_.size(); }

 private:
  std::vector<char> buf_;
  std::size_t len_ = 0;
};

// The "id" of a 2xx body {"topic":"…","id":"<ms>-<n>"}. False if absent or malformed.
bool id_from_ack(std::string_view body, EventId& out);

}  // namespace ringcast::load
