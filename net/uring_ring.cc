#include "net/uring_ring.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"
#include "net/uring_setup.h"

namespace ringcast::net {

namespace {

constexpr std::uint16_t kBufferGroup = 0;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

UringRing::~UringRing() {
  if (ready_) io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  std::free(buffers_);
}

std::string UringRing::init(const RingOptions& options) {
  options_ = options;
  // The primary ring (the one the thread blocks on) defers its task work to that wait: the
  // cheapest mode for a thread-per-core loop. Secondary rings keep ordinary task work, which
  // interrupts the thread's wait on the primary, posts their completions, and so wakes the
  // primary's poll on their fd.
  UringSetup setup;
  setup.sq_entries = options.sq_entries;
  setup.cq_entries = std::max(options.cq_entries, options.sq_entries);  // the kernel's rule
  setup.task_work = options.primary ? TaskWork::deferred : TaskWork::posted;
  setup.sparse_files = options.files;
  setup.required_features = IORING_FEAT_SUBMIT_STABLE;
  setup.required_why = "IORING_FEAT_SUBMIT_STABLE (kernel older than 5.5)";
  UringMade made;
  if (std::string err = uring_setup(ring_, setup, made); !err.empty()) return err;
  ready_ = true;
  setup_flags_ = made.flags;
  free_.reserve(options.files);
  for (std::uint32_t slot = options.files; slot > 0; --slot) free_.push_back(slot - 1);
  return setup_buffers();
}

bool UringRing::take_slot(std::uint32_t& slot) {
  if (free_.empty()) return false;
  slot = free_.back();
  free_.pop_back();
  return true;
}

void UringRing::give_slot(std::uint32_t slot) {
  RC_ASSERT(slot < options_.files && free_.size() < options_.files);
  free_.push_back(slot);
}

std::string UringRing::setup_buffers() {
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
  // Buffer memory is only resident once the kernel receives into it.
  buffers_ = static_cast<char*>(
      std::aligned_alloc(4096, std::size_t(count) * options_.recv_buffer_bytes));
  if (buffers_ == nullptr) return "out of memory for receive buffers";
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(count);
  for (std::uint32_t i = 0; i < count; ++i)
    io_uring_buf_ring_add(buf_ring_, buffer(std::uint16_t(i)), options_.recv_buffer_bytes,
                          static_cast<unsigned short>(i), mask, int(i));
  io_uring_buf_ring_advance(buf_ring_, int(count));
  return {};
}

void UringRing::release_buffer(std::uint16_t id) {
  RC_ASSERT(id < options_.recv_buffers);
  io_uring_buf_ring_add(buf_ring_, buffer(id), options_.recv_buffer_bytes, id,
                        io_uring_buf_ring_mask(options_.recv_buffers), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

}  // namespace ringcast::net
