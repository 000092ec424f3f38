#pragma once
// The client half of the floor, run in a forked child so that each process holds at most one
// fd per stream (RLIMIT_NOFILE). It opens the streams, then drains them with epoll + one read
// buffer, counting bytes and telling the parent when a round has fully arrived.
#include <sys/types.h>

#include <cstdint>

namespace ringcast::floorbench {

struct ClientPlan {
  std::uint32_t streams = 0;
  std::uint16_t server_port = 0;  // host order; the server listens on 127.0.0.1
  bool quiet = false;             // read a round only once the parent says it is sent
  int from_parent = -1;
  int to_parent = -1;
  pid_t parent = 0;
};

// Runs in the child after fork() and never returns: exits 0 after kStop, 1 on any failure
// (reported to the parent first when the pipe still works).
[[noreturn]] void run_clients(const ClientPlan& plan);

}  // namespace ringcast::floorbench
