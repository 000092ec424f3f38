#pragma once
// Waking shards from a thread that is not a shard (the Redis bridge threads).
//
// Shards sleep in their backend's wait. Another shard wakes one with IORING_OP_MSG_RING from
// its own ring (io_uring) or a write to its eventfd (epoll); see Io::notify. A foreign thread
// has no ring of its own, so on io_uring it owns a tiny one used for nothing but MSG_RING to
// the shards' primary rings (whose SINGLE_ISSUER rule concerns submitting to *them*: a message
// posted into a ring from elsewhere is allowed). On epoll it writes the shard's eventfd.
// The target sees the same doorbell completion another shard would have caused.
// Not thread-safe: one ForeignDoorbell per foreign thread.
#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::net {

class ForeignDoorbell {
 public:
  ForeignDoorbell() = default;
  ~ForeignDoorbell();
  ForeignDoorbell(const ForeignDoorbell&) = delete;

  // `uring`: the shards run the io_uring backend and `handles` are their primary ring fds;
  // else `handles` are their eventfds. Returns an empty string or what failed.
  std::string init(bool uring, std::vector<int> handles);
  // Marks shard `target` to be woken by the next flush().
  void due(std::uint32_t target) { due_[target] = 1; }
  // Rings every shard marked due, at once (one submit on io_uring).
  void flush();

 private:
  bool uring_ = false;
  bool ring_ready_ = false;
  io_uring ring_{};
  std::vector<int> handles_;
  std::vector<std::uint8_t> due_;
};

}  // namespace ringcast::net
