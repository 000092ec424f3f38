#pragma once
// The production IO backend: one io_uring per shard, created on the shard's own thread
// (SINGLE_ISSUER), accepted sockets installed straight into the ring's fixed-file table
// (direct descriptors, outside the process fd table), receives into a provided-buffer ring.
#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/io.h"

namespace ringcast::net {

struct UringOptions {
  std::uint32_t sq_entries = 4096;
  std::uint32_t cq_entries = 65536;
  std::uint32_t files = 1024;           // fixed-file table size (bounded by RLIMIT_NOFILE)
  std::uint32_t recv_buffers = 512;     // power of two
  std::uint32_t recv_buffer_bytes = 8192;
  int listen_fd = -1;
};

class UringIo final : public Io {
 public:
  UringIo() = default;
  ~UringIo() override;
  UringIo(const UringIo&) = delete;

  // Sets the ring up. Returns an empty string, or what failed (with the errno text).
  std::string init(const UringOptions& options);
  int ring_fd() const { return ring_.ring_fd; }
  // The other shards' ring fds, indexed by shard (our own entry is unused).
  void set_peers(std::vector<int> ring_fds) { peers_ = std::move(ring_fds); }
  // Which setup flags the kernel accepted, for the start-up log.
  std::string describe() const;

  void accept() override;
  void stop_accepting() override;
  void recv(std::uint64_t token, std::uint32_t fd) override;
  void release_buffer(std::uint16_t buffer) override;
  void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) override;
  void shutdown_write(std::uint64_t token, std::uint32_t fd) override;
  void cancel(std::uint64_t token, std::uint32_t fd) override;
  void close(std::uint64_t token, std::uint32_t fd) override;
  void notify(std::uint32_t target) override;
  std::span<const Completion> wait(int timeout_ms) override;
  std::uint32_t descriptor_capacity() const override { return options_.files; }

 private:
  io_uring_sqe* get_sqe();
  void submit();
  void reap();
  std::string setup_buffer_ring();

  io_uring ring_{};
  bool ring_ready_ = false;
  unsigned setup_flags_ = 0;
  UringOptions options_;
  std::vector<int> peers_;

  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;

  // msghdr/iovec copies for sends prepared this pass; the kernel consumes them at submit
  // (IORING_FEAT_SUBMIT_STABLE), after which they are reused.
  std::vector<msghdr> msg_scratch_;
  std::vector<iovec> iov_scratch_;
  std::size_t msg_used_ = 0;
  std::size_t iov_used_ = 0;

  std::vector<Completion> completions_;
};

}  // namespace ringcast::net
