// Publishing: keep-alive POST <pub-path><topic> connections (or POST <batch-path> with --batch N
// events as NDJSON) with up to --pipeline requests in flight each (HTTP/1.1 pipelining: answers
// come back in order). A topic belongs to exactly
// one publisher, so its k reach the server in order; PublishSequence keeps that order across
// refusals and reconnects.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <charconv>
#include <cstring>

#include "tools/load/clock.h"
#include "tools/load/publish_body.h"
#include "tools/load/user_data.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

char* put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

char* put(char* out, std::uint64_t v) { return std::to_chars(out, out + 20, v).ptr; }

}  // namespace

std::size_t Worker::request_max() const { return request_bytes_max(opt_); }

void Worker::tick_publishers(RingHost& h, std::uint64_t now, Phase phase) {
  for (std::uint32_t i = 0; i < h.publishers.size(); ++i) {
    Publisher& p = h.publishers[i];
    if (p.done) continue;
    // Draining: the requests in flight are answered (or lost with the connection); none is
    // started. An event never acknowledged is not in acked[], so no stream waits for it.
    if (phase >= Phase::drain) {
      if (p.seq.in_flight() == 0) p.done = true;
      continue;
    }
    if (p.state == PubState::idle || (p.state == PubState::waiting && now >= p.hold_ns)) {
      start_publisher(h, i, now);
    } else if (p.state == PubState::handshake && p.hello_due && !p.sending) {
      tls_publisher_hello(h, i);
    } else if (p.state == PubState::up && phase >= Phase::publish && !p.sending && now >= publisher_due(p)) {
      send_requests(h, i, now);
    }
  }
}

void Worker::start_publisher(RingHost& h, std::uint32_t i, std::uint64_t now) {
  Publisher& p = h.publishers[i];
  const auto slot = std::uint32_t(h.streams.size() + i);
  ++p.gen;
  ++p.tries;
  p.connect_ns = now;
  p.reader->reset();
  p.source = shared_.sources.source(plan_.streams + p.index, p.tries);
  if (int rc = open_socket(h, slot, p.source, p.gen); rc < 0) {
    count_error(rc);
    p.state = PubState::waiting;
    p.hold_ns = now + opt_.reconnect_delay_ms * kNsPerMs;
    return;
  }
  io_uring_sqe* sqe = h.ring.sqe();
  prep_connect_fixed(sqe, slot, opt_.pub_target_text.empty() ? &opt_.target : &opt_.pub_target);
  io_uring_sqe_set_data64(sqe, make_user_data(op::connect, p.gen, slot));
  p.state = PubState::connecting;
}

// When the publisher may issue its next request: after any hold, and with --rate R over P
// publishers, every P/R seconds from this worker's first publish (counting the requests
// issued and not refused: acknowledged plus in flight).
std::uint64_t Worker::publisher_due(const Publisher& p) const {
  std::uint64_t due = p.hold_ns;
  if (opt_.rate_per_s > 0 && stats.first_publish_ns != 0) {
    const double period_ns = 1e9 * double(plan_.publishers) / opt_.rate_per_s;
    const std::uint64_t issued = p.seq.acked_total() + p.seq.in_flight();
    due = std::max(due, stats.first_publish_ns + std::uint64_t(double(issued) * period_ns));
  }
  return due;
}

// Every request the pipeline admits now (up to --pipeline in flight, paced by --rate), back to
// back in one send: the server may read them in one pass. A request's latency runs from its
// stamp, taken here just before the send is queued (it reaches the kernel at this pass's
// submit), to the loop pass that reads its whole answer.
void Worker::send_requests(RingHost& h, std::uint32_t i, std::uint64_t now) {
  Publisher& p = h.publishers[i];
  if (stats.first_publish_ns == 0) stats.first_publish_ns = now;
  // --tls: the requests are built in `plain` and their ciphertext goes into `out`.
  const bool tls = shared_.tls != nullptr;
  char* const buf = tls ? p.plain.data() : p.out.data();
  const std::uint64_t stamp = mono_ns();
  std::uint32_t len = 0;
  // The buffer holds --pipeline requests of request_max() bytes, and at most that many issue.
  // With --rate, a request of --batch N events goes when its first event is due.
  while (now >= publisher_due(p)) {
    const std::uint32_t n = p.seq.issue_request(stamp, p.issued.data(), opt_.batch);
    if (n == 0) break;
    len += std::uint32_t(opt_.batch > 1 ? build_batch(buf + len, p, n)
                                        : build_publish(buf + len, p.topics[p.issued[0].pos],
                                                        p.issued[0].k, stamp));
  }
  if (len == 0) return;
  p.out_len = p.out_sent = 0;
  if (tls) {
    if (!tls_encrypt_batch(h, i, len)) return;
  } else {
    p.out_len = len;
  }
  publisher_flush(h, i);
}

// Sends what `out` holds past what was sent, unless a send is in flight (its completion
// sends the rest).
void Worker::publisher_flush(RingHost& h, std::uint32_t i) {
  Publisher& p = h.publishers[i];
  if (p.sending || p.out_sent >= p.out_len) return;
  p.sending = true;
  const auto slot = std::uint32_t(h.streams.size() + i);
  io_uring_sqe* sqe = h.ring.sqe();
  prep_send_fixed(sqe, slot, p.out.data() + p.out_sent, p.out_len - p.out_sent);
  io_uring_sqe_set_data64(sqe, make_user_data(op::publish, p.gen, slot));
}

// "POST <pub-path><topic>" with the payload (publish_body.h). Returns its length.
std::size_t Worker::build_publish(char* const begin, std::uint32_t topic, std::uint64_t k, std::uint64_t now) {
  const std::string& name = plan_.topic_names[topic];
  char* const payload = payload_.data();
  const std::size_t body = write_payload(payload, name, k, now, opt_.event_bytes);
  char* out = begin;
  out = put(out, "POST ");
  out = put(out, opt_.pub_path);
  out = put(out, name);
  out = put(out, " HTTP/1.1\r\nHost: ");
  out = put(out, opt_.pub_target_text.empty() ? opt_.target_text : opt_.pub_target_text);
  out = put(out, "\r\nContent-Type: text/plain\r\nContent-Length: ");
  out = put(out, std::uint64_t(body));
  out = put(out, "\r\n\r\n");
  out = put(out, std::string_view(payload, body));
  const auto len = std::size_t(out - begin);
  if (len > request_max()) std::abort();  // the bound is wrong: a bookkeeping bug
  return len;
}

// "POST <batch-path>" with one NDJSON line per event issued (p.issued[0..n)), each event's
// payload as a JSON string. The body's length is known before it is written: the head first.
std::size_t Worker::build_batch(char* const begin, const Publisher& p, std::uint32_t n) {
  char* const payload = payload_.data();
  std::size_t body = 0;
  for (std::uint32_t e = 0; e < n; ++e) {
    const PublishRequest& req = p.issued[e];
    const std::string& name = plan_.topic_names[p.topics[req.pos]];
    body += ndjson_line_size(name, std::string_view(payload, write_payload(payload, name, req.k, req.stamp, opt_.event_bytes)));
  }
  char* out = begin;
  out = put(out, "POST ");
  out = put(out, opt_.batch_path);
  out = put(out, " HTTP/1.1\r\nHost: ");
  out = put(out, opt_.pub_target_text.empty() ? opt_.target_text : opt_.pub_target_text);
  out = put(out, "\r\nContent-Type: application/x-ndjson\r\nContent-Length: ");
  out = put(out, std::uint64_t(body));
  out = put(out, "\r\n\r\n");
  // Bounded before writing: a line longer than the bound would run past the buffer.
  if (std::size_t(out - begin) + body > request_max()) std::abort();
  const char* const body_at = out;
  for (std::uint32_t e = 0; e < n; ++e) {
    const PublishRequest& req = p.issued[e];
    const std::string& name = plan_.topic_names[p.topics[req.pos]];
    const std::size_t len = write_payload(payload, name, req.k, req.stamp, opt_.event_bytes);
    out += write_ndjson_line(out, name, std::string_view(payload, len));
  }
  if (std::size_t(out - body_at) != body) std::abort();  // sized and written differently: a bug
  return std::size_t(out - begin);
}

void Worker::on_publisher_cqe(RingHost& h, std::uint32_t i, std::uint8_t what, const Cqe& c) {
  Publisher& p = h.publishers[i];
  if (gen_of(c.user_data) != p.gen) {
    // A send of an earlier connection read the batch buffer until now: it is free again.
    if (what == op::publish) p.sending = false;
    if (c.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
    return;
  }
  const auto slot = std::uint32_t(h.streams.size() + i);
  switch (what) {
    case op::socket:
    case op::bind:
    case op::connect:
      if (c.res < 0) return publisher_down(h, i, c.res, false);  // nothing is armed yet
      if (what == op::connect) {
        // --tls: the connection is up once its handshake is done.
        p.state = shared_.tls != nullptr ? PubState::handshake : PubState::up;
        arm_recv(h, slot, p.gen);
        if (shared_.tls != nullptr) {
          p.hello_due = true;
          if (!p.sending) tls_publisher_hello(h, i);
        }
      }
      return;
    case op::publish:
      return on_publish_sent(h, i, c.res);
    case op::recv:
      return on_publisher_recv(h, i, c);
    default:
      return;
  }
}

void Worker::on_publish_sent(RingHost& h, std::uint32_t i, std::int32_t res) {
  Publisher& p = h.publishers[i];
  if (res <= 0) {
    // -EPIPE/-ECONNRESET: the server went away. 0 bytes of a non-empty send: it takes no more.
    p.sending = false;
    return publisher_down(h, i, res < 0 ? res : -EPIPE, true);
  }
  p.out_sent += std::uint32_t(res);
  p.sending = false;
  // A large batch can be written in parts (and --tls may have added a flight behind it):
  // send the rest.
  publisher_flush(h, i);
}

void Worker::on_publisher_recv(RingHost& h, std::uint32_t i, const Cqe& c) {
  Publisher& p = h.publishers[i];
  const bool more = c.flags & IORING_CQE_F_MORE;
  if (c.res > 0) {
    const auto bid = std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT);
    const std::string_view bytes(h.ring.buffer(bid), std::size_t(c.res));
    if (shared_.tls != nullptr) tls_publisher_receive(h, i, bytes);
    else on_publisher_data(h, i, bytes);
    h.ring.release(bid);
    const bool listening = p.state == PubState::up || p.state == PubState::handshake;
    if (!more && listening) arm_recv(h, std::uint32_t(h.streams.size() + i), p.gen);
    else if (!more && p.state == PubState::closing) publisher_down(h, i, -ECANCELED, false);
    return;
  }
  if (c.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
  if (more) return;
  if (c.res == -ENOBUFS && (p.state == PubState::up || p.state == PubState::handshake)) {
    ++stats.recv_nobufs;
    return arm_recv(h, std::uint32_t(h.streams.size() + i), p.gen);
  }
  publisher_down(h, i, c.res, false);  // EOF, reset, or our cancel
}

// Several answers can arrive in one read (pipelining) and one can straddle reads: feed what
// fits, take every whole answer out, repeat. Each round takes bytes or ends the connection
// (a full reader holding no whole answer is too_large).
void Worker::on_publisher_data(RingHost& h, std::uint32_t i, std::string_view bytes) {
  Publisher& p = h.publishers[i];
  while (p.state == PubState::up) {
    bytes.remove_prefix(p.reader->feed(bytes));
    if (!take_responses(h, i) || bytes.empty()) return;
  }
}

// Takes every whole answer out of the reader, in order. False when the connection went down.
bool Worker::take_responses(RingHost& h, std::uint32_t i) {
  Publisher& p = h.publishers[i];
  for (;;) {
    HttpResponse r;
    switch (p.reader->parse(r)) {
      case ReadStatus::incomplete:
        return true;
      case ReadStatus::complete:
        break;
      case ReadStatus::malformed:
        publisher_down(h, i, -EPROTO, true);
        return false;
      case ReadStatus::too_large:
        publisher_down(h, i, -EMSGSIZE, true);
        return false;
      case ReadStatus::unsupported:
        publisher_down(h, i, -EPROTONOSUPPORT, true);
        return false;
    }
    on_response(h, i, r);
    const bool close = r.close && !r.interim();
    p.reader->consume(r);
    if (close) {
      // The server ends the connection after this answer: whatever is in flight behind it
      // goes unanswered, and is sent again on the next connection.
      publisher_down(h, i, 0, true);
      return false;
    }
  }
}

// One answer covers the oldest request in flight: every event it carried (--batch) is
// accepted or refused with it.
void Worker::on_response(RingHost& h, std::uint32_t i, const HttpResponse& r) {
  Publisher& p = h.publishers[i];
  if (r.interim()) return;  // 100 Continue and the like: the real answer follows
  const std::uint32_t events = p.seq.oldest_request_events();
  if (events == 0) {
    ++stats.publish_errors;  // an answer to nothing we asked
    count_protocol(ProtocolError::unsolicited);
    return;
  }
  if (!r.accepted()) return on_refused(p, events, r);
  // --batch: the answer's entries, one per line; null when it is not that.
  const BatchAckEntry* acks = opt_.batch > 1 && opt_.ids == IdMode::ringcast ? batch_acks(p, r.body, events) : nullptr;
  const std::uint64_t now = mono_ns();
  std::uint64_t stamp = now;
  for (std::uint32_t e = 0; e < events; ++e) {
    std::uint64_t holes = 0;
    const PublishRequest req = p.seq.answer(true, holes);
    stamp = req.stamp;
    EventId id;
    bool have_id = false;
    if (opt_.ids == IdMode::ringcast && opt_.batch <= 1) {
      have_id = id_from_ack(r.body, id);
    } else if (acks != nullptr) {
      // An entry for another topic than its line's is a wrong answer, not an id to keep.
      const bool same_topic = acks[e].topic == plan_.topic_names[p.topics[req.pos]];
      if (!same_topic) count_protocol(ProtocolError::batch_ack);
      have_id = same_topic && parse_event_id(acks[e].id, id);
    }
    on_accepted(p, req, have_id ? &id : nullptr, holes);
  }
  stats.publish_rtt.record(now - stamp);
  stats.last_ack_ns = now;
  if (p.seq.done()) p.done = true;
  (void)h;
}

// Refused (503 at --max-topics, 413, a 4xx naming a batch's bad line, ...): once every answer
// behind it is in, its topics resume at the first k refused after a delay (see
// PublishSequence). The first refusal's words go into the report.
void Worker::on_refused(Publisher& p, std::uint32_t events, const HttpResponse& r) {
  for (std::uint32_t e = 0; e < events; ++e) {
    std::uint64_t holes = 0;
    p.seq.answer(false, holes);
    ++stats.publish_errors;
    count_error(r.status);
  }
  if (first_refusal_.empty()) {
    first_refusal_ = "HTTP " + std::to_string(r.status) + ": ";
    for (char c : r.body.substr(0, 200)) first_refusal_ += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  p.hold_ns = mono_ns() + opt_.reconnect_delay_ms * kNsPerMs;
}

// The entries of a batch answer (--ids ringcast), one per event of the request. Null (counted
// as batch_ack, and each event then as ack_without_id) when the body is not that.
const BatchAckEntry* Worker::batch_acks(Publisher& p, std::string_view body, std::uint32_t events) {
  std::size_t count = 0;
  const BatchAckStatus st = parse_batch_ack(body, p.acks.data(), p.acks.size(), count);
  if (st == BatchAckStatus::ok && count == events) return p.acks.data();
  count_protocol(ProtocolError::batch_ack);
  return nullptr;
}

// Any 2xx: ringcast's and the Node peer's 202 with a JSON id, nchan's 201/202 with a queue
// summary. Only --ids ringcast reads the id (to compare with what streams received): `id` is
// null when the answer held none for this event.
void Worker::on_accepted(Publisher& p, const PublishRequest& req, const EventId* id, std::uint64_t holes) {
  const std::uint32_t topic = p.topics[req.pos];
  if (opt_.ids == IdMode::ringcast) {
    if (id == nullptr) count_protocol(ProtocolError::ack_without_id);
    else if (req.k <= plan_.table_events) shared_.ack_ids[topic * plan_.table_events + req.k - 1] = *id;
  }
  stats.publish_holes += holes;
  shared_.acked[topic].store(req.k, std::memory_order_release);
  ++stats.published;
}

// The connection is unusable. With a receive still armed, cancel it first; its last
// completion calls this again with cancel = false, which schedules the reconnect.
void Worker::publisher_down(RingHost& h, std::uint32_t i, int code, bool cancel) {
  Publisher& p = h.publishers[i];
  // Requests without an answer may or may not have been taken; they are sent again
  // (duplicates if they were).
  const std::uint32_t unanswered = p.seq.abandon();
  stats.publish_errors += unanswered;
  for (std::uint32_t n = 0; n < unanswered; ++n) count_error(code);
  if (cancel && (p.state == PubState::up || p.state == PubState::handshake)) {
    const auto slot = std::uint32_t(h.streams.size() + i);
    io_uring_sqe* sqe = h.ring.sqe();
    io_uring_prep_cancel64(sqe, make_user_data(op::recv, p.gen, slot), 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(op::cancel, p.gen, slot));
    p.state = PubState::closing;
    return;
  }
  if (p.state != PubState::up && p.state != PubState::closing && p.state != PubState::connecting &&
      p.state != PubState::handshake)
    return;
  if (p.state == PubState::connecting || p.state == PubState::handshake) count_error(code);
  if (!h.tls.empty()) h.tls[h.streams.size() + i].reset();
  p.hello_due = false;
  ++p.gen;
  p.state = PubState::waiting;
  p.hold_ns = mono_ns() + opt_.reconnect_delay_ms * kNsPerMs;
}

}  // namespace ringcast::load
