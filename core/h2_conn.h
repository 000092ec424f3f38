#pragma once
// One HTTP/2 connection's state on its shard (core/shard_h2.cc): the protocol session and its
// streams. Each stream is a record of its own in the shard's connection table (a Conn whose fd
// is kH2StreamFd | the connection's record); this holds what only HTTP/2 needs of it: the bytes
// its last "send" staged, how far the session has framed them (pulled) and how much of that
// the socket took (sent). The session calls back into the shard through H2Handler.
//
// Density (issue #18): a stream costs one 80-byte H2Stream in the shard's slab (fixed-size
// records, recycled, so connections that grow and shrink leave no freed blocks behind) and two
// 8-byte index entries in its connection's flat vectors, plus the session's own record.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "alloc/slab.h"
#include "http/h2_session.h"

namespace ringcast {

class Shard;

struct H2Stream {
  std::int32_t id = 0;
  std::uint32_t conn = 0;        // the stream's record in the shard's table
  std::uint32_t head = 0;        // bytes of the staged send consumed as the HEADERS frame
  std::uint32_t staged = 0;      // bytes staged (after the head, which went out as HEADERS)
  std::uint32_t pulled = 0;      // of those, framed into the connection's output
  std::uint32_t sent = 0;        // of those, taken by the socket
  std::uint32_t iov_off = 0;     // bytes of iov()[iov_at] pulled
  std::uint16_t iov_count = 0;   // staged iovecs
  std::uint16_t iov_at = 0;      // first staged iovec not wholly pulled
  bool headers_sent : 1 = false;
  bool end_after : 1 = false;    // the staged bytes are the stream's last (a whole answer)
  bool end_pending : 1 = false;  // the shard ended the stream (drain, expiry): END_STREAM next
  bool end_sent : 1 = false;     // END_STREAM framed
  bool closed : 1 = false;       // the session closed the stream (either side)
  iovec inline_iov[2] = {};      // a send's iovecs when they fit (an event or two: the usual)
  iovec* more = nullptr;         // ... else here (owned: freed by clear_staged())

  const iovec* iov() const { return more != nullptr ? more : inline_iov; }
  // Copies the iovecs of one staged send (the shard's scratch list is reused), less `skip`
  // bytes at the front of the first.
  void stage(const iovec* v, std::size_t n, std::size_t skip);
  void clear_staged();
};
static_assert(sizeof(H2Stream) <= 80, "an HTTP/2 stream's record must stay small (issue #18)");

// A connection's streams, by stream id and by record: two sorted flat vectors of slab indices.
// A connection holds at most --h2-max-streams (256 by default), so inserts and erases move
// little. The H2Stream records never move.
class H2Streams {
 public:
  explicit H2Streams(Slab<H2Stream>& slab) : slab_(slab) {}
  ~H2Streams();
  H2Streams(const H2Streams&) = delete;
  H2Streams& operator=(const H2Streams&) = delete;

  H2Stream* find(std::int32_t id);
  std::int32_t id_of(std::uint32_t record) const;  // the record must be a stream of this table
  H2Stream& at_record(std::uint32_t record) { return *find(id_of(record)); }
  H2Stream& add(std::int32_t id, std::uint32_t record);
  void erase(std::int32_t id);
  std::size_t size() const { return by_id_.size(); }
  bool empty() const { return by_id_.empty(); }
  std::vector<std::uint32_t> records() const;

 private:
  struct ById {
    std::int32_t id;
    std::uint32_t slot;  // in slab_
  };
  struct ByRecord {
    std::uint32_t record;
    std::uint32_t slot;
  };
  Slab<H2Stream>& slab_;
  std::vector<ById> by_id_;          // ascending id
  std::vector<ByRecord> by_record_;  // ascending record
};

class H2Conn final : public http::H2Handler {
 public:
  H2Conn(Shard& shard, std::uint32_t conn, const http::H2Settings& settings,
         Slab<H2Stream>& stream_slab)
      : shard_(shard), conn_(conn), session(settings, *this), streams(stream_slab) {}

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
  H2Streams streams;
  bool failed = false;          // protocol error or abuse: flush the GOAWAY, then close
  bool goaway_sent = false;     // draining or idle: no new streams; close once none is left
  bool closing = false;         // the connection is closing: nothing more is framed
  bool output_dropped = false;  // ... and its last send completed: no byte staged will go
  bool tearing_down = false;    // the connection is freeing its streams (no call back)
};

}  // namespace ringcast
