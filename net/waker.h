#pragma once
// Cross-thread wake-ups. A shard sleeps in its Io's wait(); every thread that posts to a
// shard's mailbox (another shard, a Redis bridge thread) wakes it through a Waker, and the
// shards' backend decides how that doorbell rings:
//   io_uring  IORING_OP_MSG_RING into the target's primary ring: a shard sends it from its own
//             ring (UringIo::waker), a thread that is not a shard from a tiny ring of its own
//             (net/uring_waker.h).
//   epoll     a write to the target's eventfd (EventfdWaker, here).
//   sim       in memory: counted, and failed when the test asks (net/sim_io.h).
// The target's wait() returns an Op::doorbell completion whichever it was.
//
// A Waker owns the marks of which targets are due: messages are posted, their targets marked,
// and one flush() rings each marked target once, however many messages it was sent.
// One Waker per thread: it is not thread-safe.
//
// A thread that is not a shard (the Redis bridge's writer) has no Io to sleep in: it sleeps on
// a WakeFd, which any thread may ring.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/assert.h"

namespace ringcast::net {

class Waker {
 public:
  explicit Waker(std::uint32_t targets) : due_(targets, 0) {}
  virtual ~Waker() = default;
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Marks shard `target` to be woken by the next flush().
  void due(std::uint32_t target) {
    RC_ASSERT(target < due_.size());
    due_[target] = 1;
  }
  // Rings every target marked due and clears its mark. A doorbell that could not be delivered
  // is not lost: a shard's own waker reports it as an Op::notify_failed completion (the shard
  // marks the target due again), a foreign waker marks it due again itself. Either way the
  // message is already in the mailbox, and the target drains it on any wake-up, its 250 ms
  // tick included: delayed, never lost.
  virtual void flush() = 0;

 protected:
  std::vector<std::uint8_t> due_;  // per target
};

// Doorbells that are eventfds, written once per flush each: the epoll backend's.
class EventfdWaker final : public Waker {
 public:
  explicit EventfdWaker(std::vector<int> eventfds);
  void flush() override;

 private:
  std::vector<int> eventfds_;  // per target; not owned (each belongs to its shard's Io)
};

// How a thread that is not a shard gets its Waker for every shard: provided by the shards'
// backend (UringIo::foreign_waker, EpollIo::foreign_waker) and called on the thread that will
// use it. Returns null, and says what failed in `error`, if the waker cannot be built.
using ForeignWakers = std::function<std::unique_ptr<Waker>(std::string& error)>;

// An eventfd a thread that is not a shard sleeps on. Owns the descriptor.
class WakeFd {
 public:
  WakeFd() = default;
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  // Returns an empty string, or what failed.
  std::string init();
  // Wakes the sleeper (or its next sleep). Thread-safe; a no-op before init().
  void ring();
  // Sleeps until rung or until timeout_ms passes, then clears every ring so far.
  void wait(int timeout_ms);

 private:
  int fd_ = -1;
};

}  // namespace ringcast::net
