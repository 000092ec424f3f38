// The worker thread's loop: setup, passes, waiting, periodic bookkeeping.
#include "tools/load/worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "tools/load/clock.h"
#include "tools/load/user_data.h"

namespace ringcast::load {

namespace {
// A pass never sleeps longer than this, so phase changes are seen within it.
constexpr std::uint64_t kMaxSleepNs = 20 * kNsPerMs;
constexpr std::uint64_t kPeriodicNs = 50 * kNsPerMs;
}  // namespace

void WaitQueue::push(Waiting w) {
  // Each connection is queued at most once, so the capacity (every connection) is never
  // exceeded: overflowing is a bookkeeping bug, not a load condition.
  if (len_ == items_.size()) std::abort();
  items_[(head_ + len_) % items_.size()] = w;
  ++len_;
}

Publisher Worker::make_publisher(std::uint32_t index) const {
  Publisher pub;
  pub.index = index;
  for (std::uint32_t t = index; t < plan_.topic_names.size(); t += plan_.publishers) pub.topics.push_back(t);
  pub.seq = PublishSequence(std::uint32_t(pub.topics.size()), opt_.events, opt_.pipeline, opt_.batch);
  pub.issued.resize(opt_.batch);
  if (opt_.batch > 1) pub.acks.resize(opt_.batch);
  const std::size_t batch = std::size_t(opt_.pipeline) * request_max();
  pub.out.resize(batch);
  if (shared_.tls != nullptr) {
    // Ciphertext: each record (16 KiB of plaintext at most) adds a header, a tag and padding,
    // well under 256 bytes; the handshake's flights fit in the slack.
    pub.plain.resize(batch);
    pub.out.resize(batch + (batch / 16384 + 1) * 256 + TlsScratch::kBytes);
  }
  pub.reader = std::make_unique<ResponseReader>(response_bytes_max(opt_));
  return pub;
}

namespace {

// Receive buffers for a ring of `streams`: as given, or enough that every stream can hold one
// at once. A fan-out wakes every stream together; with fewer buffers than streams the kernel
// ends the rest's multishot receives with ENOBUFS and the worker re-arms them all, work that
// grows with N and lands on the cores the server under test shares (2.2 million ENOBUFS in one
// W2 at 100,000 streams with 1,024 per ring). Buffers are touched only when used.
std::uint32_t recv_buffers_for(std::uint32_t given, std::uint32_t streams) {
  if (given != 0) return given;
  std::uint32_t count = 1024;
  while (count < streams && count < 32768) count *= 2;
  return count;
}

}  // namespace

Worker::Worker(Shared& shared, std::uint32_t index)
    : shared_(shared), opt_(shared.opt), plan_(shared.plan), index_(index) {}

std::string Worker::init() {
  std::vector<const RingPlan*> mine;
  for (const RingPlan& rp : plan_.rings)
    if (rp.thread == index_) mine.push_back(&rp);
  if (shared_.tls != nullptr) tls_io_ = std::make_unique<TlsIo>();
  h2_io_.events = this;
  if (mine.size() > 1) {
    eventfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (eventfd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  }
  for (const RingPlan* rp : mine) {
    auto h = std::make_unique<RingHost>();
    h->plan = rp;
    RingSetup setup;
    setup.files = plan_.ring_files;
    // --h2: a connection's receives carry S streams' events in buffers 8 times the size.
    setup.recv_buffers = recv_buffers_for(opt_.recv_buffers, opt_.h2 ? plan_.h2_conns(*rp) * 4 : rp->streams);
    setup.recv_buffer_bytes = opt_.recv_buffer_bytes;
    setup.eventfd = eventfd_;
    if (std::string err = h->ring.init(setup); !err.empty()) return err;
    h->streams.resize(rp->streams);
    if (opt_.ids == IdMode::opaque) h->opaque_ids.resize(rp->streams);
    for (std::uint32_t i = 0; i < rp->streams; ++i)
      if (plan_.droppee(rp->first_stream + i)) h->streams[i].flags |= stream_flag::droppee;
    const std::uint32_t window = std::min<std::uint32_t>(opt_.connect_window, 0xfffe);
    // --h2: connections take no scratch (their sends' bytes are their own).
    h->scratch.resize(rp->streams == 0 || opt_.h2 ? 0 : std::min<std::uint32_t>(window, rp->streams));
    if (opt_.h2) {
      h->h2.resize(plan_.h2_conns(*rp));
      h->h2_delay.reserve(h->h2.size());
    }
    if (shared_.tls != nullptr) {
      h->tls_scratch.resize(h->scratch.size());
      h->tls.resize(rp->streams + rp->publishers.size());
    }
    for (std::size_t s = h->scratch.size(); s > 0; --s) h->free_scratch.push_back(std::uint16_t(s - 1));
    h->now_queue.reserve(rp->streams);
    h->delay_queue.reserve(rp->streams);
    if (opt_.mode == Mode::storm) h->drop_at.resize(rp->streams);
    for (std::uint32_t p : rp->publishers) h->publishers.push_back(make_publisher(p));
    stream_count_ += rp->streams;
    hosts_.push_back(std::move(h));
  }
  if (plan_.table_events > 0 && stream_count_ > 0)
    stats.fanout.resize(plan_.table_events * plan_.topic_names.size());
  // This worker's share of --churn is its share of the streams (droppees are spread evenly).
  if (opt_.churn_per_s > 0 && plan_.streams > 0)
    churn_per_ns_ = opt_.churn_per_s * double(stream_count_) / double(plan_.streams) / 1e9;
  if (opt_.ramp_per_s > 0) ramp_per_ring_ns_ = opt_.ramp_per_s / double(plan_.rings.size()) / 1e9;
  cqes_.reserve(65536);
  payload_.resize(payload_bytes_max(kTopicNameMax, opt_.event_bytes));
  return {};
}

void Worker::run() {
  const std::uint64_t t0 = mono_ns();
  // Far past anything the main thread waits for: a last guard that the thread always ends.
  deadline_ns_ = t0 + std::uint64_t((opt_.timeout_s * 2 + opt_.duration_s + opt_.settle_s +
                                     opt_.after_s + 60) * 1e9);
  if (std::string err = init(); !err.empty()) {
    if (shared_.start_error_count.fetch_add(1) == 0) shared_.start_error = err;
    progress.exited.store(true);
    return;
  }
  progress.ready.store(true);
  // Bounded: the main thread moves past setup once every worker is ready (or gives up).
  while (shared_.phase.load(std::memory_order_acquire) == Phase::setup && mono_ns() < deadline_ns_)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  started_ns_ = mono_ns();
  while (pass()) {
  }
  publish_progress();
  if (eventfd_ >= 0) close(eventfd_);
  progress.exited.store(true);
}

// One pass: start what is due, submit, reap every ring, handle what was reaped, then sleep if
// nothing happened. Completions are handled only after the CQ has been released.
bool Worker::pass() {
  const std::uint64_t now = mono_ns();
  const Phase phase = shared_.phase.load(std::memory_order_acquire);
  if (phase == Phase::stop || now > deadline_ns_) return false;
  // A thread without streams (the publisher thread) drops nothing, and starts no storm clock.
  if (phase >= Phase::drop && opt_.mode == Mode::storm && stream_count_ > 0) {
    if (opt_.churn_per_s > 0) churn_streams(now);
    else if (!dropped_) drop_streams(now);
  }
  for (auto& h : hosts_) {
    if (h->h2.empty()) start_streams(*h, now);
    else start_h2(*h, now);
    tick_publishers(*h, now, phase);
  }
  std::size_t handled = 0;
  for (auto& h : hosts_) {
    h->ring.submit();
    cqes_.clear();
    h->ring.reap(cqes_);
    handled += cqes_.size();
    for (const Cqe& c : cqes_) handle(*h, c);
  }
  if (now - last_periodic_ns_ >= kPeriodicNs) periodic(now, phase);
  if (handled > 0 && dropped_at_ns() != 0) stats.storm_pass.record(mono_ns() - now);
  if (handled == 0) wait(now, phase);
  return true;
}

void Worker::handle(RingHost& h, const Cqe& c) {
  const std::uint8_t what = op_of(c.user_data);
  const std::uint32_t slot = slot_of(c.user_data);
  // A cancel or close posts only when it failed. Cancel: -ENOENT/-EALREADY mean the receive
  // it aimed at has ended or is ending by itself, and that receive's own completion moves the
  // stream on. Close: -EBADF means the slot was already empty; nothing depends on it.
  if (what == op::cancel || what == op::close) return;
  if (slot < h.streams.size()) {
    if (!h.h2.empty()) return on_h2_cqe(h, slot, what, c);  // --h2: the slots are connections
    return on_stream_cqe(h, slot, what, c);
  }
  return on_publisher_cqe(h, std::uint32_t(slot - h.streams.size()), what, c);
}

std::uint64_t Worker::next_timer(std::uint64_t now, Phase phase) const {
  std::uint64_t due = now + kMaxSleepNs;
  for (const auto& h : hosts_) {
    const bool scratch = !h->free_scratch.empty();
    if (scratch && !h->now_queue.empty()) return now;
    if (!h->delay_queue.empty()) due = std::min(due, h->delay_queue.front().due_ns);
    if (!h->h2.empty()) {
      if (h->h2_connecting < opt_.connect_window) {
        if (!h->h2_delay.empty()) due = std::min(due, h->h2_delay.front().due_ns);
        if (h->h2_next_start < h->h2.size()) {
          if (ramp_per_ring_ns_ <= 0) return now;
          const std::uint64_t streams = std::uint64_t(h->h2_next_start) * plan_.streams_per_conn;
          due = std::min(due, started_ns_ + std::uint64_t(double(streams) / ramp_per_ring_ns_));
        }
      }
    }
    if (scratch && h->next_start < h->streams.size()) {
      if (ramp_per_ring_ns_ <= 0) return now;
      due = std::min(due, started_ns_ + std::uint64_t(double(h->next_start) / ramp_per_ring_ns_));
    }
    for (const Publisher& p : h->publishers) {
      if (p.state == PubState::waiting) due = std::min(due, p.hold_ns);
      // A publisher that could send now or later; otherwise an answer or a send completion,
      // which wakes the loop anyway, comes first.
      const bool publishing = phase >= Phase::publish && phase < Phase::drain;
      const bool may_send = publishing && p.state == PubState::up && !p.done && !p.sending &&
                            p.seq.requests_in_flight() < opt_.pipeline && !p.seq.stalled();
      if (may_send) due = std::min(due, publisher_due(p));
    }
  }
  return due;
}

void Worker::wait(std::uint64_t now, Phase phase) {
  const std::uint64_t due = next_timer(now, phase);
  if (due <= now) return;
  const std::uint64_t ns = due - now;
  if (eventfd_ < 0) {
    hosts_[0]->ring.submit_and_wait(ns);
    return;
  }
  for (auto& h : hosts_) h->ring.submit();
  pollfd pfd{eventfd_, POLLIN, 0};
  timespec ts{time_t(ns / kNsPerS), long(ns % kNsPerS)};
  // EINTR (a signal) just ends the sleep early.
  if (ppoll(&pfd, 1, &ts, nullptr) > 0) {
    std::uint64_t count;
    // Resets the counter. It can only fail with EAGAIN (already zero), which is as good.
    (void)!read(eventfd_, &count, sizeof count);
  }
}

void Worker::periodic(std::uint64_t now, Phase phase) {
  last_periodic_ns_ = now;
  scan_complete(phase);
  publish_progress();
}

// Streams that have every event published: once publishing has drained, acked[] holds each
// topic's final k. O(streams) every 50 ms.
void Worker::scan_complete(Phase phase) {
  if (phase < Phase::drain || !shared_.acked_final.load(std::memory_order_acquire)) return;
  std::uint64_t complete = 0;
  for (const auto& h : hosts_) {
    for (std::uint32_t i = 0; i < h->streams.size(); ++i) {
      const std::uint32_t topic = plan_.topic_of_stream(h->plan->first_stream + i);
      if (h->streams[i].track.last_k >= shared_.acked[topic].load(std::memory_order_acquire)) ++complete;
    }
  }
  progress.complete.store(complete, std::memory_order_relaxed);
}

void Worker::publish_progress() {
  const auto relaxed = std::memory_order_relaxed;
  std::uint64_t established = 0, with_id = 0, up = 0, done = 0;
  for (const auto& h : hosts_) {
    for (std::uint32_t i = 0; i < h->streams.size(); ++i) {
      const Stream& s = h->streams[i];
      established += s.state == StreamState::streaming;
      with_id += (s.flags & stream_flag::droppee) && has_last_id(*h, i);
    }
    for (const Publisher& p : h->publishers) {
      up += p.state == PubState::up;
      done += p.done;
    }
  }
  progress.established.store(established, relaxed);
  progress.droppees_with_id.store(with_id, relaxed);
  progress.publishers_up.store(up, relaxed);
  progress.publishers_done.store(done, relaxed);
  progress.events.store(stats.events_received, relaxed);
  progress.lost.store(stats.tally.lost, relaxed);
  progress.duplicates.store(stats.tally.duplicates, relaxed);
  progress.reordered.store(stats.tally.reordered, relaxed);
  progress.failed.store(stats.streams_failed, relaxed);
  progress.resumed.store(stats.resumed, relaxed);
  progress.dropped.store(stats.dropped, relaxed);
  progress.drop_handled.store(stats.dropped + stats.drop_skipped, relaxed);
  progress.published.store(stats.published, relaxed);
  progress.tls_handshakes.store(stats.tls_handshakes, relaxed);
  progress.tls_resumed.store(stats.tls_resumed, relaxed);
  progress.tls_failures.store(stats.tls_failures, relaxed);
  if (opt_.h2) {
    stats.h2_goaways = h2_io_.goaways;
    progress.h2_conns_up.store(h2_conns_up(), relaxed);
  }
}

std::uint64_t Worker::id_mismatches() const {
  const std::uint64_t per_topic = plan_.table_events;
  if (per_topic == 0 || opt_.ids == IdMode::opaque) return 0;  // opaque ids are never compared
  std::uint64_t mismatches = 0;
  for (const auto& h : hosts_) {
    for (std::uint32_t i = 0; i < h->streams.size(); ++i) {
      const TopicTrack& t = h->streams[i].track;
      if (t.last_k == 0 || t.last_k > per_topic || t.last_id.none()) continue;
      const std::uint32_t topic = plan_.topic_of_stream(h->plan->first_stream + i);
      const EventId acked = shared_.ack_ids[topic * per_topic + t.last_k - 1];
      if (!acked.none() && acked != t.last_id) ++mismatches;
    }
  }
  return mismatches;
}

void Worker::count_error(int code) {
  // code < 0: -errno; 0: end of stream; > 0: an HTTP status.
  if (code <= 0 && std::size_t(-code) < stats.errno_counts.size()) ++stats.errno_counts[std::size_t(-code)];
  else if (code > 0 && std::size_t(code) < stats.status_counts.size()) ++stats.status_counts[std::size_t(code)];
}

}  // namespace ringcast::load
