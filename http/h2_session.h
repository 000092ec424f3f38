#pragma once
// HTTP/2 server protocol core: nghttp2 underneath, no IO. Bytes from the peer go in through
// feed(); what the connection must send comes out of build_output() as one gathered iovec list
// (one sendmsg per connection per loop pass), and output_sent() says how much of it the kernel
// took. The shard (later) owns the socket; tests drive this with an nghttp2 client in memory.
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

struct nghttp2_session;

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
  // SETTINGS_MAX_CONCURRENT_STREAMS. A stream beyond it opened before the client has our
  // SETTINGS gets RST_STREAM(REFUSED_STREAM) (safe to retry); once the client has acknowledged
  // them, nghttp2 treats exceeding the limit as a connection error (PROTOCOL_ERROR).
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
  // PING / SETTINGS flood: outbound ACK frames nghttp2 may hold while our output is not drained
  // (nghttp2_option_set_max_outbound_ack); beyond it the connection is closed as flooding.
  std::uint32_t max_outbound_acks = 64;
  // HPACK: the decoder table we allow the client (SETTINGS_HEADER_TABLE_SIZE) and our encoder's.
  std::uint32_t hpack_decoder_table_bytes = 4096;
  std::uint32_t hpack_encoder_table_bytes = 512;
  // SETTINGS_INITIAL_WINDOW_SIZE for request bodies the client sends us.
  std::uint32_t initial_window_bytes = 64 * 1024;
  // Everything nghttp2 may allocate for this session (streams, HPACK tables, queued frames);
  // an allocation beyond fails and the connection is closed.
  std::uint32_t session_mem_bytes_max = 1024 * 1024;
  H2OutputLimits output;
};

// False if the settings contradict each other or nghttp2's own bounds.
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

  // Answers: `status` with content-type (empty: none) and extra headers. end_stream: no body.
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
  // True when the session has nothing more to read or write (after GOAWAY both ways): close.
  bool finished() const;
  // Bytes nghttp2 holds for this session right now (counting allocator), and its peak.
  std::size_t mem_bytes() const { return mem_.bytes; }
  std::size_t mem_bytes_peak() const { return mem_.peak; }
  std::uint32_t open_streams() const { return streams_; }
  // Bytes of the session's own per-stream record (malloc'd outside nghttp2's count).
  static std::size_t stream_record_bytes();

  struct Mem {  // nghttp2_mem's user data: bytes allocated and their bound
    std::size_t bytes = 0;
    std::size_t peak = 0;
    std::size_t max = 0;
  };

  struct Stream;  // per-stream state (h2_session.cc)
  struct Glue;    // nghttp2 callbacks (h2_session.cc)

 private:
  friend struct Glue;
  void install();
  void unlink(Stream* stream);
  void dispatch(Stream& stream);
  void answer_error(Stream& stream, int status);
  void drop_request(Stream& stream);  // frees the request being assembled, and its body count
  void note_client_reset();
  void sweep_blocked();
  void fail(H2Feed kind, std::uint32_t error_code);

  H2Settings settings_;
  H2Handler& handler_;
  Mem mem_;
  nghttp2_session* ng_ = nullptr;
  H2Output output_;
  H2Slices stash_;                      // slices of the DATA frame nghttp2 is sending now
  std::int32_t stash_stream_ = 0;
  std::vector<std::int32_t> blocked_;   // streams whose window ran out (small; swept on updates)
  Stream* first_ = nullptr;             // live streams, freed with the session
  std::uint32_t streams_ = 0;
  std::uint64_t now_ms_ = 0;
  std::uint64_t reset_window_start_ms_ = 0;
  std::uint32_t resets_in_window_ = 0;
  std::uint32_t header_block_bytes_ = 0;   // raw bytes of the header block being received
  std::uint32_t header_block_frames_ = 0;  // its HEADERS + CONTINUATION frames
  std::size_t body_buffered_ = 0;          // request body bytes held over all streams
  std::int32_t max_client_stream_ = 0;     // highest stream id the client opened
  H2Feed failed_ = H2Feed::ok;
  bool in_flight_ = false;
};

}  // namespace ringcast::http
