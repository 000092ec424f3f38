// --h2 storms: a drop is the whole connection. When a browser's network goes, every
// EventSource on its HTTP/2 connection loses its stream at once, and each reconnects with
// Last-Event-ID over whatever connection the browser opens next; so here a dropped connection
// is cancelled and closed, and reconnects at once (no --reconnect-delay-ms) with all its
// streams requested again in its first send. A stream reset on its own (RST_STREAM, one
// EventSource closed) is not what a storm is, and is not done here.
#include "tools/load/clock.h"
#include "tools/load/worker.h"

namespace ringcast::load {

// Drops every connection of the ring whose streams are droppees and that is up; its streams
// that are streaming count as dropped, the others (still waiting for a head) as skipped.
void Worker::drop_h2_links(RingHost& h, std::uint64_t now) {
  const std::uint32_t per = plan_.streams_per_conn;
  for (std::uint32_t c = 0; c < h.h2.size(); ++c) {
    H2Link& l = h.h2[c];
    const std::uint32_t first = c * per;
    const std::uint32_t end = std::min<std::uint32_t>(first + per, std::uint32_t(h.streams.size()));
    // Droppees come in whole connections (Plan::droppee).
    if (!(h.streams[first].flags & stream_flag::droppee)) continue;
    if (l.state != H2State::up) {
      stats.drop_skipped += end - first;
      continue;
    }
    for (std::uint32_t slot = first; slot < end; ++slot) {
      Stream& s = h.streams[slot];
      if (s.state != StreamState::streaming) {
        ++stats.drop_skipped;
        continue;
      }
      // Closing: not a disconnect the server caused (h2_down counts those).
      s.state = StreamState::closing;
      s.flags |= stream_flag::awaiting_head | stream_flag::awaiting_event;
      h.drop_at[slot] = now;
      ++stats.dropped;
    }
    h2_close(h, c, ProtocolError::count);
    l.dropped = true;
  }
}

// A dropped connection's receive has ended (h2_down settled its streams as waiting): it
// reconnects now. Later failures of the new attempt go the usual way (after a delay).
void Worker::h2_dropped_down(RingHost& h, std::uint32_t c, std::uint64_t now) {
  H2Link& l = h.h2[c];
  l.dropped = false;
  l.resuming = true;
  const std::uint32_t per = plan_.streams_per_conn;
  const std::uint32_t end = std::min<std::uint32_t>(c * per + per, std::uint32_t(h.streams.size()));
  for (std::uint32_t slot = c * per; slot < end; ++slot)
    if (h.streams[slot].flags & stream_flag::awaiting_head) stats.closed.record(now - h.drop_at[slot]);
  h.h2_delay.push({c, now});
}

// The new attempt of a dropped connection is issued (start_h2_link).
void Worker::h2_restarted(RingHost& h, std::uint32_t c, std::uint64_t now) {
  const std::uint32_t per = plan_.streams_per_conn;
  const std::uint32_t end = std::min<std::uint32_t>(c * per + per, std::uint32_t(h.streams.size()));
  for (std::uint32_t slot = c * per; slot < end; ++slot)
    if (h.streams[slot].flags & stream_flag::awaiting_head) stats.started.record(now - h.drop_at[slot]);
}

// The new attempt of a dropped connection has connected and written its first bytes (the
// preface and every stream's GET, or the ClientHello).
void Worker::h2_reconnected(RingHost& h, std::uint32_t c, std::uint64_t now) {
  H2Link& l = h.h2[c];
  if (!l.resuming) return;
  l.resuming = false;
  const std::uint32_t per = plan_.streams_per_conn;
  const std::uint32_t end = std::min<std::uint32_t>(c * per + per, std::uint32_t(h.streams.size()));
  for (std::uint32_t slot = c * per; slot < end; ++slot)
    if (h.streams[slot].flags & stream_flag::awaiting_head) stats.connected.record(now - h.drop_at[slot]);
}

}  // namespace ringcast::load
