#include "tools/load/stats.h"

#include <algorithm>

namespace ringcast::load {

namespace {

void min_nonzero(std::uint64_t& into, std::uint64_t v) {
  if (v != 0 && (into == 0 || v < into)) into = v;
}

}  // namespace

const char* protocol_error_name(ProtocolError e) {
  switch (e) {
    case ProtocolError::not_event_stream: return "not_event_stream";
    case ProtocolError::transfer_coding: return "transfer_coding";
    case ProtocolError::chunk_framing: return "chunk_framing";
    case ProtocolError::body_ended: return "body_ended";
    case ProtocolError::unsolicited: return "unsolicited_response";
    case ProtocolError::ack_without_id: return "ack_without_id";
    case ProtocolError::batch_ack: return "batch_ack";
    case ProtocolError::tls_verify: return "tls_verify";
    case ProtocolError::tls_handshake: return "tls_handshake";
    case ProtocolError::tls_record: return "tls_record";
    case ProtocolError::tls_output_full: return "tls_output_full";
    case ProtocolError::tls_start: return "tls_start";
    case ProtocolError::h2_reset: return "h2_reset";
    case ProtocolError::h2_ended: return "h2_ended";
    case ProtocolError::h2_protocol: return "h2_protocol";
    case ProtocolError::h2_goaway: return "h2_goaway";
    case ProtocolError::h2_start: return "h2_start";
    case ProtocolError::count: break;
  }
  return "?";
}

void merge_stats(WorkerStats& into, const WorkerStats& from) {
  into.tally.delivered += from.tally.delivered;
  into.tally.lost += from.tally.lost;
  into.tally.duplicates += from.tally.duplicates;
  into.tally.reordered += from.tally.reordered;
  into.tally.id_regressions += from.tally.id_regressions;
  into.events_received += from.events_received;
  into.gap_events += from.gap_events;
  into.other_events += from.other_events;
  into.malformed_events += from.malformed_events;
  into.foreign_events += from.foreign_events;
  into.missing_ids += from.missing_ids;
  into.comments += from.comments;
  into.retry_fields += from.retry_fields;
  into.bytes_received += from.bytes_received;
  into.recv_nobufs += from.recv_nobufs;
  into.connect_attempts += from.connect_attempts;
  into.connect_errors += from.connect_errors;
  into.streams_failed += from.streams_failed;
  into.disconnects += from.disconnects;
  into.first_established += from.first_established;
  min_nonzero(into.first_connect_ns, from.first_connect_ns);
  into.last_first_established_ns = std::max(into.last_first_established_ns, from.last_first_established_ns);
  for (std::size_t i = 0; i < into.errno_counts.size(); ++i) into.errno_counts[i] += from.errno_counts[i];
  for (std::size_t i = 0; i < into.status_counts.size(); ++i) into.status_counts[i] += from.status_counts[i];
  for (std::size_t i = 0; i < into.protocol_errors.size(); ++i) into.protocol_errors[i] += from.protocol_errors[i];
  into.unusable_ids += from.unusable_ids;
  min_nonzero(into.drop_ns, from.drop_ns);
  into.dropped += from.dropped;
  into.drop_skipped += from.drop_skipped;
  into.resumed += from.resumed;
  into.last_resumed_ns = std::max(into.last_resumed_ns, from.last_resumed_ns);
  into.resume.merge(from.resume);
  into.closed.merge(from.closed);
  into.started.merge(from.started);
  into.connected.merge(from.connected);
  into.storm_pass.merge(from.storm_pass);
  into.flowing += from.flowing;
  into.last_flowing_ns = std::max(into.last_flowing_ns, from.last_flowing_ns);
  into.flow.merge(from.flow);
  into.latency.merge(from.latency);
  min_nonzero(into.first_delivery_ns, from.first_delivery_ns);
  into.last_delivery_ns = std::max(into.last_delivery_ns, from.last_delivery_ns);
  if (into.fanout.size() < from.fanout.size()) into.fanout.resize(from.fanout.size());
  for (std::size_t i = 0; i < from.fanout.size(); ++i) {
    into.fanout[i].first_ns = std::min(into.fanout[i].first_ns, from.fanout[i].first_ns);
    into.fanout[i].last_ns = std::max(into.fanout[i].last_ns, from.fanout[i].last_ns);
  }
  into.published += from.published;
  into.publish_errors += from.publish_errors;
  into.publish_holes += from.publish_holes;
  min_nonzero(into.first_publish_ns, from.first_publish_ns);
  into.last_ack_ns = std::max(into.last_ack_ns, from.last_ack_ns);
  into.publish_rtt.merge(from.publish_rtt);
  into.tls_handshakes += from.tls_handshakes;
  into.tls_resumed += from.tls_resumed;
  into.tls_resume_offered += from.tls_resume_offered;
  into.tls_failures += from.tls_failures;
  into.tls_handshake.merge(from.tls_handshake);
  into.h2_conn_attempts += from.h2_conn_attempts;
  into.h2_conn_errors += from.h2_conn_errors;
  into.h2_disconnects += from.h2_disconnects;
  into.h2_conns_failed += from.h2_conns_failed;
  into.h2_goaways += from.h2_goaways;
  into.h2_stream_requests += from.h2_stream_requests;
}

}  // namespace ringcast::load
