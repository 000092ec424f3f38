// Shard loop, connection lifecycle, timers and cross-shard messages.
#include "core/shard.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/response.h"

namespace ringcast {

namespace {
constexpr std::uint32_t kTickMs = 250;    // timer resolution; also how soon a stop is noticed
constexpr std::uint32_t kLingerMs = 2000; // how long an error response waits for the peer's EOF
constexpr std::uint32_t kStallLogMs = 500;  // a loop pass this long is logged as a stall
}  // namespace

Shard::Shard(std::uint32_t index, Cluster& cluster, net::Io& io)
    : index_(index),
      cluster_(cluster),
      config_(*cluster.config),
      io_(io),
      metrics_(*cluster.metrics[index]),
      conns_(io.descriptor_capacity()),
      subs_(io.descriptor_capacity() * cluster.config->max_topics_per_stream),
      h2_streams_(io.descriptor_capacity()),
      start_ms_(io.monotonic_ms()),
      rng_(static_cast<std::uint32_t>(cluster.boot_unix_ms * 2654435761u + index)) {
  for (const auto& m : cluster.metrics) all_metrics_.push_back(m.get());
  parse_limits_.header_bytes_max = config_.header_bytes_max;
  parse_limits_.url_bytes_max = config_.url_bytes_max;
  // Streams get one of a few precomputed heads whose "retry:" values spread over the jitter
  // window, so a mass reconnect spreads out without a per-stream buffer. With --cors-origin
  // each allowed origin has its own set, so a cross-origin stream's head is static bytes too.
  const std::size_t cors_slots = cluster.access != nullptr ? cluster.access->cors.slots() : 1;
  for (std::size_t slot = 0; slot < cors_slots; ++slot) {
    std::string_view cors;
    if (slot > 0) cors = cluster.access->cors.headers(http::CorsPolicy::Slot(slot));
    for (std::uint32_t i = 0; i < kPreludeVariants; ++i) {
      std::uint64_t retry = config_.retry_ms +
                            std::uint64_t(config_.retry_jitter_ms) * i / (kPreludeVariants - 1);
      std::string prelude(http::stream_head(cors));
      prelude += "retry: " + std::to_string(retry) + "\n\n";
      RC_ASSERT(prelude.size() < 0xffff);
      stream_preludes_.push_back(std::move(prelude));
      if (slot == 0) drain_notices_.push_back("retry: " + std::to_string(retry) + "\n\n");
    }
  }
  iov_.reserve(1024);
  h2_init();
  stats_topic_ = topic_index("_stats", true);
}

EventId next_event_id(Cluster& cluster, std::uint64_t now) {
  constexpr int kShift = 20;
  constexpr std::uint64_t kCounterMask = (std::uint64_t{1} << kShift) - 1;
  std::uint64_t last = cluster.id_clock.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    const std::uint64_t last_ms = last >> kShift;
    if (now > last_ms) next = now << kShift;
    else if ((last & kCounterMask) < kCounterMask) next = last + 1;
    else next = (last_ms + 1) << kShift;  // a million ids in one ms: borrow the next ms
  } while (!cluster.id_clock.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return EventId{next >> kShift, next & kCounterMask};
}

std::uint32_t Shard::owner_of(std::string_view topic, std::uint32_t shards) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (unsigned char ch : topic) hash = (hash ^ ch) * 16777619u;
  return hash % shards;
}

std::uint64_t Shard::token(std::uint32_t ci) const { return conns_.token(ci); }
std::uint32_t Shard::conn_of(std::uint64_t token) const { return conns_.conn_of(token); }

void Shard::start() {
  io_.accept();
  accepting_ = true;
}

void Shard::run() {
  start();
  while (run_once(int(kTickMs))) {
  }
  // Hand back what we still hold so chunks shared with other shards are released.
  drain_mailbox();
}

bool Shard::run_once(int timeout_ms) {
  // Sends still queued from the last pass: look for completions, but do not sleep.
  // Publishes held for a shard's mailbox backlog (shard_flow.cc) are looked at again each 1 ms.
  const int wait_ms = conns_.any_ready() ? 0 : held_topics_.empty() ? timeout_ms : std::min(timeout_ms, 1);
  std::span<const net::Completion> completions = io_.wait(wait_ms);
  now_ms_ = static_cast<std::uint32_t>(io_.monotonic_ms() - start_ms_);
  for (const net::Completion& c : completions) dispatch(c);
  drain_mailbox();
  if (cluster_.stop.load(std::memory_order_relaxed) && !draining_) begin_drain();
  if (std::int32_t(now_ms_ - next_tick_ms_) >= 0) {
    next_tick_ms_ = now_ms_ + kTickMs;
    tick();
  }
  if (!recv_retry_.empty()) {
    std::vector<std::uint32_t> retry;
    retry.swap(recv_retry_);
    for (std::uint32_t ci : retry) {
      if (conns_[ci].state != ConnState::closing) arm_recv(ci);
    }
  }
  // Other shards first: a chunk posted this pass reaches them before this shard spends the
  // pass (tens of milliseconds for thousands of streams) submitting its own sends, so every
  // shard's fan-out of one event runs at the same time rather than one after the other.
  if (!held_topics_.empty()) release_held();  // publishes waiting for their topic's streams
  ring_doorbells();
  flush_ready();
  ring_doorbells();  // anything flush_ready posted (a poll answer, a drain step)
  // A pass that ran this long delayed every stream of the shard (and its heartbeats).
  const std::uint32_t pass_ms =
      elapsed(static_cast<std::uint32_t>(io_.monotonic_ms() - start_ms_), now_ms_);
  if (pass_ms >= kStallLogMs) {
    metrics_.shard_stalls.add();
    log_event(LogLevel::warn, "shard_stall", "shard=%u pass_ms=%u completions=%zu", index_,
              pass_ms, completions.size());
  }
  return !(draining_ && conns_.live() == 0);
}

void Shard::dispatch(const net::Completion& c) {
  switch (c.op) {
    case net::Op::accept: on_accept(c); return;
    case net::Op::recv: on_recv(c); return;
    case net::Op::send: {
      std::uint32_t ci = conn_of(c.token);
      RC_ASSERT(ci != nil);  // a send always completes before its record is freed
      on_send(ci, c.res);
      return;
    }
    case net::Op::close: {
      std::uint32_t ci = conn_of(c.token);
      if (ci != nil) on_close_done(ci);  // nil: a descriptor refused at accept
      return;
    }
    case net::Op::doorbell: return;  // the mailbox is drained every pass
    case net::Op::notify_failed:
      // The target's completion queue was full (-EOVERFLOW) or busy: ring again next pass.
      io_.waker().due(static_cast<std::uint32_t>(c.token));
      return;
    case net::Op::shutdown:  // -ENOTCONN after a reset is expected; EOF shows up on recv
      return on_fd_op_done(c.token, conn_flag2::shutdown_inflight);
    case net::Op::cancel:    // -ENOENT/-EALREADY: the operation had already finished
      if (static_cast<std::uint32_t>(c.token) == nil) return;  // stop_accepting()'s cancel
      return on_fd_op_done(c.token, conn_flag2::cancel_inflight);
  }
  RC_ASSERT(false);
}

void Shard::on_accept(const net::Completion& c) {
  if (!c.more) {
    // The multishot accept ended (an error, a cancel, or the kernel dropping it under CQ
    // pressure). Re-arm from the tick unless we are stopping.
    accepting_ = false;
    accept_rearm_due_ = !draining_;
  }
  if (c.res < 0) {
    switch (-c.res) {
      case ECANCELED: return;  // stop_accepting()
      case ENFILE:  // the fixed-file table is full: connections arrive faster than they close
      case EMFILE:
        log_event(LogLevel::warn, "accept_paused", "shard=%u reason=descriptor_table_full", index_);
        return;
      case EINVAL:
        log_event(LogLevel::error, "accept_unsupported",
                  "shard=%u msg=\"accept into direct descriptors needs Linux 5.19+\"", index_);
        cluster_.stop.store(true);
        return;
      default:
        log_event(LogLevel::warn, "accept_error", "shard=%u error=%s", index_,
                  quoted(std::strerror(-c.res)).c_str());
        return;
    }
  }
  const std::uint32_t fd = static_cast<std::uint32_t>(c.res);
  std::uint32_t ci = draining_ ? nil : conns_.alloc();
  if (ci == nil) {
    io_.close(nil, fd);  // token nil: its completion is ignored
    return;
  }
  Conn& conn = conns_[ci];
  conn.fd = fd;
  RC_ASSERT(!is_h2_stream(ci));  // descriptor indices stay far below kH2StreamFd
  conn.gen = new_gen();
  conn.state = ConnState::reading;
  conn.flags = conn_flag::keep_alive;
  conn.risk_since = 0;
  conn.first_sub = conn.ready_next = conn.timer_prev = conn.timer_next = nil;
  metrics_.accepted.add();
  metrics_.connections.add();
  timer_touch(ci);
  arm_recv(ci);
}

void Shard::arm_recv(std::uint32_t ci) {
  if (is_h2_stream(ci)) return;  // its connection reads for it
  Conn& c = conns_[ci];
  RC_ASSERT(!(c.flags & conn_flag::recv_inflight));
  c.flags |= conn_flag::recv_inflight;
  io_.recv(token(ci), c.fd);
}

void Shard::on_recv(const net::Completion& c) {
  std::uint32_t ci = conn_of(c.token);
  RC_ASSERT(ci != nil);  // a receive always completes before its record is freed
  Conn& conn = conns_[ci];
  conn.flags &= ~conn_flag::recv_inflight;
  std::string_view bytes = c.data != nullptr && c.res > 0
                               ? std::string_view(c.data, std::size_t(c.res))
                               : std::string_view();
  if (conn.state == ConnState::closing) {
    // fall through to release and finish below
  } else if (c.res == -ENOBUFS) {
    // Every provided buffer is in use; buffers return within this pass, so retry after it.
    metrics_.recv_nobufs.add();
    recv_retry_.push_back(ci);
  } else if (c.res == -EINTR || c.res == -EAGAIN) {
    arm_recv(ci);
  } else if (c.res <= 0) {
    // 0: orderly EOF (the client went away or half-closed). Negative: ECONNRESET, ETIMEDOUT,
    // ECANCELED and friends; all mean this connection is finished.
    begin_close(ci);
  } else if (conn.state == ConnState::h2) {
    h2_on_bytes(ci, bytes);
  } else if (conn.state == ConnState::reading) {
    if (!config_.h2 || (conn.flags & conn_flag::proto_known) || !h2_detect(ci, bytes))
      on_request_bytes(ci, bytes);
  } else if (conn.state == ConnState::polling || conn.state == ConnState::responding) {
    stash_input(ci, bytes);  // the next request, pipelined behind a poll: kept for later
  } else {
    // Streams and lingering connections never expect input: discard it and keep listening
    // for EOF, which is how a departed subscriber is noticed without sending to it.
    arm_recv(ci);
  }
  if (c.data != nullptr) io_.release_buffer(c.buffer);
  if (conns_[ci].state == ConnState::closing) maybe_finish_close(ci);
}

void Shard::begin_close(std::uint32_t ci) {
  Conn& c = conns_[ci];
  if (c.state == ConnState::closing) return;
  if (c.flags & conn_flag::counted_stream) {
    c.flags &= ~conn_flag::counted_stream;
    cluster_.streams_open.fetch_sub(1, std::memory_order_relaxed);
    metrics_.streams.sub();
  }
  unsubscribe_all(ci);
  timer_remove(ci);
  c.state = ConnState::closing;
  if (h2_of(ci) != nullptr) h2_close_streams(ci);
  if (is_h2_stream(ci)) return maybe_finish_close(ci);  // no descriptor of its own
  if (c.flags & (conn_flag::recv_inflight | conn_flag::send_inflight)) {
    c.more_flags |= conn_flag2::cancel_inflight;
    io_.cancel(token(ci), c.fd);
  }
  maybe_finish_close(ci);
}

void Shard::shutdown_write(std::uint32_t ci) {
  if (is_h2_stream(ci)) return h2_end_stream(ci);
  Conn& c = conns_[ci];
  RC_ASSERT(!(c.more_flags & conn_flag2::shutdown_inflight));
  c.more_flags |= conn_flag2::shutdown_inflight;
  io_.shutdown_write(token(ci), c.fd);
}

void Shard::on_fd_op_done(std::uint64_t tok, std::uint8_t flag) {
  const std::uint32_t ci = conn_of(tok);
  RC_ASSERT(ci != nil);  // the record is not freed while the operation is in flight
  Conn& c = conns_[ci];
  RC_ASSERT(c.more_flags & flag);
  c.more_flags &= ~flag;
  if (c.state == ConnState::closing) maybe_finish_close(ci);
}

void Shard::maybe_finish_close(std::uint32_t ci) {
  Conn& c = conns_[ci];
  RC_ASSERT(c.state == ConnState::closing);
  if (is_h2_stream(ci)) return h2_finish_stream_close(ci);
  // Still on the ready list (a fan-out spanning passes): flush_ready comes back here.
  if (c.flags & (conn_flag::recv_inflight | conn_flag::send_inflight | conn_flag::close_sent |
                 conn_flag::on_ready_list))
    return;
  if (c.more_flags & conn_flag2::fd_ops) return;
  if (h2_of(ci) != nullptr && !h2_teardown(ci)) return;
  delete c.in;
  give_back(c.out);
  give_back(c.out_next);
  c.in = c.out = c.out_next = nullptr;
  free_subs(ci);
  c.flags |= conn_flag::close_sent;
  io_.close(token(ci), c.fd);
}

void Shard::on_close_done(std::uint32_t ci) {
  Conn& c = conns_[ci];
  RC_ASSERT(c.state == ConnState::closing && (c.flags & conn_flag::close_sent));
  RC_ASSERT(!(c.flags & conn_flag::on_ready_list));
  c.gen = 0;
  conns_.free(ci);
  metrics_.connections.sub();
}

void Shard::timer_touch(std::uint32_t ci) { conns_.touch(ci, now_ms_); }
void Shard::timer_remove(std::uint32_t ci) { conns_.untouch(ci); }

void Shard::post(std::uint32_t target, Message* message) {
  if (target == kBridgeShard) {
    RC_ASSERT(cluster_.redis != nullptr);
    cluster_.redis->mailbox().push(message);
    bridge_due_ = true;
    return;
  }
  RC_ASSERT(target != index_);
  cluster_.mailboxes[target]->push(message);
  io_.waker().due(target);
}

void Shard::ring_doorbells() {
  if (bridge_due_) {
    bridge_due_ = false;
    cluster_.redis->wake();  // one eventfd write per pass, however many messages
  }
  io_.waker().flush();  // one doorbell per shard posted to, however many messages
}

void Shard::drain_mailbox() {
  Mailbox& box = *cluster_.mailboxes[index_];
  while (Message* m = box.pop()) {
    switch (m->kind) {
      case MessageKind::chunk:  // built into the chunk (chunk_message): goes with it
        box.chunks_pending.fetch_sub(1, std::memory_order_relaxed);
        deliver(static_cast<ChunkMessage*>(m)->chunk);
        continue;
      // Both take the message over (a publish travels there and back as one message).
      case MessageKind::publish: on_publish_message(static_cast<PublishMessage*>(m)); continue;
      case MessageKind::publish_ack: on_publish_ack(static_cast<PublishMessage*>(m)); continue;
      case MessageKind::drop: on_drop_message(static_cast<DropMessage*>(m)); break;
      case MessageKind::drop_ack: on_drop_ack(static_cast<DropAckMessage*>(m)); break;
      case MessageKind::redis_entry: on_redis_entry(static_cast<RedisEntryMessage*>(m)); break;
      case MessageKind::stream_open_ack:
        on_stream_open_ack(static_cast<StreamOpenAckMessage*>(m));
        break;
      case MessageKind::topic_info: on_topic_info(static_cast<TopicInfoMessage*>(m)); break;
      case MessageKind::topic_info_ack: on_topic_info_ack(static_cast<TopicInfoAckMessage*>(m)); break;
      case MessageKind::occupancy_counts:
        on_occupancy_counts(static_cast<OccupancyCountsMessage*>(m));
        break;
      case MessageKind::cluster_counts: on_cluster_counts(static_cast<ClusterCountsMessage*>(m)); break;
      case MessageKind::flow: on_flow_message(static_cast<FlowMessage*>(m)); break;
      case MessageKind::stream_open:  // shard -> bridge only
      case MessageKind::unwatch:
      case MessageKind::stub: RC_ASSERT(false);
    }
    delete m;
  }
}

void Shard::tick() {
  if (accept_rearm_due_ && !draining_) {
    accept_rearm_due_ = false;
    accepting_ = true;
    io_.accept();
  }
  if (draining_ && std::int32_t(now_ms_ - drain_deadline_ms_) >= 0) {
    while (conns_.oldest() != nil) begin_close(conns_.oldest());
  }
  end_expired_streams();  // before heartbeats: a ping queued now would make the stream busy
  const std::uint32_t soonest = std::min({config_.heartbeat_ms, config_.request_timeout_ms,
                                          config_.stall_timeout_ms, config_.poll_timeout_ms,
                                          kLingerMs});
  std::uint32_t ci = conns_.oldest();
  while (ci != nil) {
    Conn& c = conns_[ci];
    const std::uint32_t next = c.timer_next;
    const std::uint32_t age = elapsed(now_ms_, c.activity_ms);
    if (age < soonest) break;  // the list is oldest-first
    const bool sending = c.flags & conn_flag::send_inflight;
    if (sending && elapsed(now_ms_, c.send_started_ms) >= config_.stall_timeout_ms) {
      metrics_.drops_stalled.add();
      ++stall_drops_unlogged_;
      const bool streams = h2_of(ci) != nullptr;
      begin_close(ci);
      if (streams) {
        // Its streams were closed (and some freed) with it; `next` may have been one of them.
        // Start over: what was looked at already is either gone or acts the same again.
        ci = conns_.oldest();
        continue;
      }
    } else if (c.state == ConnState::reading || c.state == ConnState::publishing ||
               c.state == ConnState::opening) {
      // An opening stream waits for the Redis bridge, whose every command is bounded by a
      // timeout well below this; a stream still opening now has lost its answer.
      if (age >= config_.request_timeout_ms) begin_close(ci);
    } else if (c.state == ConnState::lingering) {
      if (age >= kLingerMs) begin_close(ci);
    } else if (c.state == ConnState::h2) {
      // An HTTP/2 connection with no stream is sent away like an idle keep-alive one.
      if (age >= config_.request_timeout_ms && h2_of(ci)->streams.empty()) {
        h2_goaway(ci);
        timer_touch(ci);
      }
    } else if (c.state == ConnState::polling) {
      if (age >= config_.poll_timeout_ms) answer_poll(ci);  // no event came: answer empty
    } else if (c.state == ConnState::streaming && !sending && !has_pending(ci) &&
               age >= config_.heartbeat_ms) {
      static constexpr char kPing[] = ": ping\n\n";
      c.ctl = kPing;
      c.ctl_len = sizeof kPing - 1;
      metrics_.heartbeats.add();
      mark_ready(ci);
      timer_touch(ci);
    }
    ci = next;
  }
  report_occupancy();  // before the sweep: a topic whose last subscriber left reports its 0
  publish_occupancy();
  sweep_topics();
  flow_tick();
  log_drops();
  refresh_gauges();
  metrics_.stats_streams.set(topics_[stats_topic_].subscribers);
  publish_stats();
}

// One line per tick for the streams dropped in it, so a mass drop cannot flood the log.
void Shard::log_drops() {
  if (slow_drops_unlogged_ > 0) {
    log_event(LogLevel::warn, "slow_consumer_drops", "shard=%u streams=%u policy=disconnect",
              index_, slow_drops_unlogged_);
    slow_drops_unlogged_ = 0;
  }
  if (stall_drops_unlogged_ > 0) {
    log_event(LogLevel::warn, "stalled_drops", "shard=%u streams=%u stall_timeout_ms=%u", index_,
              stall_drops_unlogged_, config_.stall_timeout_ms);
    stall_drops_unlogged_ = 0;
  }
}

void Shard::refresh_gauges() {
  metrics_.topics.set(live_topics());
  metrics_.conn_record_bytes.set(conns_.reserved_bytes() + subs_.reserved_bytes() +
                                 h2_streams_.reserved_bytes());
  const net::IoStats io = io_.stats();
  metrics_.rings.set(io.rings);
  metrics_.descriptors.set(io.descriptors);
  metrics_.descriptor_capacity.set(io_.descriptor_capacity());
  metrics_.zc_sends.set(io.zc_sends);
  metrics_.zc_copied.set(io.zc_copied);
  metrics_.cq_overflows.set(io.cq_overflows);
  if (const net::TlsStats* tls = io.tls) {
    metrics_.tls_sessions.set(tls->sessions);
    metrics_.tls_handshakes.set(tls->handshakes);
    metrics_.tls_resumed.set(tls->resumed);
    metrics_.tls_failures.set(tls->failures);
    metrics_.tls_plain_http.set(tls->plain_http);
    metrics_.tls_offloaded.set(tls->offloaded);
  }
}

void Shard::begin_drain() {
  log_event(LogLevel::debug, "shard_draining", "shard=%u connections=%u", index_, conns_.live());
  draining_ = true;
  drain_deadline_ms_ = now_ms_ + config_.drain_ms;
  if (accepting_) io_.stop_accepting();
  accepting_ = false;
  accept_rearm_due_ = false;
  // Idle keep-alive connections close now; streams finish what they are sending, then get
  // their write side shut (the client sees EOF and reconnects elsewhere); responses finish.
  for (std::uint32_t ci = conns_.oldest(); ci != nil;) {
    Conn& c = conns_[ci];
    const std::uint32_t next = c.timer_next;
    c.flags &= ~conn_flag::keep_alive;
    if (c.state == ConnState::reading && !is_h2_stream(ci)) {
      begin_close(ci);
    } else if (c.state == ConnState::h2) {
      h2_goaway(ci);  // its streams end below; the connection closes once they have
    } else if (c.state == ConnState::streaming || c.state == ConnState::polling) {
      mark_ready(ci);  // flush_ready shuts a stream's write side once nothing is pending;
                       // a held poll is answered (Connection: close)
    }
    ci = next;
  }
}

}  // namespace ringcast
