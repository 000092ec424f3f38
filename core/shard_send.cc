// Fan-out: topics, publishing, the ready list, coalesced sends and their completions.
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"

namespace ringcast {

namespace {
// Most iovecs one send carries. Far below UIO_MAXIOV (1024); enough that a stream catching up
// after a burst gets dozens of events per send.
constexpr std::size_t kMaxIov = 256;
// Most bytes of events one send carries (at least one event, whatever its size). A send on a
// stream socket completes only when all of it is written, so a smaller send lets the cursor,
// the pins and the stall clock move with what the client actually reads.
constexpr std::size_t kMaxSendBytes = 256 * 1024;
}  // namespace

EventId Shard::publish_local(std::uint32_t ti, std::string_view event, std::string_view data,
                             const EventId* given) {
  Topic& topic = topics_[ti];
  RC_ASSERT(owner_of(topic.name, cluster_.shards) == index_);
  const EventId id = given != nullptr ? *given : next_event_id(cluster_, io_.unix_ms());
  // One reference per shard, and a built-in message to post it to each other shard.
  Chunk* chunk = make_chunk(topic.name, id, event, data, cluster_.shards, cluster_.shards - 1);
  metrics_.serializations.add();
  metrics_.events_published.add();
  std::uint32_t link = 0;
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    if (s == index_) continue;
    cluster_.mailboxes[s]->chunks_pending.fetch_add(1, std::memory_order_relaxed);
    post(s, chunk_message(chunk, link++));
  }
  deliver(chunk);
  return id;
}

// Appends the chunk to this shard's copy of the topic and wakes every subscriber that has no
// send in flight. Subscribers with a send in flight pick the event up when it completes.
void Shard::deliver(Chunk* chunk) {
  std::uint32_t ti = topic_index(chunk->topic(), true);
  if (ti == nil) {
    // This shard's table is full of topics that have subscribers or history. The topic has
    // no subscriber here (it would exist), so no one misses the event now; a later resume
    // through this shard reports the gap. Counted, never fatal.
    metrics_.topic_table_full.add();
    return release(chunk);
  }
  Topic& topic = topics_[ti];
  const std::uint64_t before = topic.history.begin();
  topic.history.push(chunk);
  const std::uint64_t oldest = topic.history.begin();
  const bool disconnect = config_.slow_consumer == SlowConsumerPolicy::disconnect;
  // Flow control (shard_flow.cc): while the history evicts, streams in its older half are at risk.
  const bool evicting = flow_on() && oldest != before;
  topic.risk_from = evicting ? oldest : 0;
  topic.risk_mark = evicting ? oldest + (topic.history.end() - oldest) / 2 : 0;
  topic.at_risk = 0;
  for (std::uint32_t si = topic.first_sub; si != nil;) {
    Sub& s = subs_[si];
    const std::uint32_t next = s.topic_next;
    // The first event this stream has not started on; the one it is part-way through is pinned.
    const std::uint64_t needed = std::max(s.seq + (s.offset > 0), s.inflight_end);
    const bool begun = conns_[s.conn].more_flags & conn_flag2::stream_begun;
    // At risk: not yet sent past the mark, not already off the history, still protected.
    topic.at_risk += s.seq < topic.risk_mark && needed >= oldest && flow_protects(s.conn);
    if (disconnect && needed < oldest && begun) {
      drop_slow(s.conn);  // removes only this stream's subscription from the list
    } else if (!(conns_[s.conn].flags & conn_flag::send_inflight)) {
      queue_ready(s.conn);
    }
    si = next;
  }
  flow_report(ti);
}

void Shard::subscribe(std::uint32_t ci, std::uint32_t ti) {
  std::uint32_t si = subs_.alloc();
  RC_ASSERT(si != nil);  // sized for every connection at max topics per stream
  Topic& topic = topics_[ti];
  Sub& s = subs_[si];
  s.conn = ci;
  s.topic = ti;
  s.seq = s.inflight_end = topic.history.end();  // live events from now on
  s.offset = 0;
  s.topic_prev = nil;
  s.topic_next = topic.first_sub;
  if (topic.first_sub != nil) subs_[topic.first_sub].topic_prev = si;
  topic.first_sub = si;
  ++topic.subscribers;
  occupancy_touch(ti);
  Conn& c = conns_[ci];
  s.conn_next = c.first_sub;
  c.first_sub = si;
}

void Shard::unsubscribe_all(std::uint32_t ci) {
  for (std::uint32_t si = conns_[ci].first_sub; si != nil; si = subs_[si].conn_next) {
    Sub& s = subs_[si];
    Topic& topic = topics_[s.topic];
    if (s.topic_prev != nil) subs_[s.topic_prev].topic_next = s.topic_next;
    else topic.first_sub = s.topic_next;
    if (s.topic_next != nil) subs_[s.topic_next].topic_prev = s.topic_prev;
    s.topic_prev = s.topic_next = nil;
    --topic.subscribers;
    if (s.seq < topic.risk_mark && std::max(s.seq + (s.offset > 0), s.inflight_end) >= topic.risk_from)
      flow_passed(s.topic);
    occupancy_touch(s.topic);
    if (topic.subscribers == 0) maybe_unwatch(topic);
  }
  // The records stay on the connection until its last send completes and unpins them.
}

void Shard::free_subs(std::uint32_t ci) {
  Conn& c = conns_[ci];
  for (std::uint32_t si = c.first_sub; si != nil;) {
    Sub& s = subs_[si];
    std::uint32_t next = s.conn_next;
    RC_ASSERT(s.inflight_end == s.seq);  // no send in flight holds pins any more
    if (s.offset > 0) topics_[s.topic].history.unpin(s.seq, s.seq + 1);  // the part-sent event
    subs_.free(si);
    si = next;
  }
  c.first_sub = nil;
}

void Shard::drop_slow(std::uint32_t ci) {
  metrics_.drops_slow_consumer.add();
  ++slow_drops_unlogged_;  // logged once per tick, not per stream (a mass drop is one line)
  log_event(LogLevel::debug, "slow_consumer_drop", "shard=%u conn=%u", index_, ci);
  begin_close(ci);
}

// A response, a stream head, a ping or a drain step: ahead of any fan-out still queued, so a
// request is answered within one pass however large the broadcast in progress.
void Shard::mark_ready(std::uint32_t ci) { conns_.ready_front(ci); }

// Events for a stream: behind everything queued, so a fan-out that spans passes serves its
// streams in turn (first come, first sent) and none waits for another's second event.
void Shard::queue_ready(std::uint32_t ci) { conns_.ready_back(ci); }

bool Shard::has_pending(std::uint32_t ci) const {
  const Conn& c = conns_[ci];
  if (c.ctl_len > 0) return true;
  if (c.out != nullptr && c.out_off < c.out->size()) return true;
  if (c.state != ConnState::streaming) return false;
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next) {
    if (subs_[si].seq < topics_[subs_[si].topic].history.end()) return true;
  }
  return false;
}

// One pass's worth of sends: ready connections without a send in flight, oldest first, each
// get one send carrying everything they have pending, up to --pass-sends of them. A larger
// fan-out (50,000 streams take half a second of kernel time) goes on in the next passes, after
// the shard has reaped completions and read what arrived meanwhile: a publish to another topic,
// a new stream or a heartbeat never waits behind a whole broadcast.
void Shard::flush_ready() {
  // An HTTP/2 stream only stages its bytes for its connection's send (no syscall): eight of
  // those count as one send against --pass-sends.
  constexpr std::uint32_t kStagesPerSend = 8;
  std::uint32_t staged = 0;
  for (std::uint32_t started = 0; conns_.any_ready() && started < config_.pass_sends;) {
    const std::uint32_t ci = conns_.take_ready();
    Conn& c = conns_[ci];
    // A closing record waits off the list before its close goes out (see maybe_finish_close).
    if (c.state == ConnState::closing) {
      maybe_finish_close(ci);
      continue;
    }
    if (c.flags & conn_flag::send_inflight) continue;
    start_send(ci);
    if (!is_h2_stream(ci) || ++staged % kStagesPerSend == 0) ++started;
  }
  if (conns_.any_ready()) metrics_.passes_continued.add();
}

// Handles the stream's subscriptions that fell behind their history. Returns false if the
// stream was closed (disconnect policy). With the skip policy a subscription jumps to the newest
// event behind a gap event, but only at an event boundary of the whole stream: bytes of a
// part-sent event must never be interleaved with anything else.
bool Shard::handle_behind(std::uint32_t ci) {
  Conn& c = conns_[ci];
  bool mid_event = false;
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next)
    mid_event |= subs_[si].offset > 0;
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next) {
    Sub& s = subs_[si];
    const Topic& topic = topics_[s.topic];
    if (s.seq + (s.offset > 0) >= topic.history.begin()) continue;
    if (!(c.more_flags & conn_flag2::stream_begun)) {
      // A resume whose first event was evicted before the stream even started (a burst in
      // the same loop pass): not a slow consumer, just a resume point that expired.
      if (c.out == nullptr) {
        c.out = take_buffer();
        c.out_off = 0;
      }
      s.seq = s.inflight_end = topic.history.begin();
      append_gap(*c.out, topic, {}, s.seq, "expired");
      continue;
    }
    if (config_.slow_consumer == SlowConsumerPolicy::disconnect) {
      drop_slow(ci);
      return false;
    }
    if (mid_event) continue;  // finish the part-sent event first; skip on the next send
    const std::uint64_t newest = std::max(topic.history.begin(), topic.history.end() - 1);
    if (c.out == nullptr) {
      c.out = take_buffer();
      c.out_off = 0;
    }
    append_gap(*c.out, topic, {}, newest, "slow_consumer");
    s.seq = s.inflight_end = newest;
    metrics_.slow_skips.add();
  }
  return true;
}

void Shard::start_send(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (c.state == ConnState::polling) return poll_woken(ci);  // answered, not streamed
  if (c.state == ConnState::h2) return h2_send(ci);
  if (c.state == ConnState::lingering && h2_of(ci) != nullptr) return;  // said its last
  const bool streaming = c.state == ConnState::streaming;
  if (streaming && !handle_behind(ci)) return;
  iov_.clear();
  // Control bytes (stream head, ping, "100 Continue") first, then owned bytes (a response,
  // or a stream's gap events), then events. Control and owned bytes are only ever queued at
  // event boundaries, so they never split an event.
  if (c.ctl_len > 0) iov_.push_back({const_cast<char*>(c.ctl), c.ctl_len});
  if (c.out != nullptr && c.out_off < c.out->size())
    iov_.push_back({c.out->data() + c.out_off, c.out->size() - c.out_off});
  if (streaming) {
    std::size_t bytes = 0;
    for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next) {
      Sub& s = subs_[si];
      History& h = topics_[s.topic].history;
      std::uint64_t seq = s.seq;
      RC_ASSERT(s.offset == 0 || si == c.first_sub);  // see account_sent
      if (s.offset > 0) {  // the rest of a part-sent event (pinned, so still there)
        const Chunk* chunk = h.at(seq);
        iov_.push_back({const_cast<char*>(chunk->bytes()) + s.offset, chunk->size - s.offset});
        bytes += chunk->size - s.offset;
        ++seq;
      }
      if (seq >= h.begin()) {  // else: behind; skipped on the next send (see handle_behind)
        for (; seq < h.end() && iov_.size() < kMaxIov && bytes < kMaxSendBytes; ++seq) {
          const Chunk* chunk = h.at(seq);
          iov_.push_back({const_cast<char*>(chunk->bytes()), chunk->size});
          bytes += chunk->size;
        }
      }
      h.pin(s.seq, seq);
      s.inflight_end = seq;
    }
  }
  if (iov_.empty()) return on_idle(ci);
  c.flags |= conn_flag::send_inflight;
  c.send_started_ms = now_ms_;
  if (streaming) timer_touch(ci);
  if (is_h2_stream(ci)) return h2_stage(ci);
  io_.send(token(ci), c.fd, iov_);
  metrics_.sends.add();
}

// Nothing left to send. A draining stream gets a last jittered "retry:" and then its write side
// shut: the client sees EOF and reconnects (elsewhere) after a spread-out delay.
void Shard::on_idle(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (!ending(ci) || c.state != ConnState::streaming) return;
  if (!(c.more_flags & conn_flag2::drain_notice_sent)) {
    c.more_flags |= conn_flag2::drain_notice_sent;
    const std::string& notice = drain_notices_[rng_() % drain_notices_.size()];
    c.ctl = notice.data();
    c.ctl_len = static_cast<std::uint16_t>(notice.size());
    return start_send(ci);
  }
  c.state = ConnState::lingering;
  shutdown_write(ci);
  timer_touch(ci);
}

// Advances the connection's cursors over `bytes` written and unpins what the send held.
// Invariant outside a send: a subscription part-way through an event (offset > 0) holds one
// pin on that event, so the rest of it can always be sent.
void Shard::account_sent(std::uint32_t ci, std::uint32_t bytes) {
  Conn& c = conns_[ci];
  metrics_.bytes_sent.add(bytes);
  const std::uint32_t ctl = std::min<std::uint32_t>(bytes, c.ctl_len);
  c.ctl += ctl;
  c.ctl_len = static_cast<std::uint16_t>(c.ctl_len - ctl);
  bytes -= ctl;
  if (c.out != nullptr) {
    const std::uint32_t owned = std::min<std::size_t>(bytes, c.out->size() - c.out_off);
    c.out_off += owned;
    bytes -= owned;
  }
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next) {
    Sub& s = subs_[si];
    Topic& topic = topics_[s.topic];
    History& h = topic.history;
    const std::uint64_t from = s.seq;
    const bool held = s.offset > 0;
    while (s.seq < s.inflight_end && bytes > 0) {
      const std::uint32_t left = h.at(s.seq)->size - s.offset;
      if (bytes >= left) {
        bytes -= left;
        ++s.seq;
        s.offset = 0;
        metrics_.deliveries.add();
      } else {
        s.offset += bytes;
        bytes = 0;
      }
    }
    if (s.offset > 0) h.pin(s.seq, s.seq + 1);  // before unpinning: keep it from release
    h.unpin(from, s.inflight_end);
    if (held) h.unpin(from, from + 1);
    s.inflight_end = s.seq;
    // (A closing stream was counted out when it unsubscribed.)
    if (from < topic.risk_mark && s.seq >= topic.risk_mark &&
        c.state != ConnState::closing)
      flow_passed(s.topic);
  }
  RC_ASSERT(bytes == 0);  // the kernel never reports more than was offered
  // The subscription part-way through an event goes to the front of the stream's list: the
  // next send (built in list order) must finish that event before any other topic's bytes.
  std::uint32_t prev = nil, partial = nil, partial_prev = nil, partials = 0;
  for (std::uint32_t si = c.first_sub; si != nil; prev = si, si = subs_[si].conn_next) {
    if (subs_[si].offset == 0) continue;
    ++partials;
    partial = si;
    partial_prev = prev;
  }
  RC_ASSERT(partials <= 1);  // one send stops inside at most one event
  if (partial != nil && partial_prev != nil) {
    subs_[partial_prev].conn_next = subs_[partial].conn_next;
    subs_[partial].conn_next = c.first_sub;
    c.first_sub = partial;
  }
}

void Shard::on_send(std::uint32_t ci, std::int32_t res) {
  if (h2_of(ci) != nullptr) return h2_sent(ci, res);
  Conn& c = conns_[ci];
  RC_ASSERT(c.flags & conn_flag::send_inflight);
  c.flags &= ~conn_flag::send_inflight;
  account_sent(ci, res > 0 ? std::uint32_t(res) : 0);
  if (c.state == ConnState::closing) return maybe_finish_close(ci);
  if (res < 0) {
    // -EINTR/-EAGAIN: nothing was written; try again. Anything else (EPIPE, ECONNRESET,
    // ETIMEDOUT, ECANCELED, ...) means the peer is gone or the socket is unusable.
    if (res == -EINTR || res == -EAGAIN) return queue_ready(ci);
    log_event(LogLevel::debug, "send_error", "shard=%u error=%s", index_, quoted(std::strerror(-res)).c_str());
    return begin_close(ci);
  }
  if (c.state == ConnState::streaming) c.more_flags |= conn_flag2::stream_begun;
  if (c.out != nullptr && c.out_off == c.out->size()) {
    give_back(c.out);
    c.out = c.out_next;  // responses queued meanwhile (pipelining) go next
    c.out_next = nullptr;
    c.out_off = 0;
  }
  if (c.state == ConnState::responding && c.out == nullptr && c.ctl_len == 0)
    return finish_response(ci);
  if (!has_pending(ci) && !ending(ci)) return;
  if (c.state == ConnState::streaming) queue_ready(ci);  // more events: wait its turn
  else mark_ready(ci);                                  // a pipelined response
}

void Shard::finish_response(std::uint32_t ci) {
  if (is_h2_stream(ci)) return begin_close(ci);  // END_STREAM went with the answer
  Conn& c = conns_[ci];
  if (c.flags & conn_flag::close_after_send) {
    // Lingering close: shut our side, read until the peer's EOF (or a timeout), then close,
    // so unread input does not turn into a reset that destroys the response in flight.
    c.state = ConnState::lingering;
    shutdown_write(ci);
    timer_touch(ci);
    if (!(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
    return;
  }
  c.state = ConnState::reading;
  timer_touch(ci);
  if (c.in != nullptr) return on_request_bytes(ci, {});  // a pipelined request waits
  if (!(c.flags & conn_flag::recv_inflight)) arm_recv(ci);  // a poll's receive may still be armed
}

}  // namespace ringcast
