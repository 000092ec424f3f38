// --tls on a stream's connection. The attempt's chain sends the ClientHello where the GET
// would go; the receive then feeds the handshake; once it completes, the GET is encrypted
// behind the client's last flight, and from then on every receive is decrypted into the SSE
// parser. Until the handshake is done and everything it produced has been sent, the attempt
// keeps its scratch: the ciphertext in flight lives there (TlsScratch), and so does the GET.
#include <cerrno>
#include <cstdlib>

#include "tools/load/clock.h"
#include "tools/load/user_data.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

ProtocolError protocol_error_of(TlsFailure f) {
  switch (f) {
    case TlsFailure::verify: return ProtocolError::tls_verify;
    case TlsFailure::handshake: return ProtocolError::tls_handshake;
    case TlsFailure::record: return ProtocolError::tls_record;
    case TlsFailure::output_full: return ProtocolError::tls_output_full;
    case TlsFailure::none: break;
  }
  return ProtocolError::tls_start;
}

}  // namespace

// --tls-resume: a reconnect (any attempt after a connection's first) offers the newest
// session this thread has; a first attempt always makes a full handshake, like a new client.
SSL_SESSION* Worker::tls_session_to_offer(std::uint16_t tries) {
  if (!opt_.tls_resume || tries <= 1 || tls_io_->newest_session == nullptr) return nullptr;
  ++stats.tls_resume_offered;
  return tls_io_->newest_session;
}

void Worker::count_tls_failure(TlsFailure f) {
  ++stats.tls_failures;
  count_protocol(protocol_error_of(f));
}

void Worker::count_tls_handshake(const TlsConn& conn, std::uint64_t started_ns, std::uint64_t now) {
  ++stats.tls_handshakes;
  if (conn.resumed()) ++stats.tls_resumed;
  stats.tls_handshake.record(now > started_ns ? now - started_ns : 0);
}

// Writes the ClientHello into the attempt's scratch. False when the attempt has failed
// (counted, and retried like any failed attempt).
bool Worker::tls_start_stream(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  Stream& s = h.streams[slot];
  TlsScratch& ts = h.tls_scratch[s.scratch];
  ts.started_ns = now;
  ts.len = ts.sent = 0;
  tls_io_->set_out(ts.out, TlsScratch::kBytes, 0);
  tls_io_->failure = TlsFailure::none;
  if (h.tls[slot].start(*shared_.tls, *tls_io_, tls_session_to_offer(s.tries))) {
    ts.len = tls_io_->out_len;
    return true;
  }
  ++stats.connect_errors;
  count_tls_failure(tls_io_->failure);
  attempt_failed(h, slot, 0, false);
  return false;
}

// Ciphertext that arrived on the stream. Each step takes bytes or yields plaintext, and the
// loop ends when every byte was taken (need_more) or the connection is over.
void Worker::tls_receive(RingHost& h, std::uint32_t slot, std::string_view bytes, std::uint64_t now) {
  Stream& s = h.streams[slot];
  TlsConn& conn = h.tls[slot];
  // A failure earlier in this receive freed the SSL, or the stream is being closed: the rest
  // of what it carried is moot.
  const bool open = s.state == StreamState::handshake || s.state == StreamState::head ||
                    s.state == StreamState::streaming;
  if (!conn.active() || !open) return;
  TlsIo& io = *tls_io_;
  io.in = bytes;
  // Only an attempt still in its handshake (or sending its GET) has somewhere to put
  // ciphertext; an established stream sends nothing (a write then is tls_output_full).
  if (s.scratch != 0xffff) io.set_out(h.tls_scratch[s.scratch].out, TlsScratch::kBytes, h.tls_scratch[s.scratch].len);
  else io.set_out(nullptr, 0, 0);
  for (;;) {
    std::string_view plain;
    switch (conn.step(io, plain)) {
      case TlsStatus::need_more:
        return tls_flush(h, slot);
      case TlsStatus::handshake_done:
        tls_established(h, slot, now);
        if (!conn.active()) return;
        break;
      case TlsStatus::plaintext:
        consume(h, slot, plain, now);
        // Rejected or ending: the stream is being closed and the rest is not read.
        if (s.state != StreamState::head && s.state != StreamState::streaming) return tls_flush(h, slot);
        break;
      case TlsStatus::closed:
        // close_notify: the server's FIN follows, and its end of stream ends the attempt.
        return tls_flush(h, slot);
      case TlsStatus::failed:
        return tls_failed(h, slot);
    }
  }
}

// The handshake completed: the GET goes out encrypted, behind the client's last flight.
void Worker::tls_established(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  Stream& s = h.streams[slot];
  // The scratch is held from the attempt's start until its GET has been sent.
  if (s.scratch == 0xffff) std::abort();
  count_tls_handshake(h.tls[slot], h.tls_scratch[s.scratch].started_ns, now);
  const ConnectScratch& cs = h.scratch[s.scratch];
  if (!h.tls[slot].write(*tls_io_, std::string_view(cs.request, cs.request_len))) return tls_failed(h, slot);
  s.state = StreamState::head;
}

// Sends what the SSL wrote into the scratch (one send at a time), and lets the scratch go
// once the handshake is done and nothing is left to send.
void Worker::tls_flush(RingHost& h, std::uint32_t slot) {
  Stream& s = h.streams[slot];
  if (s.scratch == 0xffff) return;
  TlsScratch& ts = h.tls_scratch[s.scratch];
  if (tls_io_->out == ts.out) ts.len = tls_io_->out_len;
  tls_io_->set_out(nullptr, 0, 0);
  if (s.flags & stream_flag::tls_sending) return;  // its completion sends the rest
  if (ts.sent < ts.len) {
    s.flags |= stream_flag::tls_sending;
    io_uring_sqe* sqe = h.ring.sqe();
    prep_send_fixed(sqe, slot, ts.out + ts.sent, ts.len - ts.sent);
    io_uring_sqe_set_data64(sqe, make_user_data(op::tls_send, s.gen, slot));
    return;
  }
  if (s.state != StreamState::handshake) release_scratch(h, s);
}

void Worker::on_tls_sent(RingHost& h, std::uint32_t slot, std::int32_t res) {
  Stream& s = h.streams[slot];
  s.flags &= std::uint8_t(~stream_flag::tls_sending);
  if (s.flags & stream_flag::tls_end_pending) {
    // The receive ended while this send was in flight: the attempt ends now.
    s.flags &= std::uint8_t(~stream_flag::tls_end_pending);
    return on_stream_ended(h, slot, h.tls_scratch[s.scratch].end_res);
  }
  const bool open = s.state == StreamState::handshake || s.state == StreamState::head ||
                    s.state == StreamState::streaming;
  if (res <= 0) {
    // -EPIPE/-ECONNRESET: the server went away; 0 bytes of a non-empty send: it takes no
    // more. The receive is still armed: close it, and its end moves the stream on.
    if (!open) return;  // already closing; its receive's end follows
    if (s.state != StreamState::streaming) ++stats.connect_errors;
    count_error(res < 0 ? res : -EPIPE);
    h.tls[slot].reset();
    return cancel_stream(h, slot, s.state == StreamState::streaming ? StreamState::ending : StreamState::rejected);
  }
  h.tls_scratch[s.scratch].sent += std::uint32_t(res);
  tls_flush(h, slot);
}

// A TLS error: the connection cannot go on. Before the head arrived it is a failed attempt;
// an established stream reconnects with Last-Event-ID, as after a server close.
void Worker::tls_failed(RingHost& h, std::uint32_t slot) {
  Stream& s = h.streams[slot];
  count_tls_failure(tls_io_->failure);
  tls_io_->set_out(nullptr, 0, 0);
  h.tls[slot].reset();
  if (s.state == StreamState::streaming) return cancel_stream(h, slot, StreamState::ending);
  ++stats.connect_errors;
  cancel_stream(h, slot, StreamState::rejected);
}

}  // namespace ringcast::load
