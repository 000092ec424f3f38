#include "bench/floor/senders.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/assert.h"

namespace ringcast::floorbench {

namespace {

constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
// Every send is MSG_DONTWAIT, so each completes during io_uring_submit (done, or -EAGAIN):
// the wait below never really waits. The timeout only keeps the loop bounded if that changes.
constexpr long kBatchWaitSeconds = 10;

std::uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

// One place decides what a send's result means, for both methods.
inline void count_result(SendCounts* counts, long result, std::size_t event_bytes) {
  if (result == long(event_bytes)) {
    ++counts->full;
    counts->bytes += std::uint64_t(result);
  } else if (result > 0) {
    ++counts->short_writes;  // the socket had room for part of the event only
    counts->bytes += std::uint64_t(result);
  } else if (result == -EAGAIN || result == -EWOULDBLOCK) {
    ++counts->eagain;        // the socket buffer is full; a server would queue and wait
  } else {
    ++counts->errors;        // EPIPE/ECONNRESET would mean a client vanished: not expected here
    if (counts->first_errno == 0) counts->first_errno = int(result == 0 ? EIO : -result);
  }
}

}  // namespace

const char* method_name(Method method) {
  switch (method) {
    case Method::kSend: return "send";
    case Method::kUring: return "uring";
    case Method::kUringFixed: return "uring_fixed";
  }
  return "?";
}

const char* method_label(Method method) {
  switch (method) {
    case Method::kSend: return "send() loop";
    case Method::kUring: return "io_uring";
    case Method::kUringFixed: return "io_uring fixed";
  }
  return "?";
}

std::uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
std::uint64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

RoundResult send_loop(const std::vector<int>& fds, const char* event, std::size_t event_bytes) {
  RoundResult result;
  const std::uint64_t cpu_start = thread_cpu_ns();
  const std::uint64_t start = monotonic_ns();
  for (int fd : fds) {
    ssize_t n = send(fd, event, event_bytes, kSendFlags);
    count_result(&result.counts, n >= 0 ? long(n) : -long(errno), event_bytes);
  }
  result.wall_ns = monotonic_ns() - start;
  result.cpu_ns = thread_cpu_ns() - cpu_start;
  return result;
}

UringSender::~UringSender() {
  if (ready_) io_uring_queue_exit(&ring_);
}

std::string UringSender::init(std::uint32_t batch, const std::vector<int>& fds) {
  RC_ASSERT(!ready_ && batch > 0);
  batch_ = batch;
  // The flags ringcast's shards prefer, falling back like they do on older kernels.
  const unsigned candidates[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                 IORING_SETUP_COOP_TASKRUN, 0};
  int rc = -EINVAL;
  for (unsigned flags : candidates) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_SUBMIT_ALL;
    rc = io_uring_queue_init_params(batch, &ring_, &params);
    if (rc == 0) {
      setup_flags_ = params.flags;
      sq_entries_ = params.sq_entries;
      features_ = params.features;
      break;
    }
    if (rc != -EINVAL) break;  // EINVAL: a flag this kernel does not know; try fewer
  }
  if (rc != 0) return std::string("io_uring_queue_init_params: ") + std::strerror(-rc);
  ready_ = true;
  // Without EXT_ARG, liburing would put the wait's timeout in an SQE of its own, and a CQE
  // that is not a send would break the one-CQE-per-send accounting below.
  if ((features_ & IORING_FEAT_EXT_ARG) == 0) return "io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11+)";
  rc = io_uring_register_files(&ring_, fds.data(), unsigned(fds.size()));
  if (rc != 0) return std::string("io_uring_register_files: ") + std::strerror(-rc);
  return {};
}

std::string UringSender::describe() const {
  std::string text = "sq=" + std::to_string(sq_entries_) + " batch=" + std::to_string(batch_);
  if (setup_flags_ & IORING_SETUP_SINGLE_ISSUER) text += " SINGLE_ISSUER";
  if (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) text += " DEFER_TASKRUN";
  if (setup_flags_ & IORING_SETUP_COOP_TASKRUN) text += " COOP_TASKRUN";
  return text;
}

void UringSender::reap(SendCounts* counts, std::size_t event_bytes, std::uint32_t* completed) {
  io_uring_cqe* cqe = nullptr;
  unsigned head = 0;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    count_result(counts, cqe->res, event_bytes);
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  *completed += seen;
}

RoundResult UringSender::run(const std::vector<int>& fds, const char* event,
                             std::size_t event_bytes, bool fixed_files, std::string* error) {
  RC_ASSERT(ready_);
  RoundResult result;
  const std::uint32_t n = std::uint32_t(fds.size());
  const std::uint32_t per_submit = std::min(batch_, sq_entries_);
  const std::uint64_t cpu_start = thread_cpu_ns();
  const std::uint64_t start = monotonic_ns();
  std::uint32_t prepared = 0;
  std::uint32_t completed = 0;
  while (completed < n) {  // bounded: each pass submits at least one SQE or returns
    std::uint32_t batch = 0;
    for (; prepared < n && batch < per_submit; ++prepared, ++batch) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      RC_ASSERT(sqe != nullptr);  // the SQ holds per_submit entries and is empty at this point
      io_uring_prep_send(sqe, fixed_files ? int(prepared) : fds[prepared], event, event_bytes,
                         kSendFlags);
      if (fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
      sqe->user_data = prepared;
    }
    RC_ASSERT(batch > 0);  // completed < n and all earlier batches are reaped
    int rc = io_uring_submit(&ring_);
    if (rc != int(batch)) {
      *error = std::string("io_uring_submit: ") + (rc < 0 ? std::strerror(-rc) : "submitted fewer");
      return result;
    }
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec timeout{kBatchWaitSeconds, 0};
    rc = io_uring_wait_cqes(&ring_, &cqe, batch, &timeout, nullptr);
    if (rc != 0) {
      *error = std::string("io_uring_wait_cqes: ") + std::strerror(-rc);
      return result;
    }
    const std::uint32_t before = completed;
    reap(&result.counts, event_bytes, &completed);
    RC_ASSERT(completed - before == batch);  // one CQE per send, none from elsewhere
  }
  result.wall_ns = monotonic_ns() - start;
  result.cpu_ns = thread_cpu_ns() - cpu_start;
  return result;
}

}  // namespace ringcast::floorbench
