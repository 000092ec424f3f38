// HTTP/2 (RFC 9113) on the shard. A cleartext connection whose first bytes are the client
// preface (or a TLS connection that chose "h2" by ALPN, whose client then sends the same
// preface) becomes an HTTP/2 connection: its session (http/h2_session.h) lives in h2_, and each
// request on it becomes a stream record of its own in the connection table (a Conn whose fd is
// kH2StreamFd | the connection's record). A stream runs the HTTP/1.1 paths unchanged: routes,
// access, subscribe and resume, heartbeats, flow control, slow consumers, token expiry. Where
// those would touch a socket, they come here instead:
//   start_send      -> h2_stage: the send's bytes become the stream's pending DATA; the
//                      HTTP/1.1 head this shard wrote at their front goes out as HEADERS
//   shutdown_write  -> h2_end_stream: END_STREAM once the pending bytes are out
//   close           -> h2_finish_stream_close: RST_STREAM(CANCEL) unless the stream ended
// A stream's "send" completes when the connection's socket took every byte it staged, so its
// cursors, pins and stall clock move exactly as a socket's would. The connection is the one
// writer: each send gathers the frames of every ready stream (DATA slices point at the shared
// chunks, never copies).
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "core/shard.h"
#include "http/h2_frame.h"
#include "http/h2_head.h"

namespace ringcast {

namespace {
http::H2Settings settings_from(const Config& config) {
  http::H2Settings s;
  s.max_concurrent_streams = config.h2_max_streams;
  s.max_header_bytes = std::min<std::uint32_t>(std::max<std::uint32_t>(config.header_bytes_max, 1024), 64 * 1024);
  s.max_body_bytes = std::max(config.max_event_bytes, config.max_batch_bytes);
  RC_ASSERT(http::h2_settings_valid(s));  // the flag ranges keep every relation
  return s;
}
}  // namespace

void Shard::h2_init() { h2_settings_ = settings_from(config_); }

H2Conn& Shard::h2_parent(std::uint32_t stream_ci) {
  RC_ASSERT(is_h2_stream(stream_ci));
  H2Conn* h = h2_of(conns_[stream_ci].fd & ~kH2StreamFd);
  RC_ASSERT(h != nullptr);  // a connection frees its streams before itself
  return *h;
}

// The first bytes of a cleartext (or decrypted) connection: the HTTP/2 preface, or HTTP/1.1.
// Returns true if it took the bytes (HTTP/2, or too few to tell yet).
bool Shard::h2_detect(std::uint32_t ci, std::string_view bytes) {
  Conn& c = conns_[ci];
  std::string joined;
  std::string_view seen = bytes;
  if (c.in != nullptr) {
    joined = *c.in;
    joined += bytes;
    seen = joined;
  }
  switch (http::detect_preface(seen)) {
    case http::Preface::http1:
      // "PRI * HTTP/2.0" and then something else: an HTTP/2 client with a broken preface. The
      // session answers it GOAWAY(PROTOCOL_ERROR) rather than HTTP/1.1 a 400 it cannot read.
      if (seen.substr(0, 16) == http::kH2ClientPreface.substr(0, 16)) break;
      c.flags |= conn_flag::proto_known;
      return false;
    case http::Preface::need_more:
      if (c.in == nullptr) c.in = new std::string();
      c.in->append(bytes);
      arm_recv(ci);
      return true;
    case http::Preface::h2: break;
  }
  c.flags |= conn_flag::proto_known;
  c.state = ConnState::h2;
  h2_.emplace(ci, std::make_unique<H2Conn>(*this, ci, h2_settings_, h2_streams_));
  metrics_.h2_connections.add();
  h2_on_bytes(ci, seen);
  delete c.in;  // `seen` may point into it until here
  c.in = nullptr;
  return true;
}

// Counts and logs a session that failed (once): a protocol error or abuse we saw in feed(), or a
// connection error the session answered with GOAWAY while building output.
void Shard::h2_note_failure(std::uint32_t ci) {
  H2Conn& h = *h2_of(ci);
  const http::H2Feed failure = h.session.failure();
  if (failure == http::H2Feed::ok || h.failed) return;
  h.failed = true;
  metrics_.h2_protocol_errors.add();
  metrics_.h2_goaways.add();
  log_event(LogLevel::info, failure == http::H2Feed::abusive ? "h2_abuse" : "h2_protocol_error",
            "shard=%u streams=%zu", index_, h.streams.size());
}

void Shard::h2_on_bytes(std::uint32_t ci, std::string_view bytes) {
  H2Conn& h = *h2_of(ci);
  timer_touch(ci);
  h.session.feed(bytes, now_ms_);
  h2_note_failure(ci);
  Conn& c = conns_[ci];
  // A failed session reads nothing more: its GOAWAY goes out, then the connection closes.
  if (!h.failed && c.state == ConnState::h2 && !(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
  if (c.state == ConnState::h2) mark_ready(ci);  // SETTINGS and PING acks, answers
}

std::uint32_t Shard::new_gen() {
  static std::uint32_t gen_counter = 0;  // per thread would do; uniqueness is what matters
  return __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED);
}

void H2Conn::on_request(std::int32_t id, const http::H2Request& request) {
  shard_.h2_open_stream(conn_, id, request);
}

void Shard::h2_open_stream(std::uint32_t pi, std::int32_t id, const http::H2Request& request) {
  H2Conn& h = *h2_of(pi);
  const std::uint32_t ci = (draining_ || h.goaway_sent) ? nil : conns_.alloc();
  if (ci == nil) {  // shutting down, or the record table is full: safe for the client to retry
    h.session.reset(id, http::h2::kRefusedStream);
    metrics_.h2_refused_streams.add();
    return;
  }
  Conn& c = conns_[ci];
  c.fd = kH2StreamFd | pi;
  c.gen = new_gen();
  c.state = ConnState::reading;
  c.flags = conn_flag::keep_alive | conn_flag::proto_known;
  c.first_sub = c.ready_next = c.timer_prev = c.timer_next = nil;
  h.streams.add(id, ci);
  metrics_.h2_streams.add();
  timer_touch(ci);
  // The limits HTTP/1.1's parser applies to a request line apply to :path too.
  if (request.head.target.size() > config_.url_bytes_max)
    return respond_error(ci, 414, "request target too long");
  // The session bounds every body by the larger of the two limits; each route has its own.
  if (request.head.path != "/pub" && request.body.size() > config_.max_event_bytes)
    return respond_error(ci, 413, "body larger than --max-event-bytes");
  route(ci, request.head, request.body);
}

// start_send of a stream: what it would write goes to the session instead. The record keeps
// send_inflight until the connection's socket took all of it (h2_complete).
void Shard::h2_stage(std::uint32_t ci) {
  Conn& c = conns_[ci];
  H2Conn& h = h2_parent(ci);
  const std::uint32_t pi = c.fd & ~kH2StreamFd;
  const std::int32_t id = h.streams.id_of(ci);
  H2Stream& st = *h.streams.find(id);
  RC_ASSERT(!st.closed && st.pulled == st.sent && st.iov_at == st.iov_count);
  const bool last = c.state != ConnState::streaming;  // a whole answer: END_STREAM after it
  std::size_t total = 0;
  for (const iovec& v : iov_) total += v.iov_len;
  std::size_t skip = 0;
  bool ok = true;
  if (!st.headers_sent) {
    // Every first send of a stream starts with the head this shard wrote (a stream head in
    // `ctl`, an answer in `out`), whole in the first iovec.
    RC_ASSERT(!iov_.empty());
    http::H1Head head;
    std::string names;
    const bool parsed = http::parse_h1_head(
        {static_cast<const char*>(iov_[0].iov_base), iov_[0].iov_len}, head, names);
    RC_ASSERT(parsed);
    skip = head.head_bytes;
    st.headers_sent = true;
    const bool empty = last && total == skip;
    ok = h.session.submit_headers(id, head.status, head.content_type,
                                  {head.fields, head.field_count}, empty);
    if (empty) st.end_sent = true;
  }
  RC_ASSERT(total <= UINT32_MAX);  // one send is bounded far below (--send-bytes-max and co.)
  st.head = static_cast<std::uint32_t>(skip);
  std::size_t first = 0;  // the head's iovecs (wholly consumed) are not staged
  while (first < iov_.size() && skip >= iov_[first].iov_len) skip -= iov_[first++].iov_len;
  st.stage(iov_.data() + first, iov_.size() - first, skip);  // skip: the head's end in it
  st.staged = static_cast<std::uint32_t>(total - st.head);
  st.pulled = st.sent = 0;
  st.end_after = last;
  if (!ok) {
    // The session refused the answer (out of its memory bound): the stream cannot go on.
    h.session.reset(id, http::h2::kInternalError);
    st.closed = true;
    return begin_close(ci);
  }
  if (st.staged == 0) {
    // Nothing to frame (a head alone). A whole answer whose head went out earlier still owes
    // its END_STREAM: the next pull gives it.
    if (last && !st.end_sent) {
      st.end_pending = true;
      h.session.resume(id);
      mark_ready(pi);
    }
    return h2_complete(h, id);
  }
  h.session.resume(id);
  queue_ready(pi);  // behind the other streams of this pass: one send carries them all
}

// shutdown_write of a stream: END_STREAM after what is pending (drain, token expiry).
void Shard::h2_end_stream(std::uint32_t ci) {
  H2Conn& h = h2_parent(ci);
  H2Stream& st = h.streams.at_record(ci);
  st.end_pending = true;
  h.session.resume(st.id);
  mark_ready(conns_[ci].fd & ~kH2StreamFd);
}

std::size_t H2Conn::pull(std::int32_t id, std::size_t max_bytes, http::H2Slices& out,
                         bool& end_stream) {
  H2Stream* found = streams.find(id);
  if (found == nullptr) return 0;  // freed with a reset queued: the session drops it
  H2Stream& st = *found;
  std::size_t n = 0;
  const iovec* iov = st.iov();
  while (st.iov_at < st.iov_count && n < max_bytes) {
    const iovec& v = iov[st.iov_at];
    const std::size_t take = std::min(v.iov_len - st.iov_off, max_bytes - n);
    if (!out.add(static_cast<const char*>(v.iov_base) + st.iov_off, take)) break;
    n += take;
    st.iov_off += static_cast<std::uint32_t>(take);
    if (st.iov_off == v.iov_len) {
      ++st.iov_at;
      st.iov_off = 0;
    }
  }
  st.pulled += static_cast<std::uint32_t>(n);
  if (st.iov_at == st.iov_count && (st.end_after || st.end_pending) && !st.end_sent) {
    end_stream = true;
    st.end_sent = true;
  }
  return n;
}

void H2Conn::on_data_sent(std::int32_t id, std::size_t bytes) {
  H2Stream* found = streams.find(id);
  if (found == nullptr) return;
  H2Stream& st = *found;
  st.sent += static_cast<std::uint32_t>(bytes);
  RC_ASSERT(st.sent <= st.pulled);
  const bool closing = shard_.conns_[st.conn].state == ConnState::closing;
  if (st.sent == st.pulled && (st.pulled == st.staged || closing)) shard_.h2_complete(*this, id);
}

// The socket took everything the stream staged (or all of it that will ever go): the stream's
// send completes as a socket send would.
void Shard::h2_complete(H2Conn& h, std::int32_t id) {
  H2Stream& st = *h.streams.find(id);
  const std::uint32_t ci = st.conn;
  if (!(conns_[ci].flags & conn_flag::send_inflight)) return;
  const auto bytes = static_cast<std::int32_t>(st.head + st.sent);
  st.clear_staged();
  on_send(ci, bytes);  // may free the record (and `st`)
}

void H2Conn::on_window_open(std::int32_t) {
  shard_.mark_ready(conn_);  // the session sends the stream's DATA again by itself
}

void H2Conn::on_stream_close(std::int32_t id, std::uint32_t error_code) {
  H2Stream* found = streams.find(id);
  if (found == nullptr) return;  // a stream we reset and freed already
  H2Stream& st = *found;
  st.closed = true;
  const std::uint32_t ci = st.conn;
  // Before our END_STREAM, only the client's RST_STREAM closes a stream (whatever its code).
  if (!st.end_sent || error_code != http::h2::kNoError) shard_.metrics_.h2_resets_received.add();
  if (shard_.conns_[ci].state == ConnState::closing) return shard_.maybe_finish_close(ci);
  shard_.begin_close(ci);
}

// maybe_finish_close of a stream: once no byte it staged sits in the connection's output, the
// record is freed (no descriptor to close); a stream that has not ended is reset.
void Shard::h2_finish_stream_close(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (c.flags & conn_flag::on_ready_list) return;  // flush_ready comes back here
  const std::uint32_t pi = c.fd & ~kH2StreamFd;
  H2Conn& h = h2_parent(ci);
  const std::int32_t id = h.streams.id_of(ci);
  H2Stream& st = *h.streams.find(id);
  if (c.flags & conn_flag::send_inflight) {
    if (st.sent != st.pulled && !h.output_dropped) return;  // on_data_sent comes back here
    c.flags &= ~conn_flag::send_inflight;
    account_sent(ci, static_cast<std::uint32_t>(st.head + st.sent));
  }
  if (!st.closed && !st.end_sent && !h.closing) {
    h.session.reset(id, http::h2::kCancel);
    metrics_.h2_resets_sent.add();
  }
  delete c.in;
  give_back(c.out);
  give_back(c.out_next);
  c.in = c.out = c.out_next = nullptr;
  free_subs(ci);
  h.streams.erase(id);  // `st` is gone from here
  c.gen = 0;
  conns_.free(ci);
  metrics_.h2_streams.sub();
  if (conns_[pi].state == ConnState::closing) {
    if (!h.tearing_down) maybe_finish_close(pi);
  } else {
    mark_ready(pi);  // the reset, or the close of a connection that is going away
  }
}

// The connection's writer: one send of every frame the session has ready.
void Shard::h2_send(std::uint32_t ci) {
  Conn& c = conns_[ci];
  H2Conn& h = *h2_of(ci);
  const std::size_t bytes = h.session.build_output(iov_);
  h2_note_failure(ci);  // the session may have failed (flood bound) while building
  if (bytes == 0) {
    if (h.failed || h.session.finished() || (h.goaway_sent && h.streams.empty())) h2_linger(ci);
    return;
  }
  c.flags |= conn_flag::send_inflight;
  c.send_started_ms = now_ms_;
  timer_touch(ci);
  io_.send(token(ci), c.fd, iov_);
  metrics_.sends.add();
}

// The connection said its last (GOAWAY out, no stream left): a lingering close, as HTTP/1.1's
// (finish_response). Our side is shut and the client's last frames (WINDOW_UPDATE, SETTINGS or
// PING acknowledgements) are read and dropped until its EOF or kLingerMs, so they cannot turn
// into a reset that destroys the GOAWAY and the final DATA still in flight (RFC 9113 §6.8).
// A connection that still has streams (a failed one) closes them with it at once.
void Shard::h2_linger(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (!h2_of(ci)->streams.empty()) return begin_close(ci);
  c.state = ConnState::lingering;
  shutdown_write(ci);
  timer_touch(ci);
  if (!(c.flags & conn_flag::recv_inflight)) arm_recv(ci);
}

void Shard::h2_sent(std::uint32_t ci, std::int32_t res) {
  Conn& c = conns_[ci];
  RC_ASSERT(c.flags & conn_flag::send_inflight);
  H2Conn& h = *h2_of(ci);
  // Stream sends complete from in here (on_data_sent); their bytes count as they do. The
  // connection stays "sending" meanwhile, so a stream freed in there cannot finish the close
  // of a closing connection (and free the session) under output_sent's feet.
  h.session.output_sent(res > 0 ? std::size_t(res) : 0);
  c.flags &= ~conn_flag::send_inflight;
  h2_note_failure(ci);
  if (c.state == ConnState::closing) return maybe_finish_close(ci);
  if (res < 0) {
    if (res == -EINTR || res == -EAGAIN) return mark_ready(ci);
    log_event(LogLevel::debug, "send_error", "shard=%u error=%s", index_, quoted(std::strerror(-res)).c_str());
    return begin_close(ci);
  }
  mark_ready(ci);  // the rest of a partial send, and whatever the streams staged meanwhile
}

void Shard::h2_goaway(std::uint32_t ci) {
  H2Conn& h = *h2_of(ci);
  if (h.goaway_sent || h.failed) return;
  h.goaway_sent = true;
  h.session.goaway(-1, http::h2::kNoError);
  metrics_.h2_goaways.add();
  mark_ready(ci);
}

// begin_close of the connection: every stream ends with it.
void Shard::h2_close_streams(std::uint32_t ci) {
  H2Conn& h = *h2_of(ci);
  h.closing = true;
  const std::vector<std::uint32_t> records = h.streams.records();
  h.tearing_down = true;
  for (std::uint32_t s : records) {
    if (conns_[s].state == ConnState::closing) continue;  // finishes on its own
    begin_close(s);
  }
  h.tearing_down = false;
}

// maybe_finish_close of the connection, before its descriptor closes: the output will never
// be sent now, so every stream completes with what went and is freed. False: a stream still
// waits on the ready list (freed there, which calls back here).
bool Shard::h2_teardown(std::uint32_t ci) {
  H2Conn& h = *h2_of(ci);
  h.output_dropped = true;
  const std::vector<std::uint32_t> records = h.streams.records();
  h.tearing_down = true;
  for (std::uint32_t s : records) {
    if (conns_[s].state == ConnState::closing) maybe_finish_close(s);
    else begin_close(s);
  }
  h.tearing_down = false;
  if (!h.streams.empty()) return false;
  h2_.erase(ci);
  metrics_.h2_connections.sub();
  return true;
}

}  // namespace ringcast
