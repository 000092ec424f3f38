#pragma once
// The two ways of writing one event to every stream that the floor compares: a tight send()
// loop, and io_uring batches (over regular fds and over a registered file table, the way
// ringcast's shards use direct descriptors). Nothing else happens inside the timed section.
#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

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

std::uint64_t monotonic_ns();
std::uint64_t thread_cpu_ns();

// (a) send(fd, event, MSG_NOSIGNAL | MSG_DONTWAIT) for every fd, in order.
RoundResult send_loop(const std::vector<int>& fds, const char* event, std::size_t event_bytes);

// (b) IORING_OP_SEND for every stream, `batch` SQEs per io_uring_submit, every CQE reaped
// before the next batch is prepared.
class UringSender {
 public:
  UringSender() = default;
  UringSender(const UringSender&) = delete;
  UringSender& operator=(const UringSender&) = delete;
  ~UringSender();

  // Creates the ring (SQ = batch entries) and registers `fds` as its fixed-file table.
  std::string init(std::uint32_t batch, const std::vector<int>& fds);
  // On a failed submit or a wait that times out, returns with *error set.
  RoundResult run(const std::vector<int>& fds, const char* event, std::size_t event_bytes,
                  bool fixed_files, std::string* error);
  std::string describe() const;

 private:
  void reap(SendCounts* counts, std::size_t event_bytes, std::uint32_t* completed);

  io_uring ring_{};
  bool ready_ = false;
  unsigned setup_flags_ = 0;
  unsigned features_ = 0;
  std::uint32_t batch_ = 0;
  std::uint32_t sq_entries_ = 0;
};

}  // namespace ringcast::floorbench
