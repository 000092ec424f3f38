// net/waker.h: each backend's waker rings every target marked due once per flush, however
// often it was marked; a failed delivery is reported, never lost; WakeFd wakes a sleeper.
#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "net/sim_io.h"
#include "net/uring_io.h"
#include "net/waker.h"

namespace ringcast {
namespace {

// The eventfd's count, cleared (0 if nobody wrote).
std::uint64_t take(int fd) {
  std::uint64_t count = 0;
  if (::read(fd, &count, sizeof count) < 0) return 0;  // EAGAIN: nothing written
  return count;
}

TEST(Waker, EventfdWakerRingsEachDueTargetOncePerFlush) {
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) fds.push_back(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  net::EventfdWaker waker(fds);
  waker.due(0);
  waker.due(0);
  waker.due(2);
  waker.flush();
  EXPECT_EQ(take(fds[0]), 1u);
  EXPECT_EQ(take(fds[1]), 0u);
  EXPECT_EQ(take(fds[2]), 1u);
  waker.flush();  // the marks were cleared
  EXPECT_EQ(take(fds[0]), 0u);
  EXPECT_EQ(take(fds[2]), 0u);
  for (int fd : fds) ::close(fd);
}

TEST(Waker, WakeFdWakesASleeperAndClearsItsRings) {
  net::WakeFd wake;
  wake.ring();  // before init: nothing to ring, and no harm
  ASSERT_EQ(wake.init(), "");
  wake.ring();
  wake.ring();
  const auto start = std::chrono::steady_clock::now();
  wake.wait(10'000);  // rung: returns at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  const auto again = std::chrono::steady_clock::now();
  wake.wait(20);  // both rings were cleared: this one times out
  EXPECT_GE(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(15));
}

TEST(Waker, SimWakerCountsAndFailsOnDemand) {
  net::SimIo io;
  io.waker().due(1);
  io.waker().due(1);
  io.waker().flush();
  EXPECT_EQ(io.notifications, 1u);
  io.fail_notify_next = true;
  io.waker().due(2);
  io.waker().flush();
  EXPECT_EQ(io.notifications, 2u);
  std::span<const net::Completion> done = io.wait(0);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].op, net::Op::notify_failed);
  EXPECT_EQ(done[0].token, 2u);
  EXPECT_EQ(done[0].res, -EOVERFLOW);
}

// A thread that is not a shard rings a ring it does not own: the target sees the doorbell.
TEST(Waker, UringForeignWakerPostsADoorbellIntoTheTargetRing) {
  io_uring target;
  // ringcast needs io_uring (Linux 5.19+): a ring that cannot be made is a failure, not a skip.
  ASSERT_EQ(io_uring_queue_init(8, &target, 0), 0);
  std::string error;
  std::unique_ptr<net::Waker> waker = net::UringIo::foreign_waker({target.ring_fd}, error);
  ASSERT_NE(waker, nullptr) << error;
  waker->due(0);
  waker->due(0);
  waker->flush();
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_peek_cqe(&target, &cqe), 0);
  EXPECT_EQ(io_uring_cqe_get_data64(cqe), net::doorbell_user_data());
  io_uring_cqe_seen(&target, cqe);
  EXPECT_NE(io_uring_peek_cqe(&target, &cqe), 0);  // one doorbell for two marks
  io_uring_queue_exit(&target);
}

}  // namespace
}  // namespace ringcast
