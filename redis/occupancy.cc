#include "redis/occupancy.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "base/clock.h"
#include "base/log.h"
#include "core/config.h"
#include "core/shard.h"
#include "http/names.h"
#include "redis/link.h"

namespace ringcast {

namespace {
constexpr std::uint32_t kIoTimeoutMs = 2000;
constexpr std::size_t kFieldsPerHset = 256;  // one HSET carries at most this many topics
constexpr std::uint64_t kPruneAfterTtls = 10;  // a node silent this many TTLs leaves the set

bool is_string(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

// A count as Redis holds it: 1-9 decimal digits, at most kOccupancyCountMax.
bool parse_count(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 9) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + std::uint64_t(c - '0');
  }
  return out <= kOccupancyCountMax;
}

// Node ids this code writes are 16 hex digits; anything else read back is skipped.
bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
  });
}

std::string random_node_id() {
  std::random_device rd;
  const std::uint64_t v = (std::uint64_t(rd()) << 32) ^ rd() ^ (unix_ms() << 1);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}
}  // namespace

bool parse_occupancy_hash(const redisReply* reply, std::size_t fields_max,
                          std::vector<std::pair<std::string, std::uint64_t>>& out) {
  out.clear();
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) return false;
  for (std::size_t i = 0; i + 1 < reply->elements && out.size() < fields_max; i += 2) {
    const redisReply* field = reply->element[i];
    const redisReply* value = reply->element[i + 1];
    if (!is_string(field) || !is_string(value)) {
      out.clear();
      return false;
    }
    const std::string_view name(field->str, field->len);
    std::uint64_t n = 0;
    if (!http::valid_topic(name) || name[0] == '_' || !parse_count({value->str, value->len}, n)) continue;
    out.emplace_back(std::string(name), n);
  }
  return true;
}

RedisOccupancy::RedisOccupancy(const Config& config, Cluster& cluster)
    : config_(config),
      cluster_(cluster),
      node_id_(random_node_id()),
      link_(std::make_unique<redis::Link>(config, kIoTimeoutMs)) {}

RedisOccupancy::~RedisOccupancy() {
  stop();
  while (Message* m = mailbox_.pop()) delete m;
}

std::string RedisOccupancy::node_key(std::string_view id) const {
  return config_.redis_prefix + "occupancy:node:" + std::string(id);
}

void RedisOccupancy::start() { thread_ = std::thread([this] { loop(); }); }

void RedisOccupancy::stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
}

void RedisOccupancy::loop() {
  const std::uint64_t heartbeat_ms = std::max<std::uint64_t>(250, config_.occupancy_ttl_ms / 3);
  std::uint64_t next_ms = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const std::uint64_t now = unix_ms();
    if (now >= next_ms) {
      next_ms = now + heartbeat_ms;
      absorb_reports();
      std::string error;
      if (link_->ensure(monotonic_ms(), error) && write_own(now) && read_others(now)) {
        last_read_ok_ms_ = now;
      } else if (others_known_ && now - last_read_ok_ms_ > config_.occupancy_ttl_ms) {
        // Redis unreachable for longer than a count lives there: what we hold is stale.
        others_known_ = false;
        hand_out(std::make_shared<const ClusterCounts>());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // how soon a stop is seen
  }
  std::string error;
  if (link_->ensure(monotonic_ms(), error)) {  // a clean exit: the node's counts go at once
    link_->command({"DEL", node_key(node_id_)});
    link_->command({"ZREM", config_.redis_prefix + "occupancy:nodes", node_id_});
  }
}

void RedisOccupancy::absorb_reports() {
  while (Message* m = mailbox_.pop()) {
    auto* report = static_cast<OccupancyCountsMessage*>(m);
    for (const auto& [topic, count] : report->counts) {
      std::vector<std::uint32_t>& per_shard = counts_[topic];
      if (per_shard.empty()) per_shard.assign(cluster_.shards, 0);
      per_shard[report->origin_shard] = count;
      if (std::all_of(per_shard.begin(), per_shard.end(), [](std::uint32_t c) { return c == 0; }))
        counts_.erase(topic);
    }
    delete m;
  }
}

// Rewrites the node's hash in one MULTI/EXEC (readers never see it half written), refreshes
// its TTL and the node's heartbeat. O(occupied topics) per heartbeat: simple, and robust to a
// Redis that restarted empty or a key that expired while Redis was unreachable.
bool RedisOccupancy::write_own(std::uint64_t now_ms) {
  const std::string key = node_key(node_id_);
  const std::string nodes = config_.redis_prefix + "occupancy:nodes";
  std::size_t replies = 0;
  auto send = [&](redis::Command c) {
    link_->append(c);
    ++replies;
  };
  send({"MULTI"});
  send({"DEL", key});
  redis::Command hset = {"HSET", key};
  for (const auto& [topic, per_shard] : counts_) {
    std::uint64_t n = 0;
    for (std::uint32_t c : per_shard) n += c;
    hset.push_back(topic);
    hset.push_back(std::to_string(n));
    if (hset.size() >= 2 + 2 * kFieldsPerHset) {
      send(hset);
      hset.resize(2);
    }
  }
  if (hset.size() > 2) send(hset);
  send({"PEXPIRE", key, std::to_string(config_.occupancy_ttl_ms)});
  send({"ZADD", nodes, std::to_string(now_ms), node_id_});
  const std::uint64_t stale = kPruneAfterTtls * config_.occupancy_ttl_ms;
  send({"ZREMRANGEBYSCORE", nodes, "-inf", std::to_string(now_ms > stale ? now_ms - stale : 0)});
  send({"EXEC"});
  bool ok = true;
  for (std::size_t i = 0; i < replies; ++i) {
    redis::Reply r = link_->reply();
    if (!r) return false;  // the link dropped; replies left unread went with it
    if (i + 1 == replies && r->type != REDIS_REPLY_ARRAY) ok = false;  // EXEC aborted
  }
  if (!ok) log_event(LogLevel::warn, "redis_occupancy_write_failed", "key=%s", quoted(key).c_str());
  return ok;
}

// Reads every other node's counts (newest heartbeats first, at most kOccupancyNodesMax) and
// hands the sums to the shards.
bool RedisOccupancy::read_others(std::uint64_t now_ms) {
  (void)now_ms;
  redis::Reply members = link_->command(
      {"ZREVRANGE", config_.redis_prefix + "occupancy:nodes", "0", std::to_string(kOccupancyNodesMax - 1)});
  if (!members) return false;
  std::vector<std::string> ids;
  if (members->type == REDIS_REPLY_ARRAY) {
    for (std::size_t i = 0; i < members->elements && ids.size() < kOccupancyNodesMax; ++i) {
      const redisReply* e = members->element[i];
      if (!is_string(e)) continue;
      const std::string_view id(e->str, e->len);
      if (valid_node_id(id) && id != node_id_) ids.emplace_back(id);
    }
  }
  for (const std::string& id : ids) link_->append({"HGETALL", node_key(id)});
  auto others = std::make_shared<ClusterCounts>();
  std::vector<std::pair<std::string, std::uint64_t>> fields;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    redis::Reply r = link_->reply();
    if (!r) return false;
    // An expired node's hash is gone: HGETALL answers an empty array, which adds nothing.
    if (!parse_occupancy_hash(r.get(), config_.max_topics, fields)) continue;
    for (const auto& [topic, n] : fields) {
      if (others->size() >= config_.max_topics && !others->count(topic)) break;
      (*others)[topic] += n;  // at most 256 nodes x 1e8: no overflow
    }
  }
  others_known_ = true;
  hand_out(std::move(others));
  return true;
}

void RedisOccupancy::hand_out(std::shared_ptr<const ClusterCounts> others) {
  // No doorbell: every shard drains its mailbox at least once per tick (250 ms), which is
  // soon enough for a count refreshed once per heartbeat.
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    auto* m = new ClusterCountsMessage();
    m->others = others;
    cluster_.mailboxes[s]->push(m);
  }
}

}  // namespace ringcast
