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
#include "tools/load/http_response.h"
#include "tools/load/ring.h"
#include "tools/load/shared.h"
#include "tools/load/sse_parser.h"
#include "tools/load/stats.h"

namespace ringcast::load {

enum class StreamState : std::uint8_t {
  idle,        // not started yet
  connecting,  // socket/bind/connect/request chain in flight
  head,        // receiving, the HTTP head has not arrived
  streaming,   // 200 head arrived; events flow
  rejected,    // a non-200 head arrived; waiting for the server's close
  closing,     // we cancelled its receive (storm drop); reconnect when it ends
  waiting,     // queued to (re)connect
  failed,      // given up after --connect-attempts
};

namespace stream_flag {
constexpr std::uint8_t ever_established = 1;
constexpr std::uint8_t droppee = 2;          // storm drops this stream
constexpr std::uint8_t awaiting_head = 4;   // dropped; reconnected once a 200 head arrives
constexpr std::uint8_t awaiting_event = 8;  // dropped; flowing again once an event arrives
}  // namespace stream_flag

// One SSE stream: 112 bytes, whatever its events' size.
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

// Memory an attempt's SQEs point at until the attempt's last SQE has completed.
struct ConnectScratch {
  sockaddr_in source;
  std::uint32_t request_len;
  char request[500];
};

enum class PubState : std::uint8_t { idle, connecting, up, closing, waiting, failed };

struct Publisher {
  std::uint32_t index = 0;  // global publisher number
  std::vector<std::uint32_t> topics;
  std::vector<std::uint64_t> next_k;  // per owned topic; starts at 1
  std::size_t cursor = 0;             // round-robin over owned topics
  std::size_t current = 0;            // owned-topic position of the request in flight
  std::uint32_t topics_done = 0;
  std::uint64_t acked = 0;            // requests acknowledged (paces --rate)
  std::uint64_t due_ns = 0;           // not before: rate pacing or reconnect delay
  std::uint64_t request_ns = 0;       // the in-flight request's t=
  std::vector<char> request;
  std::uint32_t request_len = 0;
  std::uint32_t request_sent = 0;
  std::unique_ptr<ResponseReader> reader;
  sockaddr_in source{};
  std::uint16_t gen = 0;
  std::uint16_t tries = 0;
  PubState state = PubState::idle;
  bool in_flight = false;    // a request is out
  bool send_done = false;    // ... its send completed
  bool response_done = false;  // ... its response arrived
  int response_status = 0;
  bool done = false;         // every owned topic reached --events, or drained
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
  std::vector<Publisher> publishers;  // fixed slots streams.size() + i
  std::vector<ConnectScratch> scratch;
  std::vector<std::uint16_t> free_scratch;
  std::uint32_t next_start = 0;  // streams below this have started their first attempt
  WaitQueue now_queue;           // reconnect at once (storm)
  WaitQueue delay_queue;         // reconnect after --reconnect-delay-ms (FIFO: one delay)
};

class Worker {
 public:
  Worker(Shared& shared, std::uint32_t index);
  void run();  // the thread's body
  // After the thread has ended: streams whose last event's id differs from the id the
  // server acknowledged for that (topic, k) to the publisher.
  std::uint64_t id_mismatches() const;

  WorkerStats stats;
  Progress progress;

 private:
  // worker.cc: the loop.
  std::string init();
  bool pass();
  void handle(RingHost& h, const Cqe& c);
  void wait(std::uint64_t now);
  std::uint64_t next_timer(std::uint64_t now) const;
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
  void drop_streams(std::uint64_t now);

  // stream_data.cc: what arrives on a stream.
  void consume(RingHost& h, std::uint32_t slot, std::string_view bytes, std::uint64_t now);
  void on_head(RingHost& h, std::uint32_t slot, std::uint64_t now);
  void on_event(RingHost& h, std::uint32_t slot, const SseEvent& ev, std::uint64_t now);
  void on_delivery(std::uint32_t topic, const SseEvent& ev, std::uint64_t now);

  // publisher.cc: publishing over keep-alive connections.
  void tick_publishers(RingHost& h, std::uint64_t now, Phase phase);
  void start_publisher(RingHost& h, std::uint32_t i, std::uint64_t now);
  void send_next(RingHost& h, std::uint32_t i, std::uint64_t now);
  void build_publish(Publisher& p, std::uint32_t topic, std::uint64_t k, std::uint64_t now);
  void on_publisher_cqe(RingHost& h, std::uint32_t i, std::uint8_t op, const Cqe& c);
  void on_publisher_recv(RingHost& h, std::uint32_t i, const Cqe& c);
  void on_publisher_data(RingHost& h, std::uint32_t i, std::string_view bytes);
  void on_response(RingHost& h, std::uint32_t i, const HttpResponse& r);
  void finish_request(RingHost& h, std::uint32_t i);
  void publisher_down(RingHost& h, std::uint32_t i, int code, bool cancel);

  void count_error(int code);

  Shared& shared_;
  const Options& opt_;
  const Plan& plan_;
  std::uint32_t index_;
  std::vector<std::unique_ptr<RingHost>> hosts_;
  std::vector<Cqe> cqes_;
  int eventfd_ = -1;
  bool dropped_ = false;
  std::uint64_t started_ns_ = 0;   // the connect phase began (ramp clock)
  std::uint64_t started_streams_ = 0;
  std::uint64_t stream_count_ = 0;
  double ramp_per_ring_ns_ = 0;    // streams per ns per ring; 0 = unpaced
  std::uint64_t last_periodic_ns_ = 0;
  std::uint64_t deadline_ns_ = 0;
};

}  // namespace ringcast::load
