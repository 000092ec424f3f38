#pragma once
// What one worker thread counts. The worker alone writes WorkerStats; the main thread reads
// it after joining (and the histograms, which are relaxed atomics, during the run for the
// progress line). Progress is the handful of counters the progress line needs, published
// by the worker as relaxed atomics once per loop pass.
#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "tools/load/event_check.h"
#include "tools/load/histogram.h"

namespace ringcast::load {

// Failures that are neither an errno nor an HTTP status, named in the report's error_kinds.
enum class ProtocolError : std::uint8_t {
  not_event_stream,   // a 200 head whose Content-Type is not text/event-stream
  transfer_coding,    // a head with a Transfer-Encoding other than chunked
  chunk_framing,      // a chunked body whose framing broke
  body_ended,         // a chunked event stream that ended (its last chunk) while we listened
  unsolicited,        // a publish response with no request in flight
  ack_without_id,     // --ids ringcast: a 2xx publish answer without a parsable "id"
  batch_ack,          // --batch: a 2xx answer that is not one {"topic","id"} per line, in order
  tls_verify,         // --tls: the server's certificate did not verify
  tls_handshake,      // --tls: any other handshake failure (an alert, nothing in common, ...)
  tls_record,         // --tls: after the handshake, a record that failed (bad MAC, an alert)
  tls_output_full,    // --tls: OpenSSL had more to send than the connection's buffer holds
  tls_start,          // --tls: OpenSSL could not make the connection (out of memory)
  h2_reset,           // --h2: the server reset a stream (RST_STREAM, or refused it in a GOAWAY)
  h2_ended,           // --h2: the server ended an event stream (END_STREAM) while we listened
  h2_protocol,        // --h2: the connection broke HTTP/2 (nghttp2 refused its bytes)
  h2_goaway,          // --h2: the server sent GOAWAY and the connection closed
  h2_start,           // --h2: nghttp2 could not make a session (out of memory)
  count,
};
const char* protocol_error_name(ProtocolError e);

// First and last arrival of one (topic, k) at this worker, as latency from its publish.
struct FanoutCell {
  std::uint64_t first_ns = ~0ull;
  std::uint64_t last_ns = 0;
};

struct WorkerStats {
  CheckTally tally;
  std::uint64_t events_received = 0;  // payload events, duplicates included
  std::uint64_t gap_events = 0;
  std::uint64_t other_events = 0;     // events of a type we never publish
  std::uint64_t malformed_events = 0; // a message without seq/t/topic, or unparsable
  std::uint64_t foreign_events = 0;   // an event of a topic the stream did not subscribe
  std::uint64_t missing_ids = 0;      // a message without a valid id
  std::uint64_t comments = 0;
  std::uint64_t retry_fields = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t recv_nobufs = 0;

  std::uint64_t connect_attempts = 0;
  std::uint64_t connect_errors = 0;
  std::uint64_t streams_failed = 0;   // gave up after --connect-attempts
  std::uint64_t disconnects = 0;      // established streams the server ended
  std::uint64_t first_established = 0;
  std::uint64_t first_connect_ns = 0;
  std::uint64_t last_first_established_ns = 0;
  std::array<std::uint64_t, 160> errno_counts{};   // connect/stream errors by errno
  std::array<std::uint64_t, 600> status_counts{};  // refusing HTTP statuses
  std::array<std::uint64_t, std::size_t(ProtocolError::count)> protocol_errors{};
  std::uint64_t unusable_ids = 0;  // --ids opaque: an id over 64 bytes or holding NUL, not kept

  // Storm.
  std::uint64_t drop_ns = 0;
  std::uint64_t dropped = 0;
  std::uint64_t drop_skipped = 0;  // not streaming at the drop, so not dropped
  std::uint64_t resumed = 0;          // dropped streams reconnected (200 head with Last-Event-ID)
  std::uint64_t last_resumed_ns = 0;
  Histogram resume;                   // drop -> reconnected
  // Where a resume's time goes, each from the same drop: the old connection's receive ended
  // (our cancel done: the reconnect is queued); the new attempt issued (it waited for one of
  // the --connect-window places); its first write done (connected, GET or ClientHello or
  // HTTP/2 preface written). The head then completes `resume`.
  Histogram closed;
  Histogram started;  // the new connection's attempt issued (socket, bind, connect, write)
  Histogram connected;
  // The load generator's own passes that handled completions, from the drop on: how long a
  // completion (a connect, a head) may wait behind the others of a pass before it is seen.
  Histogram storm_pass;
  std::uint64_t flowing = 0;          // dropped streams that have had an event since
  std::uint64_t last_flowing_ns = 0;
  Histogram flow;                     // drop -> first event on the new connection

  // Deliveries.
  Histogram latency;
  std::uint64_t first_delivery_ns = 0;
  std::uint64_t last_delivery_ns = 0;
  std::vector<FanoutCell> fanout;  // [topic * table_events + k - 1], when tracked

  // Publishing.
  std::uint64_t published = 0;
  std::uint64_t publish_errors = 0;   // requests refused or left unanswered (each is sent again)
  std::uint64_t publish_holes = 0;    // k skipped for good: accepted past a refused one (pipelining)
  std::uint64_t first_publish_ns = 0;
  std::uint64_t last_ack_ns = 0;
  Histogram publish_rtt;             // per request answered with a 2xx: its write to its answer

  // --tls.
  std::uint64_t tls_handshakes = 0;      // completed, full or resumed
  std::uint64_t tls_resumed = 0;         // of those, resumed from a kept session
  std::uint64_t tls_resume_offered = 0;  // connections that offered a session (--tls-resume)
  std::uint64_t tls_failures = 0;        // connections a TLS error ended (error_kinds: tls_*)
  Histogram tls_handshake;               // attempt start (socket) -> handshake done

  // --h2 (connections; the stream counters above count its streams).
  std::uint64_t h2_conn_attempts = 0;
  std::uint64_t h2_conn_errors = 0;    // attempts that failed before a stream's 200 head
  std::uint64_t h2_disconnects = 0;    // connections lost after a stream's 200 head
  std::uint64_t h2_conns_failed = 0;   // given up after --connect-attempts
  std::uint64_t h2_goaways = 0;        // GOAWAY frames received
  std::uint64_t h2_stream_requests = 0;  // GETs submitted (a stream's first, and each re-request)
};

// Adds `from` into `into` (counters summed, times min/max'd, histograms and fan-out merged).
void merge_stats(WorkerStats& into, const WorkerStats& from);

struct Progress {
  std::atomic<std::uint64_t> established{0};  // streams whose head has arrived, now
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> reordered{0};
  std::atomic<std::uint64_t> complete{0};  // streams that have every event (run, storm drain)
  std::atomic<std::uint64_t> failed{0};    // streams given up
  std::atomic<std::uint64_t> resumed{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> drop_handled{0};  // droppees dropped or skipped (not streaming)
  std::atomic<std::uint64_t> droppees_with_id{0};  // storm: droppees that have an id to resume from
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publishers_up{0};
  std::atomic<std::uint64_t> publishers_done{0};
  std::atomic<std::uint64_t> tls_handshakes{0};
  std::atomic<std::uint64_t> tls_resumed{0};
  std::atomic<std::uint64_t> tls_failures{0};
  std::atomic<std::uint64_t> h2_conns_up{0};  // --h2: connections up now
  std::atomic<bool> ready{false};   // rings built
  std::atomic<bool> exited{false};
};

}  // namespace ringcast::load
