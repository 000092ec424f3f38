#include "bench/floor/senders.h"

#include <sys/socket.h>

#include <cerrno>
#include <ctime>

#include "base/assert.h"

namespace ringcast::floorbench {

namespace {

constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;

std::uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

}  // namespace

const char* method_name(Method method) {
  switch (method) {
    case Method::kSend: return "send";
    case Method::kUring: return "uring";
    case Method::kUringFixed: return "uring_fixed";
  }
  return "?";
}

const char* method_label(Method method) {
  switch (method) {
    case Method::kSend: return "send() loop";
    case Method::kUring: return "io_uring";
    case Method::kUringFixed: return "io_uring fixed";
  }
  return "?";
}

std::uint64_t Shortfall::expected(std::uint32_t child, std::size_t event_bytes) const {
  const std::uint64_t full = std::uint64_t(clients_.size_of(child)) * event_bytes;
  RC_ASSERT(bytes_[child] <= full);  // each stream falls short by at most one event
  return full - bytes_[child];
}

std::uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
std::uint64_t thread_cpu_ns() { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

RoundResult send_loop(const std::vector<int>& fds, const char* event, std::size_t event_bytes,
                      Shortfall* shortfall) {
  RoundResult result;
  const std::uint64_t cpu_start = thread_cpu_ns();
  const std::uint64_t start = monotonic_ns();
  for (std::uint32_t stream = 0; stream < fds.size(); ++stream) {
    ssize_t n = send(fds[stream], event, event_bytes, kSendFlags);
    count_result(&result.counts, shortfall, stream, n >= 0 ? long(n) : -long(errno), event_bytes);
  }
  result.wall_ns = monotonic_ns() - start;
  result.cpu_ns = thread_cpu_ns() - cpu_start;
  return result;
}

}  // namespace ringcast::floorbench
