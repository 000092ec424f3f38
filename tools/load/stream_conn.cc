// A stream's connection: the socket -> bind -> connect -> GET chain, its receive, its end,
// retries with fresh source addresses, and the storm's drop.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "tools/load/clock.h"
#include "tools/load/user_data.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

char* put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

// We cancelled its receive: the next end of it is ours.
bool cancelled(const Stream& s) {
  return s.state == StreamState::closing || s.state == StreamState::ending || s.state == StreamState::rejected;
}

}  // namespace

// Reconnects first (streams the run already counts), then first attempts, paced by --ramp.
// Every start takes a scratch entry, so at most --connect-window attempts are in flight.
void Worker::start_streams(RingHost& h, std::uint64_t now) {
  while (!h.free_scratch.empty() && !h.now_queue.empty()) {
    const std::uint32_t slot = h.now_queue.front().slot;
    h.now_queue.pop();
    start_stream(h, slot, now);
  }
  while (!h.free_scratch.empty() && !h.delay_queue.empty() && h.delay_queue.front().due_ns <= now) {
    const std::uint32_t slot = h.delay_queue.front().slot;
    h.delay_queue.pop();
    start_stream(h, slot, now);
  }
  std::uint64_t allowed = h.streams.size();
  if (ramp_per_ring_ns_ > 0)
    allowed = std::min<std::uint64_t>(allowed, 1 + std::uint64_t(double(now - started_ns_) * ramp_per_ring_ns_));
  while (!h.free_scratch.empty() && h.next_start < allowed) start_stream(h, h.next_start++, now);
}

void Worker::start_stream(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  Stream& s = h.streams[slot];
  // A send of the last attempt would still be reading its scratch: a bookkeeping bug.
  if (s.flags & (stream_flag::tls_sending | stream_flag::tls_end_pending)) std::abort();
  ++s.gen;
  ++s.tries;
  s.parser.reset();
  if (!h.opaque_ids.empty()) h.opaque_ids[slot].restart();
  s.scratch = h.free_scratch.back();
  h.free_scratch.pop_back();
  ConnectScratch& cs = h.scratch[s.scratch];
  cs.source = shared_.sources.source(h.plan->first_stream + slot, s.tries);
  build_request(h, slot, cs);
  if (stats.first_connect_ns == 0) stats.first_connect_ns = now;
  ++stats.connect_attempts;
  if (s.flags & stream_flag::awaiting_head) stats.started.record(now - dropped_at(h, slot));
  s.state = StreamState::connecting;
  // --tls: the ClientHello goes first, in the GET's place; the GET waits in the scratch for
  // the handshake.
  if (shared_.tls != nullptr && !tls_start_stream(h, slot, now)) return;
  if (int rc = open_socket(h, slot, cs.source, s.gen); rc < 0) return attempt_failed(h, slot, rc, true);
  // Failures post; success is silent until the GET (or the ClientHello) has been sent.
  io_uring_sqe* sqe = h.ring.sqe();
  prep_connect_fixed(sqe, slot, &opt_.target);
  sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::connect, s.gen, slot));
  sqe = h.ring.sqe();
  if (shared_.tls != nullptr) {
    const TlsScratch& ts = h.tls_scratch[s.scratch];
    prep_send_fixed(sqe, slot, ts.out, ts.len);
  } else {
    prep_send_fixed(sqe, slot, cs.request, cs.request_len);
  }
  io_uring_sqe_set_data64(sqe, make_user_data(op::request, s.gen, slot));
}

// "GET <sub-path><topic>", with Last-Event-ID when the stream has received an event before.
void Worker::build_request(RingHost& h, std::uint32_t slot, ConnectScratch& cs) {
  const Stream& s = h.streams[slot];
  const std::string& topic = plan_.topic_names[plan_.topic_of_stream(h.plan->first_stream + slot)];
  char* out = cs.request;
  out = put(out, "GET ");
  out = put(out, opt_.sub_path);
  out = put(out, topic);
  out = put(out, " HTTP/1.1\r\nHost: ");
  out = put(out, opt_.target_text);
  out = put(out, "\r\nAccept: text/event-stream\r\n");
  if (has_last_id(h, slot)) {
    out = put(out, "Last-Event-ID: ");
    if (h.opaque_ids.empty()) out += format_event_id(s.track.last_id, out);
    else out = put(out, h.opaque_ids[slot].last());
    out = put(out, "\r\n");
  }
  out = put(out, "\r\n");
  cs.request_len = std::uint32_t(out - cs.request);
  // The options bound every part (see ConnectScratch); past the buffer is a bookkeeping bug.
  if (cs.request_len > sizeof cs.request) std::abort();
}

bool Worker::has_last_id(const RingHost& h, std::uint32_t slot) const {
  if (!h.opaque_ids.empty()) return !h.opaque_ids[slot].last().empty();
  return !h.streams[slot].track.last_id.none();
}

// Puts a bound socket into fixed slot `slot`. With IORING_OP_BIND: two linked SQEs (socket,
// bind) that the caller's connect follows. Without it (kernels before 6.11): socket() and
// bind() here, then the socket moves into the fixed table and its regular fd is closed at once,
// so even this path holds no fd per connection (it costs four syscalls per attempt).
// Returns 0, or -errno when the synchronous path failed.
int Worker::open_socket(RingHost& h, std::uint32_t slot, const sockaddr_in& source, std::uint16_t gen) {
  if (shared_.use_uring_bind()) {
    io_uring_sqe* sqe = h.ring.sqe();
    prep_socket_direct(sqe, slot);
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(op::socket, gen, slot));
    sqe = h.ring.sqe();
    prep_bind_fixed(sqe, slot, &source);
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(op::bind, gen, slot));
    return 0;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;  // EMFILE/ENFILE/ENOBUFS/ENOMEM: counted, retried later
  // A source pair may still be in TIME_WAIT from an earlier run's attempt.
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // best effort
  int rc = bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0 ? 0 : -errno;
  if (rc == 0) rc = h.ring.install(slot, fd);
  close(fd);  // the fixed table holds its own reference
  return rc;
}

void Worker::on_stream_cqe(RingHost& h, std::uint32_t slot, std::uint8_t what, const Cqe& c) {
  Stream& s = h.streams[slot];
  if (gen_of(c.user_data) != s.gen) {
    // An earlier attempt's completion (e.g. the -ECANCELED of a link after the failing op).
    if (c.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
    return;
  }
  switch (what) {
    case op::socket:
    case op::bind:
    case op::connect:
      // Only failures post. The first failure of the chain ends the attempt; the links after it
      // complete with -ECANCELED under the old generation and are ignored above.
      if (c.res < 0) attempt_failed(h, slot, c.res, true);
      return;
    case op::request:
      return on_request_sent(h, slot, c.res);
    case op::tls_send:
      return on_tls_sent(h, slot, c.res);
    case op::recv:
      return on_stream_recv(h, slot, c);
    default:
      return;
  }
}

void Worker::on_request_sent(RingHost& h, std::uint32_t slot, std::int32_t res) {
  Stream& s = h.streams[slot];
  // A dropped stream's new connection is up and its first write done (GET or ClientHello).
  if (res > 0 && s.state == StreamState::connecting && (s.flags & stream_flag::awaiting_head))
    stats.connected.record(mono_ns() - dropped_at(h, slot));
  if (shared_.tls != nullptr) {
    // The ClientHello: the scratch stays for the handshake's flights and the GET.
    TlsScratch& ts = h.tls_scratch[s.scratch];
    if (res < 0) return attempt_failed(h, slot, res, true);
    if (std::uint32_t(res) != ts.len) return attempt_failed(h, slot, -EIO, true);
    ts.len = ts.sent = 0;
    s.state = StreamState::handshake;
    return arm_recv(h, slot, s.gen);
  }
  const std::uint32_t len = h.scratch[s.scratch].request_len;
  release_scratch(h, s);
  if (res < 0) return attempt_failed(h, slot, res, true);
  // A request of a few hundred bytes into a fresh socket is never cut short; if it were, the
  // attempt is retried rather than finished by hand.
  if (std::uint32_t(res) != len) return attempt_failed(h, slot, -EIO, true);
  s.state = StreamState::head;
  arm_recv(h, slot, s.gen);
}

void Worker::on_stream_recv(RingHost& h, std::uint32_t slot, const Cqe& c) {
  Stream& s = h.streams[slot];
  const bool more = c.flags & IORING_CQE_F_MORE;
  if (c.res > 0) {
    // Buffer select always names a buffer for data.
    const auto bid = std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT);
    stats.bytes_received += std::uint64_t(c.res);
    const std::string_view bytes(h.ring.buffer(bid), std::size_t(c.res));
    if (shared_.tls != nullptr) tls_receive(h, slot, bytes, mono_ns());
    else consume(h, slot, bytes, mono_ns());
    h.ring.release(bid);
    if (more) return;
    // One-shot mode, or the kernel ended a multishot receive after data: keep reading, unless
    // we are closing it (its cancel then found nothing to cancel).
    if (cancelled(s)) return on_stream_ended(h, slot, -ECANCELED);
    return arm_recv(h, slot, s.gen);
  }
  if (c.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
  if (more) return;  // an error that leaves the receive armed: none is documented; keep it
  if (c.res == -ENOBUFS) {
    // Every buffer was in use; this pass returned them, so re-arm (the re-arm is submitted
    // after the pass).
    ++stats.recv_nobufs;
    if (cancelled(s)) return on_stream_ended(h, slot, -ECANCELED);
    return arm_recv(h, slot, s.gen);
  }
  // 0: the server closed; -ECANCELED: our drop; -ECONNRESET/-EPIPE/-ETIMEDOUT...: gone.
  on_stream_ended(h, slot, c.res);
}

// The stream's receive has ended; the socket stays in its slot until the next attempt's
// socket replaces it.
void Worker::on_stream_ended(RingHost& h, std::uint32_t slot, std::int32_t res) {
  Stream& s = h.streams[slot];
  if (s.flags & stream_flag::tls_sending) {
    // --tls: a send still reads the scratch; the attempt ends when it completes (the same
    // generation, so that completion is recognised), and the scratch is free only then.
    s.flags |= stream_flag::tls_end_pending;
    h.tls_scratch[s.scratch].end_res = res;
    return;
  }
  if (!h.tls.empty()) {
    h.tls[slot].reset();
    release_scratch(h, s);  // an attempt that ends during its handshake still holds it
  }
  const std::uint64_t now = mono_ns();
  switch (s.state) {
    case StreamState::closing:  // the storm dropped it: reconnect at once
      stats.closed.record(now - dropped_at(h, slot));
      ++s.gen;
      s.state = StreamState::waiting;
      h.now_queue.push({slot, now});
      return;
    case StreamState::handshake:
    case StreamState::head:
      return attempt_failed(h, slot, res, true);
    case StreamState::rejected:
      return attempt_failed(h, slot, res, false);  // counted when the head arrived
    case StreamState::streaming:
    case StreamState::ending:
      // The server ended an established stream: reconnect with Last-Event-ID after a delay.
      // (ending: the body ended or broke, counted then; the receive ended by our cancel.)
      ++stats.disconnects;
      if (s.state == StreamState::streaming) count_error(res);
      ++s.gen;
      s.state = StreamState::waiting;
      h.delay_queue.push({slot, now + opt_.reconnect_delay_ms * kNsPerMs});
      return;
    default:
      return;
  }
}

void Worker::attempt_failed(RingHost& h, std::uint32_t slot, int code, bool count) {
  Stream& s = h.streams[slot];
  release_scratch(h, s);
  if (!h.tls.empty()) h.tls[slot].reset();
  ++s.gen;
  if (count) {
    ++stats.connect_errors;
    count_error(code);
  }
  if (++s.attempts >= opt_.connect_attempts) {
    s.state = StreamState::failed;
    ++stats.streams_failed;
    return;
  }
  s.state = StreamState::waiting;
  h.delay_queue.push({slot, mono_ns() + opt_.reconnect_delay_ms * kNsPerMs});
}

void Worker::release_scratch(RingHost& h, Stream& s) {
  if (s.scratch == 0xffff) return;
  h.free_scratch.push_back(s.scratch);
  s.scratch = 0xffff;
}

void Worker::arm_recv(RingHost& h, std::uint32_t slot, std::uint16_t gen) {
  io_uring_sqe* sqe = h.ring.sqe();
  prep_recv_fixed(sqe, slot, h.ring, shared_.use_multishot());
  io_uring_sqe_set_data64(sqe, make_user_data(op::recv, gen, slot));
}

// Cancels the stream's receive and closes its slot at once (the socket itself closes when the
// cancelled receive lets go of it); when the receive's last completion arrives,
// on_stream_ended moves on according to `then` (closing, ending or rejected). The close is
// queued before any later attempt's socket for this slot, so it cannot close that one.
void Worker::cancel_stream(RingHost& h, std::uint32_t slot, StreamState then) {
  Stream& s = h.streams[slot];
  io_uring_sqe* sqe = h.ring.sqe();
  io_uring_prep_cancel64(sqe, make_user_data(op::recv, s.gen, slot), 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::cancel, s.gen, slot));
  sqe = h.ring.sqe();
  io_uring_prep_close_direct(sqe, slot);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, make_user_data(op::close, s.gen, slot));
  s.state = then;
}

// Storm: every designated stream that is streaming has its receive cancelled and its slot
// closed at once (the socket itself closes when the cancelled receive lets go of it); when the
// receive's last completion arrives, the stream reconnects with Last-Event-ID.
void Worker::drop_streams(std::uint64_t now) {
  dropped_ = true;
  stats.drop_ns = now;
  for (auto& hp : hosts_) {
    RingHost& h = *hp;
    if (!h.h2.empty()) {
      drop_h2_links(h, now);
      continue;
    }
    for (std::uint32_t slot = 0; slot < h.streams.size(); ++slot) {
      Stream& s = h.streams[slot];
      if (!(s.flags & stream_flag::droppee)) continue;
      if (s.state != StreamState::streaming) {
        ++stats.drop_skipped;
        continue;
      }
      drop_stream(h, slot, now);
    }
  }
}

void Worker::drop_stream(RingHost& h, std::uint32_t slot, std::uint64_t now) {
  cancel_stream(h, slot, StreamState::closing);
  h.streams[slot].flags |= stream_flag::awaiting_head | stream_flag::awaiting_event;
  if (!h.drop_at.empty()) h.drop_at[slot] = now;
  ++stats.dropped;
}

}  // namespace ringcast::load
