#include "tools/load/report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tools/load/clock.h"
#include "tools/load/json.h"

namespace ringcast::load {

namespace {

double seconds(std::uint64_t from, std::uint64_t to) {
  return from != 0 && to > from ? double(to - from) / 1e9 : 0.0;
}

double us(std::uint64_t ns) { return double(ns) / 1e3; }

void quantiles_us(Json& j, std::string_view key, const Histogram& h) {
  j.open(key);
  j.u64("count", h.count());
  j.num("p50", us(h.quantile(0.50)), 1);
  j.num("p90", us(h.quantile(0.90)), 1);
  j.num("p99", us(h.quantile(0.99)), 1);
  j.num("p999", us(h.quantile(0.999)), 1);
  j.num("max", us(h.max()), 1);
  j.close();
}

double ms(std::uint64_t ns) { return double(ns) / 1e6; }

// Publish ack latency, per request answered with a 2xx (--batch: per batch): from the request's
// write to the pass that read its whole answer (pipelined: its own answer). Null when this mode
// publishes nothing.
void publish_latency(Json& j, const ReportInput& in, const Histogram& h) {
  if (in.opt.mode == Mode::subscribe) {
    j.null("publish_latency_ms");
    return;
  }
  j.open("publish_latency_ms");
  j.num("p50", ms(h.quantile(0.50)), 3);
  j.num("p90", ms(h.quantile(0.90)), 3);
  j.num("p99", ms(h.quantile(0.99)), 3);
  j.num("max", ms(h.max()), 3);
  j.u64("count", h.count());
  j.u64("events_per_request", in.opt.batch);
  j.u64("in_flight", in.opt.pipeline);
  j.boolean("publisher_thread", in.plan.publisher_thread);  // answers read on a thread without streams
  j.close();
}

// Over the events tracked one by one: the first and the last arrival of each, as time since
// its publish. "time to last delivery" of one event is the max over every subscriber.
void fanout(Json& j, const ReportInput& in, const WorkerStats& total) {
  std::vector<double> first, last;
  const std::uint64_t per_topic = in.plan.table_events;
  for (std::size_t i = 0; i < total.fanout.size(); ++i) {
    const std::uint64_t k = i % per_topic + 1;
    if (k > in.shared.acked[i / per_topic].load() || total.fanout[i].last_ns == 0) continue;
    first.push_back(us(total.fanout[i].first_ns));
    last.push_back(us(total.fanout[i].last_ns));
  }
  for (auto* values : {&first, &last}) {
    const char* key = values == &first ? "time_to_first_delivery_us" : "time_to_last_delivery_us";
    if (values->empty()) {
      j.null(key);
      continue;
    }
    std::sort(values->begin(), values->end());
    auto at = [&](double q) { return (*values)[std::min(values->size() - 1, std::size_t(q * double(values->size())))]; };
    j.open(key);
    j.u64("events", values->size());
    j.num("p50", at(0.5), 1);
    j.num("p90", at(0.9), 1);
    j.num("max", values->back(), 1);
    j.close();
  }
}

void errors(Json& j, const WorkerStats& total) {
  j.open("error_kinds");
  if (total.errno_counts[0] > 0) j.u64("eof", total.errno_counts[0]);
  for (std::size_t e = 1; e < total.errno_counts.size(); ++e) {
    if (total.errno_counts[e] == 0) continue;
    const char* name = strerrorname_np(int(e));
    j.u64(name != nullptr ? name : ("errno_" + std::to_string(e)).c_str(), total.errno_counts[e]);
  }
  for (std::size_t s = 1; s < total.status_counts.size(); ++s)
    if (total.status_counts[s] > 0) j.u64("http_" + std::to_string(s), total.status_counts[s]);
  for (std::size_t e = 0; e < total.protocol_errors.size(); ++e)
    if (total.protocol_errors[e] > 0) j.u64(protocol_error_name(ProtocolError(e)), total.protocol_errors[e]);
  j.close();
}

void parameters(Json& j, const ReportInput& in) {
  const Options& o = in.opt;
  j.open("parameters");
  j.str("target", o.target_text);
  j.u64("threads", in.plan.threads);
  j.u64("streams", in.plan.streams);
  j.u64("topics", in.plan.topic_names.size());
  j.u64("publishers", in.plan.publishers);
  j.u64("pipeline", o.pipeline);
  j.boolean("publisher_thread", in.plan.publisher_thread);
  j.u64("batch", o.batch);
  if (o.batch > 1) j.str("batch_path", o.batch_path); else j.null("batch_path");
  j.str("sub_path", o.sub_path);
  j.str("pub_path", o.pub_path);
  j.str("ids", o.ids == IdMode::opaque ? "opaque" : "ringcast");
  if (o.rate_per_s > 0) j.num("rate_per_s", o.rate_per_s); else j.null("rate_per_s");
  j.boolean("burst", o.rate_per_s <= 0);
  j.u64("events_per_topic", o.events);
  j.u64("event_bytes", o.event_bytes);
  j.num("ramp_per_s", o.ramp_per_s);
  j.num("duration_s", o.duration_s);
  j.num("timeout_s", o.timeout_s);
  j.u64("drop", o.drop);
  j.u64("rings", in.plan.rings.size());
  j.u64("ring_files", in.plan.ring_files);
  j.u64("connect_window", o.connect_window);
  j.u64("recv_buffers", o.recv_buffers);
  j.u64("recv_buffer_bytes", o.recv_buffer_bytes);
  j.str("bind", in.shared.use_uring_bind() ? "io_uring" : "syscall");
  j.str("receive", in.shared.use_multishot() ? "multishot" : "one-shot");
  j.str("kernel", in.kernel.release);
  j.boolean("h2", o.h2);
  if (o.h2) {
    j.u64("streams_per_conn", o.streams_per_conn);
    j.u64("h2_window", o.h2_window);
  }
  j.boolean("tls", o.tls);
  if (o.tls) {
    j.str("tls_verify", o.tls_insecure ? "insecure" : "ca");
    j.str("tls_sni", o.tls_sni);
    j.boolean("tls_resume", o.tls_resume);
  }
  j.close();
}

// --tls: handshakes completed (full or resumed), sessions offered, connections a TLS error
// ended (by kind in error_kinds: tls_verify, tls_handshake, ...), and how long from an
// attempt's socket to its finished handshake.
void tls(Json& j, const WorkerStats& t) {
  j.open("tls");
  j.u64("handshakes", t.tls_handshakes);
  j.u64("full", t.tls_handshakes - t.tls_resumed);
  j.u64("resumed", t.tls_resumed);
  j.u64("resume_offered", t.tls_resume_offered);
  j.u64("failures", t.tls_failures);
  quantiles_us(j, "handshake_us", t.tls_handshake);
  j.close();
}

// Every stream should get every event its topic published (acknowledged with a 2xx).
std::uint64_t expected_deliveries(const ReportInput& in) {
  std::uint64_t sum = 0;
  for (std::uint64_t g = 0; g < in.plan.streams; ++g) sum += in.shared.acked[in.plan.topic_of_stream(g)].load();
  return sum;
}

void storm(Json& j, const ReportInput& in, const WorkerStats& total) {
  j.open("storm");
  // --h2: whole connections drop, as many as hold --drop streams (rounded up).
  j.u64("drop_target", in.plan.drop_streams);
  j.str("drop_unit", in.opt.h2 ? "connection" : "stream");
  j.u64("dropped", total.dropped);
  j.u64("drop_skipped", total.drop_skipped);
  j.u64("resumed", total.resumed);
  j.u64("flowing", total.flowing);
  // Resumed: reconnected and accepted with Last-Event-ID (the 200 head arrived). Flowing: an
  // event arrived on the new connection, which also waits for the next publish when nothing
  // was missed.
  j.num("time_to_all_resumed_s", seconds(total.drop_ns, total.last_resumed_ns));
  quantiles_us(j, "resume_us", total.resume);
  // Where the resume's time went (each from the drop): our close done, the new attempt issued,
  // its first write done; the rest up to resume_us is the server's answer.
  quantiles_us(j, "closed_us", total.closed);
  quantiles_us(j, "started_us", total.started);
  quantiles_us(j, "connected_us", total.connected);
  // This process's passes after the drop (its side of the time: a long pass delays every
  // completion behind it, whatever the server did).
  quantiles_us(j, "load_pass_us", total.storm_pass);
  j.num("time_to_all_flowing_s", seconds(total.drop_ns, total.last_flowing_ns));
  quantiles_us(j, "flowing_us", total.flow);
  // --churn: drops (= reconnects) per second over the churn. The target is what was asked;
  // the rate is what the server and this process achieved together on the box.
  if (in.opt.churn_per_s > 0) {
    const double churn_s = seconds(in.timeline.drop, in.timeline.churn_end);
    j.num("churn_target_per_s", in.opt.churn_per_s);
    j.num("churn_seconds", churn_s);
    j.num("reconnect_rate", churn_s > 0 ? double(total.dropped) / churn_s : 0, 1);
  } else {
    j.null("churn_target_per_s");
  }
  j.close();
}

// When each phase began, in seconds from the start (null: the phase did not happen).
void timeline(Json& j, const Timeline& t) {
  j.open("timeline_s");
  const std::pair<const char*, std::uint64_t> marks[] = {
      {"connected", t.connected}, {"publish_begin", t.publish_begin}, {"publish_end", t.publish_end},
      {"drop", t.drop},           {"churn_end", t.churn_end},
      {"resumed", t.resumed},     {"end", t.end}};
  for (const auto& [name, at] : marks) {
    if (at == 0) j.null(name);
    else j.num(name, seconds(t.start, at));
  }
  j.close();
}

struct Summary;
void h2(Json& j, const ReportInput& in, const Summary& m);

// Everything the JSON and the summary line need, merged from every worker.
struct Summary {
  std::unique_ptr<WorkerStats> total = std::make_unique<WorkerStats>();
  std::uint64_t id_mismatches = 0;
  std::uint64_t h2_conns_up = 0;  // --h2: connections up when the run ended
  double user_s = 0, sys_s = 0, duration_s = 0;
  double connect_s = 0, publish_s = 0, delivery_s = 0;
  std::uint64_t max_rss_bytes = 0;
  bool ok = false;
};

Summary summarize(const ReportInput& in) {
  Summary m;
  for (const auto& w : in.workers) {
    merge_stats(*m.total, w->stats);
    m.id_mismatches += w->id_mismatches();
    m.h2_conns_up += w->h2_conns_up();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  m.user_s = double(usage.ru_utime.tv_sec) + double(usage.ru_utime.tv_usec) / 1e6;
  m.sys_s = double(usage.ru_stime.tv_sec) + double(usage.ru_stime.tv_usec) / 1e6;
  m.max_rss_bytes = std::uint64_t(usage.ru_maxrss) * 1024;
  m.duration_s = seconds(in.timeline.start, in.timeline.end);
  const WorkerStats& t = *m.total;
  m.connect_s = seconds(t.first_connect_ns, t.last_first_established_ns);
  m.publish_s = seconds(t.first_publish_ns, t.last_ack_ns);
  m.delivery_s = seconds(t.first_publish_ns, t.last_delivery_ns);
  const CheckTally& c = t.tally;
  const bool clean = c.lost == 0 && c.duplicates == 0 && c.reordered == 0 && c.id_regressions == 0 &&
                     m.id_mismatches == 0 && t.malformed_events == 0 && t.foreign_events == 0 &&
                     t.publish_holes == 0 &&
                     t.protocol_errors[std::size_t(ProtocolError::ack_without_id)] == 0 &&
                     t.protocol_errors[std::size_t(ProtocolError::batch_ack)] == 0;
  m.ok = in.outcome.completed && clean;
  return m;
}

void connections(Json& j, const ReportInput& in, const Summary& m) {
  const WorkerStats& t = *m.total;
  j.u64("streams_target", in.plan.streams);
  j.u64("streams_connected", t.first_established);
  j.u64("streams_failed", t.streams_failed);
  j.u64("connect_attempts", t.connect_attempts);
  j.u64("connect_errors", t.connect_errors);
  errors(j, t);
  j.num("connect_seconds", m.connect_s);
  j.num("connect_rate", m.connect_s > 0 ? double(t.first_established) / m.connect_s : 0, 1);
  j.u64("disconnects", t.disconnects);
}

void deliveries(Json& j, const ReportInput& in, const Summary& m) {
  const WorkerStats& t = *m.total;
  const CheckTally& c = t.tally;
  j.u64("events_published", t.published);
  j.u64("publish_errors", t.publish_errors);
  j.u64("publish_holes", t.publish_holes);
  j.num("publish_seconds", m.publish_s);
  j.num("publish_rate", m.publish_s > 0 ? double(t.published) / m.publish_s : 0, 1);
  quantiles_us(j, "publish_rtt_us", t.publish_rtt);
  publish_latency(j, in, t.publish_rtt);
  if (in.opt.mode == Mode::subscribe || in.opt.mode == Mode::publish) j.null("deliveries_expected");
  else j.u64("deliveries_expected", expected_deliveries(in));
  j.u64("deliveries_received", c.delivered);
  j.u64("events_received", t.events_received);
  j.u64("lost", c.lost);
  j.u64("duplicates", c.duplicates);
  j.u64("reordered", c.reordered);
  j.u64("id_regressions", c.id_regressions);
  j.u64("id_mismatches", m.id_mismatches);
  j.u64("gap_events", t.gap_events);
  j.u64("malformed_events", t.malformed_events);
  j.u64("foreign_events", t.foreign_events);
  j.u64("other_events", t.other_events);
  j.u64("missing_ids", t.missing_ids);
  j.u64("unusable_ids", t.unusable_ids);
  j.u64("comments", t.comments);
  j.u64("bytes_received", t.bytes_received);
  j.u64("recv_nobufs", t.recv_nobufs);
  j.num("delivery_seconds", m.delivery_s);
  j.num("deliveries_per_s", m.delivery_s > 0 ? double(c.delivered) / m.delivery_s : 0, 1);
  quantiles_us(j, "latency_us", t.latency);
  fanout(j, in, t);
}

// --h2: the connections the streams rode (streams_per_conn to each), and how they fared.
// The stream counters (connect_attempts, disconnects, error_kinds) count the streams.
void h2(Json& j, const ReportInput& in, const Summary& m) {
  const WorkerStats& t = *m.total;
  std::uint64_t target = 0;
  for (const RingPlan& rp : in.plan.rings) target += in.plan.h2_conns(rp);
  j.open("h2");
  j.u64("streams_per_conn", in.opt.streams_per_conn);
  j.u64("connections_target", target);
  j.u64("connections_up", m.h2_conns_up);
  j.u64("connection_attempts", t.h2_conn_attempts);
  j.u64("connection_errors", t.h2_conn_errors);
  j.u64("connections_lost", t.h2_disconnects);
  j.u64("connections_failed", t.h2_conns_failed);
  j.u64("goaways", t.h2_goaways);
  j.u64("stream_requests", t.h2_stream_requests);
  j.u64("stream_window", in.opt.h2_window);
  j.close();
}

std::string to_json(const ReportInput& in, const Summary& m) {
  Json j;
  j.open();
  j.str("mode", mode_name(in.opt.mode));
  parameters(j, in);
  j.boolean("completed", in.outcome.completed);
  j.boolean("interrupted", in.outcome.interrupted);
  j.str("note", in.outcome.note);
  j.u64("exit_status", m.ok ? 0 : 1);
  connections(j, in, m);
  deliveries(j, in, m);
  if (in.opt.mode == Mode::storm) storm(j, in, *m.total);
  if (in.opt.tls) tls(j, *m.total);
  else j.null("tls");
  if (in.opt.h2) h2(j, in, m);
  else j.null("h2");
  timeline(j, in.timeline);
  j.open("cpu").num("user_s", m.user_s).num("sys_s", m.sys_s);
  j.num("percent", m.duration_s > 0 ? (m.user_s + m.sys_s) / m.duration_s * 100 : 0, 1).close();
  j.u64("max_rss_bytes", m.max_rss_bytes);
  j.num("duration_s", m.duration_s);
  j.close();
  return j.text();
}

void print_summary(const ReportInput& in, const Summary& m) {
  const WorkerStats& t = *m.total;
  const CheckTally& c = t.tally;
  std::fprintf(stderr,
               "ringcast-load: %s %s: streams %llu/%llu connected in %.2fs (%.0f/s), published %llu, "
               "delivered %llu, lost %llu dup %llu reord %llu gaps %llu, latency p50 %.0fus p99 %.0fus "
               "max %.0fus, cpu user %.2fs sys %.2fs%s%s\n",
               mode_name(in.opt.mode), m.ok ? "OK" : "FAILED", (unsigned long long)t.first_established,
               (unsigned long long)in.plan.streams, m.connect_s,
               m.connect_s > 0 ? double(t.first_established) / m.connect_s : 0.0,
               (unsigned long long)t.published, (unsigned long long)c.delivered,
               (unsigned long long)c.lost, (unsigned long long)c.duplicates,
               (unsigned long long)c.reordered, (unsigned long long)t.gap_events,
               us(t.latency.quantile(0.5)), us(t.latency.quantile(0.99)), us(t.latency.max()),
               m.user_s, m.sys_s, in.outcome.note.empty() ? "" : "; ", in.outcome.note.c_str());
}

// The publisher's view: how long each request waited for its answer.
void print_publish_latency(const ReportInput& in, const Summary& m) {
  const Histogram& h = m.total->publish_rtt;
  if (in.opt.mode == Mode::subscribe) return;
  std::fprintf(stderr,
               "ringcast-load: publish latency (write to answer, %llu requests of %u event%s, %u in "
               "flight, %s): p50 %.3fms p90 %.3fms p99 %.3fms max %.3fms\n",
               (unsigned long long)h.count(), in.opt.batch, in.opt.batch == 1 ? "" : "s", in.opt.pipeline,
               in.plan.publisher_thread ? "publisher thread"
               : in.plan.streams > 0    ? "publishers on the stream threads"
                                        : "no streams",
               ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.max()));
}

// What the figures suggest about the options: the likeliest cause first.
void print_notes(const ReportInput& in, const Summary& m) {
  const WorkerStats& t = *m.total;
  for (const auto& w : in.workers) {
    if (!w->first_refusal().empty()) {
      std::fprintf(stderr, "ringcast-load: note: first refused publish: %s\n", w->first_refusal().c_str());
      break;
    }
  }
  if (const std::uint64_t bad = t.protocol_errors[std::size_t(ProtocolError::batch_ack)]; bad > 0)
    std::fprintf(stderr, "ringcast-load: note: %llu batch answers were not {\"events\":[{\"topic\",\"id\"}, ...]} "
                 "with one entry per line, in order\n", (unsigned long long)bad);
  if (in.opt.h2) {
    std::uint64_t target = 0;
    for (const RingPlan& rp : in.plan.rings) target += in.plan.h2_conns(rp);
    std::fprintf(stderr, "ringcast-load: h2: %llu/%llu connections up (%u streams each), %llu attempts, "
                 "%llu failed attempts, %llu lost, %llu goaways, %llu stream requests\n",
                 (unsigned long long)m.h2_conns_up, (unsigned long long)target, in.opt.streams_per_conn,
                 (unsigned long long)t.h2_conn_attempts, (unsigned long long)t.h2_conn_errors,
                 (unsigned long long)t.h2_disconnects, (unsigned long long)t.h2_goaways,
                 (unsigned long long)t.h2_stream_requests);
  }
  if (in.opt.tls)
    std::fprintf(stderr, "ringcast-load: tls: %llu handshakes (%llu resumed of %llu offered a session), "
                 "%llu failed; handshake p50 %.0fus p99 %.0fus\n",
                 (unsigned long long)t.tls_handshakes, (unsigned long long)t.tls_resumed,
                 (unsigned long long)t.tls_resume_offered, (unsigned long long)t.tls_failures,
                 us(t.tls_handshake.quantile(0.5)), us(t.tls_handshake.quantile(0.99)));
  for (const auto& w : in.workers) {
    if (std::string first = w->tls_first_error(); !first.empty()) {
      std::fprintf(stderr, "ringcast-load: note: first TLS failure: %s\n", first.c_str());
      break;
    }
  }
  const std::uint64_t acks_without_id = t.protocol_errors[std::size_t(ProtocolError::ack_without_id)];
  if (in.opt.ids == IdMode::ringcast && (acks_without_id > 0 || t.missing_ids > 0))
    std::fprintf(stderr,
                 "ringcast-load: note: %llu publish answers without a JSON id and %llu events without a "
                 "<ms>-<n> id; a server with other ids (nchan) needs --ids opaque\n",
                 (unsigned long long)acks_without_id, (unsigned long long)t.missing_ids);
  if (t.publish_holes > 0)
    std::fprintf(stderr,
                 "ringcast-load: note: %llu events skipped for good: the server accepted a later k of "
                 "their topic after refusing them (pipelined requests); streams count them lost\n",
                 (unsigned long long)t.publish_holes);
  if (in.opt.rate_per_s > 0 && m.publish_s > 1 && double(t.published) / m.publish_s < 0.9 * in.opt.rate_per_s)
    std::fprintf(stderr,
                 "ringcast-load: note: publishing reached %.0f/s of --rate %.0f (each publisher has "
                 "--pipeline %u requests in flight; a deeper pipeline or more --publishers go faster)\n",
                 double(t.published) / m.publish_s, in.opt.rate_per_s, in.opt.pipeline);
}

}  // namespace

int finish_report(const ReportInput& in) {
  const Summary m = summarize(in);
  const std::string json = to_json(in, m);
  if (!in.opt.json_path.empty()) {
    FILE* f = std::fopen(in.opt.json_path.c_str(), "w");
    // Any failure (ENOSPC, EACCES, ...) loses the report: say so, and fail the run.
    if (f == nullptr || std::fprintf(f, "%s\n", json.c_str()) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "ringcast-load: cannot write %s: %s\n", in.opt.json_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  print_summary(in, m);
  print_publish_latency(in, m);
  print_notes(in, m);
  if (in.opt.json_path.empty() && !in.opt.quiet) std::printf("%s\n", json.c_str());
  return m.ok ? 0 : 1;
}

}  // namespace ringcast::load
