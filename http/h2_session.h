#pragma once
// HTTP/2 server protocol core (RFC 9113), no IO: our own framing, flow control and stream
// states, with nghttp2's HPACK decoder (the one stateful codec worth borrowing) for request
// headers. Bytes from the peer go in through feed(); what the connection must send comes out of
// build_output() as one gathered iovec list (one sendmsg per connection per loop pass), and
// output_sent() says how much of it the kernel took. The shard owns the socket; tests drive
// this with an nghttp2 client in memory.
//
// Built for density (issue #18): an idle connection holds its HPACK decoder table, a few
// counters and, per open stream, one small record (stream_record_bytes()). No frame buffer is
// held between frames: a partial frame, a header block in CONTINUATIONs, control frames and the
// gathered output exist only while they have bytes.
//
// DATA of caller-fed streams (SSE) is never copied: the session writes the 9-byte frame header
// into its own buffer and the iovec after it points at the caller's bytes (the shared chunk).
//
// Re-entrancy: the handler is called from inside feed(), build_output() and output_sent(). It may
// call submit_*(), resume(), reset() and goaway() from there, never feed() or build_output().
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2_output.h"
#include "http/request_parser.h"

struct nghttp2_hd_inflater;

namespace ringcast::http {

// --- cleartext detection (h2c prior knowledge and HTTP/1.1 share a port) --------------------

inline constexpr std::string_view kH2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Preface : std::uint8_t { h2, http1, need_more };

// What the first bytes of a cleartext connection are: the 24-byte HTTP/2 client preface (h2),
// anything that cannot become it (http1), or a strict prefix of it (need_more).
Preface detect_preface(std::string_view first_bytes);

// --- settings ---------------------------------------------------------------------------------

// Every bound of one HTTP/2 connection. The defaults fit issue #18's budget (~40 KB per idle
// connection at 100 streams); h2_settings_valid() checks the relations between them.
struct H2Settings {
  // SETTINGS_MAX_CONCURRENT_STREAMS. A stream beyond it gets RST_STREAM(REFUSED_STREAM) (safe
  // to retry), before or after the client has our SETTINGS.
  std::uint32_t max_concurrent_streams = 256;
  // Header block bound (CVE-2024-27316, CONTINUATION flood). Two checks:
  //  - decoded header list (RFC 9113 §6.5.2: name + value + 32 per field) over it: that stream
  //    is answered 431 and its siblings go on (it is also our SETTINGS_MAX_HEADER_LIST_SIZE);
  //  - raw bytes of one header block (HEADERS + CONTINUATION payloads) over it: the peer sends
  //    more than anything we would decode; GOAWAY(ENHANCE_YOUR_CALM), connection bad.
  std::uint32_t max_header_bytes = 8192;
  // POST body bound (the server's max_event_bytes). Over it: 413 at once, then
  // RST_STREAM(NO_ERROR) if the client is still sending (RFC 9113 §8.1).
  std::uint32_t max_body_bytes = 64 * 1024;
  // Request body bytes buffered at once over all streams of the connection (HTTP/1.1 reads one
  // request at a time; this keeps HTTP/2 to the same). A stream whose body would go over it is
  // answered 503 (retry later); 0: max_body_bytes.
  std::uint32_t max_buffered_body_bytes = 0;
  // Rapid Reset (CVE-2023-44487): more than this many streams reset by the client within
  // reset_window_ms → GOAWAY(ENHANCE_YOUR_CALM), connection bad. (EventSource.close() is one
  // reset; a page reconnecting once a second stays far below.)
  std::uint32_t reset_streams_max = 100;
  std::uint32_t reset_window_ms = 10'000;
  // PING / SETTINGS flood: ACK frames (and other control frames the peer makes us queue) held
  // while our output is not drained; beyond it: GOAWAY(ENHANCE_YOUR_CALM), connection bad.
  std::uint32_t max_outbound_acks = 64;
  // HPACK: the decoder table we allow the client (SETTINGS_HEADER_TABLE_SIZE). Our encoder keeps
  // no table (http/hpack_encode.h).
  std::uint32_t hpack_decoder_table_bytes = 4096;
  // SETTINGS_INITIAL_WINDOW_SIZE for request bodies the client sends us.
  std::uint32_t initial_window_bytes = 64 * 1024;
  // Everything the HPACK decoder may allocate for this session (its table, a field being
  // decoded); an allocation beyond fails and the connection is closed.
  std::uint32_t session_mem_bytes_max = 1024 * 1024;
  H2OutputLimits output;
};

// False if the settings contradict each other or the decoder's own bounds.
bool h2_settings_valid(const H2Settings& settings);

// --- handler ----------------------------------------------------------------------------------

// A request as http::Request shapes it: method, target/path/query, host (:authority or Host),
// authorization, cookie (several cookie fields joined with "; ", RFC 9113 §8.2.3), origin,
// last-event-id, content-length. version_minor is 1 and keep_alive true (they mean nothing here).
// The views and `body` are valid during on_request only.
struct H2Request {
  Request head;
  std::string_view body;
};

struct H2Header {
  std::string_view name;  // lower case (RFC 9113 §8.2.1)
  std::string_view value;
};

class H2Handler {
 public:
  virtual ~H2Handler() = default;
  // A complete request (END_STREAM seen, body within bounds). The caller answers with
  // submit_headers(), then submit_body() or, for a stream it feeds, resume()/pull().
  virtual void on_request(std::int32_t stream_id, const H2Request& request) = 0;
  // A stream on_request was called for is gone: reset by the peer (its error code), reset by us,
  // or finished (NO_ERROR). Bytes already handed out by pull() may still be reported by
  // on_data_sent() afterwards (they were in the output when the stream closed).
  virtual void on_stream_close(std::int32_t stream_id, std::uint32_t error_code) = 0;
  // Up to `max_bytes` of the stream's pending data, as slices added to `out` (whose add() says
  // false when it holds no more); returns the bytes added. The slices stay referenced, not
  // copied, until on_data_sent() covers them. 0 with !end_stream: nothing now, the session
  // asks again after resume(stream_id). end_stream: these are the stream's last bytes.
  virtual std::size_t pull(std::int32_t stream_id, std::size_t max_bytes, H2Slices& out,
                           bool& end_stream) = 0;
  // `bytes` of the stream's pulled data left in a completed part of a send (in pull order).
  virtual void on_data_sent(std::int32_t stream_id, std::size_t bytes) = 0;
  // A stream that had used up its flow-control window (stream_blocked() was true) may send
  // again: the peer sent WINDOW_UPDATE or a larger SETTINGS_INITIAL_WINDOW_SIZE.
  virtual void on_window_open(std::int32_t stream_id) = 0;
};

// --- session ----------------------------------------------------------------------------------

enum class H2Feed : std::uint8_t {
  ok,
  protocol_error,  // the peer broke the protocol; GOAWAY is queued, drain output, then close
  abusive,         // flood / rapid reset / oversized header block: GOAWAY(ENHANCE_YOUR_CALM)
                   // queued; the caller may count the peer as bad
};

class H2Session {
 public:
  // `handler` outlives the session. The server's SETTINGS are queued at once.
  H2Session(const H2Settings& settings, H2Handler& handler);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Consumes bytes from the peer (starting with the client preface). `now_ms` is the shard's
  // coarse clock (the Rapid Reset window). After a non-ok result the session takes no more input.
  H2Feed feed(std::string_view bytes, std::uint64_t now_ms);

  // Answers: `status` with content-type (empty: none) and extra headers (names lower case).
  // end_stream: no body.
  // Otherwise the body comes from submit_body() or, if none is queued, from handler.pull().
  bool submit_headers(std::int32_t stream_id, int status, std::string_view content_type,
                      std::span<const H2Header> extra, bool end_stream);
  // Queues a copy of `bytes` (small plain answers: JSON, errors) after the headers.
  bool submit_body(std::int32_t stream_id, std::string_view bytes, bool end_stream);
  // The caller has data (or the end) for a stream whose pull() last returned nothing.
  bool resume(std::int32_t stream_id);
  bool reset(std::int32_t stream_id, std::uint32_t error_code);
  // GOAWAY; last_stream_id < 0: the last stream the session processed.
  bool goaway(std::int32_t last_stream_id, std::uint32_t error_code);

  // Gathers what to send now into `out` (cleared first): the unsent rest of the previous
  // output, then control frames, then DATA of every ready stream, within H2OutputLimits.
  // Must not be called while a send is in flight (between a non-empty build and output_sent).
  // Returns the byte count; 0: nothing to send.
  std::size_t build_output(std::vector<iovec>& out);
  // The send of the last build took `bytes` (a partial send leaves the rest for the next build).
  void output_sent(std::size_t bytes);
  bool send_in_flight() const { return in_flight_; }
  // ok, or why the session stopped: our own verdict in feed(), or a connection error nghttp2
  // answered by itself (a GOAWAY with an error code framed by build_output()).
  H2Feed failure() const { return failed_; }

  // Flow control: the stream (or the whole connection) has no send window left.
  bool stream_blocked(std::int32_t stream_id) const;
  // True when the session has nothing more to read or write: it failed (its GOAWAY is out) or
  // the peer sent GOAWAY and no stream is left. Close.
  bool finished() const;
  // Bytes this session holds right now (decoder table, stream records, buffers), and the peak.
  std::size_t mem_bytes() const;
  std::size_t mem_bytes_peak() const { return peak_; }
  std::uint32_t open_streams() const { return streams_; }
  // Bytes of the session's per-stream record.
  static std::size_t stream_record_bytes();

  struct Mem {  // the decoder's nghttp2_mem user data: bytes allocated and their bound
    std::size_t bytes = 0;
    std::size_t max = 0;
  };

  struct Stream;  // per-stream state (h2_session.cc)

 private:
  struct Closed {  // a stream closed by the handler's own call, told at the next build
    std::int32_t id;
    std::uint32_t code;
  };

  struct FrameView;  // one whole frame of input (h2_session_recv.cc)

  // input (h2_session_recv.cc)
  std::size_t parse(std::string_view in);
  void on_frame(const FrameView& f);
  void on_data(const FrameView& f);
  void on_headers(const FrameView& f);
  void on_continuation(const FrameView& f);
  void on_settings(const FrameView& f);
  void on_ping(const FrameView& f);
  void on_rst_stream(const FrameView& f);
  void on_window_update(const FrameView& f);
  void on_goaway(const FrameView& f);
  void header_block_done(const std::uint8_t* block, std::size_t length);
  bool decode_block(const std::uint8_t* block, std::size_t length, Stream* st, bool trailers);
  void finish_request(Stream& st);
  void dispatch(Stream& st);
  void note_client_reset();
  bool idle_stream(std::int32_t id) const;

  // streams and output (h2_session.cc)
  Stream* find(std::int32_t id) const;
  Stream* open_stream(std::int32_t id);
  void close_stream(Stream* st, std::uint32_t code, bool tell_now);
  void stream_error(Stream* st, std::int32_t id, std::uint32_t code);
  void answer_error(Stream& st, int status);
  void drop_request(Stream& st);
  void push_ready(Stream& st);
  void unready(Stream& st);
  void sweep_blocked();
  void queue_frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream, const void* payload,
                   std::size_t length);
  bool queue_peer_frame(std::uint8_t type, std::uint8_t flags, std::int32_t stream,
                        const void* payload, std::size_t length, bool ack);
  void queue_headers(std::int32_t stream, const std::string& block, bool end_stream);
  void queue_window_update(std::int32_t stream, std::uint32_t increment);
  void fail(H2Feed kind, std::uint32_t error_code);
  void flush_control();
  void send_data();
  bool send_one(Stream& st);
  void note_peak();

  H2Settings settings_;
  H2Handler& handler_;
  Mem mem_;
  void* decoder_mem_ = nullptr;  // the nghttp2_mem the decoder keeps a pointer to (owned)
  nghttp2_hd_inflater* inflater_ = nullptr;
  H2Output output_;
  H2Slices slices_;                     // the DATA frame being built
  std::vector<Stream*> streams_by_id_;  // open streams, ascending id
  std::vector<std::int32_t> blocked_;   // streams whose window ran out (swept on updates)
  std::vector<Closed> closed_;          // to tell the handler at the next build
  Stream* ready_head_ = nullptr;        // streams with something to send, round robin
  Stream* ready_tail_ = nullptr;
  std::string in_;      // a partial frame (only while one is incomplete)
  std::string block_;   // a header block spread over CONTINUATIONs (only while it is)
  std::string control_; // frames queued for the output (only while it has bytes)
  std::size_t control_peer_bytes_ = 0;  // of those, the ones the peer made us queue
  std::uint32_t acks_queued_ = 0;       // SETTINGS/PING ACKs among them
  std::size_t peak_ = 0;
  std::uint32_t streams_ = 0;
  std::uint64_t now_ms_ = 0;
  std::uint64_t reset_window_start_ms_ = 0;
  std::uint32_t resets_in_window_ = 0;
  std::size_t body_buffered_ = 0;       // request body bytes held over all streams
  std::int32_t max_client_stream_ = 0;  // highest stream id the client opened
  std::int32_t conn_send_window_ = 65535;
  std::int32_t peer_initial_window_ = 65535;
  std::uint32_t conn_recv_used_ = 0;    // DATA bytes received since our last WINDOW_UPDATE(0)
  std::int32_t block_stream_ = 0;       // the header block being received
  std::uint32_t block_bytes_ = 0;       // its raw bytes (HEADERS + CONTINUATION payloads)
  std::uint32_t block_frames_ = 0;
  std::uint32_t preface_left_ = 24;     // client preface bytes still expected
  H2Feed failed_ = H2Feed::ok;
  bool block_end_stream_ = false;       // the HEADERS that began it had END_STREAM
  bool in_block_ = false;               // a CONTINUATION must come next
  bool settings_seen_ = false;          // the client's first SETTINGS arrived
  bool settings_acked_ = false;         // the client acknowledged ours
  bool goaway_received_ = false;
  bool in_flight_ = false;
};

}  // namespace ringcast::http
