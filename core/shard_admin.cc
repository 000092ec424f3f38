// Operator endpoints that span shards: the admin drop, and the live numbers on "_stats".
#include <unistd.h>

#include <cstdio>

#include "base/clock.h"
#include "core/shard.h"
#include "http/names.h"
#include "http/query.h"

namespace ringcast {

// POST /admin/drop?topic=T closes every stream of T on every shard (a server-side drop: the
// clients reconnect with Last-Event-ID). Answers once every shard has reported its count.
void Shard::handle_admin_drop(std::uint32_t ci, const http::Request& req) {
  std::string topic;
  http::QueryIter it(req.query);
  std::string_view key, value;
  while (it.next(key, value)) {
    if (key == "topic" && !http::percent_decode(value, topic)) topic.clear();
  }
  if (!http::valid_topic(topic)) return respond_error(ci, 400, "name a valid ?topic=");
  // Dropping a topic's streams is a publisher's power: it needs the right to publish to it.
  if (cluster_.access != nullptr) {
    const http::AuthOutcome auth =
        cluster_.access->check_publish(req, topic, std::int64_t(io_.unix_ms() / 1000));
    if (auth.status != 0) return refuse_auth(ci, req, auth);
  }
  const std::uint32_t local = drop_topic_streams(topic);
  if (cluster_.shards == 1) {
    return respond(ci, 200, "application/json", "{\"dropped\":" + std::to_string(local) + "}\n");
  }
  drops_[token(ci)] = {cluster_.shards - 1, local};
  conns_[ci].state = ConnState::publishing;  // waiting on other shards, like a publish
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    if (s == index_) continue;
    auto* m = new DropMessage();
    m->origin_shard = index_;
    m->conn_token = token(ci);
    m->topic = topic;
    post(s, m);
  }
}

std::uint32_t Shard::drop_topic_streams(std::string_view name) {
  const std::uint32_t ti = topic_index(name, false);
  if (ti == nil) return 0;
  std::uint32_t dropped = 0;
  // begin_close unlinks the stream's subscription from this list, so read `next` first.
  for (std::uint32_t si = topics_[ti].first_sub; si != nil;) {
    const std::uint32_t next = subs_[si].topic_next;
    begin_close(subs_[si].conn);
    ++dropped;
    si = next;
  }
  return dropped;
}

void Shard::on_drop_message(DropMessage* m) {
  auto* ack = new DropAckMessage();
  ack->conn_token = m->conn_token;
  ack->dropped = drop_topic_streams(m->topic);
  post(m->origin_shard, ack);
}

void Shard::on_drop_ack(DropAckMessage* m) {
  auto it = drops_.find(m->conn_token);
  if (it == drops_.end()) return;
  it->second.second += m->dropped;
  if (--it->second.first > 0) return;
  const std::uint32_t total = it->second.second;
  drops_.erase(it);
  const std::uint32_t ci = conn_of(m->conn_token);
  if (ci == nil || conns_[ci].state != ConnState::publishing) return;  // the caller left
  respond(ci, 200, "application/json", "{\"dropped\":" + std::to_string(total) + "}\n");
}

std::uint64_t resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  const int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return n == 2 ? std::uint64_t(pages_resident) * std::uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

// Once a second, while anybody watches "_stats", its owner shard publishes the process's live
// numbers there as an ordinary event (so the page at / can show them through EventSource).
void Shard::publish_stats() {
  if (owner_of("_stats", cluster_.shards) != index_) return;
  const std::uint64_t now = io_.monotonic_ms();
  if (now - stats_last_ms_ < 1000) return;
  std::uint64_t watchers = 0, streams = 0, conns = 0, events = 0, deliveries = 0;
  for (const ShardMetrics* m : all_metrics_) {
    watchers += m->stats_streams.get();
    streams += m->streams.get();
    conns += m->connections.get();
    events += m->events_published.get();
    deliveries += m->deliveries.get();
  }
  const double seconds = stats_last_ms_ == 0 ? 1.0 : double(now - stats_last_ms_) / 1000.0;
  const double events_per_s = double(events - stats_last_events_) / seconds;
  const double deliveries_per_s = double(deliveries - stats_last_deliveries_) / seconds;
  stats_last_ms_ = now;
  stats_last_events_ = events;
  stats_last_deliveries_ = deliveries;
  if (watchers == 0) return;
  // Memory per stream is what the process grew by since start-up, over the streams it holds.
  const std::uint64_t rss = resident_bytes();
  const std::uint64_t boot = cluster_.boot_rss_bytes.load(std::memory_order_relaxed);
  const double per_stream = streams ? double(rss > boot ? rss - boot : 0) / double(streams) : 0.0;
  char json[384];
  std::snprintf(json, sizeof json,
                "{\"streams\":%llu,\"connections\":%llu,\"events_per_s\":%.1f,"
                "\"deliveries_per_s\":%.1f,\"bytes_per_stream\":%.0f,\"rss_bytes\":%llu,"
                "\"shards\":%u}",
                static_cast<unsigned long long>(streams), static_cast<unsigned long long>(conns),
                events_per_s, deliveries_per_s, per_stream,
                static_cast<unsigned long long>(rss), cluster_.shards);
  publish_local(stats_topic_, "stats", json);
}

}  // namespace ringcast
