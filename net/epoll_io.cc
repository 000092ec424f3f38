#include "net/epoll_io.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/log.h"

namespace ringcast::net {

namespace {
constexpr std::uint64_t kListenerTag = ~std::uint64_t{0};
constexpr std::uint64_t kDoorbellTag = ~std::uint64_t{0} - 1;
constexpr int kAcceptsPerWake = 256;  // keep one busy listener from starving the streams
constexpr std::size_t kMaxIov = 1024;  // UIO_MAXIOV
}  // namespace

EpollIo::~EpollIo() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

std::string EpollIo::init(const EpollOptions& options) {
  options_ = options;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return std::string("epoll_create1: ") + std::strerror(errno);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kDoorbellTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0)
    return std::string("epoll_ctl eventfd: ") + std::strerror(errno);
  buffer_memory_.resize(std::size_t(options.recv_buffers) * options.recv_buffer_bytes);
  for (std::uint32_t i = options.recv_buffers; i > 0; --i) free_buffers_.push_back(std::uint16_t(i - 1));
  return {};
}

EpollIo::Socket& EpollIo::socket(std::uint32_t fd) {
  if (fd >= sockets_.size()) sockets_.resize(std::size_t(fd) + 1);
  return sockets_[fd];
}

void EpollIo::push(Op op, std::uint64_t token, std::int32_t res) {
  Completion c{op};
  c.token = token;
  c.res = res;
  queued_.push_back(c);
}

void EpollIo::accept() {
  accepting_ = true;
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: a backlog left after kAcceptsPerWake stays ready
  ev.data.u64 = kListenerTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, options_.listen_fd, &ev) != 0 && errno != EEXIST)
    push(Op::accept, 0, -errno);
}

void EpollIo::stop_accepting() {
  if (!accepting_) return;
  accepting_ = false;
  ::close(options_.listen_fd);  // also removes it from the epoll set
  options_.listen_fd = -1;
  push(Op::accept, 0, -ECANCELED);
}

void EpollIo::accept_ready() {
  for (int i = 0; i < kAcceptsPerWake && accepting_; ++i) {
    int fd = accept4(options_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN: backlog empty. ECONNABORTED: the peer gave up; try the next. EMFILE/ENFILE:
      // the fd table is full; the listener stays ready and we retry on the next wake.
      if (errno == ECONNABORTED || errno == EINTR) continue;
      if (errno != EAGAIN) {
        Completion c{Op::accept};
        c.more = true;
        c.res = -errno;
        queued_.push_back(c);
      }
      return;
    }
    socket(std::uint32_t(fd)) = Socket{};
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = std::uint64_t(fd);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    Completion c{Op::accept};
    c.more = true;
    c.res = fd;
    queued_.push_back(c);
  }
}

void EpollIo::recv(std::uint64_t token, std::uint32_t fd) {
  Socket& s = socket(fd);
  RC_ASSERT(!s.recv_armed);
  s.recv_armed = true;
  s.recv_token = token;
  if (s.readable) try_recv(fd);
}

void EpollIo::try_recv(std::uint32_t fd) {
  Socket& s = socket(fd);
  if (!s.recv_armed) return;
  if (free_buffers_.empty()) {
    s.recv_armed = false;
    push(Op::recv, s.recv_token, -ENOBUFS);  // same contract as a provided-buffer ring
    return;
  }
  const std::uint16_t b = free_buffers_.back();
  char* memory = buffer_memory_.data() + std::size_t(b) * options_.recv_buffer_bytes;
  ssize_t n = ::read(int(fd), memory, options_.recv_buffer_bytes);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    s.readable = false;  // wait for the next EPOLLIN edge
    return;
  }
  s.recv_armed = false;
  Completion c{Op::recv};
  c.token = s.recv_token;
  c.res = n < 0 ? -errno : std::int32_t(n);
  if (n > 0) {
    free_buffers_.pop_back();
    c.buffer = b;
    c.data = memory;
  }
  queued_.push_back(c);
}

void EpollIo::release_buffer(std::uint32_t buffer) { free_buffers_.push_back(std::uint16_t(buffer)); }

void EpollIo::send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) {
  Socket& s = socket(fd);
  RC_ASSERT(!s.send_armed && !iov.empty());
  s.send_armed = true;
  s.send_token = token;
  s.pending.assign(iov.begin(), iov.begin() + std::min(iov.size(), kMaxIov));
  if (s.writable) try_send(fd);
}

void EpollIo::try_send(std::uint32_t fd) {
  Socket& s = socket(fd);
  if (!s.send_armed) return;
  msghdr msg{};
  msg.msg_iov = s.pending.data();
  msg.msg_iovlen = s.pending.size();
  ssize_t n = ::sendmsg(int(fd), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    s.writable = false;  // wait for the next EPOLLOUT edge
    return;
  }
  s.send_armed = false;
  push(Op::send, s.send_token, n < 0 ? -errno : std::int32_t(n));
}

void EpollIo::shutdown_write(std::uint64_t token, std::uint32_t fd) {
  int rc = ::shutdown(int(fd), SHUT_WR);
  push(Op::shutdown, token, rc == 0 ? 0 : -errno);
}

void EpollIo::cancel(std::uint64_t token, std::uint32_t fd) {
  Socket& s = socket(fd);
  if (s.recv_armed) {
    s.recv_armed = false;
    push(Op::recv, s.recv_token, -ECANCELED);
  }
  if (s.send_armed) {
    s.send_armed = false;
    push(Op::send, s.send_token, -ECANCELED);
  }
  push(Op::cancel, token, 0);
}

void EpollIo::close(std::uint64_t token, std::uint32_t fd) {
  Socket& s = socket(fd);
  RC_ASSERT(!s.recv_armed && !s.send_armed);
  s = Socket{};
  int rc = ::close(int(fd));  // removes it from the epoll set too
  push(Op::close, token, rc == 0 ? 0 : -errno);
}

void EpollIo::set_peers(std::vector<int> event_fds) {
  RC_ASSERT(waker_ == nullptr);  // once, before the shard runs
  waker_ = std::make_unique<EventfdWaker>(std::move(event_fds));
}

Waker& EpollIo::waker() {
  RC_ASSERT(waker_ != nullptr);
  return *waker_;
}

std::unique_ptr<Waker> EpollIo::foreign_waker(std::vector<int> event_fds, std::string&) {
  return std::make_unique<EventfdWaker>(std::move(event_fds));  // nothing to set up
}

std::span<const Completion> EpollIo::wait(int timeout_ms) {
  epoll_event events[256];
  const int n = epoll_wait(epoll_fd_, events, 256, queued_.empty() ? timeout_ms : 0);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t tag = events[i].data.u64;
    if (tag == kListenerTag) {
      accept_ready();
    } else if (tag == kDoorbellTag) {
      std::uint64_t count;
      while (::read(event_fd_, &count, sizeof count) > 0) {
      }
      push(Op::doorbell, 0, 0);
    } else {
      const auto fd = static_cast<std::uint32_t>(tag);
      Socket& s = socket(fd);
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s.readable = true;
      if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s.writable = true;
      if (s.readable) try_recv(fd);
      if (s.writable) try_send(fd);
    }
  }
  batch_.swap(queued_);
  queued_.clear();
  return batch_;
}

}  // namespace ringcast::net
