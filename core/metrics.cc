#include "core/metrics.h"

#include <cstdio>

#include "auth/access.h"

namespace ringcast {

static_assert(kAuthReasonSlots == http::kAuthReasons, "one counter per http::AuthReason");

namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
  Counter ShardMetrics::*field;
  bool per_shard;  // one series per shard, else one summed series
  const char* labels = "";
};

const Family kFamilies[] = {
    {"ringcast_streams", "gauge", "Open SSE streams.", &ShardMetrics::streams, true},
    {"ringcast_connections", "gauge", "Open connections of any kind.", &ShardMetrics::connections,
     true},
    {"ringcast_topics", "gauge", "Topics with a history on the shard.", &ShardMetrics::topics, true},
    {"ringcast_record_bytes", "gauge", "Bytes reserved for connection, subscription and HTTP/2 stream records.",
     &ShardMetrics::conn_record_bytes, true},
    {"ringcast_rings", "gauge", "io_uring instances of the shard.", &ShardMetrics::rings, true},
    {"ringcast_descriptors", "gauge", "Descriptors the shard holds (table fill).",
     &ShardMetrics::descriptors, true},
    {"ringcast_descriptor_capacity", "gauge", "Descriptors the shard's rings can hold at most.",
     &ShardMetrics::descriptor_capacity, true},
    {"ringcast_accepted_total", "counter", "Connections accepted.", &ShardMetrics::accepted, true},
    {"ringcast_events_published_total", "counter", "Events published.",
     &ShardMetrics::events_published, false},
    {"ringcast_serializations_total", "counter",
     "Events serialized into wire bytes (exactly one per published event).",
     &ShardMetrics::serializations, false},
    {"ringcast_deliveries_total", "counter", "Events completely written to a subscriber.",
     &ShardMetrics::deliveries, true},
    {"ringcast_sends_total", "counter", "Send operations issued.", &ShardMetrics::sends, true},
    {"ringcast_passes_continued_total", "counter",
     "Loop passes that reached --pass-sends and left ready streams to the next pass.",
     &ShardMetrics::passes_continued, false},
    {"ringcast_bytes_sent_total", "counter", "Bytes written to sockets.", &ShardMetrics::bytes_sent,
     true},
    {"ringcast_heartbeats_total", "counter", "Heartbeat comments sent to idle streams.",
     &ShardMetrics::heartbeats, true},
    {"ringcast_drops_total", "counter", "Streams closed by the server.",
     &ShardMetrics::drops_slow_consumer, false, "reason=\"slow_consumer\""},
    {"ringcast_drops_total", "counter", nullptr, &ShardMetrics::drops_stalled, false,
     "reason=\"stalled\""},
    {"ringcast_slow_consumer_skips_total", "counter",
     "Streams that fell behind and were skipped to the newest event (--slow-consumer skip).",
     &ShardMetrics::slow_skips, false},
    {"ringcast_resumes_total", "counter", "Streams that resumed with a Last-Event-ID.",
     &ShardMetrics::resumes, false},
    {"ringcast_gap_events_total", "counter", "Gap events queued to streams.", &ShardMetrics::gap_events, false},
    {"ringcast_rejected_streams_total", "counter", "Streams refused with 503 at --max-streams.",
     &ShardMetrics::rejected_streams, false},
    {"ringcast_bad_requests_total", "counter", "Requests answered with a 4xx status.",
     &ShardMetrics::bad_requests, false},
    {"ringcast_recv_nobufs_total", "counter", "Receives that found no free buffer and were retried.",
     &ShardMetrics::recv_nobufs, false},
    {"ringcast_cq_overflows_total", "counter",
     "Waits that found an io_uring completion queue overflowed (nothing lost; the CQ was too small).",
     &ShardMetrics::cq_overflows, false},
    {"ringcast_zc_sends_total", "counter", "Zero-copy sends issued (--send-zc-min-bytes).",
     &ShardMetrics::zc_sends, false},
    {"ringcast_zc_copied_total", "counter",
     "Zero-copy sends the kernel copied anyway (loopback always does).", &ShardMetrics::zc_copied,
     false},
    {"ringcast_tls_sessions", "gauge", "TLS connections open.", &ShardMetrics::tls_sessions, true},
    {"ringcast_tls_handshakes_total", "counter", "TLS handshakes completed.",
     &ShardMetrics::tls_handshakes, false},
    {"ringcast_tls_resumed_total", "counter", "TLS handshakes that resumed a session (ticket).",
     &ShardMetrics::tls_resumed, false},
    {"ringcast_tls_offloaded_total", "counter",
     "TLS 1.3 connections handed to ringcast's record layer after the handshake (SSL freed).",
     &ShardMetrics::tls_offloaded, false},
    {"ringcast_tls_failures_total", "counter", "TLS handshakes or records that failed.",
     &ShardMetrics::tls_failures, false},
    {"ringcast_tls_plain_http_total", "counter",
     "Plain HTTP requests sent to the TLS port (answered 400).", &ShardMetrics::tls_plain_http,
     false},
    {"ringcast_polls_total", "counter", "Long polls received (GET /poll/{topic}).",
     &ShardMetrics::polls, false},
    {"ringcast_topics_reclaimed_total", "counter",
     "Topics freed because they had no subscribers and nothing left in their history.",
     &ShardMetrics::topics_reclaimed, false},
    {"ringcast_topic_table_full_total", "counter",
     "Events a shard could not keep for later subscribers because its topic table was full.",
     &ShardMetrics::topic_table_full, false},
    {"ringcast_publishes_held_total", "counter",
     "Publishes that waited because a topic's streams were half a history behind (flow control).",
     &ShardMetrics::publishes_held, false},
    {"ringcast_publish_overruns_total", "counter",
     "Publish waits that ran past twice --publish-wait-ms: the history moved on past lagging streams.",
     &ShardMetrics::publish_overruns, false},
    {"ringcast_shard_stalls_total", "counter",
     "Event-loop passes that took 500 ms or more (logged as event=shard_stall).",
     &ShardMetrics::shard_stalls, false},
    {"ringcast_batch_publishes_total", "counter",
     "Batch publish requests (POST /pub, NDJSON) that passed validation.",
     &ShardMetrics::batch_publishes, false},
    {"ringcast_token_expired_streams_total", "counter",
     "Streams ended because the token that opened them expired.",
     &ShardMetrics::token_expired_streams, false},
    {"ringcast_h2_connections", "gauge", "Open HTTP/2 connections.", &ShardMetrics::h2_connections, false},
    {"ringcast_h2_streams", "gauge", "Open HTTP/2 streams (SSE streams and requests).",
     &ShardMetrics::h2_streams, false},
    {"ringcast_h2_refused_streams_total", "counter",
     "HTTP/2 streams refused with RST_STREAM(REFUSED_STREAM): draining, or no record free.",
     &ShardMetrics::h2_refused_streams, false},
    {"ringcast_h2_resets_sent_total", "counter",
     "HTTP/2 streams the server reset (slow or stalled consumer, timeout, admin drop).",
     &ShardMetrics::h2_resets_sent, false},
    {"ringcast_h2_resets_received_total", "counter", "HTTP/2 streams the client reset.",
     &ShardMetrics::h2_resets_received, false},
    {"ringcast_h2_goaways_total", "counter", "HTTP/2 GOAWAY frames sent (drain, idle, errors).",
     &ShardMetrics::h2_goaways, false},
    {"ringcast_h2_protocol_errors_total", "counter",
     "HTTP/2 connections sent away for a protocol error or abuse (flood, rapid reset).",
     &ShardMetrics::h2_protocol_errors, false},
    {"ringcast_occupancy_events_total", "counter",
     "Occupancy events published on _occupancy.<topic> (--occupancy-events).",
     &ShardMetrics::occupancy_events, false},
};

void append_family(std::string& out, const Family& f,
                   const std::vector<const ShardMetrics*>& shards) {
  char line[256];
  if (f.help != nullptr) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.type);
    out += line;
  }
  if (f.per_shard) {
    for (std::size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(line, sizeof line, "%s{shard=\"%zu\"} %llu\n", f.name, i,
                    static_cast<unsigned long long>((shards[i]->*(f.field)).get()));
      out += line;
    }
    return;
  }
  unsigned long long sum = 0;
  for (const ShardMetrics* s : shards) sum += (s->*(f.field)).get();
  if (f.labels[0] != '\0') {
    std::snprintf(line, sizeof line, "%s{%s} %llu\n", f.name, f.labels, sum);
  } else {
    std::snprintf(line, sizeof line, "%s %llu\n", f.name, sum);
  }
  out += line;
}

}  // namespace

std::string render_metrics(const std::vector<const ShardMetrics*>& shards,
                           const ProcessMetrics& process) {
  std::string out;
  out.reserve(4096);
  for (const Family& f : kFamilies) append_family(out, f, shards);
  out += "# HELP ringcast_auth_rejections_total Requests refused by access control (401/403), "
         "by reason.\n# TYPE ringcast_auth_rejections_total counter\n";
  char line[160];
  for (std::size_t r = 0; r < kAuthReasonSlots; ++r) {
    unsigned long long sum = 0;
    for (const ShardMetrics* s : shards) sum += s->auth_rejections[r].get();
    const std::string_view name = http::auth_reason_name(http::AuthReason(r));
    std::snprintf(line, sizeof line, "ringcast_auth_rejections_total{reason=\"%.*s\"} %llu\n",
                  int(name.size()), name.data(), sum);
    out += line;
  }
  // The soak and the reconnect-storm test watch this to see that memory comes back.
  char rss[256];
  std::snprintf(rss, sizeof rss,
                "# HELP ringcast_resident_bytes Resident set size of the process.\n"
                "# TYPE ringcast_resident_bytes gauge\nringcast_resident_bytes %llu\n",
                static_cast<unsigned long long>(process.resident_bytes));
  out += rss;
  std::snprintf(rss, sizeof rss,
                "# HELP ringcast_max_streams The --max-streams in effect (lowered at start-up to "
                "what the descriptor tables hold).\n"
                "# TYPE ringcast_max_streams gauge\nringcast_max_streams %llu\n",
                static_cast<unsigned long long>(process.max_streams));
  out += rss;
  return out;
}

}  // namespace ringcast
