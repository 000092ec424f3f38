#pragma once
// One io_uring of the load generator: a sparse fixed-file table (every socket is a direct
// descriptor, outside the process fd table, so RLIMIT_NOFILE bounds one ring's table and not
// the process), a provided-buffer ring for receives, and the SQE shapes the connection code
// needs — including IORING_OP_BIND, which liburing 2.3 predates.
#include <liburing.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::load {

// What this kernel offers. Probed once, before any ring is built.
struct KernelFeatures {
  bool bind_op = false;         // IORING_OP_BIND, Linux 6.11
  bool multishot_recv = false;  // IORING_RECV_MULTISHOT, Linux 6.0
  std::string release;
};
// Fills `out`. Returns what is missing for the floor (Linux 5.19), or an empty string.
std::string probe_kernel(KernelFeatures& out);

// IORING_OP_BIND's opcode; liburing 2.3's enum stops before it.
constexpr std::uint8_t kOpBind = 56;

struct RingSetup {
  std::uint32_t files = 1024;
  std::uint32_t recv_buffers = 4096;  // power of two
  std::uint32_t recv_buffer_bytes = 4096;
  // -1: this ring is its thread's only one and waits in io_uring_enter itself.
  // Otherwise the thread polls several rings and sleeps on this eventfd, which every one of
  // them signals on completion.
  int eventfd = -1;
};

// A completion, copied out of the CQ so the CQ can be released before any of it is handled.
struct Cqe {
  std::uint64_t user_data;
  std::int32_t res;
  std::uint32_t flags;
};

class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Returns an empty string, or what failed.
  std::string init(const RingSetup& setup);
  std::string describe() const;

  // A fresh SQE; when the SQ is full, what is queued goes to the kernel first.
  io_uring_sqe* sqe();
  // Hands the queued SQEs to the kernel and flushes completions it deferred.
  void submit();
  // submit(), then sleeps up to timeout_ns for a completion (the single-ring wait).
  void submit_and_wait(std::uint64_t timeout_ns);
  // Appends every available completion to `out` and releases them from the CQ.
  std::size_t reap(std::vector<Cqe>& out);

  const char* buffer(std::uint16_t id) const {
    return buffers_ + std::size_t(id) * setup_.recv_buffer_bytes;
  }
  void release(std::uint16_t id);
  std::uint32_t buffer_bytes() const { return setup_.recv_buffer_bytes; }
  std::uint16_t buffer_group() const { return 0; }

  // Installs a regular socket into fixed slot `slot` (the fallback when IORING_OP_BIND is
  // missing). The caller closes its fd afterwards. Returns 0 or -errno.
  int install(std::uint32_t slot, int fd);

 private:
  std::string setup_buffer_ring();

  io_uring ring_{};
  bool ready_ = false;
  unsigned flags_ = 0;
  RingSetup setup_;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
};

// SQE shapes. `slot` is a fixed-file index; user data is set by the caller.
void prep_socket_direct(io_uring_sqe* sqe, std::uint32_t slot);
void prep_bind_fixed(io_uring_sqe* sqe, std::uint32_t slot, const sockaddr_in* addr);
void prep_connect_fixed(io_uring_sqe* sqe, std::uint32_t slot, const sockaddr_in* addr);
void prep_send_fixed(io_uring_sqe* sqe, std::uint32_t slot, const char* data, std::uint32_t len);
void prep_recv_fixed(io_uring_sqe* sqe, std::uint32_t slot, const Ring& ring, bool multishot);

}  // namespace ringcast::load
