#include "net/uring_waker.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"
#include "net/uring_io.h"
#include "net/uring_setup.h"

namespace ringcast::net {

UringForeignWaker::UringForeignWaker(std::vector<int> ring_fds)
    : Waker(std::uint32_t(ring_fds.size())), ring_fds_(std::move(ring_fds)) {}

UringForeignWaker::~UringForeignWaker() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

std::string UringForeignWaker::init() {
  RC_ASSERT(!ring_ready_);
  // Entries for every shard's doorbell in one submit. No SINGLE_ISSUER: created here, used here.
  UringSetup setup;
  setup.sq_entries = std::max<unsigned>(8, unsigned(ring_fds_.size()) * 2);
  setup.submit_all = false;
  setup.task_work = TaskWork::plain;
  UringMade made;
  if (std::string err = uring_setup(ring_, setup, made); !err.empty()) return "doorbell " + err;
  ring_ready_ = true;
  return {};
}

void UringForeignWaker::flush() {
  RC_ASSERT(ring_ready_);
  unsigned queued = 0;
  for (std::uint32_t t = 0; t < due_.size(); ++t) {
    if (!due_[t]) continue;
    due_[t] = 0;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    RC_ASSERT(sqe != nullptr);  // sized for every shard, and drained below every time
    io_uring_prep_msg_ring(sqe, ring_fds_[t], 0, doorbell_user_data(), 0);
    io_uring_sqe_set_data64(sqe, t);
    ++queued;
  }
  if (queued == 0) return;
  // -EINTR: a signal during the wait; the submit itself happened, and the results are reaped
  // below or at the next flush. Anything else is unexpected for a ring this thread owns.
  int rc = io_uring_submit_and_wait(&ring_, queued);
  if (rc < 0 && rc != -EINTR) log_event(LogLevel::warn, "doorbell_failed", "op=submit error=%s", quoted(std::strerror(-rc)).c_str());
  io_uring_cqe* cqe;
  // Reap every result. A failed delivery (-EOVERFLOW: the shard's CQ is full) is retried on
  // the next flush (see Waker::flush).
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    if (cqe->res < 0) {
      const auto target = static_cast<std::uint32_t>(io_uring_cqe_get_data64(cqe));
      if (target < due_.size()) due_[target] = 1;
    }
    io_uring_cqe_seen(&ring_, cqe);
  }
}

}  // namespace ringcast::net
