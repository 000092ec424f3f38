#pragma once
// --h2: one HTTP/2 client connection carrying many SSE streams, over nghttp2's client session
// with no IO of its own (like tls_client.h): bytes that arrived are handed in, bytes to send
// are appended to a buffer the caller owns (and keeps until its send completes), and what
// happened on each stream comes out through H2Events, named by the caller's tag (its stream
// slot). The worker moves the bytes through its io_uring sends and receives; the unit tests
// move them to an in-process nghttp2 server session.
//
// Per connection: one nghttp2_session (nghttp2's own allocations: its HPACK tables and one
// record per open stream), a pointer here and a 24-byte record holding the session and the
// header block being read (its status and content type: HTTP/2 never interleaves two header
// blocks on one connection, but one may span receives). Per stream nothing here: the tag
// rides in nghttp2's stream user data.
//
// Flow control never throttles a measurement unless asked: SETTINGS_INITIAL_WINDOW_SIZE is
// `stream_window` (1 MiB by default), the connection window is raised to 1 GiB at once, and
// nghttp2 returns consumed DATA to both windows by itself (WINDOW_UPDATE once half is used).
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringcast::load {

// What a connection reports. Called only from within H2Conn::receive and H2Conn::send.
class H2Events {
 public:
  // A stream's response head: its :status and whether content-type is text/event-stream
  // (parameters allowed). Informational (1xx) heads are not reported.
  virtual void h2_head(std::uint32_t tag, std::int32_t stream_id, int status, bool event_stream) = 0;
  // A piece of a stream's body (DATA), in order.
  virtual void h2_data(std::uint32_t tag, std::string_view bytes) = 0;
  // The stream is over: the server ended it (error_code 0: END_STREAM), reset it
  // (RST_STREAM's code), refused it with GOAWAY (REFUSED_STREAM), or we reset it. Its tag is
  // free for another request once this has been called.
  virtual void h2_closed(std::uint32_t tag, std::uint32_t error_code) = 0;

 protected:
  ~H2Events() = default;
};

struct H2Settings {
  std::uint32_t stream_window = 1u << 20;      // SETTINGS_INITIAL_WINDOW_SIZE
  std::uint32_t connection_window = 1u << 30;  // the connection's receive window
};

// One thread's window into its connections: valid only during a call on one of them.
struct H2Io {
  H2Events* events = nullptr;
  std::vector<char>* out = nullptr;  // send appends here
  std::uint64_t goaways = 0;         // GOAWAY frames received (on this thread)
};

class H2Conn {
 public:
  struct Session;  // h2_conn.cc: the nghttp2 session and the header block being read
  H2Conn() = default;
  ~H2Conn() { reset(); }
  H2Conn(H2Conn&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  H2Conn& operator=(H2Conn&& o) noexcept;
  H2Conn(const H2Conn&) = delete;
  H2Conn& operator=(const H2Conn&) = delete;

  // A fresh client session; its preface and SETTINGS go out with the next send(). False when
  // nghttp2 could not make one (out of memory).
  bool start(H2Io& io, const H2Settings& settings);
  // GET `path` with `last_event_id` (empty: none). Returns the stream id, or a negative
  // nghttp2 error. Sent with the next send().
  std::int32_t request(std::uint32_t tag, std::string_view scheme, std::string_view authority,
                       std::string_view path, std::string_view last_event_id);
  // Resets a stream we no longer want (a refused head); h2_closed follows from send().
  void cancel(std::int32_t stream_id);
  // Takes every byte that arrived. Returns 0, or a negative nghttp2 error: the connection
  // cannot go on (the session has queued a GOAWAY; send it if you like, then close).
  int receive(H2Io& io, std::string_view bytes);
  // Appends everything nghttp2 has to send to *io.out. Returns 0 or a negative nghttp2 error.
  int send(H2Io& io);
  // The session is over (GOAWAY both ways, or a fatal error): close the connection.
  bool finished() const;
  bool active() const { return s_ != nullptr; }
  // Frees the session (no GOAWAY is sent; the caller closes the socket). No callbacks.
  void reset();

 private:
  Session* s_ = nullptr;
};
static_assert(sizeof(H2Conn) == sizeof(void*), "a connection's HTTP/2 handle is one pointer");

// "text/event-stream", any case, with or without parameters.
bool is_event_stream_type(std::string_view value);

}  // namespace ringcast::load
