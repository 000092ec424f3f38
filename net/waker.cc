#include "net/waker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace ringcast::net {

namespace {

// One write of 1 to an eventfd. EAGAIN: the counter is saturated, so the sleeper is certain
// to wake anyway. Anything else (EBADF, EINVAL) means the descriptor is not what we were
// given: logged, since the target still wakes on its tick.
void ring_eventfd(int fd) {
  const std::uint64_t one = 1;
  if (::write(fd, &one, sizeof one) < 0 && errno != EAGAIN)
    log_event(LogLevel::warn, "doorbell_failed", "op=write error=%s", quoted(std::strerror(errno)).c_str());
}

}  // namespace

EventfdWaker::EventfdWaker(std::vector<int> eventfds)
    : Waker(std::uint32_t(eventfds.size())), eventfds_(std::move(eventfds)) {}

void EventfdWaker::flush() {
  for (std::uint32_t t = 0; t < due_.size(); ++t) {
    if (!due_[t]) continue;
    due_[t] = 0;
    RC_ASSERT(eventfds_[t] >= 0);  // a target that was never set up is a start-up bug
    ring_eventfd(eventfds_[t]);
  }
}

WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string WakeFd::init() {
  RC_ASSERT(fd_ < 0);
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  return {};
}

void WakeFd::ring() {
  if (fd_ >= 0) ring_eventfd(fd_);
}

void WakeFd::wait(int timeout_ms) {
  RC_ASSERT(fd_ >= 0);
  pollfd p{fd_, POLLIN, 0};
  const int n = poll(&p, 1, timeout_ms);
  // EINTR: a signal; the caller loops and sleeps again. ENOMEM: the caller's loop looks at its
  // work anyway, as after a timeout. Neither loses a ring: the count stays until read.
  if (n < 0 && errno != EINTR)
    log_event(LogLevel::warn, "wake_poll_failed", "error=%s", quoted(std::strerror(errno)).c_str());
  if (n <= 0) return;
  std::uint64_t count;
  // Non-blocking: the loop ends at EAGAIN, once the count is cleared.
  while (::read(fd_, &count, sizeof count) > 0) {
  }
}

}  // namespace ringcast::net
