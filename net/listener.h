#pragma once
// Listening sockets: one per shard on the same address, spread by SO_REUSEPORT.
#include <cstdint>
#include <string>

namespace ringcast::net {

struct ListenResult {
  int fd = -1;
  std::uint16_t port = 0;  // the bound port (useful when 0 was asked for)
  std::string error;       // empty on success
};

// Creates a non-blocking TCP listener with SO_REUSEADDR, SO_REUSEPORT and TCP_NODELAY (which
// accepted sockets inherit: SSE events are small and must not wait for Nagle).
// sndbuf/rcvbuf (0: kernel default) are set on the listener, which accepted sockets inherit.
ListenResult listen_tcp(const std::string& host, std::uint16_t port, int backlog,
                        int sndbuf = 0, int rcvbuf = 0);

// The soft RLIMIT_NOFILE, which bounds each ring's fixed-file table.
std::uint32_t nofile_limit();

}  // namespace ringcast::net
