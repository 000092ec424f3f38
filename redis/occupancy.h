#pragma once
// Redis mode: the node's subscriber counts in Redis, and the other nodes' counts back
// (README "Who is listening"). One thread with its own blocking hiredis connection, off the
// shards' path and apart from the bridge's publish/read connections:
//   * shards report their changed per-topic counts each tick (report());
//   * every heartbeat (--occupancy-ttl-ms / 3) the node's counts are rewritten to the hash
//     <prefix>occupancy:node:<node-id> with a TTL of --occupancy-ttl-ms, so a node that dies
//     (SIGKILL, power) has its counts expire; the node is listed in the sorted set
//     <prefix>occupancy:nodes (score: its last heartbeat, unix ms; stale members are pruned);
//   * every heartbeat the other nodes' hashes are read back, summed, and handed to every
//     shard as an immutable snapshot (ClusterCountsMessage).
// ':' never occurs in a topic name, so these keys never collide with a topic's stream key.
// What is read back is hostile (any client of that Redis can write it): parsed defensively,
// bounded in nodes, fields and values, never asserted on.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/bridge.h"
#include "core/mailbox.h"
#include "core/topic_messages.h"

struct redisReply;

namespace ringcast {

struct Cluster;
struct Config;
namespace redis { class Link; }

// Bounds on what is read back from Redis.
inline constexpr std::size_t kOccupancyNodesMax = 256;
inline constexpr std::uint64_t kOccupancyCountMax = 100'000'000;  // one node's count of one topic

// Parses an HGETALL reply of a node's counts into `out` (topic -> count). Fields that are not
// valid topic names and values that are not decimal counts up to kOccupancyCountMax are
// skipped; at most `fields_max` fields are taken. False if the reply is not a flat array (or
// map) of strings; `out` then holds nothing from it.
bool parse_occupancy_hash(const redisReply* reply, std::size_t fields_max,
                          std::vector<std::pair<std::string, std::uint64_t>>& out);

class RedisOccupancy final : public OccupancyPort {
 public:
  RedisOccupancy(const Config& config, Cluster& cluster);
  ~RedisOccupancy();
  RedisOccupancy(const RedisOccupancy&) = delete;

  void start();
  // Stops and joins the thread, and removes the node's counts (a clean exit expires nothing).
  void stop();
  // Shards: hand over a report (ownership passes). Picked up within a heartbeat.
  void report(OccupancyCountsMessage* m) override { mailbox_.push(m); }
  const std::string& node_id() const { return node_id_; }

 private:
  void loop();
  void absorb_reports();
  bool write_own(std::uint64_t now_ms);
  bool read_others(std::uint64_t now_ms);
  void hand_out(std::shared_ptr<const ClusterCounts> others);
  std::string node_key(std::string_view id) const;

  const Config& config_;
  Cluster& cluster_;
  Mailbox mailbox_;
  std::string node_id_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::unique_ptr<redis::Link> link_;
  // Thread only: topic -> count per shard (a topic is dropped when every count is 0).
  std::unordered_map<std::string, std::vector<std::uint32_t>> counts_;
  std::uint64_t last_read_ok_ms_ = 0;
  bool others_known_ = false;
};

}  // namespace ringcast
