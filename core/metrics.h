#pragma once
// Per-shard counters. Each is written only by its shard (a relaxed load+store, no RMW and no
// shared cache line between shards) and read by whichever shard renders /metrics.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ringcast {

// Auth refusals by reason, in the order of http::AuthReason (checked in metrics.cc).
inline constexpr std::size_t kAuthReasonSlots = 12;

class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct alignas(64) ShardMetrics {
  // gauges
  Counter streams;            // open SSE streams
  Counter connections;        // open connections of any kind
  Counter topics;             // topics this shard has a history for
  Counter conn_record_bytes;  // slab bytes reserved for connection and subscription records
  Counter rings;              // io_uring instances (a shard adds rings as tables fill)
  Counter descriptors;        // descriptors held (direct descriptors or fds)
  Counter descriptor_capacity;  // what the shard's rings can hold at most
  // counters
  Counter accepted;
  Counter events_published;   // owner shard only
  Counter serializations;     // owner shard only: one per published event
  Counter deliveries;         // events completely written to one subscriber
  Counter sends;              // send operations issued
  Counter passes_continued;   // loop passes that left ready streams for the next (--pass-sends)
  Counter cq_overflows;       // waits that found an io_uring CQ overflowed (copied each tick)
  Counter bytes_sent;
  Counter heartbeats;
  Counter drops_slow_consumer;
  Counter drops_stalled;
  Counter slow_skips;         // --slow-consumer skip: gap event sent, cursor jumped
  Counter resumes;            // streams that resumed from Last-Event-ID
  Counter gap_events;         // gap events sent (resume misses and skips)
  Counter stats_streams;      // gauge: streams subscribed to "_stats" (drives the publisher)
  Counter rejected_streams;   // 503 at --max-streams
  Counter bad_requests;       // any 4xx answered
  Counter recv_nobufs;        // receive found no provided buffer (retried)
  // TLS (--tls-cert): copied from the shard's TLS layer each tick
  Counter tls_sessions;       // gauge: TLS connections open
  Counter tls_handshakes;
  Counter tls_resumed;
  Counter tls_failures;
  Counter tls_plain_http;
  Counter tls_offloaded;
  Counter zc_sends;           // zero-copy sends (--send-zc-min-bytes), copied from the backend
  Counter zc_copied;          // of those, copied by the kernel anyway
  Counter auth_rejections[kAuthReasonSlots];  // 401/403 by http::AuthReason
  Counter polls;              // long polls received (GET /poll/{topic})
  Counter topics_reclaimed;   // topics freed: no subscribers, nothing left in their history
  Counter topic_table_full;   // chunks this shard could not keep: its topic table was full
  Counter publishes_held;     // owner shard: publishes that waited for a topic's streams
  Counter publish_overruns;   // owner shard: waits that ran out (--publish-wait-ms)
  Counter token_expired_streams;  // streams ended because their token expired
  Counter batch_publishes;    // batch publish requests (POST /pub) accepted
  Counter shard_stalls;       // loop passes of 500 ms or more (each also logged: shard_stall)
  Counter occupancy_events;   // events published on "_occupancy.T" (--occupancy-events)
  // HTTP/2 (core/shard_h2.cc)
  Counter h2_connections;     // gauge: HTTP/2 connections open
  Counter h2_streams;         // gauge: HTTP/2 streams open (any request, SSE or not)
  Counter h2_refused_streams; // RST_STREAM(REFUSED_STREAM): draining, or no record free
  Counter h2_resets_sent;     // RST_STREAM(CANCEL) to streams the server ended early
  Counter h2_resets_received; // streams the client reset
  Counter h2_goaways;         // GOAWAY frames sent (drain, idle, protocol errors)
  Counter h2_protocol_errors; // connections sent away for a protocol error or abuse
};

// Gauges of the whole process, read by the shard that renders /metrics.
struct ProcessMetrics {
  std::uint64_t resident_bytes = 0;  // RSS, from /proc/self/statm (0 if unreadable)
  std::uint64_t max_streams = 0;     // --max-streams in effect (after start-up's lowering)
};

// Renders every shard's counters, then the process gauges, in Prometheus text format 0.0.4.
std::string render_metrics(const std::vector<const ShardMetrics*>& shards,
                           const ProcessMetrics& process);

}  // namespace ringcast
