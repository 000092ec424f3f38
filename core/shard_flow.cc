// Publish flow control: a publisher never runs a topic's history past streams that are still
// reading it.
//
// A publish is acknowledged as soon as its owner shard has built the chunk; the fan-out goes on
// after. A publisher faster than the fan-out (or than its readers) would then push the history
// past every stream and each would be cut off as a slow consumer. Instead:
//
//   * every shard counts, per topic, its streams whose cursor is in the older half of a history
//     that is evicting (`at_risk`, recounted in deliver(), decremented as a stream's sends carry
//     it past the mark, see account_sent), and tells the owner when that count becomes or stops
//     being nonzero (a FlowMessage on each change, so they alternate);
//   * while any shard is behind on a topic, its owner holds new publishes to that topic, in
//     arrival order, and acknowledges none of them: the publisher waits, the fan-out catches up;
//   * so that the owner hears of it in time, it also holds publishes while another shard has
//     more than a quarter of a history of chunks in its mailbox, not yet delivered (a shard that
//     was descheduled would otherwise take a burst longer than the history in one pass);
//   * a stream holds publishers for at most --publish-wait-ms from when it fell behind, and for
//     one such wait in ten at most (flow_protects): then it no longer counts (seen at once, or by
//     flow_tick each tick) and falls off the history under the slow-consumer policy, while the
//     streams that read stay protected. A stream that stopped reading, or reads just fast enough
//     to keep passing the mark, costs a publisher one such wait, not more;
//   * as a last bound, a publish that waited twice --publish-wait-ms without progress makes the
//     topic "overrun": publishes flow and every stream that cannot keep up falls off, until no
//     shard is behind.
//   * a draining shard applies everything held at once: what was accepted is delivered.
//
// Owns: the flow fields of Topic, held_topics_. Touches: publish_local (to apply a held publish),
// on_publish_ack (answers to this shard's own connections), the mailboxes.
#include <algorithm>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"

namespace ringcast {

bool Shard::flow_holds(const Topic& t) const {
  if (t.held != nullptr && !t.held->queue.empty()) return true;  // keep arrival order
  return flow_on() && !t.overrun && (t.behind_shards.any() || mailboxes_behind());
}

// Another shard has more than a quarter of a history of chunks not yet delivered: it has not
// even seen how far behind its streams are (it was descheduled, or its passes are long).
bool Shard::mailboxes_behind() const {
  const std::uint32_t limit = std::max<std::uint32_t>(1, config_.history / 4);
  for (std::uint32_t s = 0; s < cluster_.shards; ++s) {
    if (s != index_ && cluster_.mailboxes[s]->chunks_pending.load(std::memory_order_relaxed) > limit)
      return true;
  }
  return false;
}

// A stream of the topic moved past `risk_mark` (or left): one fewer at risk. The count is exact
// at each delivered event; between events it may undercount (a resume placed in the range), which
// can only release a publisher early, never hold it longer.
void Shard::flow_passed(std::uint32_t ti) {
  Topic& t = topics_[ti];
  if (t.at_risk > 0) --t.at_risk;
  if (t.at_risk == 0) flow_report(ti);
}

void Shard::flow_report(std::uint32_t ti) {
  Topic& t = topics_[ti];
  const bool behind = t.at_risk > 0;
  if (behind == t.behind || !flow_on()) return;
  t.behind = behind;
  const std::uint32_t owner = owner_of(t.name, cluster_.shards);
  if (owner == index_) return set_behind(ti, index_, behind);
  auto* m = new FlowMessage();
  m->shard = index_;
  m->behind = behind;
  m->topic = t.name;
  post(owner, m);
}

void Shard::on_flow_message(FlowMessage* m) {
  if (m->shard >= cluster_.shards) return;
  // A topic this shard cannot hold (table full) is never held back: flow control fails open.
  const std::uint32_t ti = topic_index(m->topic, m->behind);
  if (ti == nil) return;
  set_behind(ti, m->shard, m->behind);
}

namespace {
// The shard clock in 64 ms units, never 0 (wraps every ~70 minutes).
std::uint16_t clock64(std::uint32_t now_ms) {
  const std::uint16_t v = static_cast<std::uint16_t>(now_ms >> 6);
  return v == 0 ? 1 : v;
}
// A stream's protection comes back this many waits after its last episode began.
constexpr std::uint32_t kRefillWaits = 10;
constexpr std::uint32_t kMaxRefillMs = 60u * 60u * 1000u;  // inside the clock's wrap
}  // namespace

// A stream found half a history behind: does it still hold publishers back? An episode begins
// the first time it falls behind and protects it for --publish-wait-ms; after that it no longer
// counts and falls off the history like any slow stream. A new episode can begin only ten waits
// after the last one began. Catching up does not renew it: while publishers wait nothing new is
// published, so any stream catches up then. So neither a stream that stopped reading nor one that
// reads just fast enough to keep passing the mark holds a topic's publishers for more than one
// wait in ten.
bool Shard::flow_protects(std::uint32_t ci) {
  Conn& c = conns_[ci];
  const std::uint16_t now = clock64(now_ms_);
  const std::uint32_t since_ms = std::uint32_t(std::uint16_t(now - c.risk_since)) * 64u;
  const std::uint32_t refill_ms = std::min(kRefillWaits * config_.publish_wait_ms, kMaxRefillMs);
  if (c.risk_since == 0 || since_ms >= refill_ms) {
    c.risk_since = now;
    return true;
  }
  return since_ms < config_.publish_wait_ms;
}

// Each tick: the topics this shard reported behind are counted again, leaving out the streams
// whose protection ran out since the last delivered event (none is delivered while the owner
// holds).
void Shard::flow_tick() {
  if (!flow_on()) return;
  for (std::uint32_t ti = 0; ti < topics_.size(); ++ti) {
    Topic& t = topics_[ti];
    if (!t.behind) continue;
    std::uint32_t at_risk = 0;
    for (std::uint32_t si = t.first_sub; si != nil; si = subs_[si].topic_next) {
      const Sub& s = subs_[si];
      const std::uint64_t needed = std::max(s.seq + (s.offset > 0), s.inflight_end);
      at_risk += s.seq < t.risk_mark && needed >= t.risk_from && flow_protects(s.conn);
    }
    t.at_risk = at_risk;
    flow_report(ti);
  }
}

void Shard::set_behind(std::uint32_t ti, std::uint32_t shard, bool behind) {
  Topic& t = topics_[ti];
  t.behind_shards.set(shard, behind);
  if (t.behind_shards.none()) t.overrun = false;  // caught up: the next wait starts afresh
}

// Takes over `m`, a publish to the topic at `ti` that must wait.
void Shard::hold_publish(std::uint32_t ti, PublishMessage* m) {
  Topic& t = topics_[ti];
  if (t.held == nullptr) t.held = std::make_unique<HeldPublishes>();
  if (t.held->queue.empty()) t.held->since_ms = now_ms_;
  if (!t.held->listed) {
    t.held->listed = true;
    held_topics_.push_back(ti);
  }
  t.held->queue.push_back(m);
  metrics_.publishes_held.add();
}

// Owner side of one publish: the id, the chunk, the fan-out, and the answer to its origin.
// Takes `m` over: it goes back to its origin as the answer.
void Shard::apply_publish(PublishMessage* m) {
  const std::uint32_t t = topic_index(m->topic, true);
  if (t != nil) m->id = publish_local(t, m->event, m->data);
  m->answer(t != nil ? 202 : 503);
  send_ack(m->origin_shard, m);
}

void Shard::send_ack(std::uint32_t origin, PublishMessage* m) {
  if (origin != index_) return post(origin, m);
  on_publish_ack(m);  // one of this shard's own connections
}

// Each loop pass: applies the held publishes whose topic caught up, in order, and lets the
// topics whose oldest waiting publish has waited --publish-wait-ms run over.
void Shard::release_held() {
  for (std::size_t i = 0; i < held_topics_.size();) {
    const std::uint32_t ti = held_topics_[i];
    HeldPublishes& held = *topics_[ti].held;  // owned by the topic; kept while it has any
    // Draining: every acknowledged event must reach the streams before their last "retry:".
    if (draining_) topics_[ti].overrun = true;
    const bool behind = topics_[ti].behind_shards.any() || mailboxes_behind();
    if (!topics_[ti].overrun && behind && elapsed(now_ms_, held.since_ms) >= 2 * config_.publish_wait_ms) {
      topics_[ti].overrun = true;
      metrics_.publish_overruns.add();
      log_event(LogLevel::info, "publish_overrun", "shard=%u topic=%s waited_ms=%u", index_,
                quoted(topics_[ti].name).c_str(), elapsed(now_ms_, held.since_ms));
    }
    // Each applied publish is delivered here at once and may put this shard behind again. The
    // topic is re-read each time: a publish may add topics and move the table.
    while (!held.queue.empty() &&
           (topics_[ti].overrun || (topics_[ti].behind_shards.none() && !mailboxes_behind()))) {
      PublishMessage* m = held.queue.front();
      held.queue.pop_front();
      held.since_ms = now_ms_;  // the wait bound is a wait without progress
      apply_publish(m);
    }
    if (!held.queue.empty()) {
      ++i;
      continue;
    }
    held.listed = false;
    held_topics_[i] = held_topics_.back();
    held_topics_.pop_back();
  }
}

}  // namespace ringcast
