#pragma once
// Where each connection attempt binds before connecting. Loopback offers ~28,000 kernel-chosen
// ports per (source, destination) pair, and the kernel's free-port search crawls once the box
// holds hundreds of thousands of connections; an explicit (127.x.y.z, port) per attempt
// avoids both. Attempt a of connection c takes slot (base + c + a * conns) of a space of
// 254 * 65,536 addresses x 31,000 ports, so a reconnect never reuses the pair its previous
// attempt left in TIME_WAIT, and the random base keeps two runs (or two processes) apart.
#include <netinet/in.h>

#include <cstdint>

namespace ringcast::load {

class SourcePlan {
 public:
  // Below the kernel's ephemeral range (32768-60999 by default): a port bound explicitly keeps
  // its bind bucket through TIME_WAIT, and the kernel's connect() port search skips such
  // buckets for every address, so binding ephemeral ports here would starve other programs'
  // connect() on the box (EADDRNOTAVAIL) for a minute after a large run.
  static constexpr std::uint32_t kPortLow = 1500;
  static constexpr std::uint32_t kPortsPerAddress = 31000;
  static constexpr std::uint64_t kAddresses = 254ull * 65536ull;  // 127.1.0.0 .. 127.254.255.255

  // `conns`: connections in the process; `avoid_port`: the target's port (binding a source to
  // it could collide with the server's own listener when that listens on 0.0.0.0).
  SourcePlan(std::uint64_t seed, std::uint64_t conns, std::uint16_t avoid_port);

  sockaddr_in source(std::uint64_t conn, std::uint32_t attempt) const;

 private:
  std::uint64_t base_;
  std::uint64_t conns_;
  std::uint16_t avoid_port_;
};

}  // namespace ringcast::load
