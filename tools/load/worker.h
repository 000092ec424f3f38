#pragma once
// One load-generator thread: it owns its rings and every connection on them, and runs one
// loop: start connects, reap completions into a list, handle them, submit once, and sleep
// when nothing happened. Streams and publishers are fixed-size records in vectors; nothing on
// the per-event path allocates.
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tools/load/event_check.h"
#include "tools/load/h2_conn.h"
#include "tools/load/http_response.h"
#include "tools/load/opaque_id.h"
#include "tools/load/publish_body.h"
#include "tools/load/publish_sequence.h"
#include "tools/load/ring.h"
#include "tools/load/shared.h"
#include "tools/load/sse_parser.h"
#include "tools/load/stats.h"
#include "tools/load/tls_client.h"

namespace ringcast::load {

enum class StreamState : std::uint8_t {
  idle,        // not started yet
  connecting,  // socket/bind/connect/request chain in flight (--tls: the ClientHello for the GET)
  handshake,   // --tls: receiving, the TLS handshake has not completed
  head,        // receiving, the HTTP head has not arrived
  streaming,   // a 200 text/event-stream head arrived; events flow
  rejected,    // another head arrived; we cancelled its receive: the attempt failed when it ends
  closing,     // we cancelled its receive (storm drop); reconnect at once when it ends
  ending,      // the server ended the body or broke its framing; we cancelled its receive:
               // reconnect with Last-Event-ID after --reconnect-delay-ms when it ends
  waiting,     // queued to (re)connect
  failed,      // given up after --connect-attempts
};

namespace stream_flag {
constexpr std::uint8_t ever_established = 1;
constexpr std::uint8_t droppee = 2;          // storm drops this stream
constexpr std::uint8_t awaiting_head = 4;   // dropped; reconnected once a 200 head arrives
constexpr std::uint8_t awaiting_event = 8;  // dropped; flowing again once an event arrives
constexpr std::uint8_t tls_sending = 16;    // --tls: a send of the scratch's ciphertext is in flight
constexpr std::uint8_t tls_end_pending = 32;  // --tls: the receive ended during that send
constexpr std::uint8_t h2_queued = 64;        // --h2: in delay_queue, to be requested again
}  // namespace stream_flag

// One SSE stream: 112 bytes, whatever its events' size. Over HTTP/2 the same record, on its
// connection (H2Link): idle/waiting (not requested), head (GET sent, no head yet), streaming,
// rejected (a refused head; we reset the stream and wait for its close), failed. Its slot is
// ring-local as ever but not a fixed file: the connection's is.
struct Stream {
  SseParser parser;
  TopicTrack track;
  std::uint16_t gen = 0;       // connection attempt; stale completions carry an older one
  std::uint16_t attempts = 0;  // consecutive failed attempts
  std::uint16_t tries = 0;     // attempts ever (picks a fresh source address each time)
  std::uint16_t scratch = 0xffff;
  StreamState state = StreamState::idle;
  std::uint8_t flags = 0;
};
static_assert(sizeof(Stream) <= 112, "a stream's record is the load generator's per-stream memory");

// Memory an attempt's SQEs point at until the attempt's last SQE has completed. The GET is
// bounded by the option limits: paths and topic names of at most 128 and 71 bytes, a
// dotted-quad target, a 64-byte Last-Event-ID and fixed text (about 360 bytes).
struct ConnectScratch {
  sockaddr_in source;
  std::uint32_t request_len;
  char request[500];
};

// --tls: what an attempt sends until its handshake is done and its GET is out: the ClientHello,
// the client's handshake flight, the encrypted GET. Sends on a socket are serialized, so bytes
// made while one is in flight wait behind it (`len` > `sent`). About 1 KiB is the most seen
// (a ClientHello with a ticket, then Finished and the GET); a flight that does not fit ends
// the attempt (tls_output_full).
struct TlsScratch {
  static constexpr std::uint32_t kBytes = 4096;
  std::uint64_t started_ns;
  std::uint32_t len;
  std::uint32_t sent;
  std::int32_t end_res;  // tls_end_pending: what the receive ended with
  char out[kBytes];
};

// handshake: --tls, connected, the TLS handshake under way (the connection is not up yet).
enum class PubState : std::uint8_t { idle, connecting, handshake, up, closing, waiting, failed };

// One keep-alive publishing connection. Requests go out in batches, one send at a time (sends
// on a socket are serialized): a batch is every request the pipeline admits at that moment.
struct Publisher {
  std::uint32_t index = 0;  // global publisher number
  std::vector<std::uint32_t> topics;
  PublishSequence seq;
  std::vector<PublishRequest> issued;  // --batch: the events of the request being built
  std::vector<BatchAckEntry> acks;     // --batch: the entries of the answer being read
  std::uint64_t hold_ns = 0;  // not before: reconnect delay, or the back-off after a refusal
  std::vector<char> out;      // the batch being sent; untouched until its send completes
                              // (--tls: its ciphertext, and the handshake's flights)
  std::vector<char> plain;    // --tls: the batch before encryption
  std::uint64_t connect_ns = 0;  // --tls: the attempt began (handshake time)
  bool hello_due = false;     // --tls: connected while an earlier send still held `out`
  std::uint32_t out_len = 0;
  std::uint32_t out_sent = 0;
  bool sending = false;       // a send SQE is in flight (of any connection generation)
  std::unique_ptr<ResponseReader> reader;
  sockaddr_in source{};
  std::uint16_t gen = 0;
  std::uint16_t tries = 0;
  PubState state = PubState::idle;
  bool done = false;          // every owned topic reached --events, or drained
};

// --h2: one connection carrying the streams [index*S, index*S + S) of its ring; its fixed
// file is slot `index`. The streams are requested when it starts (and again, with
// Last-Event-ID, after it is lost); nghttp2 queues what is to be sent, and `out` holds one
// send's bytes until it completes.
// --tls: the TLS handshake comes first (handshake: the ClientHello was sent, ALPN must be
// "h2"); the connection's SSL is RingHost::tls[index]. Its handshake flight and the
// encrypted HTTP/2 bytes gather in `pending` while a send is in flight.
enum class H2State : std::uint8_t { idle, connecting, handshake, up, closing, waiting, failed };
struct H2Link {
  H2Conn session;
  std::vector<char> out;
  std::vector<char> pending;     // --tls: ciphertext waiting for the send in flight
  std::uint64_t started_ns = 0;  // --tls: the attempt began (handshake time)
  std::uint32_t out_sent = 0;
  sockaddr_in source{};
  std::uint16_t gen = 0;
  std::uint16_t tries = 0;
  std::uint16_t attempts = 0;  // consecutive attempts without a stream's 200 head
  H2State state = H2State::idle;
  bool sending = false;    // a send SQE is in flight (of any generation): `out` is the kernel's
  bool streamed = false;   // this attempt has had a stream's 200 head
  bool dropped = false;    // storm: we closed it; reconnect at once, not after a delay
  bool resuming = false;   // storm: its dropped streams wait for the next attempt to connect
};

struct Waiting {
  std::uint32_t slot;
  std::uint64_t due_ns;
};

// A FIFO of fixed capacity: each connection is in it at most once.
class WaitQueue {
 public:
  void reserve(std::size_t n) { items_.resize(n == 0 ? 1 : n); }
  bool empty() const { return len_ == 0; }
  const Waiting& front() const { return items_[head_]; }
  void pop() { head_ = (head_ + 1) % items_.size(); --len_; }
  void push(Waiting w);

 private:
  std::vector<Waiting> items_;
  std::size_t head_ = 0, len_ = 0;
};

struct RingHost {
  Ring ring;
  const RingPlan* plan = nullptr;
  std::vector<Stream> streams;
  std::vector<OpaqueId> opaque_ids;   // per stream, with --ids opaque only
  std::vector<Publisher> publishers;  // fixed slots streams.size() + i
  std::vector<ConnectScratch> scratch;
  std::vector<TlsScratch> tls_scratch;  // --tls: beside scratch[i]
  std::vector<TlsConn> tls;             // --tls: per slot (streams, then publishers)
  std::vector<std::uint16_t> free_scratch;
  std::uint32_t next_start = 0;  // streams below this have started their first attempt
  WaitQueue now_queue;           // reconnect at once (storm)
  WaitQueue delay_queue;         // reconnect after --reconnect-delay-ms (FIFO: one delay)
  std::vector<std::uint64_t> drop_at;  // storm: when each stream was last dropped
  // --h2: the connections (slots [0, h2.size())), the next to start for the first time, how
  // many attempts are in flight (at most --connect-window), and those waiting to reconnect.
  // delay_queue then holds streams waiting to be requested again on their connection.
  std::vector<H2Link> h2;
  std::uint32_t h2_next_start = 0;
  std::uint32_t h2_connecting = 0;
  WaitQueue h2_delay;
};

class Worker final : private H2Events {
 public:
  Worker(Shared& shared, std::uint32_t index);
  void run();  // the thread's body
  // After the thread has ended: streams whose last event's id differs from the id the
  // server acknowledged for that (topic, k) to the publisher.
  std::uint64_t id_mismatches() const;
  // --tls: OpenSSL's words for this thread's first TLS failure (empty when none).
  std::string tls_first_error() const { return tls_io_ ? tls_io_->first_error : std::string(); }
  // --h2, after the thread has ended: its connections that were up.
  std::uint64_t h2_conns_up() const;
  // The first refused publish: its status and the start of its body (empty when none).
  const std::string& first_refusal() const { return first_refusal_; }

  WorkerStats stats;
  Progress progress;

 private:
  // worker.cc: the loop.
  std::string init();
  bool pass();
  void handle(RingHost& h, const Cqe& c);
  void wait(std::uint64_t now, Phase phase);
  std::uint64_t next_timer(std::uint64_t now, Phase phase) const;
  void periodic(std::uint64_t now, Phase phase);
  void scan_complete(Phase phase);
  void publish_progress();

  // stream_conn.cc: a stream's connection.
  void start_streams(RingHost& h, std::uint64_t now);
  void start_stream(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void build_request(RingHost& h, std::uint32_t slot, ConnectScratch& cs);
  int open_socket(RingHost& h, std::uint32_t slot, const sockaddr_in& source, std::uint16_t gen);
  void on_stream_cqe(RingHost& h, std::uint32_t slot, std::uint8_t op, const Cqe& c);
  void on_request_sent(RingHost& h, std::uint32_t slot, std::int32_t res);
  void on_stream_recv(RingHost& h, std::uint32_t slot, const Cqe& c);
  void on_stream_ended(RingHost& h, std::uint32_t slot, std::int32_t res);
  void attempt_failed(RingHost& h, std::uint32_t slot, int code, bool count);
  void release_scratch(RingHost& h, Stream& s);
  void arm_recv(RingHost& h, std::uint32_t slot, std::uint16_t gen);
  void cancel_stream(RingHost& h, std::uint32_t slot, StreamState then);
  void drop_streams(std::uint64_t now);
  void drop_stream(RingHost& h, std::uint32_t slot, std::uint64_t now);
  // storm_h2.cc: --h2 storms drop whole connections.
  void drop_h2_links(RingHost& h, std::uint64_t now);
  void h2_dropped_down(RingHost& h, std::uint32_t c, std::uint64_t now);
  void h2_reconnected(RingHost& h, std::uint32_t c, std::uint64_t now);
  void h2_restarted(RingHost& h, std::uint32_t c, std::uint64_t now);

  // churn.cc: the storm's sustained drops (--churn).
  void churn_streams(std::uint64_t now);
  bool churn_one(std::uint64_t now);
  std::uint64_t dropped_at_ns() const { return stats.drop_ns; }  // 0 before the storm's drop
  std::uint64_t dropped_at(const RingHost& h, std::uint32_t slot) const {
    return h.drop_at.empty() ? stats.drop_ns : h.drop_at[slot];
  }
  bool has_last_id(const RingHost& h, std::uint32_t slot) const;

  // stream_data.cc: what arrives on a stream.
  void consume(RingHost& h, std::uint32_t slot, std::string_view bytes, std::uint64_t now);
  void on_head(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void on_established(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void on_body_over(RingHost& h, std::uint32_t slot, ProtocolError why);
  void on_dispatch(RingHost& h, std::uint32_t slot);
  void on_event(RingHost& h, std::uint32_t slot, const SseEvent& ev, std::uint64_t now);
  void on_delivery(std::uint32_t topic, const SseEvent& ev, std::uint64_t now);

  // publisher.cc: publishing over keep-alive connections.
  Publisher make_publisher(std::uint32_t index) const;
  std::size_t request_max() const;
  void tick_publishers(RingHost& h, std::uint64_t now, Phase phase);
  void start_publisher(RingHost& h, std::uint32_t i, std::uint64_t now);
  std::uint64_t publisher_due(const Publisher& p) const;
  void send_requests(RingHost& h, std::uint32_t i, std::uint64_t now);
  std::size_t build_publish(char* out, std::uint32_t topic, std::uint64_t k, std::uint64_t now);
  std::size_t build_batch(char* out, const Publisher& p, std::uint32_t n);
  void on_publisher_cqe(RingHost& h, std::uint32_t i, std::uint8_t op, const Cqe& c);
  void on_publish_sent(RingHost& h, std::uint32_t i, std::int32_t res);
  void on_publisher_recv(RingHost& h, std::uint32_t i, const Cqe& c);
  void on_publisher_data(RingHost& h, std::uint32_t i, std::string_view bytes);
  bool take_responses(RingHost& h, std::uint32_t i);
  void on_response(RingHost& h, std::uint32_t i, const HttpResponse& r);
  void on_refused(Publisher& p, std::uint32_t events, const HttpResponse& r);
  const BatchAckEntry* batch_acks(Publisher& p, std::string_view body, std::uint32_t events);
  void on_accepted(Publisher& p, const PublishRequest& req, const EventId* id, std::uint64_t holes);
  void publisher_down(RingHost& h, std::uint32_t i, int code, bool cancel);

  // stream_tls.cc: --tls on a stream's connection.
  bool tls_start_stream(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void tls_receive(RingHost& h, std::uint32_t slot, std::string_view bytes, std::uint64_t now);
  void tls_established(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void tls_flush(RingHost& h, std::uint32_t slot);
  void on_tls_sent(RingHost& h, std::uint32_t slot, std::int32_t res);
  void tls_failed(RingHost& h, std::uint32_t slot);
  void count_tls_failure(TlsFailure f);
  void count_tls_handshake(const TlsConn& conn, std::uint64_t started_ns, std::uint64_t now);
  SSL_SESSION* tls_session_to_offer(std::uint16_t tries);

  // stream_h2.cc: --h2 connections and their streams.
  void start_h2(RingHost& h, std::uint64_t now);
  void start_h2_link(RingHost& h, std::uint32_t c, std::uint64_t now);
  bool request_h2_stream(RingHost& h, std::uint32_t slot);
  void h2_flush(RingHost& h, std::uint32_t c);
  void on_h2_cqe(RingHost& h, std::uint32_t c, std::uint8_t op, const Cqe& cqe);
  void on_h2_sent(RingHost& h, std::uint32_t c, std::uint16_t gen, std::int32_t res);
  void on_h2_recv(RingHost& h, std::uint32_t c, const Cqe& cqe);
  void h2_close(RingHost& h, std::uint32_t c, ProtocolError why);
  bool h2_tls_start(RingHost& h, std::uint32_t c, std::uint64_t now);
  void h2_tls_receive(RingHost& h, std::uint32_t c, std::string_view bytes);
  bool h2_tls_encrypt(RingHost& h, std::uint32_t c, std::string_view plain);
  void h2_down(RingHost& h, std::uint32_t c, std::int32_t res);
  void h2_stream_failed(RingHost& h, std::uint32_t slot);
  void h2_queue_stream(RingHost& h, std::uint32_t slot, std::uint64_t due);
  std::uint32_t h2_link_of(std::uint32_t slot) const { return slot / plan_.streams_per_conn; }
  void h2_head(std::uint32_t tag, std::int32_t stream_id, int status, bool event_stream) override;
  void h2_data(std::uint32_t tag, std::string_view bytes) override;
  void h2_closed(std::uint32_t tag, std::uint32_t error_code) override;

  // publisher_tls.cc: --tls on a publisher's connection.
  void tls_publisher_hello(RingHost& h, std::uint32_t i);
  void tls_publisher_receive(RingHost& h, std::uint32_t i, std::string_view bytes);
  bool tls_encrypt_batch(RingHost& h, std::uint32_t i, std::uint32_t plain_len);
  void publisher_flush(RingHost& h, std::uint32_t i);

  void count_error(int code);
  void count_protocol(ProtocolError e) { ++stats.protocol_errors[std::size_t(e)]; }

  Shared& shared_;
  const Options& opt_;
  const Plan& plan_;
  std::uint32_t index_;
  std::vector<std::unique_ptr<RingHost>> hosts_;
  std::unique_ptr<TlsIo> tls_io_;  // --tls: this thread's window into its SSLs
  // --h2: this thread's window into its sessions, and the ring and time of the call into one.
  H2Io h2_io_;
  RingHost* h2_host_ = nullptr;
  std::uint64_t h2_now_ = 0;
  std::vector<char> h2_plain_;  // --h2 --tls: nghttp2's bytes before encryption
  std::vector<Cqe> cqes_;
  std::vector<char> payload_;  // one event's payload, before it is copied (or JSON-escaped) out
  std::string first_refusal_;
  int eventfd_ = -1;
  bool dropped_ = false;
  // --churn: drops owed (this worker's share of the rate, accrued since the last pass, capped
  // so a stall does not turn into a burst), and where the round-robin scan resumes.
  double churn_credit_ = 0;
  double churn_per_ns_ = 0;
  std::uint64_t churn_last_ns_ = 0;
  std::size_t churn_host_ = 0;
  std::uint32_t churn_slot_ = 0;
  std::uint64_t started_ns_ = 0;   // the connect phase began (ramp clock)
  std::uint64_t started_streams_ = 0;
  std::uint64_t stream_count_ = 0;
  double ramp_per_ring_ns_ = 0;    // streams per ns per ring; 0 = unpaced
  std::uint64_t last_periodic_ns_ = 0;
  std::uint64_t deadline_ns_ = 0;
};

}  // namespace ringcast::load
