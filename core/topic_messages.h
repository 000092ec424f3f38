#pragma once
// Messages of "Who is listening" (README): the cross-shard round trip that answers
// GET /topics/{topic} and GET /topics, and the subscriber counts that feed occupancy events
// and, in Redis mode, the node's counts in Redis. Counts are read by the shard that owns
// them and travel as values: no shard reads another's topic table.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/jwt_claims.h"
#include "core/mailbox.h"

namespace ringcast {

// One shard's view of one topic.
struct TopicSample {
  std::string name;
  std::uint32_t subscribers = 0;
  std::uint64_t history_events = 0;
  std::uint64_t history_bytes = 0;
  EventId last;           // newest event in the history (valid if has_event)
  bool has_event = false;
};

struct TopicInfoMessage final : Message {
  TopicInfoMessage() { kind = MessageKind::topic_info; }
  std::uint32_t origin_shard = 0;
  std::uint64_t conn_token = 0;
  bool list = false;   // false: the one topic `topic`; true: a page (prefix, after, limit)
  std::string topic;
  std::string prefix;
  std::string after;
  std::uint32_t limit = 0;
  std::shared_ptr<const http::TopicScope> scope;  // listing: what the caller may see (null: all)
};

struct TopicInfoAckMessage final : Message {
  TopicInfoAckMessage() { kind = MessageKind::topic_info_ack; }
  std::uint64_t conn_token = 0;
  std::vector<TopicSample> topics;  // info: at most one; a page: at most `limit`, sorted
};

// Absolute subscriber counts of one shard for the topics that changed since its last report
// (0: the last subscriber left). "_occupancy.T" entries count the watchers of T's occupancy.
struct OccupancyCountsMessage final : Message {
  OccupancyCountsMessage() { kind = MessageKind::occupancy_counts; }
  std::uint32_t origin_shard = 0;
  std::vector<std::pair<std::string, std::uint32_t>> counts;
};

// Topic -> subscribers on every other live node (Redis mode), as last read from Redis.
using ClusterCounts = std::unordered_map<std::string, std::uint64_t>;

struct ClusterCountsMessage final : Message {
  ClusterCountsMessage() { kind = MessageKind::cluster_counts; }
  std::shared_ptr<const ClusterCounts> others;  // immutable once posted, shared by every shard
};

}  // namespace ringcast
