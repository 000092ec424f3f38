#include "tools/load/source_plan.h"

#include <arpa/inet.h>

namespace ringcast::load {

namespace {
constexpr std::uint64_t kSpace = SourcePlan::kAddresses * SourcePlan::kPortsPerAddress;
}

SourcePlan::SourcePlan(std::uint64_t seed, std::uint64_t conns, std::uint16_t avoid_port)
    : base_(seed % kSpace), conns_(conns == 0 ? 1 : conns), avoid_port_(avoid_port) {}

sockaddr_in SourcePlan::source(std::uint64_t conn, std::uint32_t attempt) const {
  const std::uint64_t slot = (base_ + conn + std::uint64_t(attempt) * conns_) % kSpace;
  // Consecutive connections take consecutive ports of one address, so a ring's sockets share
  // few addresses (the kernel's per-address bind buckets stay short).
  const std::uint64_t address = slot / kPortsPerAddress;
  std::uint32_t port = kPortLow + std::uint32_t(slot % kPortsPerAddress);
  if (port >= avoid_port_) ++port;  // skips the target's port; stays below 32,501
  const std::uint32_t ip = (127u << 24) | std::uint32_t((1 + address / 65536) << 16) |
                           std::uint32_t(address % 65536);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  sa.sin_addr.s_addr = htonl(ip);
  return sa;
}

}  // namespace ringcast::load
