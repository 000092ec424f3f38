#pragma once
// One HTTP/2 connection's state on its shard (core/shard_h2.cc): the protocol session and its
// streams. Each stream is a record of its own in the shard's connection table (a Conn whose fd
// is kH2StreamFd | the connection's record); this holds what only HTTP/2 needs of it: the bytes
// its last "send" staged, how far the session has framed them (pulled) and how much of that
// the socket took (sent). The session calls back into the shard through H2Handler.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "http/h2_session.h"

namespace ringcast {

class Shard;

struct H2Stream {
  std::uint32_t conn = 0;        // the stream's record in the shard's table
  std::vector<iovec> iov;        // staged bytes (after the head, which went out as HEADERS)
  std::size_t iov_at = 0;        // first staged iovec not wholly pulled
  std::size_t iov_off = 0;       // bytes of it pulled
  std::size_t head = 0;          // bytes of the staged send consumed as the HEADERS frame
  std::size_t staged = 0;        // bytes in iov
  std::size_t pulled = 0;        // of those, framed into the connection's output
  std::size_t sent = 0;          // of those, taken by the socket
  bool headers_sent = false;
  bool end_after = false;        // the staged bytes are the stream's last (a whole answer)
  bool end_pending = false;      // the shard ended the stream (drain, expiry): END_STREAM next
  bool end_sent = false;         // END_STREAM framed
  bool closed = false;           // the session closed the stream (either side)
};

class H2Conn final : public http::H2Handler {
 public:
  H2Conn(Shard& shard, std::uint32_t conn, const http::H2Settings& settings)
      : shard_(shard), conn_(conn), session(settings, *this) {}

  void on_request(std::int32_t id, const http::H2Request& request) override;
  void on_stream_close(std::int32_t id, std::uint32_t error_code) override;
  std::size_t pull(std::int32_t id, std::size_t max_bytes, http::H2Slices& out,
                   bool& end_stream) override;
  void on_data_sent(std::int32_t id, std::size_t bytes) override;
  void on_window_open(std::int32_t id) override;

 private:
  Shard& shard_;
  std::uint32_t conn_;

 public:
  http::H2Session session;
  std::unordered_map<std::int32_t, H2Stream> streams;  // by stream id
  std::unordered_map<std::uint32_t, std::int32_t> ids;  // stream record -> stream id
  bool failed = false;          // protocol error or abuse: flush the GOAWAY, then close
  bool goaway_sent = false;     // draining or idle: no new streams; close once none is left
  bool closing = false;         // the connection is closing: nothing more is framed
  bool output_dropped = false;  // ... and its last send completed: no byte staged will go
  bool tearing_down = false;    // the connection is freeing its streams (no call back)
};

}  // namespace ringcast
