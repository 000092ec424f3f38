#include "net/uring_io.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/assert.h"
#include "core/log.h"

namespace ringcast::net {

namespace {

// user_data layout: op in the top byte, the shard's 56-bit token below.
constexpr int kOpShift = 56;
constexpr std::uint64_t kTokenMask = (std::uint64_t{1} << kOpShift) - 1;

std::uint64_t user_data(Op op, std::uint64_t token) {
  RC_ASSERT((token & ~kTokenMask) == 0);
  return (std::uint64_t(op) << kOpShift) | token;
}

constexpr std::size_t kMsgScratch = 4096;
constexpr std::size_t kIovScratch = 65536;
constexpr std::uint16_t kBufferGroup = 0;
constexpr std::uint64_t kNoConnection = 0xffffffffu;  // a token naming no connection

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

UringIo::~UringIo() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  std::free(buffers_);
}

std::string UringIo::init(const UringOptions& options) {
  options_ = options;
  // Prefer the flags that make a thread-per-core ring cheapest; fall back on older kernels.
  const unsigned candidates[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : candidates) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = options.cq_entries;
    rc = io_uring_queue_init_params(options.sq_entries, &ring_, &params);
    if (rc == 0) {
      setup_flags_ = params.flags;
      if ((params.features & IORING_FEAT_SUBMIT_STABLE) == 0)
        return "io_uring lacks IORING_FEAT_SUBMIT_STABLE (kernel older than 5.5)";
      break;
    }
    if (rc != -EINVAL) break;  // EINVAL: a flag this kernel does not know; try fewer
  }
  if (rc != 0) return errno_text("io_uring_queue_init_params", -rc);
  ring_ready_ = true;
  rc = io_uring_register_files_sparse(&ring_, options.files);
  if (rc != 0) return errno_text("io_uring_register_files_sparse", -rc);
  if (std::string err = setup_buffer_ring(); !err.empty()) return err;
  msg_scratch_.resize(kMsgScratch);
  iov_scratch_.resize(kIovScratch);
  completions_.reserve(options.cq_entries);
  return {};
}

std::string UringIo::setup_buffer_ring() {
  const std::uint32_t count = options_.recv_buffers;
  RC_ASSERT((count & (count - 1)) == 0);
  buf_ring_bytes_ = count * sizeof(io_uring_buf);
  void* ring_mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring_mem == MAP_FAILED) return errno_text("mmap buffer ring", errno);
  buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
  reg.ring_entries = count;
  reg.bgid = kBufferGroup;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc != 0) return errno_text("io_uring_register_buf_ring (needs Linux 5.19)", -rc);
  // Buffer memory is only touched (and so only resident) once the kernel receives into it.
  buffers_ = static_cast<char*>(std::aligned_alloc(4096, std::size_t(count) * options_.recv_buffer_bytes));
  if (buffers_ == nullptr) return "out of memory for receive buffers";
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(i) * options_.recv_buffer_bytes,
                          options_.recv_buffer_bytes, static_cast<unsigned short>(i), mask, int(i));
  }
  io_uring_buf_ring_advance(buf_ring_, int(count));
  return {};
}

std::string UringIo::describe() const {
  std::string text;
  if (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) text += "SINGLE_ISSUER ";
  if (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) text += "DEFER_TASKRUN ";
  if (setup_flags_ & IORING_SETUP_COOP_TASKRUN) text += "COOP_TASKRUN ";
  text += "files=" + std::to_string(options_.files);
  return text;
}

io_uring_sqe* UringIo::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel now and take a fresh entry.
    submit();
    sqe = io_uring_get_sqe(&ring_);
  }
  RC_ASSERT(sqe != nullptr);
  return sqe;
}

void UringIo::submit() {
  int rc = io_uring_submit(&ring_);
  // -EBUSY/-EAGAIN: the CQ is over-committed; completions will be reaped on the next wait,
  // the unsubmitted entries stay queued and go with the next submit.
  if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR)
    log(LogLevel::error, "io_uring_submit: %s", std::strerror(-rc));
  msg_used_ = 0;
  iov_used_ = 0;
}

void UringIo::accept() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept_direct(sqe, options_.listen_fd, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(sqe, user_data(Op::accept, 0));
}

void UringIo::stop_accepting() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, user_data(Op::accept, 0), 0);
  io_uring_sqe_set_data64(sqe, user_data(Op::cancel, kNoConnection));
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  // The armed accept keeps its own reference to the socket until the cancel completes.
  if (options_.listen_fd >= 0) ::close(options_.listen_fd);
  options_.listen_fd = -1;
}

void UringIo::recv(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv(sqe, int(fd), nullptr, options_.recv_buffer_bytes, 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, user_data(Op::recv, token));
}

void UringIo::release_buffer(std::uint16_t buffer) {
  RC_ASSERT(buffer < options_.recv_buffers);
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(buffer) * options_.recv_buffer_bytes,
                        options_.recv_buffer_bytes, buffer,
                        io_uring_buf_ring_mask(options_.recv_buffers), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

void UringIo::send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) {
  RC_ASSERT(!iov.empty() && iov.size() <= kIovScratch);
  if (msg_used_ == kMsgScratch || iov_used_ + iov.size() > kIovScratch) submit();
  io_uring_sqe* sqe = get_sqe();  // may submit, which resets the scratch: take slots after
  if (iov.size() == 1) {
    io_uring_prep_send(sqe, int(fd), iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  } else {
    iovec* copy = &iov_scratch_[iov_used_];
    std::memcpy(copy, iov.data(), iov.size() * sizeof(iovec));
    iov_used_ += iov.size();
    msghdr* msg = &msg_scratch_[msg_used_++];
    *msg = msghdr{};
    msg->msg_iov = copy;
    msg->msg_iovlen = iov.size();
    io_uring_prep_sendmsg(sqe, int(fd), msg, MSG_NOSIGNAL);
  }
  sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64(sqe, user_data(Op::send, token));
}

void UringIo::shutdown_write(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_shutdown(sqe, int(fd), SHUT_WR);
  sqe->flags |= IOSQE_FIXED_FILE;  // its completion tells the shard the slot may be closed
  io_uring_sqe_set_data64(sqe, user_data(Op::shutdown, token));
}

void UringIo::cancel(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, int(fd), IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
  // No CQE_SKIP_SUCCESS: the shard closes the slot only after this has completed.
  io_uring_sqe_set_data64(sqe, user_data(Op::cancel, token));
}

void UringIo::close(std::uint64_t token, std::uint32_t fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_close_direct(sqe, fd);
  io_uring_sqe_set_data64(sqe, user_data(Op::close, token));
}

void UringIo::notify(std::uint32_t target) {
  RC_ASSERT(target < peers_.size() && peers_[target] >= 0);
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_msg_ring(sqe, peers_[target], 0, user_data(Op::doorbell, 0), 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // only a failed delivery posts a CQE here
  io_uring_sqe_set_data64(sqe, user_data(Op::notify_failed, target));
}

std::span<const Completion> UringIo::wait(int timeout_ms) {
  completions_.clear();
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (timeout_ms % 1000) * 1000000LL;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  // -ETIME: the timeout passed with nothing to reap; -EINTR: a signal; both are normal.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    log(LogLevel::error, "io_uring_submit_and_wait_timeout: %s", std::strerror(-rc));
  msg_used_ = 0;
  iov_used_ = 0;
  reap();
  return completions_;
}

void UringIo::reap() {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    Completion c;
    c.op = static_cast<Op>(cqe->user_data >> kOpShift);
    c.token = cqe->user_data & kTokenMask;
    c.res = cqe->res;
    c.more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      c.buffer = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      c.data = buffers_ + std::size_t(c.buffer) * options_.recv_buffer_bytes;
    }
    completions_.push_back(c);
  }
  io_uring_cq_advance(&ring_, seen);
}

}  // namespace ringcast::net
