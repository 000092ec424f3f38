#include "server/host_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace ringcast {

namespace {

std::uint64_t rlimit_soft(int resource) {
  rlimit lim{};
  if (getrlimit(resource, &lim) != 0) return 0;
  return lim.rlim_cur == RLIM_INFINITY ? ~std::uint64_t{0} : std::uint64_t(lim.rlim_cur);
}

// Reads up to `n` unsigned numbers from a /proc file; returns how many it read.
int read_numbers(const char* path, std::uint64_t* out, int n) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;  // not mounted or not permitted (a container): reported as 0
  int got = 0;
  while (got < n && std::fscanf(f, "%" SCNu64, &out[got]) == 1) ++got;
  std::fclose(f);
  return got;
}

std::uint64_t mem_total_bytes() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib * 1024;
}

std::string format(const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string limit_text(std::uint64_t v) {
  return v == ~std::uint64_t{0} ? "unlimited" : std::to_string(v);
}

}  // namespace

HostLimits read_host_limits() {
  HostLimits h;
  h.nofile = rlimit_soft(RLIMIT_NOFILE);
  h.memlock = rlimit_soft(RLIMIT_MEMLOCK);
  read_numbers("/proc/sys/fs/file-max", &h.file_max, 1);
  read_numbers("/proc/sys/net/core/somaxconn", &h.somaxconn, 1);
  std::uint64_t range[2] = {0, 0};
  if (read_numbers("/proc/sys/net/ipv4/ip_local_port_range", range, 2) == 2) {
    h.port_low = range[0];
    h.port_high = range[1];
  }
  read_numbers("/proc/sys/net/ipv4/tcp_mem", h.tcp_mem_pages, 3);
  h.mem_total_bytes = mem_total_bytes();
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) h.page_bytes = std::uint64_t(page);
  return h;
}

HostCheck check_host_limits(const HostLimits& host, const CapacityPlan& plan) {
  HostCheck check;
  const std::uint64_t capacity = std::uint64_t(plan.shards) * plan.rings_per_shard * plan.files_per_ring;
  const std::uint64_t streams = plan.max_streams;
  const std::uint64_t per_stream = kUserBytesPerStream + kKernelBytesPerStream;
  const std::uint64_t ports = host.port_high >= host.port_low && host.port_high != 0
                                  ? host.port_high - host.port_low + 1 : 0;
  const std::uint64_t tcp_pressure_bytes = host.tcp_mem_pages[1] * host.page_bytes;
  check.fields = format(
      "nofile=%s memlock=%s file_max=%s somaxconn=%llu port_range=%llu-%llu tcp_mem_pages=%llu,%llu,%llu "
      "mem_total_bytes=%llu streams_per_ring=%u rings_per_shard=%u rings_needed=%llu "
      "streams_capacity=%llu max_streams=%llu bytes_per_stream=%llu memory_for_max_streams=%llu",
      limit_text(host.nofile).c_str(), limit_text(host.memlock).c_str(),
      limit_text(host.file_max).c_str(), (unsigned long long)host.somaxconn,
      (unsigned long long)host.port_low, (unsigned long long)host.port_high,
      (unsigned long long)host.tcp_mem_pages[0], (unsigned long long)host.tcp_mem_pages[1],
      (unsigned long long)host.tcp_mem_pages[2], (unsigned long long)host.mem_total_bytes,
      plan.files_per_ring, plan.rings_per_shard,
      (unsigned long long)(std::uint64_t(plan.shards) * plan.rings_per_shard),
      (unsigned long long)capacity, (unsigned long long)streams, (unsigned long long)per_stream,
      (unsigned long long)(streams * per_stream));
  auto warn = [&](const char* limit, std::uint64_t allows, const char* advice) {
    check.warnings.push_back(format("limit=%s allows=%llu max_streams=%llu advice=\"%s\"", limit,
                                    (unsigned long long)allows, (unsigned long long)streams,
                                    advice));
  };
  // Every socket is a kernel file, in a ring's table or not: fs.file-max counts them all.
  if (host.file_max != 0 && host.file_max < streams + 1024)
    warn("fs.file-max", host.file_max, "raise fs.file-max (docs/deploy/sysctl.md)");
  if (!plan.uring && host.nofile < streams)
    warn("RLIMIT_NOFILE", host.nofile, "--io epoll keeps every stream in the fd table: raise LimitNOFILE or use --io uring");
  if (host.mem_total_bytes != 0 && streams * per_stream > host.mem_total_bytes)
    warn("memory", host.mem_total_bytes / per_stream, "lower --max-streams or add memory");
  if (host.somaxconn != 0 && host.somaxconn < plan.listen_backlog)
    warn("net.core.somaxconn", host.somaxconn, "connect bursts overflow the listen backlog: raise net.core.somaxconn to 4096");
  // A reverse proxy opens one connection per stream from its own ephemeral ports: per proxy
  // address and ringcast address, the range is the ceiling.
  if (ports != 0 && ports < streams)
    warn("net.ipv4.ip_local_port_range", ports, "per proxy address; widen the range or give the proxy several source addresses");
  // Idle streams hold no socket buffers; a broadcast queues at least one skb on every stream.
  // Past the pressure threshold the kernel shrinks buffers and delays sends.
  if (tcp_pressure_bytes != 0 && tcp_pressure_bytes / 4096 < streams)
    warn("net.ipv4.tcp_mem", tcp_pressure_bytes / 4096, "streams that can each hold 4 KiB in flight before TCP memory pressure; raise tcp_mem");
  return check;
}

}  // namespace ringcast
