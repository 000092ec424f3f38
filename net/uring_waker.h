#pragma once
// The io_uring backend's Waker for a thread that is not a shard (the Redis bridge threads).
//
// A shard rings its peers with IORING_OP_MSG_RING from its own ring (UringIo::waker). A foreign
// thread has no ring of its own, so this waker owns a tiny one used for nothing but MSG_RING to
// the shards' primary rings (whose SINGLE_ISSUER rule concerns submitting to *them*: a message
// posted into a ring from elsewhere is allowed). The target sees the same doorbell completion
// another shard would have caused. Built by UringIo::foreign_waker, on the thread that uses it.
#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/waker.h"

namespace ringcast::net {

class UringForeignWaker final : public Waker {
 public:
  explicit UringForeignWaker(std::vector<int> ring_fds);
  ~UringForeignWaker() override;

  // Sets the ring up. Returns an empty string, or what failed.
  std::string init();
  // Rings every shard marked due in one submit, and waits for the deliveries' results.
  void flush() override;

 private:
  bool ring_ready_ = false;
  io_uring ring_{};
  std::vector<int> ring_fds_;  // per target shard: its primary ring (not owned)
};

}  // namespace ringcast::net
