#pragma once
// The client half of the floor, run in forked children (bench/floor/client_pool.h) so that each
// process holds at most one fd per stream of its share (RLIMIT_NOFILE). A child opens its
// streams, then drains them with epoll + one read buffer, counting bytes and telling the parent
// when its share of a round has fully arrived.
#include <sys/types.h>

#include <cstdint>

namespace ringcast::floorbench {

// Connections per explicit source address. Each (source, 127.0.0.1, port) tuple has ~28,000
// ephemeral ports (32768..60999); 4,096 per source keeps every tuple far from that edge, and
// 200,000 streams take 55 sources (11 client processes of 5).
constexpr std::uint32_t kStreamsPerSource = 4096;

// Source addresses a child with `streams` streams uses.
constexpr std::uint32_t sources_for(std::uint32_t streams) {
  return (streams + kStreamsPerSource - 1) / kStreamsPerSource;
}

struct ClientPlan {
  std::uint32_t child = 0;         // which client process, for messages
  std::uint32_t streams = 0;
  // This child connects from 127.0.0.2 + first_source + i / kStreamsPerSource: the children's
  // sets of source addresses are disjoint, so no two share an address's ephemeral ports.
  std::uint32_t first_source = 0;
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
