#pragma once
// The ways of writing one event to every stream that the floor compares: a tight send() loop,
// and io_uring batches (bench/floor/ring_set.h) over regular fds and over registered file tables,
// the way ringcast's shards use direct descriptors. Nothing else happens inside the timed section.
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/floor/options.h"

namespace ringcast::floorbench {

enum class Method : std::uint8_t { kSend = 0, kUring = 1, kUringFixed = 2 };
constexpr int kMethodCount = 3;
const char* method_name(Method method);   // "send", "uring", "uring_fixed"
const char* method_label(Method method);  // for the table

// How the kernel answered the N sends of one round.
struct SendCounts {
  std::uint64_t full = 0;          // the whole event accepted
  std::uint64_t short_writes = 0;  // part of it: the socket buffer is nearly full
  std::uint64_t eagain = 0;        // none of it: the socket buffer is full
  std::uint64_t errors = 0;        // anything else (first_errno says what)
  int first_errno = 0;
  std::uint64_t bytes = 0;         // bytes the kernel accepted, what the clients must receive
};

struct RoundResult {
  std::uint64_t wall_ns = 0;  // first send issued to last completion seen
  std::uint64_t cpu_ns = 0;   // this thread's CPU (user + system, incl. loopback softirq work)
  SendCounts counts;
};

// Each client process must receive, per round, its streams' full events less the bytes the
// kernel did not take. Only a send that is not full records here, so the hot path (every send
// full) never touches it. Stream s (accept order) belongs to client process clients.part_of(s).
class Shortfall {
 public:
  explicit Shortfall(const Split& clients) : clients_(clients), bytes_(clients.parts, 0) {}
  void reset() { bytes_.assign(bytes_.size(), 0); }
  void add(std::uint32_t stream, std::uint64_t bytes) { bytes_[clients_.part_of(stream)] += bytes; }
  // What client process `child` must receive for a round of `event_bytes` events.
  std::uint64_t expected(std::uint32_t child, std::size_t event_bytes) const;

 private:
  Split clients_;
  std::vector<std::uint64_t> bytes_;
};

std::uint64_t monotonic_ns();
std::uint64_t thread_cpu_ns();

// One place decides what a send's result (bytes or -errno) to `stream` means, for every method.
// Inline: it runs once per send inside the timed section.
inline void count_result(SendCounts* counts, Shortfall* shortfall, std::uint32_t stream,
                         long result, std::size_t event_bytes) {
  if (result == long(event_bytes)) {
    ++counts->full;
    counts->bytes += std::uint64_t(result);
  } else if (result > 0) {
    ++counts->short_writes;  // the socket had room for part of the event only
    counts->bytes += std::uint64_t(result);
    shortfall->add(stream, event_bytes - std::uint64_t(result));
  } else if (result == -EAGAIN || result == -EWOULDBLOCK) {
    ++counts->eagain;        // the socket buffer is full; a server would queue and wait
    shortfall->add(stream, event_bytes);
  } else {
    ++counts->errors;        // EPIPE/ECONNRESET would mean a client vanished: not expected here
    if (counts->first_errno == 0) counts->first_errno = int(result == 0 ? EIO : -result);
    shortfall->add(stream, event_bytes);
  }
}

// (a) send(fd, event, MSG_NOSIGNAL | MSG_DONTWAIT) for every fd, in order; fds[i] is stream i.
RoundResult send_loop(const std::vector<int>& fds, const char* event, std::size_t event_bytes,
                      Shortfall* shortfall);

}  // namespace ringcast::floorbench
