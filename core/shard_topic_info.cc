// Who is listening, on request: GET /topics/{topic} and GET /topics. The answering shard asks
// every other shard for its counts (a round trip through the mailboxes, like /admin/drop) and
// sums them: each shard reads only its own topic table, and a subscriber costs nothing here
// beyond the `subscribers` count every topic keeps anyway.
#include <algorithm>

#include "auth/topic_scope.h"
#include "base/assert.h"
#include "base/clock.h"
#include "core/shard.h"
#include "http/names.h"
#include "http/topic_info_json.h"

namespace ringcast {

// Access was decided by route_read (the same decision as a stream of the topic). Asking
// creates nothing: a topic no shard holds is 404.
void Shard::handle_topic_info(std::uint32_t ci, const std::string& topic) {
  TopicInfoMessage request;
  request.topic = topic;
  start_topic_info(ci, request);
}

// Access: with access control on, only the topics the caller's token may subscribe to are
// listed (the scope travels with the request and filters before the page is cut, so a page
// is never short because of topics the caller cannot see). Topics starting with '_' are the
// server's own and never listed.
void Shard::handle_topic_list(std::uint32_t ci, const http::Request& req) {
  TopicInfoMessage request;
  request.list = true;
  if (cluster_.access != nullptr) {
    auto scope = std::make_shared<http::TopicScope>();
    const http::AuthOutcome auth =
        cluster_.access->subscribe_scope(req, std::int64_t(io_.unix_ms() / 1000), *scope);
    if (auth.status != 0) return refuse_auth(ci, req, auth);
    if (!scope->all) request.scope = std::move(scope);
  }
  http::TopicListQuery query;
  if (!http::parse_topic_list_query(req.query, query))
    return respond_error(ci, query.error_status, query.error_detail);
  request.prefix = std::move(query.prefix);
  request.after = std::move(query.after);
  request.limit = query.limit;
  start_topic_info(ci, request);
}

void Shard::start_topic_info(std::uint32_t ci, TopicInfoMessage& request) {
  std::vector<TopicSample> samples = local_samples(request);
  if (cluster_.shards == 1) return answer_topic_info(ci, samples, request.list, request.limit);
  InfoPending& pending = infos_[token(ci)];
  pending.acks = cluster_.shards - 1;
  pending.list = request.list;
  pending.limit = request.limit;
  pending.samples = std::move(samples);
  conns_[ci].state = ConnState::publishing;  // waiting on other shards, like a publish
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    if (s == index_) continue;
    auto* m = new TopicInfoMessage();
    m->list = request.list;
    m->topic = request.topic;
    m->prefix = request.prefix;
    m->after = request.after;
    m->limit = request.limit;
    m->scope = request.scope;
    m->origin_shard = index_;
    m->conn_token = token(ci);
    post(s, m);
  }
}

TopicSample Shard::sample_topic(std::uint32_t index) const {
  const Topic& t = topics_[index];
  TopicSample s;
  s.name = t.name;
  s.subscribers = t.subscribers;
  s.history_events = t.history.end() - t.history.begin();
  s.history_bytes = t.history.bytes();
  if (!t.history.empty()) {
    s.last = t.history.at(t.history.end() - 1)->id;
    s.has_event = true;
  }
  return s;
}

// This shard's answer: the one topic if it holds it, or the first `limit` names of the page
// (sorted), so the merge of every shard's answers holds the first `limit` of the union.
std::vector<TopicSample> Shard::local_samples(const TopicInfoMessage& request) const {
  std::vector<TopicSample> out;
  if (!request.list) {
    if (const std::uint32_t index = topics_.find(request.topic); index != nil)
      out.push_back(sample_topic(index));
    return out;
  }
  std::vector<std::uint32_t> matches;
  for (std::uint32_t i = 0; i < topics_.size(); ++i) {
    const std::string& name = topics_[i].name;
    if (name.empty() || name[0] == '_') continue;  // a free slot, or the server's own
    if (name.compare(0, request.prefix.size(), request.prefix) != 0) continue;
    if (!request.after.empty() && name <= request.after) continue;
    if (request.scope != nullptr && !http::scope_grants(*request.scope, name)) continue;
    matches.push_back(i);
  }
  const std::size_t keep = std::min<std::size_t>(matches.size(), request.limit);
  std::partial_sort(matches.begin(), matches.begin() + keep, matches.end(),
                    [&](std::uint32_t a, std::uint32_t b) { return topics_[a].name < topics_[b].name; });
  for (std::size_t i = 0; i < keep; ++i) out.push_back(sample_topic(matches[i]));
  return out;
}

void Shard::on_topic_info(TopicInfoMessage* m) {
  auto* ack = new TopicInfoAckMessage();
  ack->conn_token = m->conn_token;
  ack->topics = local_samples(*m);
  post(m->origin_shard, ack);
}

void Shard::on_topic_info_ack(TopicInfoAckMessage* m) {
  auto it = infos_.find(m->conn_token);
  if (it == infos_.end()) return;
  InfoPending& pending = it->second;
  for (TopicSample& s : m->topics) pending.samples.push_back(std::move(s));
  if (--pending.acks > 0) return;
  std::vector<TopicSample> samples = std::move(pending.samples);
  const bool list = pending.list;
  const std::uint32_t limit = pending.limit;
  infos_.erase(it);
  const std::uint32_t ci = conn_of(m->conn_token);
  if (ci == nil || conns_[ci].state != ConnState::publishing) return;  // the caller left
  answer_topic_info(ci, samples, list, limit);
}

// Subscribers on every live node: this node's (fresh) plus the others' as last read from
// Redis. Without Redis the node is the cluster.
std::uint64_t Shard::cluster_subscribers(std::string_view topic, std::uint64_t node) const {
  if (cluster_counts_ == nullptr) return node;
  const auto it = cluster_counts_->find(std::string(topic));
  return it == cluster_counts_->end() ? node : node + it->second;
}

// Merges the shards' samples of each name: subscribers add up; every shard keeps its own copy
// of the history, so the largest copy (the owner's, normally) stands for the topic.
void Shard::answer_topic_info(std::uint32_t ci, std::vector<TopicSample>& samples, bool list,
                              std::uint32_t limit) {
  std::sort(samples.begin(), samples.end(),
            [](const TopicSample& a, const TopicSample& b) { return a.name < b.name; });
  std::vector<http::TopicCounts> merged;
  for (std::size_t i = 0; i < samples.size();) {
    http::TopicCounts t;
    t.topic = samples[i].name;
    EventId last;
    bool has_event = false;
    for (; i < samples.size() && samples[i].name == t.topic; ++i) {
      const TopicSample& s = samples[i];
      t.subscribers += s.subscribers;
      t.history_events = std::max(t.history_events, s.history_events);
      t.history_bytes = std::max(t.history_bytes, s.history_bytes);
      if (s.has_event && (!has_event || last < s.last)) last = s.last;
      has_event |= s.has_event;
    }
    t.subscribers_cluster = cluster_subscribers(t.topic, t.subscribers);
    if (has_event) {
      char text[42];
      t.last_event_id.assign(text, format_event_id(last, text));
    }
    merged.push_back(std::move(t));
  }
  if (!list) {
    if (merged.empty()) return respond_error(ci, 404, "no such topic");
    return respond(ci, 200, "application/json", http::topic_info_json(merged[0]));
  }
  // A full page names its last topic as the cursor of the next; a short one is the last.
  if (merged.size() > limit) merged.resize(limit);
  const std::string next = merged.size() == limit ? merged.back().topic : std::string();
  respond(ci, 200, "application/json", http::topic_list_json(merged, next));
}

}  // namespace ringcast
