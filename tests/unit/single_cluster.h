#pragma once
// A one-shard cluster for tests that drive a real Shard over a test IO backend.
#include <memory>

#include "base/clock.h"
#include "core/shard.h"

namespace ringcast {

// Fills `cluster` for one shard reading `config` (which must outlive it). `boot_unix_ms`: the
// start-up time on the shard's wall clock (its Io::unix_ms; the system's by default).
inline void init_single_cluster(Cluster& cluster, const Config& config,
                                std::uint64_t boot_unix_ms = unix_ms()) {
  cluster.config = &config;
  cluster.shards = 1;
  cluster.boot_unix_ms = boot_unix_ms;
  cluster.id_clock.store(cluster.boot_unix_ms << 20);
  cluster.mailboxes.push_back(std::make_unique<Mailbox>());
  cluster.metrics.push_back(std::make_unique<ShardMetrics>());
}

}  // namespace ringcast
