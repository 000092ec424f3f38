#pragma once
// The client processes of the floor and the parent's side of the pipe protocol with them. N
// streams are split over the fewest children that each stay under RLIMIT_NOFILE
// (bench/floor/clients.h runs in each); the protocol with each child is the one in
// bench/floor/pipe_protocol.h, and the pool keeps them all in lockstep: the children connect one
// after another (the accept queue only ever holds one child's window), and a round is over only
// when every child has confirmed every byte of its share.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/floor/options.h"
#include "bench/floor/senders.h"

namespace ringcast::floorbench {

class ClientPool {
 public:
  explicit ClientPool(const Split& split) : split_(split) {}
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;
  ~ClientPool();  // kills and reaps every child still running: the one cleanup path

  // Forks split.parts children, child c taking split.size_of(c) streams to 127.0.0.1:port, and
  // waits for every hello. `listener` is closed in the children.
  std::string start(std::uint16_t port, bool quiet, int listener);
  // The children connect, one after another, in windows; after each window the parent accepts
  // up to the total connected so far with accept_until(total).
  using AcceptUntil = std::function<std::string(std::uint32_t total)>;
  std::string connect_all(const AcceptUntil& accept_until);
  // Every child registers its sockets with epoll (after the parent's memory snapshot).
  std::string arm();
  // After a round's sends: tells every child what it must have received by now (its share of
  // this round is in `shortfall`), then waits for every one to confirm. Sets *received_bytes to
  // all the bytes the children counted so far and *cpu_ns to the CPU they spent on this round,
  // summed over the children.
  std::string confirm_round(const Shortfall& shortfall, std::size_t event_bytes,
                            std::uint64_t* received_bytes, std::uint64_t* cpu_ns);
  // Stops and reaps every child: *cpu_ns is their CPU summed, *max_rss_bytes the largest one's
  // peak RSS (each child's own high-water mark; they do not peak together).
  std::string stop(std::uint64_t* cpu_ns, std::uint64_t* max_rss_bytes);

  std::uint32_t processes() const { return split_.parts; }

 private:
  struct Child {
    pid_t pid = -1;
    int to = -1;    // parent -> child
    int from = -1;  // child -> parent
    std::uint64_t expected_bytes = 0;  // every round so far
    std::uint64_t cpu_ns = 0;          // at its last kReceived
  };

  std::string spawn(std::uint32_t index, std::uint16_t port, bool quiet, int listener);
  std::string connect_child(std::uint32_t index, std::uint32_t first_stream,
                            const AcceptUntil& accept_until);
  std::string reap(Child* child);

  Split split_;
  std::vector<Child> children_;
};

}  // namespace ringcast::floorbench
