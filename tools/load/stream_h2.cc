// --h2: streams over HTTP/2, --streams-per-conn S to a connection. A connection's attempt is
// the socket -> bind -> connect -> send chain of HTTP/1.1, its first send carrying the
// preface, SETTINGS, the connection's WINDOW_UPDATE and every stream's GET; then a receive
// feeds nghttp2 (h2_conn.h), whose callbacks hand each stream's head and DATA to the same
// per-stream checks as HTTP/1.1 (consume: the SSE parser, event_check). A stream the server
// ends or resets is requested again on its connection, with Last-Event-ID, after
// --reconnect-delay-ms; a lost connection reconnects after it, and requests its streams again.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tools/load/clock.h"
#include "tools/load/user_data.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

// A receive we cancelled (h2_close) ends with our own close.
bool closing(const H2Link& l) { return l.state == H2State::closing; }

}  // namespace

// Streams due to be requested again first (their connections are up), then connections due
// to reconnect, then first attempts, at most --connect-window connecting at once (--ramp
// paces first attempts by streams, a connection's worth at a time).
void Worker::start_h2(RingHost& h, std::uint64_t now) {
  while (!h.delay_queue.empty() && h.delay_queue.front().due_ns <= now) {
    const std::uint32_t slot = h.delay_queue.front().slot;
    h.delay_queue.pop();
    Stream& s = h.streams[slot];
    s.flags &= std::uint8_t(~stream_flag::h2_queued);
    const std::uint32_t c = h2_link_of(slot);
    // A stream whose connection is not up is requested when the connection is.
    if (s.state == StreamState::waiting && h.h2[c].state == H2State::up && request_h2_stream(h, slot))
      h2_flush(h, c);
  }
  const std::uint32_t window = opt_.connect_window;
  while (h.h2_connecting < window && !h.h2_delay.empty() && h.h2_delay.front().due_ns <= now) {
    const std::uint32_t c = h.h2_delay.front().slot;
    h.h2_delay.pop();
    // The last attempt's send still reads `out`: try again shortly.
    if (h.h2[c].sending) h.h2_delay.push({c, now + kNsPerMs});
    else start_h2_link(h, c, now);
  }
  std::uint64_t allowed = h.h2.size();
  if (ramp_per_ring_ns_ > 0) {
    const std::uint64_t streams = 1 + std::uint64_t(double(now - started_ns_) * ramp_per_ring_ns_);
    allowed = std::min<std::uint64_t>(allowed, (streams + plan_.streams_per_conn - 1) / plan_.streams_per_conn);
  }
  while (h.h2_connecting < window && h.h2_next_start < allowed) start_h2_link(h, h.h2_next_start++, now);
}

void Worker::start_h2_link(RingHost& h, std::uint32_t c, std::uint64_t now) {
  H2Link& l = h.h2[c];
  ++l.gen;
  ++l.tries;
  l.streamed = false;
  l.out.clear();
  l.out_sent = 0;
  if (stats.first_connect_ns == 0) stats.first_connect_ns = now;
  ++stats.h2_conn_attempts;
  l.state = H2State::connecting;
  ++h.h2_connecting;
  if (l.resuming) h2_restarted(h, c, now);
  const std::uint32_t per = plan_.streams_per_conn;
  l.source = shared_.sources.source(h.plan->first_stream + std::uint64_t(c) * per, l.tries);
  H2Settings settings;
  settings.stream_window = opt_.h2_window;
  h2_host_ = &h;
  h2_now_ = now;
  if (!l.session.start(h2_io_, settings)) {
    count_protocol(ProtocolError::h2_start);
    return h2_down(h, c, 0);
  }
  const std::uint32_t first = c * per;
  const std::uint32_t end = std::min<std::uint32_t>(first + per, std::uint32_t(h.streams.size()));
  for (std::uint32_t slot = first; slot < end; ++slot) {
    const StreamState st = h.streams[slot].state;
    if (st == StreamState::idle || st == StreamState::waiting) request_h2_stream(h, slot);
  }
  if (shared_.tls != nullptr) {
    // The ClientHello goes first; nghttp2's bytes follow the handshake (h2_flush).
    if (!h2_tls_start(h, c, now)) return;
  } else {
    h2_io_.out = &l.out;
    const int rc = l.session.send(h2_io_);
    h2_io_.out = nullptr;
    if (rc != 0) {
      count_protocol(ProtocolError::h2_start);
      return h2_down(h, c, 0);
    }
  }
  if (int err = open_socket(h, c, l.source, l.gen); err < 0) {
    count_error(err);
    return h2_down(h, c, err);
  }
  io_uring_sqe* sqe = h.ring.sqe();
  prep_connect_fixed(sqe, c, &opt_.target);
  sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::connect, l.gen, c));
  sqe = h.ring.sqe();
  prep_send_fixed(sqe, c, l.out.data(), std::uint32_t(l.out.size()));
  io_uring_sqe_set_data64(sqe, make_user_data(op::request, l.gen, c));
  l.sending = true;
}

// Submits the stream's GET (sent with its connection's next send). False when nghttp2 refused
// it: the stream then waits for its connection's next attempt.
bool Worker::request_h2_stream(RingHost& h, std::uint32_t slot) {
  Stream& s = h.streams[slot];
  H2Link& l = h.h2[h2_link_of(slot)];
  const std::string& topic = plan_.topic_names[plan_.topic_of_stream(h.plan->first_stream + slot)];
  char path[kPathMax + kTopicNameMax + 1];
  std::memcpy(path, opt_.sub_path.data(), opt_.sub_path.size());
  std::memcpy(path + opt_.sub_path.size(), topic.data(), topic.size());
  const std::string_view path_view(path, opt_.sub_path.size() + topic.size());
  char id[kEventIdMax];
  std::string_view last_id;
  if (has_last_id(h, slot)) {
    if (h.opaque_ids.empty()) last_id = std::string_view(id, format_event_id(s.track.last_id, id));
    else last_id = h.opaque_ids[slot].last();
  }
  // The session is the connection's; its GETs go out in its next send.
  if (l.session.request(slot, "http", opt_.target_text, path_view, last_id) < 0) {
    s.state = StreamState::waiting;
    return false;
  }
  s.parser.reset();
  if (!h.opaque_ids.empty()) h.opaque_ids[slot].restart();
  s.state = StreamState::head;
  ++stats.connect_attempts;
  ++stats.h2_stream_requests;
  return true;
}

// Sends what nghttp2 has queued, one send at a time (its completion sends the rest).
// --tls: encrypted behind whatever the TLS layer has written (the handshake's last flight).
void Worker::h2_flush(RingHost& h, std::uint32_t c) {
  H2Link& l = h.h2[c];
  if (l.sending || (l.state != H2State::up && l.state != H2State::handshake)) return;
  h2_host_ = &h;
  h2_now_ = mono_ns();
  if (shared_.tls != nullptr) {
    if (l.state == H2State::up) {
      h2_plain_.clear();
      h2_io_.out = &h2_plain_;
      const int rc = l.session.send(h2_io_);
      h2_io_.out = nullptr;
      if (rc != 0) return h2_close(h, c, ProtocolError::h2_protocol);
      if (!h2_plain_.empty() && !h2_tls_encrypt(h, c, std::string_view(h2_plain_.data(), h2_plain_.size())))
        return;
    }
    l.out.swap(l.pending);
    l.pending.clear();
  } else {
    l.out.clear();
    h2_io_.out = &l.out;
    const int rc = l.session.send(h2_io_);
    h2_io_.out = nullptr;
    if (rc != 0) return h2_close(h, c, ProtocolError::h2_protocol);
  }
  l.out_sent = 0;
  if (l.out.empty()) return;
  io_uring_sqe* sqe = h.ring.sqe();
  prep_send_fixed(sqe, c, l.out.data(), std::uint32_t(l.out.size()));
  io_uring_sqe_set_data64(sqe, make_user_data(op::request, l.gen, c));
  l.sending = true;
}

void Worker::on_h2_cqe(RingHost& h, std::uint32_t c, std::uint8_t what, const Cqe& cqe) {
  H2Link& l = h.h2[c];
  const std::uint16_t gen = gen_of(cqe.user_data);
  if (what == op::request) return on_h2_sent(h, c, gen, cqe.res);
  if (gen != l.gen) {
    if (cqe.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    return;
  }
  switch (what) {
    case op::socket:
    case op::bind:
    case op::connect:
      // Only failures post; the links after the failure complete -ECANCELED.
      if (cqe.res < 0 && l.state == H2State::connecting) {
        count_error(cqe.res);
        h2_down(h, c, cqe.res);
      }
      return;
    case op::recv:
      return on_h2_recv(h, c, cqe);
    default:
      return;
  }
}

void Worker::on_h2_sent(RingHost& h, std::uint32_t c, std::uint16_t gen, std::int32_t res) {
  H2Link& l = h.h2[c];
  l.sending = false;  // whatever its generation, `out` is ours again
  if (gen != l.gen) return;
  if (l.state == H2State::connecting) {
    if (res < 0) {
      // The chain's failure posted first (and ended the attempt) unless it was the send's own.
      count_error(res);
      return h2_down(h, c, res);
    }
    if (shared_.tls != nullptr) {
      l.state = H2State::handshake;  // connecting until it is done
    } else {
      l.state = H2State::up;
      --h.h2_connecting;
    }
    if (l.resuming) h2_reconnected(h, c, mono_ns());
    arm_recv(h, c, l.gen);
  } else if (res < 0) {
    // -EPIPE/-ECONNRESET: the server went away; its receive's end moves the link on.
    h2_close(h, c, ProtocolError::count);
    return;
  }
  if (l.state != H2State::up && l.state != H2State::handshake) return;
  l.out_sent += std::uint32_t(res);
  if (l.out_sent < l.out.size()) {
    io_uring_sqe* sqe = h.ring.sqe();
    prep_send_fixed(sqe, c, l.out.data() + l.out_sent, std::uint32_t(l.out.size() - l.out_sent));
    io_uring_sqe_set_data64(sqe, make_user_data(op::request, l.gen, c));
    l.sending = true;
    return;
  }
  h2_flush(h, c);
}

void Worker::on_h2_recv(RingHost& h, std::uint32_t c, const Cqe& cqe) {
  H2Link& l = h.h2[c];
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (cqe.res > 0) {
    const auto bid = std::uint16_t(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    stats.bytes_received += std::uint64_t(cqe.res);
    if (shared_.tls != nullptr && (l.state == H2State::handshake || l.state == H2State::up)) {
      h2_host_ = &h;
      h2_now_ = mono_ns();
      const std::uint64_t goaways = h2_io_.goaways;
      h2_tls_receive(h, c, std::string_view(h.ring.buffer(bid), std::size_t(cqe.res)));
      h2_flush(h, c);
      if (l.state == H2State::up && l.session.finished())
        h2_close(h, c, h2_io_.goaways != goaways ? ProtocolError::h2_goaway : ProtocolError::h2_protocol);
    } else if (l.state == H2State::up) {
      h2_host_ = &h;
      h2_now_ = mono_ns();
      const std::uint64_t goaways = h2_io_.goaways;
      const int rc = l.session.receive(h2_io_, std::string_view(h.ring.buffer(bid), std::size_t(cqe.res)));
      if (rc != 0) {
        // A fatal error; we close without a GOAWAY (as after any broken stream).
        h2_close(h, c, ProtocolError::h2_protocol);
      } else {
        h2_flush(h, c);
        // Over: the server's GOAWAY and no stream left, or nghttp2 ended it for a protocol
        // error (a GOAWAY of its own, just queued to be sent).
        if (l.session.finished())
          h2_close(h, c, h2_io_.goaways != goaways ? ProtocolError::h2_goaway : ProtocolError::h2_protocol);
      }
    }
    h.ring.release(bid);
    if (more) return;
    if (closing(l)) return h2_down(h, c, -ECANCELED);
    return arm_recv(h, c, l.gen);
  }
  if (cqe.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
  if (more) return;
  if (cqe.res == -ENOBUFS) {
    ++stats.recv_nobufs;
    if (closing(l)) return h2_down(h, c, -ECANCELED);
    return arm_recv(h, c, l.gen);
  }
  // 0: the server closed; -ECANCELED: our close; anything else: gone.
  h2_down(h, c, cqe.res);
}

// We end the connection: cancel its receive and close its slot; the receive's end moves it on.
void Worker::h2_close(RingHost& h, std::uint32_t c, ProtocolError why) {
  H2Link& l = h.h2[c];
  if (l.state != H2State::up && l.state != H2State::handshake) return;
  if (why != ProtocolError::count) count_protocol(why);
  io_uring_sqe* sqe = h.ring.sqe();
  io_uring_prep_cancel64(sqe, make_user_data(op::recv, l.gen, c), 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::cancel, l.gen, c));
  sqe = h.ring.sqe();
  io_uring_prep_close_direct(sqe, c);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::close, l.gen, c));
  l.state = H2State::closing;
}

// The connection is over (its receive ended, or its attempt failed): its streams wait for the
// next attempt, after --reconnect-delay-ms; after --connect-attempts attempts in a row without
// a stream's 200 head, its streams are given up.
void Worker::h2_down(RingHost& h, std::uint32_t c, std::int32_t res) {
  H2Link& l = h.h2[c];
  if (l.state == H2State::connecting || l.state == H2State::handshake) --h.h2_connecting;
  const bool was_up = l.state == H2State::up;
  l.session.reset();  // no callbacks: the streams are settled here
  if (!h.tls.empty()) h.tls[c].reset();
  l.pending.clear();
  ++l.gen;            // any later completion of this attempt is stale
  if (l.streamed) {
    if (!l.dropped) ++stats.h2_disconnects;  // (a storm's drop is ours, not a disconnect)
    if (was_up) count_error(res);  // the server closed it (our own closes were counted)
    l.attempts = 0;
  } else {
    ++stats.h2_conn_errors;  // why: in error_kinds (an errno, h2_protocol, ...)
    if (++l.attempts >= opt_.connect_attempts) {
      l.state = H2State::failed;
      ++stats.h2_conns_failed;
    }
  }
  const std::uint32_t per = plan_.streams_per_conn;
  const std::uint32_t end = std::min<std::uint32_t>(c * per + per, std::uint32_t(h.streams.size()));
  for (std::uint32_t slot = c * per; slot < end; ++slot) {
    Stream& s = h.streams[slot];
    if (s.state == StreamState::failed) continue;
    if (s.state == StreamState::streaming) ++stats.disconnects;
    if (l.state == H2State::failed) {
      s.state = StreamState::failed;
      ++stats.streams_failed;
    } else {
      s.state = StreamState::waiting;  // requested again by the next attempt
    }
  }
  if (l.state == H2State::failed) return;
  l.state = H2State::waiting;
  const std::uint64_t now = mono_ns();
  if (l.dropped) return h2_dropped_down(h, c, now);
  h.h2_delay.push({c, now + opt_.reconnect_delay_ms * kNsPerMs});
}

void Worker::h2_queue_stream(RingHost& h, std::uint32_t slot, std::uint64_t due) {
  Stream& s = h.streams[slot];
  s.state = StreamState::waiting;
  if (s.flags & stream_flag::h2_queued) return;
  s.flags |= stream_flag::h2_queued;
  h.delay_queue.push({slot, due});
}

// A stream's attempt failed (a refused head, or reset before its head): requested again
// after --reconnect-delay-ms, or given up after --connect-attempts.
void Worker::h2_stream_failed(RingHost& h, std::uint32_t slot) {
  Stream& s = h.streams[slot];
  if (++s.attempts >= opt_.connect_attempts) {
    s.state = StreamState::failed;
    ++stats.streams_failed;
    return;
  }
  h2_queue_stream(h, slot, mono_ns() + opt_.reconnect_delay_ms * kNsPerMs);
}

void Worker::h2_head(std::uint32_t slot, std::int32_t stream_id, int status, bool event_stream) {
  RingHost& h = *h2_host_;
  Stream& s = h.streams[slot];
  if (s.state != StreamState::head) return;
  if (status != 200 || !event_stream) {
    // 503 at --max-streams, 404 for a wrong --sub-path, ...: the stream is reset, and its
    // close (h2_closed) moves it on.
    ++stats.connect_errors;
    if (status != 200) count_error(status);
    else count_protocol(ProtocolError::not_event_stream);
    s.state = StreamState::rejected;
    h.h2[h2_link_of(slot)].session.cancel(stream_id);
    return;
  }
  s.parser.begin_body();
  h.h2[h2_link_of(slot)].streamed = true;
  h.h2[h2_link_of(slot)].attempts = 0;
  on_established(h, slot, h2_now_);
}

void Worker::h2_data(std::uint32_t slot, std::string_view bytes) {
  consume(*h2_host_, slot, bytes, h2_now_);
}

void Worker::h2_closed(std::uint32_t slot, std::uint32_t error_code) {
  RingHost& h = *h2_host_;
  Stream& s = h.streams[slot];
  switch (s.state) {
    case StreamState::streaming:
      // The server ended or reset an established stream: again, with Last-Event-ID.
      ++stats.disconnects;
      count_protocol(error_code == 0 ? ProtocolError::h2_ended : ProtocolError::h2_reset);
      return h2_queue_stream(h, slot, h2_now_ + opt_.reconnect_delay_ms * kNsPerMs);
    case StreamState::head:
      // Reset before its head (REFUSED_STREAM past the server's stream limit, a GOAWAY).
      ++stats.connect_errors;
      count_protocol(error_code == 0 ? ProtocolError::h2_ended : ProtocolError::h2_reset);
      return h2_stream_failed(h, slot);
    case StreamState::rejected:
      return h2_stream_failed(h, slot);  // counted when its head arrived
    default:
      return;
  }
}

// --tls: the ClientHello into `out`, to go where the cleartext preface would. False when the
// attempt has failed (counted, and retried like any failed attempt).
bool Worker::h2_tls_start(RingHost& h, std::uint32_t c, std::uint64_t now) {
  H2Link& l = h.h2[c];
  l.started_ns = now;
  l.pending.clear();
  l.out.resize(TlsScratch::kBytes);
  tls_io_->set_out(l.out.data(), TlsScratch::kBytes, 0);
  tls_io_->failure = TlsFailure::none;
  const bool ok = h.tls[c].start(*shared_.tls, *tls_io_, tls_session_to_offer(l.tries), true);
  l.out.resize(ok ? tls_io_->out_len : 0);
  tls_io_->set_out(nullptr, 0, 0);
  if (ok) return true;
  count_tls_failure(tls_io_->failure);
  h2_down(h, c, 0);
  return false;
}

// --tls: ciphertext that arrived: the handshake (its last flight gathers in `pending`), then
// records whose plaintext goes to nghttp2.
void Worker::h2_tls_receive(RingHost& h, std::uint32_t c, std::string_view bytes) {
  H2Link& l = h.h2[c];
  TlsConn& conn = h.tls[c];
  if (!conn.active()) return;
  TlsIo& io = *tls_io_;
  io.in = bytes;
  // Room for what the TLS layer writes (a flight, a KeyUpdate) behind what already waits.
  const std::size_t held = l.pending.size();
  l.pending.resize(held + TlsScratch::kBytes);
  io.set_out(l.pending.data(), std::uint32_t(l.pending.size()), std::uint32_t(held));
  io.failure = TlsFailure::none;
  bool failed = false;
  for (bool more = true; more;) {
    std::string_view plain;
    switch (conn.step(io, plain)) {
      case TlsStatus::need_more:
      case TlsStatus::closed:  // close_notify: the server's FIN follows and ends the link
        more = false;
        break;
      case TlsStatus::handshake_done:
        count_tls_handshake(conn, l.started_ns, h2_now_);
        if (conn.alpn() != "h2") {
          // The server did not choose HTTP/2: nothing can be said to it.
          count_protocol(ProtocolError::h2_protocol);
          h2_close(h, c, ProtocolError::count);
          more = false;
          break;
        }
        l.state = H2State::up;
        --h.h2_connecting;
        break;
      case TlsStatus::plaintext:
        if (l.state != H2State::up) break;
        if (l.session.receive(h2_io_, plain) != 0) {
          h2_close(h, c, ProtocolError::h2_protocol);
          more = false;
        }
        break;
      case TlsStatus::failed:
        failed = true;
        more = false;
        break;
    }
  }
  l.pending.resize(io.out_len);
  io.set_out(nullptr, 0, 0);
  if (failed) {
    count_tls_failure(io.failure);
    h2_close(h, c, ProtocolError::count);
  }
}

// --tls: appends `plain`, encrypted, to `pending`. False when the link is being closed.
bool Worker::h2_tls_encrypt(RingHost& h, std::uint32_t c, std::string_view plain) {
  H2Link& l = h.h2[c];
  const std::size_t held = l.pending.size();
  // Each record (16 KiB of plaintext at most) adds a header, a tag and padding, under 256.
  l.pending.resize(held + plain.size() + (plain.size() / 16384 + 1) * 256);
  TlsIo& io = *tls_io_;
  io.set_out(l.pending.data(), std::uint32_t(l.pending.size()), std::uint32_t(held));
  io.failure = TlsFailure::none;
  const bool ok = h.tls[c].write(io, plain);
  l.pending.resize(io.out_len);
  io.set_out(nullptr, 0, 0);
  if (ok) return true;
  count_tls_failure(io.failure == TlsFailure::none ? TlsFailure::output_full : io.failure);
  h2_close(h, c, ProtocolError::count);
  return false;
}

std::uint64_t Worker::h2_conns_up() const {
  std::uint64_t up = 0;
  for (const auto& h : hosts_)
    for (const H2Link& l : h->h2) up += l.state == H2State::up;
  return up;
}

}  // namespace ringcast::load
