#pragma once
// The epoll baseline: the same Io contract as the io_uring backend, built the classic way
// (non-blocking sockets in the process fd table, edge-triggered epoll, accept4, read, writev),
// so the benchmarks compare IO models with identical protocol and fan-out code above them.
//
// Completions are emulated: an operation that can finish at once (a writev that writes, a
// read with data waiting) is queued and delivered by the next wait(), never run inside the
// call that started it, exactly like a completion queue.
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "net/io.h"

namespace ringcast::net {

struct EpollOptions {
  std::uint32_t max_fds = 1024;          // descriptors this shard may hold (process fd table)
  std::uint32_t recv_buffers = 512;
  std::uint32_t recv_buffer_bytes = 8192;
  int listen_fd = -1;
};

class EpollIo final : public Io {
 public:
  EpollIo() = default;
  ~EpollIo() override;
  EpollIo(const EpollIo&) = delete;

  std::string init(const EpollOptions& options);
  int peer_handle() const { return event_fd_; }  // other threads' wakers write here to wake us
  // Every shard's eventfd, indexed by shard (our own entry is unused): our waker's targets.
  void set_peers(std::vector<int> event_fds);
  // A waker for a thread that is not a shard: writes to the same eventfds (net/waker.h).
  static std::unique_ptr<Waker> foreign_waker(std::vector<int> event_fds, std::string& error);

  void accept() override;
  void stop_accepting() override;
  void recv(std::uint64_t token, std::uint32_t fd) override;
  void release_buffer(std::uint32_t buffer) override;
  void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) override;
  void shutdown_write(std::uint64_t token, std::uint32_t fd) override;
  void cancel(std::uint64_t token, std::uint32_t fd) override;
  void close(std::uint64_t token, std::uint32_t fd) override;
  Waker& waker() override;
  std::span<const Completion> wait(int timeout_ms) override;
  std::uint64_t monotonic_ms() const override { return ringcast::monotonic_ms(); }
  std::uint64_t unix_ms() const override { return ringcast::unix_ms(); }
  std::uint32_t descriptor_capacity() const override { return options_.max_fds; }

 private:
  struct Socket {
    std::uint64_t recv_token = 0;
    std::uint64_t send_token = 0;
    std::vector<iovec> pending;  // a send waiting for EPOLLOUT (points at the shard's bytes)
    bool recv_armed = false;
    bool send_armed = false;
    bool readable = true;   // edge-triggered: assume ready until a call says EAGAIN
    bool writable = true;
  };
  Socket& socket(std::uint32_t fd);
  void push(Op op, std::uint64_t token, std::int32_t res);
  void accept_ready();
  void try_recv(std::uint32_t fd);
  void try_send(std::uint32_t fd);

  EpollOptions options_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  bool accepting_ = false;
  std::unique_ptr<EventfdWaker> waker_;  // set by set_peers
  std::vector<Socket> sockets_;  // indexed by fd
  std::vector<char> buffer_memory_;
  std::vector<std::uint16_t> free_buffers_;
  std::vector<Completion> queued_;
  std::vector<Completion> batch_;
};

}  // namespace ringcast::net
