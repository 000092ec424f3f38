#include "net/uring_io.h"
#include "net/uring_setup.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "net/uring_waker.h"

namespace ringcast::net {

namespace {

// user_data: the operation in the top byte, the shard's 56-bit token below. The primary's poll
// on another ring never reaches the shard; an accept's token is the descriptor it fills.
constexpr int kOpShift = 56;
constexpr std::uint64_t kTokenMask = (std::uint64_t{1} << kOpShift) - 1;
constexpr std::uint8_t kRingPoll = 0xf0;
constexpr std::uint8_t kSendZc = 0xf1;
// From Linux 6.2's uapi (Debian 12's liburing 2.3 headers predate them): ask the kernel to say,
// in the notification, whether it copied the data after all.
#ifndef IORING_SEND_ZC_REPORT_USAGE
constexpr unsigned IORING_SEND_ZC_REPORT_USAGE = 1u << 3;
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
constexpr unsigned IORING_NOTIF_USAGE_ZC_COPIED = 1u << 31;
#endif  // a zero-copy send: two completions (result, then notif)
constexpr std::uint64_t kNoConnection = 0xffffffffu;  // a token naming no connection

std::uint64_t user_data(std::uint8_t op, std::uint64_t token) {
  RC_ASSERT((token & ~kTokenMask) == 0);
  return (std::uint64_t(op) << kOpShift) | token;
}
std::uint64_t user_data(Op op, std::uint64_t token) { return user_data(std::uint8_t(op), token); }

constexpr int kRingShift = 24;
constexpr std::uint32_t kSlotMask = (1u << kRingShift) - 1;
std::uint32_t ring_of(std::uint32_t fd) { return fd >> kRingShift; }
std::uint32_t slot_of(std::uint32_t fd) { return fd & kSlotMask; }

constexpr std::uint32_t kAcceptsInFlight = 16;  // absorbs a burst between two loop passes
constexpr std::size_t kMsgScratch = 4096;
constexpr std::size_t kIovScratch = 65536;
constexpr std::uint16_t kBufferGroup = 0;

}  // namespace

std::uint64_t doorbell_user_data() { return user_data(Op::doorbell, 0); }

UringIo::UringIo() = default;
UringIo::~UringIo() = default;

std::string UringIo::init(const UringOptions& options) {
  options_ = options;
  RC_ASSERT(options.max_rings >= 1 && options.max_rings < 256);
  RC_ASSERT(options.submit_batch >= 1);
  RC_ASSERT(options.ring.files <= kSlotMask);
  msg_scratch_.resize(kMsgScratch);
  iov_scratch_.resize(kIovScratch);
  completions_.reserve(options.ring.cq_entries);
  std::string err = add_ring();
  if (err.empty() && options_.send_zc_min_bytes != 0) {
    io_uring_probe* probe = io_uring_get_probe_ring(rings_.front()->ring());
    const bool zc = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC) &&
                    io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
    if (probe != nullptr) io_uring_free_probe(probe);
    if (!zc) {
      // SEND_ZC/SENDMSG_ZC need Linux 6.1: sends copy instead.
      log_event(LogLevel::warn, "send_zc_unsupported", "%s", "");
      options_.send_zc_min_bytes = 0;
    }
  }
  return err;
}

std::string UringIo::add_ring() {
  RingOptions ring_options = options_.ring;
  ring_options.primary = rings_.empty();
  if (!ring_options.primary) {
    // Secondary rings hold streams, which seldom receive: fewer buffers keep memory per
    // stream low, and their completion queues see less traffic.
    ring_options.recv_buffers = std::max<std::uint32_t>(16, ring_options.recv_buffers / 8);
    // Room for an event on every descriptor at once (say, every peer closing), so the kernel's
    // overflow list stays the exception.
    ring_options.cq_entries = std::min(ring_options.cq_entries,
                                       std::max<std::uint32_t>(4096, ring_options.files));
    ring_options.sq_entries = std::max<std::uint32_t>(256, ring_options.sq_entries / 4);
  }
  auto ring = std::make_unique<UringRing>();
  if (std::string err = ring->init(ring_options); !err.empty()) return err;
  rings_.push_back(std::move(ring));
  const std::uint32_t index = std::uint32_t(rings_.size() - 1);
  if (index > 0) {
    // The primary wakes whenever this ring has completions to reap.
    io_uring_sqe* sqe = get_sqe(0);
    io_uring_prep_poll_multishot(sqe, rings_[index]->fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, user_data(kRingPoll, index));
    log_event(LogLevel::info, "ring_added", "ring=%u descriptors=%u", index, options_.ring.files);
  }
  return {};
}

IoStats UringIo::stats() const {
  IoStats st;
  st.rings = std::uint32_t(rings_.size());
  std::uint32_t used = 0;
  for (const auto& r : rings_) used += r->files() - r->free_slots();
  st.descriptors = used - accepts_inflight_;  // slots reserved by armed accepts hold no socket yet
  st.zc_sends = zc_.sends;
  st.zc_copied = zc_.copied;
  st.cq_overflows = cq_overflows_;
  return st;
}

std::string UringIo::describe() const {
  std::string text = task_work_text(rings_.front()->setup_flags());
  text += (text.empty() ? "" : " ") + std::string("files=") + std::to_string(options_.ring.files) + " rings<=" +
          std::to_string(options_.max_rings);
  return text;
}

io_uring_sqe* UringIo::get_sqe(std::uint32_t ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(rings_[ring]->ring());
  if (sqe == nullptr) {
    // That submission queue is full: hand every ring's entries to the kernel now (the iovec
    // scratch is shared, so all rings submit before it is reused).
    submit_all();
    sqe = io_uring_get_sqe(rings_[ring]->ring());
  }
  RC_ASSERT(sqe != nullptr);
  return sqe;
}

void UringIo::submit_all() {
  for (auto& r : rings_) {
    if (io_uring_sq_ready(r->ring()) == 0) continue;
    int rc = io_uring_submit(r->ring());
    // -EBUSY/-EAGAIN: the CQ is over-committed; the entries stay queued for the next submit.
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
      log_event(LogLevel::error, "submit_failed", "error=%s", quoted(std::strerror(-rc)).c_str());
  }
  msg_used_ = 0;
  iov_used_ = 0;
  sends_queued_ = 0;
}

void UringIo::accept() {
  want_accept_ = true;
  accept_failed_ = false;
  arm_accepts();
}

// Keeps kAcceptsInFlight accepts armed, each into a free slot of the lowest ring that has one,
// adding a ring when all are full (up to max_rings). With no slot anywhere, accepting pauses
// until a close frees one; connections wait in the listen backlog meanwhile.
void UringIo::arm_accepts() {
  while (want_accept_ && !accept_failed_ && accepts_inflight_ < kAcceptsInFlight) {
    std::uint32_t ring = 0, slot = 0;
    while (ring < rings_.size() && !rings_[ring]->take_slot(slot)) ++ring;
    if (ring == rings_.size()) {
      if (rings_.size() == options_.max_rings) return;
      if (std::string err = add_ring(); !err.empty()) {
        log_event(LogLevel::error, "ring_add_failed", "error=%s", quoted(err).c_str());
        return;
      }
      continue;
    }
    io_uring_sqe* sqe = get_sqe(ring);
    io_uring_prep_accept_direct(sqe, options_.listen_fd, nullptr, nullptr, 0, slot);
    io_uring_sqe_set_data64(sqe, user_data(Op::accept, (ring << kRingShift) | slot));
    ++accepts_inflight_;
  }
}

void UringIo::stop_accepting() {
  want_accept_ = false;
  // Cancel every accept in flight on the listener (a regular descriptor), on every ring.
  for (std::uint32_t k = 0; k < rings_.size() && accepts_inflight_ > 0; ++k) {
    io_uring_sqe* sqe = get_sqe(k);
    io_uring_prep_cancel_fd(sqe, options_.listen_fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, user_data(Op::cancel, kNoConnection));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  }
  // Accepts in flight keep their own reference to the socket until they are cancelled.
  if (options_.listen_fd >= 0) ::close(options_.listen_fd);
  options_.listen_fd = -1;
}

void UringIo::recv(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe(ring_of(fd));
  io_uring_prep_recv(sqe, int(slot_of(fd)), nullptr, rings_[ring_of(fd)]->buffer_bytes(), 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, user_data(Op::recv, token));
}

void UringIo::release_buffer(std::uint32_t buffer) {
  rings_[buffer >> 16]->release_buffer(std::uint16_t(buffer & 0xffff));
}

void UringIo::send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) {
  RC_ASSERT(!iov.empty() && iov.size() <= kIovScratch);
  if (msg_used_ == kMsgScratch || iov_used_ + iov.size() > kIovScratch) submit_all();
  io_uring_sqe* sqe = get_sqe(ring_of(fd));  // may submit, which resets the scratch: take slots after
  const int slot = int(slot_of(fd));
  bool zc = false;
  if (options_.send_zc_min_bytes != 0) {
    std::size_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    zc = total >= options_.send_zc_min_bytes;
  }
  if (iov.size() == 1) {
    if (zc) io_uring_prep_send_zc(sqe, slot, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL,
                                  IORING_SEND_ZC_REPORT_USAGE);
    else io_uring_prep_send(sqe, slot, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  } else {
    iovec* copy = &iov_scratch_[iov_used_];
    std::memcpy(copy, iov.data(), iov.size() * sizeof(iovec));
    iov_used_ += iov.size();
    msghdr* msg = &msg_scratch_[msg_used_++];
    *msg = msghdr{};
    msg->msg_iov = copy;
    msg->msg_iovlen = iov.size();
    if (zc) {
      io_uring_prep_sendmsg_zc(sqe, slot, msg, MSG_NOSIGNAL);
      sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
    } else {
      io_uring_prep_sendmsg(sqe, slot, msg, MSG_NOSIGNAL);
    }
  }
  sqe->flags |= IOSQE_FIXED_FILE;
  if (zc) ++zc_.sends;
  io_uring_sqe_set_data64(sqe, user_data(zc ? kSendZc : std::uint8_t(Op::send), token));
  if (++sends_queued_ >= options_.submit_batch) submit_all();
}

void UringIo::shutdown_write(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe(ring_of(fd));
  io_uring_prep_shutdown(sqe, int(slot_of(fd)), SHUT_WR);
  sqe->flags |= IOSQE_FIXED_FILE;  // its completion tells the shard the slot may be closed
  io_uring_sqe_set_data64(sqe, user_data(Op::shutdown, token));
}

void UringIo::cancel(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe(ring_of(fd));
  io_uring_prep_cancel_fd(sqe, int(slot_of(fd)),
                          IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
  // No CQE_SKIP_SUCCESS: the shard closes the slot only after this has completed.
  io_uring_sqe_set_data64(sqe, user_data(Op::cancel, token));
}

void UringIo::close(std::uint64_t token, std::uint32_t fd) {
  UringRing& r = *rings_[ring_of(fd)];
  io_uring_sqe* sqe = get_sqe(ring_of(fd));
  io_uring_prep_close_direct(sqe, slot_of(fd));
  io_uring_sqe_set_data64(sqe, user_data(Op::close, token));
  // The slot is free once the close has run, which is before any later SQE of this ring.
  r.give_slot(slot_of(fd));
  arm_accepts();  // a full shard resumes accepting once slots free up
}

class UringIo::PeerWaker final : public Waker {
 public:
  PeerWaker(UringIo& io, std::uint32_t targets) : Waker(targets), io_(io) {}
  void flush() override {
    bool rang = false;
    for (std::uint32_t t = 0; t < due_.size(); ++t) {
      if (!due_[t]) continue;
      due_[t] = 0;
      io_.ring_peer(t);
      rang = true;
    }
    // Now, not at the next wait: the shard may be about to queue thousands of sends, and the
    // peers should start their own share of a fan-out while they run.
    if (rang) io_.submit_all();
  }

 private:
  UringIo& io_;
};

void UringIo::set_peers(std::vector<int> ring_fds) {
  RC_ASSERT(waker_ == nullptr);  // once, before the shard runs
  peers_ = std::move(ring_fds);
  waker_ = std::make_unique<PeerWaker>(*this, std::uint32_t(peers_.size()));
}

Waker& UringIo::waker() {
  RC_ASSERT(waker_ != nullptr);
  return *waker_;
}

std::unique_ptr<Waker> UringIo::foreign_waker(std::vector<int> ring_fds, std::string& error) {
  auto waker = std::make_unique<UringForeignWaker>(std::move(ring_fds));
  error = waker->init();
  if (!error.empty()) return nullptr;
  return waker;
}

void UringIo::ring_peer(std::uint32_t target) {
  RC_ASSERT(target < peers_.size() && peers_[target] >= 0);
  io_uring_sqe* sqe = get_sqe(0);
  io_uring_prep_msg_ring(sqe, peers_[target], 0, user_data(Op::doorbell, 0), 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // only a failed delivery posts a CQE here
  io_uring_sqe_set_data64(sqe, user_data(Op::notify_failed, target));
}

std::span<const Completion> UringIo::wait(int timeout_ms) {
  completions_.clear();
  for (std::size_t k = 1; k < rings_.size(); ++k) {
    if (io_uring_sq_ready(rings_[k]->ring()) == 0) continue;
    int rc = io_uring_submit(rings_[k]->ring());
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
      log_event(LogLevel::error, "submit_failed", "error=%s", quoted(std::strerror(-rc)).c_str());
  }
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (timeout_ms % 1000) * 1000000LL;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(rings_[0]->ring(), &cqe, 1, &ts, nullptr);
  // -ETIME: the timeout passed with nothing to reap; -EINTR: a signal; both are normal.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    log_event(LogLevel::error, "wait_failed", "error=%s", quoted(std::strerror(-rc)).c_str());
  msg_used_ = 0;
  iov_used_ = 0;
  sends_queued_ = 0;
  for (std::uint32_t k = 0; k < rings_.size(); ++k) {
    if (io_uring_cq_has_overflow(rings_[k]->ring())) ++cq_overflows_;
    reap(k);
    // More completions than the CQ holds wait in the kernel's overflow list (IORING_FEAT_NODROP),
    // and only an enter with GETEVENTS on that ring moves them into the CQ: the primary's wait
    // does so, the other rings need it asked (a mass EOF on 20,000 streams overflows them).
    for (int round = 0; round < 64 && io_uring_cq_has_overflow(rings_[k]->ring()); ++round) {
      io_uring_get_events(rings_[k]->ring());
      reap(k);
    }
  }
  return completions_;
}

// An accept finished into the slot its token names. Returns whether the shard should see it.
bool UringIo::on_accept(Completion& c) {
  RC_ASSERT(accepts_inflight_ > 0);
  --accepts_inflight_;
  const auto fd = static_cast<std::uint32_t>(c.token);
  c.token = 0;
  if (c.res >= 0) {  // a direct accept into a chosen slot answers 0
    c.res = std::int32_t(fd);
    c.more = true;
    arm_accepts();
    return true;
  }
  rings_[ring_of(fd)]->give_slot(slot_of(fd));
  switch (-c.res) {
    case ECANCELED:  // stop_accepting(): the shard hears of it once, when the last one ends
      c.more = false;
      return accepts_inflight_ == 0;
    case EINVAL:     // this kernel cannot accept into direct descriptors
    case EBADF:
      accept_failed_ = true;
      c.more = false;
      return accepts_inflight_ == 0;
    default:
      // ECONNABORTED (the client gave up in the backlog), EMFILE/ENFILE/ENOMEM (a system
      // limit, momentarily): the accept is simply armed again.
      log_event(LogLevel::debug, "accept_error", "error=%s", quoted(std::strerror(-c.res)).c_str());
      arm_accepts();
      return false;
  }
}

void UringIo::reap(std::uint32_t ring) {
  UringRing& r = *rings_[ring];
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(r.ring(), head, cqe) {
    ++seen;
    const auto op = static_cast<std::uint8_t>(cqe->user_data >> kOpShift);
    const std::uint64_t token = cqe->user_data & kTokenMask;
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (op == kSendZc) {
      // First the result (with F_MORE when a notification follows), then the notification
      // once the kernel no longer reads the pages: only then may the shard unpin them.
      if (cqe->flags & IORING_CQE_F_NOTIF) {
        if (std::uint32_t(cqe->res) & IORING_NOTIF_USAGE_ZC_COPIED) ++zc_.copied;
        auto it = zc_pending_.find(token);
        RC_ASSERT(it != zc_pending_.end());
        Completion c;
        c.op = Op::send;
        c.token = token;
        c.res = it->second;
        zc_pending_.erase(it);
        completions_.push_back(c);
      } else if (more) {
        RC_ASSERT(zc_pending_.emplace(token, cqe->res).second);  // one send per connection
      } else {
        Completion c;  // failed before any page was pinned: no notification comes
        c.op = Op::send;
        c.token = token;
        c.res = cqe->res;
        completions_.push_back(c);
      }
      continue;
    }
    if (op == kRingPoll) {
      if (!more) {  // the multishot poll ended (e.g. CQ pressure): arm it again
        io_uring_sqe* sqe = get_sqe(0);
        io_uring_prep_poll_multishot(sqe, rings_[token]->fd(), POLLIN);
        io_uring_sqe_set_data64(sqe, user_data(kRingPoll, token));
      }
      continue;
    }
    Completion c;
    c.op = static_cast<Op>(op);
    c.token = token;
    c.res = cqe->res;
    c.more = more;
    if (c.op == Op::accept) {
      if (!on_accept(c)) continue;
      completions_.push_back(c);
      continue;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      const auto id = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      c.buffer = (ring << 16) | id;
      c.data = r.buffer(id);
    }
    completions_.push_back(c);
  }
  io_uring_cq_advance(r.ring(), seen);
}

}  // namespace ringcast::net
