#include "net/sim_io.h"

#include <cerrno>
#include <cstring>

#include "base/assert.h"
#include "base/clock.h"

namespace ringcast::net {

SimIo::SimIo(std::uint32_t buffers, std::uint32_t buffer_bytes, std::uint32_t capacity)
    : buffer_memory_(std::size_t(buffers) * buffer_bytes),
      buffer_bytes_(buffer_bytes),
      capacity_(capacity),
      unix_ms_(ringcast::unix_ms()) {
  for (std::uint32_t i = buffers; i > 0; --i) free_buffers_.push_back(std::uint16_t(i - 1));
}

std::uint32_t SimIo::connect() {
  std::uint32_t fd = next_fd_++;
  clients_[fd] = Client{};
  if (!accepting_) {
    backlog_.push_back(fd);  // the listen backlog: accepted once the accept is re-armed
    return fd;
  }
  Completion c{Op::accept};
  c.more = !end_accept_next;
  c.res = std::int32_t(fd);
  queued_.push_back(c);
  if (end_accept_next) accepting_ = end_accept_next = false;
  return fd;
}

void SimIo::accept() {
  accepting_ = true;
  std::vector<std::uint32_t> waiting;
  waiting.swap(backlog_);
  for (std::uint32_t fd : waiting) {
    Completion c{Op::accept};
    c.more = true;
    c.res = std::int32_t(fd);
    queued_.push_back(c);
  }
}

void SimIo::SimWaker::flush() {
  for (std::uint32_t target = 0; target < due_.size(); ++target) {
    if (!due_[target]) continue;
    due_[target] = 0;
    ++io_.notifications;
    if (!io_.fail_notify_next) continue;
    io_.fail_notify_next = false;
    Completion c{Op::notify_failed};  // as io_uring reports a MSG_RING into a full CQ
    c.token = target;
    c.res = -EOVERFLOW;
    io_.queued_.push_back(c);
  }
}

void SimIo::advance_ms(std::uint64_t ms) {
  RC_ASSERT(monotonic_ms_ + ms >= monotonic_ms_);  // no wrap: the monotonic clock never goes back
  monotonic_ms_ += ms;
  unix_ms_ += ms;
}

void SimIo::set_unix_ms(std::uint64_t unix_ms) {
  RC_ASSERT(unix_ms > 0);  // a wall clock before 1970 is a test's arithmetic going under
  unix_ms_ = unix_ms;
}

void SimIo::client_reset(std::uint32_t fd) {
  Client& cl = clients_.at(fd);
  cl.reset = true;
  try_deliver(fd);
  for (std::size_t i = 0; i < inflight_.size();) {
    if (inflight_[i].fd == fd) complete_send(i, -ECONNRESET);
    else ++i;
  }
}

void SimIo::client_write(std::uint32_t fd, std::string bytes) {
  clients_.at(fd).to_server += bytes;
  try_deliver(fd);
}

void SimIo::client_close(std::uint32_t fd) {
  clients_.at(fd).eof = true;
  try_deliver(fd);
}

const std::string& SimIo::received(std::uint32_t fd) const { return clients_.at(fd).from_server; }
std::uint64_t SimIo::received_bytes(std::uint32_t fd) const {
  return clients_.at(fd).from_server_bytes;
}
void SimIo::clear_received(std::uint32_t fd) { clients_.at(fd).from_server.clear(); }
bool SimIo::closed_by_server(std::uint32_t fd) const { return clients_.at(fd).closed; }
bool SimIo::write_shut_by_server(std::uint32_t fd) const { return clients_.at(fd).write_shut; }

void SimIo::try_deliver(std::uint32_t fd) {
  Client& cl = clients_.at(fd);
  if (!cl.recv_armed || (cl.to_server.empty() && !cl.eof && !cl.reset)) return;
  Completion c{Op::recv};
  c.token = cl.recv_token;
  cl.recv_armed = false;
  if (cl.reset) {
    c.res = -ECONNRESET;
  } else if (nobufs_next > 0) {
    --nobufs_next;
    c.res = -ENOBUFS;
  } else if (cl.to_server.empty()) {
    c.res = 0;  // EOF
  } else if (free_buffers_.empty()) {
    c.res = -ENOBUFS;
  } else {
    c.buffer = free_buffers_.back();
    free_buffers_.pop_back();
    char* mem = buffer_memory_.data() + std::size_t(c.buffer) * buffer_bytes_;
    std::size_t n = std::min<std::size_t>(buffer_bytes_, cl.to_server.size());
    std::memcpy(mem, cl.to_server.data(), n);
    cl.to_server.erase(0, n);
    c.res = std::int32_t(n);
    c.data = mem;
  }
  queued_.push_back(c);
}

void SimIo::stop_accepting() {
  if (!accepting_) return;
  accepting_ = false;
  Completion c{Op::accept};
  c.res = -ECANCELED;
  queued_.push_back(c);
}

void SimIo::recv(std::uint64_t token, std::uint32_t fd) {
  Client& cl = clients_.at(fd);
  RC_ASSERT(!cl.recv_armed && !cl.closed);
  cl.recv_armed = true;
  cl.recv_token = token;
  try_deliver(fd);
}

void SimIo::release_buffer(std::uint32_t buffer) { free_buffers_.push_back(std::uint16_t(buffer)); }

void SimIo::send(std::uint64_t token, std::uint32_t fd, std::span<const iovec> iov) {
  RC_ASSERT(!clients_.at(fd).closed);
  if (clients_.at(fd).reset) {
    Completion c{Op::send};
    c.token = token;
    c.res = -EPIPE;
    queued_.push_back(c);
    return;
  }
  InflightSend s{token, fd, {}, 0};
  for (const iovec& v : iov) {
    if (record_bytes) s.bytes.append(static_cast<const char*>(v.iov_base), v.iov_len);
    s.size += std::uint32_t(v.iov_len);
  }
  inflight_.push_back(std::move(s));
}

void SimIo::complete_send(std::size_t index, std::int32_t res) {
  RC_ASSERT(index < inflight_.size());
  InflightSend s = std::move(inflight_[index]);
  inflight_.erase(inflight_.begin() + std::ptrdiff_t(index));
  if (res > 0) {
    RC_ASSERT(std::uint32_t(res) <= s.size);
    Client& cl = clients_.at(s.fd);
    if (!cl.reset) {
      cl.from_server_bytes += std::uint32_t(res);
      if (record_bytes) cl.from_server.append(s.bytes, 0, std::size_t(res));
    }
  }
  Completion c{Op::send};
  c.token = s.token;
  c.res = res;
  queued_.push_back(c);
}

void SimIo::complete_all_sends() {
  while (!inflight_.empty()) complete_send(0, std::int32_t(inflight_[0].size));
}

void SimIo::shutdown_write(std::uint64_t token, std::uint32_t fd) {
  clients_.at(fd).write_shut = true;
  Completion c{Op::shutdown};
  c.token = token;
  queued_.push_back(c);
}

void SimIo::cancel(std::uint64_t token, std::uint32_t fd) {
  Client& cl = clients_.at(fd);
  Completion done{Op::cancel};
  done.token = token;
  queued_.push_back(done);
  if (cl.recv_armed) {
    cl.recv_armed = false;
    Completion c{Op::recv};
    c.token = cl.recv_token;
    c.res = -ECANCELED;
    queued_.push_back(c);
  }
  for (std::size_t i = 0; i < inflight_.size();) {
    if (inflight_[i].fd == fd) complete_send(i, -ECANCELED);
    else ++i;
  }
}

void SimIo::close(std::uint64_t token, std::uint32_t fd) {
  Client& cl = clients_.at(fd);
  RC_ASSERT(!cl.recv_armed);
  cl.closed = true;
  Completion c{Op::close};
  c.token = token;
  queued_.push_back(c);
}

std::span<const Completion> SimIo::wait(int) {
  if (auto_complete) complete_all_sends();
  const std::size_t n = std::min(max_batch, queued_.size());
  batch_.assign(queued_.begin(), queued_.begin() + std::ptrdiff_t(n));
  queued_.erase(queued_.begin(), queued_.begin() + std::ptrdiff_t(n));
  return batch_;
}

}  // namespace ringcast::net
