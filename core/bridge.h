#pragma once
// What a shard sees of the node's Redis side (--redis). core/ does not include redis/: the
// layers point one way (docs/ARCHITECTURE.md), so core/ declares the two doors it knocks on
// and redis/ implements them (redis::Bridge is RedisBridge in redis/bridge.h, the occupancy
// thread RedisOccupancy in redis/occupancy.h); server/ start-up puts them in the Cluster.
// Off the delivery path: a shard knocks once per publish it forwards and once per loop pass.
#include <cstdint>
#include <string>

#include "core/mailbox.h"

namespace ringcast {

struct OccupancyCountsMessage;

// The shard id a publishing connection names when the bridge owes it acks.
inline constexpr std::uint8_t kBridgeShard = 255;

// The Redis bridge's inbox.
class BridgePort {
 public:
  virtual Mailbox& mailbox() = 0;
  // Wakes the bridge's writer thread; called by shards after posting to mailbox().
  virtual void wake() = 0;
  // The bridge's counters as Prometheus text, for GET /metrics.
  virtual std::string render_metrics() const = 0;

 protected:
  ~BridgePort() = default;
};

// The node's occupancy thread (Redis mode): takes each shard's subscriber counts.
class OccupancyPort {
 public:
  // Hands over a report (ownership passes). Picked up within a heartbeat.
  virtual void report(OccupancyCountsMessage* m) = 0;

 protected:
  ~OccupancyPort() = default;
};

}  // namespace ringcast
