// What arrives on a stream: the head, events, and the checks each event goes through.
#include "tools/load/worker.h"

namespace ringcast::load {

void Worker::consume(RingHost& h, std::uint32_t slot, std::string_view bytes, std::uint64_t now) {
  Stream& s = h.streams[slot];
  OpaqueId* id = h.opaque_ids.empty() ? nullptr : &h.opaque_ids[slot];
  std::string_view id_piece;
  // Every step but need_more consumes at least one byte, and need_more means all were: the
  // loop ends within bytes.size() steps. Once a stream is rejected or ending, the rest of what
  // it sent is not read.
  while (!bytes.empty() && (s.state == StreamState::head || s.state == StreamState::streaming)) {
    switch (s.parser.next(bytes, id != nullptr ? &id_piece : nullptr)) {
      case SseStep::need_more:
        break;
      case SseStep::head:
        on_head(h, slot, now);
        break;
      case SseStep::event:
        on_dispatch(h, slot);
        on_event(h, slot, s.parser.event(), now);
        break;
      case SseStep::retry:
        ++stats.retry_fields;
        break;
      case SseStep::comment:
        ++stats.comments;
        break;
      case SseStep::id_begin:
        id->begin();
        break;
      case SseStep::id_bytes:
        id->append(id_piece);
        break;
      case SseStep::ended:
        on_body_over(h, slot, ProtocolError::body_ended);
        break;
      case SseStep::malformed:
        on_body_over(h, slot, ProtocolError::chunk_framing);
        break;
    }
  }
}

// A stream is established by its head alone: 200 and text/event-stream, in a body we can read.
// Neither a "retry:" line nor a first comment is needed (nchan sends ": hi" and no retry).
void Worker::on_head(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  Stream& s = h.streams[slot];
  const SseParser& p = s.parser;
  if (p.status() != 200 || !p.event_stream() || p.unknown_coding()) {
    // 503 at --max-streams, 404 for a wrong --sub-path, ... Some servers keep the connection
    // open after an error (nginx does), so we close it rather than wait for the server.
    ++stats.connect_errors;
    if (p.status() != 200) count_error(p.status() > 0 ? p.status() : 599);
    else count_protocol(p.event_stream() ? ProtocolError::transfer_coding : ProtocolError::not_event_stream);
    return cancel_stream(h, slot, StreamState::rejected);
  }
  on_established(h, slot, now);
}

// A stream's 200 text/event-stream head arrived (over HTTP/1.1 or HTTP/2).
void Worker::on_established(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  Stream& s = h.streams[slot];
  s.state = StreamState::streaming;
  s.attempts = 0;
  if (s.flags & stream_flag::awaiting_head) {
    // The server accepted the reconnect and its Last-Event-ID: the dropped stream has resumed.
    s.flags &= std::uint8_t(~stream_flag::awaiting_head);
    ++stats.resumed;
    stats.resume.record(now - dropped_at(h, slot));
    stats.last_resumed_ns = now;
  }
  if (!(s.flags & stream_flag::ever_established)) {
    s.flags |= stream_flag::ever_established;
    ++stats.first_established;
    stats.last_first_established_ns = now;
  }
}

// The response is over while we still listen (a chunked body's last chunk) or unreadable
// (broken chunk framing): the stream reconnects with Last-Event-ID, as after a server close.
void Worker::on_body_over(RingHost& h, std::uint32_t slot, ProtocolError why) {
  count_protocol(why);
  cancel_stream(h, slot, StreamState::ending);
}

// Any dispatched event makes the pending id the last one (EventSource's rule), whatever the
// event turns out to be.
void Worker::on_dispatch(RingHost& h, std::uint32_t slot) {
  if (h.opaque_ids.empty()) return;
  if (!h.opaque_ids[slot].commit()) ++stats.unusable_ids;
}

void Worker::on_event(RingHost& h, std::uint32_t slot, const SseEvent& ev, std::uint64_t now) {
  Stream& s = h.streams[slot];
  if (ev.kind == SseKind::gap) {
    ++stats.gap_events;
    return;
  }
  if (ev.kind == SseKind::other) {
    ++stats.other_events;
    return;
  }
  constexpr std::uint8_t kPayload = sse_field::seq | sse_field::sent | sse_field::topic;
  if ((ev.fields & kPayload) != kPayload || ev.has(sse_field::malformed) || ev.seq == 0) {
    ++stats.malformed_events;
    return;
  }
  const std::uint32_t topic = plan_.topic_of_stream(h.plan->first_stream + slot);
  if (ev.topic_hash != plan_.topic_hashes[topic]) {
    ++stats.foreign_events;
    return;
  }
  ++stats.events_received;
  if (s.flags & stream_flag::awaiting_event) {
    // The first event on the new connection (a replayed or a live one): it flows again.
    s.flags &= std::uint8_t(~stream_flag::awaiting_event);
    ++stats.flowing;
    stats.flow.record(now - dropped_at(h, slot));
    stats.last_flowing_ns = now;
  }
  if (opt_.ids == IdMode::opaque) {
    if (!ev.has(sse_field::id)) ++stats.missing_ids;  // kept in OpaqueId, never compared
  } else if (ev.has(sse_field::id_valid)) {
    track_id(s.track, ev.id, stats.tally);
  } else {
    ++stats.missing_ids;
  }
  if (track_seq(s.track, ev.seq, plan_.from_zero, stats.tally) != Delivery::duplicate)
    on_delivery(topic, ev, now);
}

void Worker::on_delivery(std::uint32_t topic, const SseEvent& ev, std::uint64_t now) {
  const std::uint64_t latency = now > ev.sent_ns ? now - ev.sent_ns : 0;
  stats.latency.record(latency);
  if (stats.first_delivery_ns == 0) stats.first_delivery_ns = now;
  stats.last_delivery_ns = now;
  if (stats.fanout.empty() || ev.seq > plan_.table_events) return;
  FanoutCell& cell = stats.fanout[topic * plan_.table_events + ev.seq - 1];
  if (latency < cell.first_ns) cell.first_ns = latency;
  if (latency > cell.last_ns) cell.last_ns = latency;
}

}  // namespace ringcast::load
