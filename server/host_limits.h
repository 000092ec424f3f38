#pragma once
// The host's limits that bound how many streams one ringcast process can hold, and what they
// allow for a given plan. read_host_limits() does the IO (getrlimit, /proc); check_host_limits()
// is pure, so the arithmetic is unit-tested with made-up hosts.
#include <cstdint>
#include <string>
#include <vector>

namespace ringcast {

struct HostLimits {
  std::uint64_t nofile = 0;           // RLIMIT_NOFILE (soft)
  std::uint64_t memlock = 0;          // RLIMIT_MEMLOCK (soft), bytes; ~0 for unlimited
  std::uint64_t file_max = 0;         // fs.file-max (0: unreadable)
  std::uint64_t somaxconn = 0;        // net.core.somaxconn
  std::uint64_t port_low = 0, port_high = 0;  // net.ipv4.ip_local_port_range
  std::uint64_t tcp_mem_pages[3] = {0, 0, 0};  // net.ipv4.tcp_mem: min, pressure, max (pages)
  std::uint64_t mem_total_bytes = 0;  // MemTotal from /proc/meminfo
  std::uint64_t page_bytes = 4096;
};

// What the server was configured to hold, as planned in server.cc.
struct CapacityPlan {
  std::uint32_t shards = 1;
  std::uint32_t files_per_ring = 0;  // streams one ring can hold
  std::uint32_t rings_per_shard = 1; // rings a shard may add to hold its share
  std::uint64_t max_streams = 0;
  std::uint32_t listen_backlog = 4096;
  bool uring = true;
};

// Memory one idle stream costs, measured on Linux 6.18 (README, "Density"): the process's own
// share (records, slab growth) and the kernel's socket (TCP sock, inode, file, dentry).
inline constexpr std::uint64_t kUserBytesPerStream = 200;
inline constexpr std::uint64_t kKernelBytesPerStream = 4800;

struct HostCheck {
  std::string fields;                 // logfmt: the host's limits and what they allow
  std::vector<std::string> warnings;  // logfmt, one per limit that binds before max_streams
};

HostLimits read_host_limits();
HostCheck check_host_limits(const HostLimits& host, const CapacityPlan& plan);

}  // namespace ringcast
