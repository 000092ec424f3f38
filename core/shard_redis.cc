// Redis mode (--redis), the shard's side: streams wait for the bridge's watch before their
// head goes out, resumes the local history cannot serve exactly are replayed from the stream,
// and entries the bridge reads are serialized once by the topic's owner shard.
// The bridge itself: redis/bridge.h. The contract: docs/PROTOCOL.md, "Redis mode".
#include <algorithm>

#include "base/assert.h"
#include "base/log.h"
#include "core/shard.h"
#include "http/sse_encoder.h"

namespace ringcast {

// Topics starting with '_' are the node's own (the live numbers on "_stats"): never in Redis.
bool Shard::redis_topic(std::string_view name) const {
  return config_.redis() && !name.empty() && name[0] != '_';
}

// Places the new stream's cursors. A topic this shard does not watch yet must be watched
// before the stream starts (so nothing published after the client sees the head is missed);
// a resume point the local history cannot serve exactly is fetched from the stream. Either
// way the stream waits for the bridge (state `opening`). Returns false if no topic of the
// stream lives in Redis (the caller then proceeds as without Redis).
bool Shard::open_via_redis(std::uint32_t ci, std::string_view last_id) {
  Conn& c = conns_[ci];
  EventId after;
  const bool resuming = !last_id.empty();
  const bool parsed = resuming && parse_event_id(last_id, after);
  bool any = false;
  StreamOpenMessage* m = nullptr;
  auto message = [&] {
    if (m == nullptr) {
      m = new StreamOpenMessage();
      m->origin_shard = index_;
      m->conn_token = token(ci);
      m->after = after;
      m->last_id = std::string(last_id);
    }
    return m;
  };
  std::string gaps;
  bool id_known = false;
  for (std::uint32_t si = c.first_sub; si != nil; si = subs_[si].conn_next) {
    Sub& s = subs_[si];
    Topic& t = topics_[s.topic];
    if (!redis_topic(t.name)) continue;
    any = true;
    if (t.watch != Watch::on) {
      if (t.watch == Watch::off) {
        // What this shard holds of the topic may predate a time nobody here watched it.
        t.watch = Watch::pending;
        ++t.watch_gen;
        t.contiguous_seq = t.history.end();
      }
      message()->watches.push_back({t.name, t.watch_gen});
    }
    if (!resuming) continue;
    if (!parsed) {
      append_gap(gaps, t, last_id, t.history.end(), "malformed");  // live events only
      continue;
    }
    const std::uint64_t at = t.watch == Watch::on ? t.history.find(after) : 0;
    if (at != 0 && at >= t.contiguous_seq) {
      s.seq = s.inflight_end = at + 1;  // exact, from this shard's gapless history
      id_known = true;
    } else {
      message()->replays.push_back(t.name);
    }
  }
  if (!any) {
    RC_ASSERT(m == nullptr);
    return false;
  }
  if (resuming) metrics_.resumes.add();
  if (!gaps.empty()) {
    c.out = new std::string(std::move(gaps));
    c.out_off = 0;
  }
  if (m == nullptr) {
    start_stream(ci);
    return true;
  }
  m->id_known = id_known;
  c.state = ConnState::opening;
  timer_touch(ci);
  if (config_.stream_recv) arm_recv(ci);  // a client leaving meanwhile is noticed at once
  post(kBridgeShard, m);
  return true;
}

namespace {

// The wire bytes of every replayed entry, plus room for one gap event per topic (at most
// about 320 bytes: a 128-byte topic, a 64-byte echoed id, a first id, the fixed text).
std::size_t replay_wire_bytes(const std::vector<StreamOpenAckMessage::Replay>& replays) {
  std::size_t bytes = 0;
  for (const auto& r : replays) {
    bytes += 320;
    for (const StreamEntry& e : r.entries) {
      char id_text[42];
      bytes += http::encoded_size({id_text, format_event_id(e.id, id_text)}, e.event, e.data);
    }
  }
  return bytes;
}

}  // namespace

void Shard::on_stream_open_ack(StreamOpenAckMessage* m) {
  for (const StreamOpenMessage::Watch& w : m->watches) {
    const std::uint32_t ti = topic_index(w.topic, false);
    // A stale ack (the topic was unwatched and watched again meanwhile) changes nothing.
    if (ti != nil && topics_[ti].watch == Watch::pending && topics_[ti].watch_gen == w.gen)
      topics_[ti].watch = Watch::on;
  }
  const std::uint32_t ci = conn_of(m->conn_token);
  if (ci == nil || conns_[ci].state != ConnState::opening) return;  // the client left
  bool found_anywhere = m->id_known;  // ids are per stream: the id names one topic's entry
  for (const auto& r : m->replays) found_anywhere |= r.found;
  // The replay is bounded by the bridge (redis/replay.h) and written once, into a buffer
  // of its final size that becomes the stream's output: no growth copies, no second copy.
  std::string out;
  out.reserve(replay_wire_bytes(m->replays));
  for (const auto& r : m->replays) apply_replay(ci, r, m->last_id, found_anywhere, out);
  Conn& c = conns_[ci];
  if (!out.empty()) {
    if (c.out == nullptr) {
      c.out = new std::string(std::move(out));
      c.out_off = 0;
    } else {
      *c.out += out;
    }
  }
  start_stream(ci);
}

// Writes the replayed entries of one topic into `out` (sent ahead of the topic's live events)
// and moves the topic's cursor past every history entry the replay already covered, so
// replay and live events meet with no duplicate and no gap: the replay was read after the
// cursor was placed, so every entry it lacks arrives later, behind the cursor.
void Shard::apply_replay(std::uint32_t ci, const StreamOpenAckMessage::Replay& replay,
                         std::string_view last_id, bool found_anywhere, std::string& out) {
  std::uint32_t si = conns_[ci].first_sub;
  while (si != nil && topics_[subs_[si].topic].name != replay.topic) si = subs_[si].conn_next;
  RC_ASSERT(si != nil);  // the stream's subscriptions do not change while it opens
  Sub& s = subs_[si];
  const Topic& t = topics_[s.topic];
  RC_ASSERT(s.offset == 0 && s.seq == s.inflight_end);
  if (!replay.ok) {
    append_gap(out, t, last_id, s.seq, "unavailable");  // Redis down: live events only
    return;
  }
  const EventId* first = replay.entries.empty() ? nullptr : &replay.entries.front().id;
  if (replay.truncated || !found_anywhere) append_gap(out, t, last_id, s.seq, "expired", first);
  EventId covered;
  parse_event_id(last_id, covered);
  for (const StreamEntry& e : replay.entries) {
    char id_text[42];
    const std::string_view id(id_text, format_event_id(e.id, id_text));
    const std::size_t at = out.size();
    out.resize(at + http::encoded_size(id, e.event, e.data));
    http::encode_event(id, e.event, e.data, out.data() + at);
    covered = e.id;
  }
  s.seq = s.inflight_end = std::max(s.seq, t.history.first_after(covered));
}

// The owner shard of an entry's topic: serialize once with the stream's id, fan out.
void Shard::on_redis_entry(RedisEntryMessage* m) {
  const std::uint32_t ti = topic_index(m->topic, true);
  if (ti == nil) {
    log_event(LogLevel::warn, "redis_entry_dropped", "shard=%u topic=%s reason=max_topics", index_,
              quoted(m->topic).c_str());
    return;
  }
  Topic& t = topics_[ti];
  if (m->entry.id <= t.last_id) return;  // the bridge hands each id over once; be sure
  t.last_id = m->entry.id;
  publish_local(ti, m->entry.event, m->entry.data, &m->entry.id);
}

// The shard's last subscriber of a topic left: the node may stop reading its stream.
void Shard::maybe_unwatch(Topic& topic) {
  if (!redis_topic(topic.name) || topic.watch == Watch::off) return;
  topic.watch = Watch::off;
  auto* m = new UnwatchMessage();
  m->origin_shard = index_;
  m->topic = topic.name;
  post(kBridgeShard, m);
}

}  // namespace ringcast
