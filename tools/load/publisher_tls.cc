// --tls on a publisher's keep-alive connection: the handshake once connected, then each batch
// of requests encrypted into `out` (the same buffer and send path as plaintext batches), and
// every receive decrypted into the response reader.
#include <cerrno>

#include "tools/load/clock.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

// Appends at out[out_len]. A flight made while a send is in flight goes behind it; once
// everything was sent the buffer starts over.
void bind_out(TlsIo& io, Publisher& p) {
  if (!p.sending && p.out_sent == p.out_len) p.out_len = p.out_sent = 0;
  io.set_out(p.out.data(), std::uint32_t(p.out.size()), p.out_len);
}

}  // namespace

void Worker::tls_publisher_hello(RingHost& h, std::uint32_t i) {
  Publisher& p = h.publishers[i];
  p.hello_due = false;
  TlsIo& io = *tls_io_;
  bind_out(io, p);
  io.failure = TlsFailure::none;
  TlsConn& conn = h.tls[h.streams.size() + i];
  const bool ok = conn.start(*shared_.tls, io, tls_session_to_offer(p.tries));
  p.out_len = io.out_len;
  io.set_out(nullptr, 0, 0);
  if (!ok) {
    count_tls_failure(io.failure);
    return publisher_down(h, i, -EPROTO, true);
  }
  publisher_flush(h, i);
}

void Worker::tls_publisher_receive(RingHost& h, std::uint32_t i, std::string_view bytes) {
  Publisher& p = h.publishers[i];
  TlsConn& conn = h.tls[h.streams.size() + i];
  if (!conn.active() || (p.state != PubState::handshake && p.state != PubState::up)) return;
  TlsIo& io = *tls_io_;
  io.in = bytes;
  bind_out(io, p);
  // Each step takes bytes or yields plaintext; the loop ends when every byte was taken.
  for (bool more = true; more;) {
    std::string_view plain;
    switch (conn.step(io, plain)) {
      case TlsStatus::need_more:
      case TlsStatus::closed:  // close_notify: the FIN follows and ends the connection
        more = false;
        break;
      case TlsStatus::handshake_done:
        count_tls_handshake(conn, p.connect_ns, mono_ns());
        p.state = PubState::up;
        break;
      case TlsStatus::plaintext:
        on_publisher_data(h, i, plain);
        more = p.state == PubState::up;  // an answer may have closed the connection
        break;
      case TlsStatus::failed:
        count_tls_failure(io.failure);
        io.set_out(nullptr, 0, 0);
        return publisher_down(h, i, -EPROTO, true);
    }
  }
  if (io.out == p.out.data()) p.out_len = io.out_len;
  io.set_out(nullptr, 0, 0);
  publisher_flush(h, i);
}

// The batch in `plain` becomes ciphertext in `out` (empty: no send is in flight). False when
// the connection failed (the requests issued are then sent again on the next connection).
bool Worker::tls_encrypt_batch(RingHost& h, std::uint32_t i, std::uint32_t plain_len) {
  Publisher& p = h.publishers[i];
  TlsIo& io = *tls_io_;
  bind_out(io, p);
  const bool ok = h.tls[h.streams.size() + i].write(io, std::string_view(p.plain.data(), plain_len));
  p.out_len = io.out_len;
  io.set_out(nullptr, 0, 0);
  if (ok) return true;
  count_tls_failure(io.failure);
  publisher_down(h, i, -EPROTO, true);
  return false;
}

}  // namespace ringcast::load
