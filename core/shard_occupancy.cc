// Who is listening, as events (--occupancy-events) and across nodes (--redis).
//
// Counting costs a subscriber nothing: subscribe()/unsubscribe_all() already keep each topic's
// `subscribers`; they only flag the topic. Once per tick every shard reports the new counts of
// its flagged topics, as values in a message:
//   * to the aggregator of topic T, the shard owning "_occupancy.T" (it alone publishes there,
//     so the occupancy events of T are serialized once and ordered, like any topic's);
//   * in Redis mode, to the node's occupancy thread, which keeps the node's counts in Redis
//     and hands every shard the other nodes' counts back (redis/occupancy.h).
// A stream of "_occupancy.T" is counted as a watcher of T, never as a subscriber of T, and
// topics starting with '_' (occupancy topics included) have no occupancy of their own.
#include <algorithm>
#include <numeric>

#include "base/assert.h"
#include "base/clock.h"
#include "core/shard.h"
#include "http/names.h"
#include "http/topic_info_json.h"

namespace ringcast {

// What the aggregator knows of one topic T: each shard's count of T and of T's watchers, and
// what it last announced.
struct OccupancyState {
  std::vector<std::uint32_t> subscribers;  // per shard
  std::vector<std::uint32_t> watchers;     // per shard: streams of "_occupancy.T"
  bool announced_occupied = false;         // "occupied" was the last transition (or is due)
  bool published_any = false;              // a count event went out since watchers appeared
  std::uint64_t published_node = 0, published_cluster = 0;
  std::uint32_t last_publish_ms = 0;
  std::uint32_t empty_since_ms = 0;        // 0: not empty (or not occupied before)
};

struct OccupancyTable {
  std::unordered_map<std::string, OccupancyState> topics;
};


namespace {
bool occupancy_wanted(const Config& c) { return c.occupancy_events || c.redis(); }

std::uint64_t sum(const std::vector<std::uint32_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}
}  // namespace

void Shard::occupancy_touch(std::uint32_t ti) {
  if (!occupancy_wanted(config_)) return;
  Topic& t = topics_[ti];
  if (t.occupancy_dirty) return;
  t.occupancy_dirty = true;
  occupancy_dirty_.push_back(ti);
}

// Called from tick() before the sweep, so every index on the list still names its topic.
void Shard::report_occupancy() {
  if (occupancy_dirty_.empty()) return;
  std::vector<OccupancyCountsMessage*> to_shard(cluster_.shards, nullptr);
  OccupancyCountsMessage* to_redis = nullptr;
  for (const std::uint32_t ti : occupancy_dirty_) {
    Topic& t = topics_[ti];
    t.occupancy_dirty = false;
    const std::string_view subject = http::access_subject(t.name);
    const bool watcher = subject.size() != t.name.size();
    // "_occupancy.T" counts watchers of T; "_occupancy._x" and "_stats" count nothing.
    if (subject.empty() || subject[0] == '_' || (watcher && t.name.size() - subject.size() > http::kOccupancyPrefix.size()))
      continue;
    if (config_.occupancy_events) {
      const std::string channel = std::string(http::kOccupancyPrefix) + std::string(subject);
      const std::uint32_t owner = owner_of(channel, cluster_.shards);
      if (to_shard[owner] == nullptr) {
        to_shard[owner] = new OccupancyCountsMessage();
        to_shard[owner]->origin_shard = index_;
      }
      to_shard[owner]->counts.emplace_back(t.name, t.subscribers);
    }
    if (!watcher && cluster_.occupancy != nullptr) {
      if (to_redis == nullptr) {
        to_redis = new OccupancyCountsMessage();
        to_redis->origin_shard = index_;
      }
      to_redis->counts.emplace_back(t.name, t.subscribers);
    }
  }
  occupancy_dirty_.clear();
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    if (to_shard[s] == nullptr) continue;
    if (s == index_) {
      on_occupancy_counts(to_shard[s]);
      delete to_shard[s];
    } else {
      post(s, to_shard[s]);
    }
  }
  if (to_redis != nullptr) cluster_.occupancy->report(to_redis);
}

// The aggregator takes one shard's counts.
void Shard::on_occupancy_counts(OccupancyCountsMessage* m) {
  if (occupancy_ == nullptr) occupancy_ = std::make_shared<OccupancyTable>();
  for (const auto& [name, count] : m->counts) {
    const std::string_view subject = http::access_subject(name);
    const bool watcher = subject.size() != name.size();
    auto it = occupancy_->topics.find(std::string(subject));
    if (it == occupancy_->topics.end()) {
      if (count == 0) continue;  // nothing known, nothing to forget
      it = occupancy_->topics.emplace(std::string(subject), OccupancyState{}).first;
      it->second.subscribers.assign(cluster_.shards, 0);
      it->second.watchers.assign(cluster_.shards, 0);
    }
    (watcher ? it->second.watchers : it->second.subscribers)[m->origin_shard] = count;
  }
}

void Shard::on_cluster_counts(ClusterCountsMessage* m) { cluster_counts_ = std::move(m->others); }

namespace {

// One step of a topic's occupancy, once per tick: which events are due now.
struct OccupancyStep {
  bool occupied = false, vacated = false, count = false;
};

OccupancyStep step_occupancy(OccupancyState& s, std::uint64_t node, std::uint64_t cluster,
                             bool watched, std::uint32_t now_ms, const Config& config) {
  OccupancyStep out;
  if (cluster > 0) {
    s.empty_since_ms = 0;
    if (!s.announced_occupied) out.occupied = s.announced_occupied = true;
  } else if (s.announced_occupied) {
    // Vacated only after the grace period: a reconnect blip (leave, come back) fires nothing.
    if (s.empty_since_ms == 0) s.empty_since_ms = now_ms | 1;
    else if (elapsed(now_ms, s.empty_since_ms) >= config.occupancy_grace_ms) {
      out.vacated = true;
      s.announced_occupied = false;
      s.empty_since_ms = 0;
    }
  }
  if (!watched) {
    s.published_any = false;  // a watcher arriving later gets the current counts at once
    return out;
  }
  const bool changed = !s.published_any || node != s.published_node || cluster != s.published_cluster;
  const bool may = !s.published_any || elapsed(now_ms, s.last_publish_ms) >= config.occupancy_interval_ms;
  if (changed && may) {
    out.count = true;
    s.published_any = true;
    s.published_node = node;
    s.published_cluster = cluster;
    s.last_publish_ms = now_ms;
  }
  return out;
}

}  // namespace

// Once per tick on the aggregator: publishes what is due on "_occupancy.T", and forgets
// topics nobody subscribes to, nobody watches and that have nothing announced pending.
void Shard::publish_occupancy() {
  if (occupancy_ == nullptr) return;
  for (auto it = occupancy_->topics.begin(); it != occupancy_->topics.end();) {
    OccupancyState& s = it->second;
    const std::uint64_t node = sum(s.subscribers);
    const std::uint64_t cluster = cluster_subscribers(it->first, node);
    const bool watched = sum(s.watchers) > 0;
    const OccupancyStep step = step_occupancy(s, node, cluster, watched, now_ms_, config_);
    if (watched && (step.occupied || step.vacated || step.count)) {
      const std::string channel = std::string(http::kOccupancyPrefix) + it->first;
      const std::uint32_t ti = topic_index(channel, true);
      if (ti != nil) {  // nil: the topic table is full; the next change tries again
        const std::string data = http::occupancy_json(it->first, node, cluster);
        if (step.occupied) publish_local(ti, "occupied", data);
        if (step.count) publish_local(ti, "occupancy", data);
        if (step.vacated) publish_local(ti, "vacated", data);
        metrics_.occupancy_events.add(int(step.occupied) + int(step.count) + int(step.vacated));
      }
    }
    const bool idle = node == 0 && !watched && !s.announced_occupied && cluster == 0;
    it = idle ? occupancy_->topics.erase(it) : std::next(it);
  }
}

}  // namespace ringcast
