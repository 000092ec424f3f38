#pragma once
// One io_uring with its fixed-file table and its provided receive buffers. A shard owns one
// or more of these (see uring_io.h): each ring's table is bounded by RLIMIT_NOFILE, so a shard
// that must hold more sockets than that adds rings.
#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::net {

struct RingOptions {
  std::uint32_t sq_entries = 4096;
  std::uint32_t cq_entries = 65536;
  std::uint32_t files = 1024;           // fixed-file table size
  std::uint32_t recv_buffers = 512;     // power of two
  std::uint32_t recv_buffer_bytes = 8192;
  bool primary = true;                  // the ring the shard thread blocks on
};

class UringRing {
 public:
  UringRing() = default;
  ~UringRing();
  UringRing(const UringRing&) = delete;

  // Returns an empty string, or what failed (with the errno text).
  std::string init(const RingOptions& options);

  io_uring* ring() { return &ring_; }
  int fd() const { return ring_.ring_fd; }
  unsigned setup_flags() const { return setup_flags_; }
  std::uint32_t files() const { return options_.files; }
  std::uint32_t buffer_bytes() const { return options_.recv_buffer_bytes; }

  char* buffer(std::uint16_t id) { return buffers_ + std::size_t(id) * options_.recv_buffer_bytes; }
  void release_buffer(std::uint16_t id);

  // Free slots of the fixed-file table. ringcast picks the slot for every accept itself, so a
  // table never overfills (the kernel would close a connection accepted into a full table).
  bool take_slot(std::uint32_t& slot);
  void give_slot(std::uint32_t slot);
  std::uint32_t free_slots() const { return std::uint32_t(free_.size()); }

 private:
  std::string setup_buffers();

  io_uring ring_{};
  bool ready_ = false;
  unsigned setup_flags_ = 0;
  RingOptions options_;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
  std::vector<std::uint32_t> free_;
};

}  // namespace ringcast::net
