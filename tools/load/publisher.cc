// Publishing: keep-alive POST /pub/{topic} connections, one request in flight each. A topic
// belongs to exactly one publisher, so its k reach the server in order.
#include <cerrno>
#include <charconv>
#include <cstring>

#include "tools/load/clock.h"
#include "tools/load/user_data.h"
#include "tools/load/worker.h"

namespace ringcast::load {

namespace {

std::size_t digits(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

char* put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

char* put(char* out, std::uint64_t v) { return std::to_chars(out, out + 20, v).ptr; }

}  // namespace

void Worker::tick_publishers(RingHost& h, std::uint64_t now, Phase phase) {
  for (std::uint32_t i = 0; i < h.publishers.size(); ++i) {
    Publisher& p = h.publishers[i];
    if (p.done) continue;
    // Draining: finish the request in flight, start no other. An event that was never
    // acknowledged is not in acked[], so no stream waits for it.
    if (phase >= Phase::drain && !p.in_flight) {
      p.done = true;
      continue;
    }
    if (p.state == PubState::idle || (p.state == PubState::waiting && now >= p.due_ns)) {
      start_publisher(h, i, now);
    } else if (p.state == PubState::up && !p.in_flight && phase >= Phase::publish && now >= p.due_ns) {
      send_next(h, i, now);
    }
  }
}

void Worker::start_publisher(RingHost& h, std::uint32_t i, std::uint64_t now) {
  Publisher& p = h.publishers[i];
  const auto slot = std::uint32_t(h.streams.size() + i);
  ++p.gen;
  ++p.tries;
  p.reader->reset();
  p.source = shared_.sources.source(plan_.streams + p.index, p.tries);
  if (int rc = open_socket(h, slot, p.source, p.gen); rc < 0) {
    count_error(rc);
    p.state = PubState::waiting;
    p.due_ns = now + opt_.reconnect_delay_ms * kNsPerMs;
    return;
  }
  io_uring_sqe* sqe = h.ring.sqe();
  prep_connect_fixed(sqe, slot, &opt_.target);
  io_uring_sqe_set_data64(sqe, make_user_data(op::connect, p.gen, slot));
  p.state = PubState::connecting;
}

// The next event: the owned topic at the cursor that still has events to publish.
void Worker::send_next(RingHost& h, std::uint32_t i, std::uint64_t now) {
  Publisher& p = h.publishers[i];
  const std::size_t n = p.topics.size();
  std::size_t pos = n;
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t at = (p.cursor + step) % n;
    if (opt_.events == 0 || p.next_k[at] <= opt_.events) {
      pos = at;
      break;
    }
  }
  if (pos == n) {
    p.done = true;
    return;
  }
  p.current = pos;
  build_publish(p, p.topics[pos], p.next_k[pos], now);
  p.in_flight = true;
  p.send_done = p.response_done = false;
  p.request_sent = 0;
  if (stats.first_publish_ns == 0) stats.first_publish_ns = now;
  io_uring_sqe* sqe = h.ring.sqe();
  prep_send_fixed(sqe, std::uint32_t(h.streams.size() + i), p.request.data(), p.request_len);
  io_uring_sqe_set_data64(sqe, make_user_data(op::publish, p.gen, std::uint32_t(h.streams.size() + i)));
}

// "seq=<k> t=<ns> topic=<name>", padded with " pad=xxx…" to --event-bytes when that is longer.
void Worker::build_publish(Publisher& p, std::uint32_t topic, std::uint64_t k, std::uint64_t now) {
  const std::string& name = plan_.topic_names[topic];
  const std::size_t base = 4 + digits(k) + 3 + digits(now) + 7 + name.size();
  constexpr std::size_t kPadKey = 5;  // " pad="
  const std::size_t pad = opt_.event_bytes > base + kPadKey ? opt_.event_bytes - base - kPadKey : 0;
  const std::size_t body = base + (pad > 0 ? kPadKey + pad : 0);
  char* out = p.request.data();
  out = put(out, "POST /pub/");
  out = put(out, name);
  out = put(out, " HTTP/1.1\r\nHost: ");
  out = put(out, opt_.target_text);
  out = put(out, "\r\nContent-Type: text/plain\r\nContent-Length: ");
  out = put(out, std::uint64_t(body));
  out = put(out, "\r\n\r\nseq=");
  out = put(out, k);
  out = put(out, " t=");
  out = put(out, now);
  out = put(out, " topic=");
  out = put(out, name);
  if (pad > 0) {
    out = put(out, " pad=");
    std::memset(out, 'x', pad);
    out += pad;
  }
  p.request_len = std::uint32_t(out - p.request.data());
  p.request_ns = now;
}

void Worker::on_publisher_cqe(RingHost& h, std::uint32_t i, std::uint8_t what, const Cqe& c) {
  Publisher& p = h.publishers[i];
  if (gen_of(c.user_data) != p.gen) {
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
        p.state = PubState::up;
        arm_recv(h, slot, p.gen);
      }
      return;
    case op::publish:
      if (c.res < 0) return publisher_down(h, i, c.res, true);
      p.request_sent += std::uint32_t(c.res);
      if (p.request_sent < p.request_len) {
        // A large event can be written in parts; send the rest.
        io_uring_sqe* sqe = h.ring.sqe();
        prep_send_fixed(sqe, slot, p.request.data() + p.request_sent, p.request_len - p.request_sent);
        io_uring_sqe_set_data64(sqe, make_user_data(op::publish, p.gen, slot));
        return;
      }
      p.send_done = true;
      if (p.response_done) finish_request(h, i);
      return;
    case op::recv:
      return on_publisher_recv(h, i, c);
    default:
      return;
  }
}

void Worker::on_publisher_recv(RingHost& h, std::uint32_t i, const Cqe& c) {
  Publisher& p = h.publishers[i];
  const bool more = c.flags & IORING_CQE_F_MORE;
  if (c.res > 0) {
    const auto bid = std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT);
    on_publisher_data(h, i, std::string_view(h.ring.buffer(bid), std::size_t(c.res)));
    h.ring.release(bid);
    if (!more && p.state == PubState::up) arm_recv(h, std::uint32_t(h.streams.size() + i), p.gen);
    else if (!more && p.state == PubState::closing) publisher_down(h, i, -ECANCELED, false);
    return;
  }
  if (c.flags & IORING_CQE_F_BUFFER) h.ring.release(std::uint16_t(c.flags >> IORING_CQE_BUFFER_SHIFT));
  if (more) return;
  if (c.res == -ENOBUFS && p.state == PubState::up) {
    ++stats.recv_nobufs;
    return arm_recv(h, std::uint32_t(h.streams.size() + i), p.gen);
  }
  publisher_down(h, i, c.res, false);  // EOF, reset, or our cancel
}

void Worker::on_publisher_data(RingHost& h, std::uint32_t i, std::string_view bytes) {
  Publisher& p = h.publishers[i];
  if (p.state != PubState::up) return;
  if (!p.reader->feed(bytes)) return publisher_down(h, i, -EMSGSIZE, true);
  HttpResponse r;
  // One request is in flight, so one response; a second would be a protocol error.
  switch (p.reader->parse(r)) {
    case ReadStatus::incomplete:
      return;
    case ReadStatus::complete:
      on_response(h, i, r);
      p.reader->consume(r);
      return;
    case ReadStatus::malformed:
      return publisher_down(h, i, -EPROTO, true);
    case ReadStatus::too_large:
      return publisher_down(h, i, -EMSGSIZE, true);
  }
}

void Worker::on_response(RingHost& h, std::uint32_t i, const HttpResponse& r) {
  Publisher& p = h.publishers[i];
  if (!p.in_flight || p.response_done) {
    ++stats.publish_errors;  // an answer to nothing we asked
    return;
  }
  p.response_done = true;
  p.response_status = r.status;
  if (r.status == 202 && plan_.table_events > 0) {
    EventId id;
    const std::uint32_t topic = p.topics[p.current];
    const std::uint64_t k = p.next_k[p.current];
    if (!id_from_ack(r.body, id)) p.response_status = -EPROTO;
    else if (k <= plan_.table_events) shared_.ack_ids[topic * plan_.table_events + k - 1] = id;
  }
  if (p.send_done) finish_request(h, i);
}

void Worker::finish_request(RingHost& h, std::uint32_t i) {
  Publisher& p = h.publishers[i];
  const std::uint64_t now = mono_ns();
  p.in_flight = false;
  if (p.response_status != 202) {
    // Retry the same event after a delay (503 at --max-topics, a malformed ack).
    ++stats.publish_errors;
    count_error(p.response_status);
    p.due_ns = now + opt_.reconnect_delay_ms * kNsPerMs;
    return;
  }
  const std::uint32_t topic = p.topics[p.current];
  const std::uint64_t k = p.next_k[p.current]++;
  shared_.acked[topic].store(k, std::memory_order_release);
  ++p.acked;
  ++stats.published;
  stats.publish_rtt.record(now - p.request_ns);
  stats.last_ack_ns = now;
  if (opt_.events != 0 && k == opt_.events && ++p.topics_done == p.topics.size()) p.done = true;
  p.cursor = (p.current + 1) % p.topics.size();
  // --rate R over P publishers: this one sends every P/R seconds from its first request.
  if (opt_.rate_per_s > 0) {
    const double period_ns = 1e9 * double(plan_.publishers) / opt_.rate_per_s;
    p.due_ns = stats.first_publish_ns + std::uint64_t(double(p.acked) * period_ns);
  }
  (void)h;
}

// The connection is unusable. With a receive still armed, cancel it first; its last
// completion calls this again with cancel = false, which schedules the reconnect.
void Worker::publisher_down(RingHost& h, std::uint32_t i, int code, bool cancel) {
  Publisher& p = h.publishers[i];
  if (p.in_flight && !p.response_done) {
    // The event may or may not have been accepted; it is sent again (a duplicate if it was).
    ++stats.publish_errors;
    count_error(code);
  }
  p.in_flight = false;
  if (cancel && p.state == PubState::up) {
    const auto slot = std::uint32_t(h.streams.size() + i);
    io_uring_sqe* sqe = h.ring.sqe();
    io_uring_prep_cancel64(sqe, make_user_data(op::recv, p.gen, slot), 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(op::cancel, p.gen, slot));
    p.state = PubState::closing;
    return;
  }
  if (p.state != PubState::up && p.state != PubState::closing && p.state != PubState::connecting) return;
  if (p.state == PubState::connecting) count_error(code);
  ++p.gen;
  p.state = PubState::waiting;
  p.due_ns = mono_ns() + opt_.reconnect_delay_ms * kNsPerMs;
}

}  // namespace ringcast::load
