#include "bench/floor/send_ring.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "net/uring_setup.h"

namespace ringcast::floorbench {

namespace {

constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
// Every send is MSG_DONTWAIT, so each completes during io_uring_submit (done, or -EAGAIN):
// the wait below never really waits. The timeout only keeps the loop bounded if that changes.
constexpr long kBatchWaitSeconds = 10;

}  // namespace

SendRing::~SendRing() {
  if (ready_) io_uring_queue_exit(&ring_);
}

std::string SendRing::init(std::uint32_t batch, std::uint32_t table_slots) {
  RC_ASSERT(!ready_ && batch > 0 && table_slots > 0);
  batch_ = batch;
  // The flags ringcast's shards prefer, falling back like they do on older kernels. Without
  // EXT_ARG, liburing would put the wait's timeout in an SQE of its own, and a CQE that is not
  // a send would break the one-CQE-per-send accounting below.
  net::UringSetup setup;
  setup.sq_entries = batch;
  setup.task_work = net::TaskWork::deferred;
  setup.sparse_files = table_slots;  // EMFILE: a table larger than RLIMIT_NOFILE
  setup.required_features = IORING_FEAT_EXT_ARG;
  setup.required_why = "IORING_FEAT_EXT_ARG (Linux 5.11+)";
  net::UringMade made;
  if (std::string err = net::uring_setup(ring_, setup, made); !err.empty()) return err;
  ready_ = true;
  setup_flags_ = made.flags;
  sq_entries_ = made.sq_entries;
  features_ = made.features;
  table_slots_ = table_slots;
  return {};
}

std::string SendRing::install(std::uint32_t slot, int fd) {
  RC_ASSERT(ready_ && slot < table_slots_);
  const int rc = io_uring_register_files_update(&ring_, slot, &fd, 1);
  if (rc == 1) return {};
  // Every errno is a failure of the run here (EBADF: not an open fd; ENOMEM): say which.
  return std::string("io_uring_register_files_update: ") +
         (rc < 0 ? std::strerror(-rc) : "no slot updated");
}

std::string SendRing::describe() const {
  std::string text = "sq=" + std::to_string(sq_entries_) + " batch=" + std::to_string(batch_);
  const std::string modes = net::task_work_text(setup_flags_);
  return modes.empty() ? text : text + " " + modes;
}

void SendRing::reap(SendCounts* counts, Shortfall* shortfall, std::size_t event_bytes,
                    std::uint32_t* completed) {
  io_uring_cqe* cqe = nullptr;
  unsigned head = 0;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    count_result(counts, shortfall, std::uint32_t(cqe->user_data), cqe->res, event_bytes);
    ++seen;
  }
  io_uring_cq_advance(&ring_, seen);
  *completed += seen;
}

std::string SendRing::send(const int* fds, std::uint32_t count, std::uint32_t first_stream,
                           const char* event, std::size_t event_bytes, SendCounts* counts,
                           Shortfall* shortfall) {
  RC_ASSERT(ready_);
  RC_ASSERT(fds != nullptr || count <= table_slots_);
  const bool fixed_files = fds == nullptr;
  const std::uint32_t per_submit = std::min(batch_, sq_entries_);
  std::uint32_t prepared = 0;
  std::uint32_t completed = 0;
  while (completed < count) {  // bounded: each pass submits at least one SQE or returns
    std::uint32_t batch = 0;
    for (; prepared < count && batch < per_submit; ++prepared, ++batch) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      RC_ASSERT(sqe != nullptr);  // the SQ holds per_submit entries and is empty at this point
      io_uring_prep_send(sqe, fixed_files ? int(prepared) : fds[prepared], event, event_bytes,
                         kSendFlags);
      if (fixed_files) sqe->flags |= IOSQE_FIXED_FILE;
      sqe->user_data = first_stream + prepared;
    }
    RC_ASSERT(batch > 0);  // completed < count and all earlier batches are reaped
    int rc = io_uring_submit(&ring_);
    if (rc != int(batch)) {
      return std::string("io_uring_submit: ") + (rc < 0 ? std::strerror(-rc) : "submitted fewer");
    }
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec timeout{kBatchWaitSeconds, 0};
    rc = io_uring_wait_cqes(&ring_, &cqe, batch, &timeout, nullptr);
    if (rc != 0) return std::string("io_uring_wait_cqes: ") + std::strerror(-rc);
    const std::uint32_t before = completed;
    reap(counts, shortfall, event_bytes, &completed);
    RC_ASSERT(completed - before == batch);  // one CQE per send, none from elsewhere
  }
  return {};
}

}  // namespace ringcast::floorbench
