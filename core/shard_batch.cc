// Batch publishing (POST /pub, NDJSON; http/publish_batch.h): every event of the batch is
// published as a single publish would be (the topic's owner shard assigns the id, or the Redis
// bridge appends it), and the connection gets one answer with every id, in request order, once
// the last owner has answered. A batch goes alone: nothing behind it on the connection is
// handled until it is answered.
#include "base/assert.h"
#include "base/clock.h"
#include "core/shard.h"
#include "http/publish_batch.h"

namespace ringcast {

void Shard::handle_publish_batch(std::uint32_t ci, const http::Request& req, std::string_view body) {
  const http::AccessPolicy* access = cluster_.access;
  const std::int64_t now_s = std::int64_t(io_.unix_ms() / 1000);
  // Without credentials the body is not even read: an anonymous client learns nothing from it.
  if (access != nullptr && !access->publish_open() && req.authorization.empty())
    return refuse_auth(ci, req, access->check_publish(req, "", now_s));
  Batch batch;
  std::string error;
  const http::BatchLimits limits{config_.max_batch_events, config_.max_event_bytes};
  if (!http::parse_publish_batch(body, limits, batch.events, error)) return respond_error(ci, 400, error);
  if (access != nullptr) {
    for (const http::BatchEvent& e : batch.events) {  // the token must grant every topic
      const http::AuthOutcome auth = access->check_publish(req, e.topic, now_s);
      if (auth.status != 0) return refuse_auth(ci, req, auth);
    }
  }
  RC_ASSERT(conns_[ci].pending_acks == 0);  // may_pipeline saw to it
  const std::size_t n = batch.events.size();
  batch.ids.resize(n);
  batch.failed_line.assign(n, 0);
  metrics_.batch_publishes.add();
  std::uint32_t outstanding = 0;
  for (std::size_t i = 0; i < n; ++i) {
    http::BatchEvent& e = batch.events[i];
    const std::uint32_t owner = config_.redis() ? kBridgeShard : owner_of(e.topic, cluster_.shards);
    std::uint32_t t = nil;
    if (owner == index_) {
      t = topic_index(e.topic, true);
      if (t == nil) batch.failed_line[i] = 1;
      if (t == nil || !flow_holds(topics_[t])) {
        if (t != nil) batch.ids[i] = publish_local(t, e.event, e.data);
        continue;
      }
    }
    // To the owner; or, on this shard, held while the topic's streams are behind.
    PublishMessage* m = take_publish();
    m->conn_token = token(ci);
    m->batch_index = std::uint32_t(i + 1);
    m->topic.assign(e.topic);
    m->event.assign(e.event);
    m->data.assign(e.data);  // kept in the batch too: the answer names the topics
    ++outstanding;
    if (owner == index_) hold_publish(t, m);
    else post(owner, m);
  }
  Conn& c = conns_[ci];
  if (outstanding == 0) return answer_batch(ci, batch);
  c.pending_acks = static_cast<std::uint16_t>(outstanding);
  c.state = ConnState::publishing;
  batches_.emplace(token(ci), std::move(batch));
}

// One owner's answer for one event of a batch. Returns false if it was not a batch's.
bool Shard::on_batch_ack(PublishMessage* m) {
  if (m->batch_index == 0) return false;
  const auto it = batches_.find(m->conn_token);
  if (it == batches_.end()) return true;  // the batch was answered with an error already
  const std::uint32_t ci = conn_of(m->conn_token);
  if (ci == nil || conns_[ci].state != ConnState::publishing) {  // the publisher left
    batches_.erase(it);
    return true;
  }
  Batch& b = it->second;
  const std::size_t i = m->batch_index - 1;
  RC_ASSERT(i < b.ids.size() && conns_[ci].pending_acks > 0);
  if (m->status == 202 && m->detail == nullptr) b.ids[i] = m->id;
  else b.failed_line[i] = 1;
  if (--conns_[ci].pending_acks > 0) return true;
  Batch done = std::move(b);
  batches_.erase(it);
  answer_batch(ci, done);
  return true;
}

// 202 with every id; or, if an owner could not take an event (its topic table full, Redis
// down), 503 naming the first such line: the other events were published (validation is
// all-or-nothing, publishing across shards cannot be).
void Shard::answer_batch(std::uint32_t ci, const Batch& b) {
  for (std::size_t i = 0; i < b.failed_line.size(); ++i) {
    if (b.failed_line[i] == 0) continue;
    const std::string detail = "line " + std::to_string(i + 1) +
                               ": not published (topic limit reached or Redis unavailable); "
                               "the other lines were published";
    return respond_error(ci, 503, detail, "Retry-After: 5\r\n");
  }
  std::string body;
  http::append_batch_answer(body, b.events, b.ids);
  respond(ci, 202, "application/json", body);
}

}  // namespace ringcast
