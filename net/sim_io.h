#pragma once
// A simulated IO backend for deterministic tests of shard logic without sockets: the test
// plays the clients (connect, send request bytes, close) and decides when and how much of
// each server send completes (short writes, errors), then reads exactly what a client got.
// It owns the shard's time as well: both clocks stand still until the test moves them.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/io.h"

namespace ringcast::net {

class SimIo final : public Io {
 public:
  struct InflightSend {
    std::uint64_t token;
    std::uint32_t fd;
    std::string bytes;   // empty when record_bytes is off
    std::uint32_t size;  // bytes offered
  };

  explicit SimIo(std::uint32_t buffers = 8, std::uint32_t buffer_bytes = 4096,
                 std::uint32_t capacity = 1024);

  // --- the test's side ---
  std::uint32_t connect();                               // a client connects; returns its fd
  void client_write(std::uint32_t fd, std::string bytes);  // bytes for the server to receive
  void client_close(std::uint32_t fd);                   // the server's receive sees EOF
  const std::string& received(std::uint32_t fd) const;   // bytes the client has been sent
  std::uint64_t received_bytes(std::uint32_t fd) const;  // how many (kept with record_bytes off)
  void clear_received(std::uint32_t fd);
  bool closed_by_server(std::uint32_t fd) const;
  bool write_shut_by_server(std::uint32_t fd) const;
  // Sends in flight, oldest first. complete_send() finishes one with `res` (bytes, possibly
  // fewer than offered, or -errno).
  const std::vector<InflightSend>& inflight() const { return inflight_; }
  void complete_send(std::size_t index, std::int32_t res);
  void complete_all_sends();  // every in-flight send completes in full
  bool auto_complete = true;  // complete every send in full at the next wait()
  // Off: sends are counted, not copied, and received() stays empty, so that once its queues
  // have grown the simulation itself allocates nothing (tests/alloc counts the shard's).
  bool record_bytes = true;
  std::uint32_t notifications = 0;  // doorbells the shard's waker rang (in memory, not delivered)

  // --- the clocks (Io::monotonic_ms, Io::unix_ms) ---
  // Both start at the construction-time values below and move only when the test says so.
  void advance_ms(std::uint64_t ms);        // both clocks move forward together
  void set_unix_ms(std::uint64_t unix_ms);  // the wall clock alone jumps (backwards too)

  // --- faults the test injects (tests/unit/test_simulation.cc) ---
  std::uint32_t nobufs_next = 0;     // the next N receives find no buffer (-ENOBUFS)
  bool end_accept_next = false;      // the next accept ends the multishot (more = false)
  bool fail_notify_next = false;     // the next doorbell is not delivered (notify_failed)
  std::size_t max_batch = ~std::size_t(0);  // completions one wait() returns at most (the
                                            // rest wait for the next: a full completion queue)
  // The client's connection is reset: its receive and sends fail from now on.
  void client_reset(std::uint32_t fd);
  bool reset_by_client(std::uint32_t fd) const { return clients_.at(fd).reset; }
  std::size_t queued() const { return queued_.size(); }

  // --- Io ---
  void accept() override;
  void stop_accepting() override;
  void recv(std::uint64_t token, std::uint32_t fd) override;
  void release_buffer(std::uint32_t buffer) override;
  void send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) override;
  void shutdown_write(std::uint64_t token, std::uint32_t fd) override;
  void cancel(std::uint64_t token, std::uint32_t fd) override;
  void close(std::uint64_t token, std::uint32_t fd) override;
  Waker& waker() override { return waker_; }
  std::span<const Completion> wait(int timeout_ms) override;
  std::uint64_t monotonic_ms() const override { return monotonic_ms_; }
  std::uint64_t unix_ms() const override { return unix_ms_; }
  std::uint32_t descriptor_capacity() const override { return capacity_; }

  // Where the monotonic clock starts: far from 0, so "now - interval" never wraps.
  static constexpr std::uint64_t kStartMonotonicMs = 1'000'000;

 private:
  struct Client {
    std::string to_server;
    std::string from_server;
    std::uint64_t from_server_bytes = 0;
    bool recv_armed = false;
    std::uint64_t recv_token = 0;
    bool eof = false;
    bool write_shut = false;
    bool closed = false;
    bool reset = false;
  };
  void try_deliver(std::uint32_t fd);

  // The in-memory waker: counts each doorbell rung, or fails it when the test asks
  // (fail_notify_next). Targets are shard indexes, which fit in a byte (the token's).
  class SimWaker final : public Waker {
   public:
    explicit SimWaker(SimIo& io) : Waker(256), io_(io) {}
    void flush() override;

   private:
    SimIo& io_;
  };
  SimWaker waker_{*this};

  std::map<std::uint32_t, Client> clients_;
  std::vector<Completion> queued_;  // a vector: it keeps its capacity
  std::vector<Completion> batch_;
  std::vector<InflightSend> inflight_;
  std::vector<std::uint16_t> free_buffers_;
  std::vector<char> buffer_memory_;
  std::uint32_t buffer_bytes_;
  std::uint32_t capacity_;
  std::uint32_t next_fd_ = 0;
  std::uint64_t monotonic_ms_ = kStartMonotonicMs;
  // The wall clock starts at the system's, so a test's tokens minted against it stay valid.
  std::uint64_t unix_ms_;
  bool accepting_ = false;
  std::vector<std::uint32_t> backlog_;  // connections waiting for the accept to be re-armed
};

}  // namespace ringcast::net
