#include "redis/bridge.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"
#include "redis/link.h"
#include "redis/protocol.h"
#include "redis/replay.h"

namespace ringcast {

namespace {
constexpr std::uint32_t kWriterTimeoutMs = 2000;  // any one command of the writer
constexpr std::uint32_t kBlockMs = 1000;          // XREAD BLOCK; also how soon a stop is seen
constexpr std::uint32_t kReaderTimeoutMs = kBlockMs + 2000;
constexpr std::size_t kPublishBatch = 256;        // XADDs pipelined in one round trip
constexpr char kRetryAfter[] = "Retry-After: 1\r\n";
}  // namespace

std::string render_redis_metrics(const RedisMetrics& m) {
  struct Line {
    const char* name;
    const char* type;
    const char* help;
    const Counter* value;
  };
  const Line lines[] = {
      {"ringcast_redis_up", "gauge", "1 while the node's Redis connections are up.", &m.up},
      {"ringcast_redis_reconnects_total", "counter", "Redis connections re-established after a loss.",
       &m.reconnects},
      {"ringcast_redis_publishes_total", "counter", "Publishes appended to a stream (XADD).",
       &m.publishes},
      {"ringcast_redis_unavailable_total", "counter",
       "Publishes answered 503 because Redis was unreachable.", &m.unavailable},
      {"ringcast_redis_xadd_errors_total", "counter", "XADDs Redis answered with an error.",
       &m.xadd_errors},
      {"ringcast_redis_entries_read_total", "counter", "Stream entries read (XREAD) and fanned out.",
       &m.entries_read},
      {"ringcast_redis_replays_total", "counter", "Resumes served from a stream (XREVRANGE).",
       &m.replays},
      {"ringcast_redis_wrong_type_keys_total", "counter",
       "Watched keys found holding something else than a stream (left out of XREAD for 5 s).",
       &m.wrong_type_keys},
      {"ringcast_redis_replays_truncated_total", "counter",
       "Replays cut short by --history, --history-bytes or the per-stream cap (a gap event).",
       &m.replays_truncated},
  };
  std::string out;
  char text[320];
  for (const Line& l : lines) {
    std::snprintf(text, sizeof text, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", l.name, l.help, l.name,
                  l.type, l.name, static_cast<unsigned long long>(l.value->get()));
    out += text;
  }
  out += "# HELP ringcast_redis_entries_rejected_total Stream entries read and not fanned out "
         "because they break the rules of a publish.\n"
         "# TYPE ringcast_redis_entries_rejected_total counter\n";
  for (std::size_t r = 1; r < redis::kRejectReasons; ++r) {
    const std::string_view reason = redis::reject_name(redis::Reject(r));
    std::snprintf(text, sizeof text, "ringcast_redis_entries_rejected_total{reason=\"%.*s\"} %llu\n",
                  int(reason.size()), reason.data(),
                  static_cast<unsigned long long>(m.rejected_read[r].get() +
                                                  m.rejected_replay[r].get()));
    out += text;
  }
  return out;
}

RedisBridge::RedisBridge(const Config& config, Cluster& cluster)
    : config_(config),
      cluster_(cluster),
      writer_link_(std::make_unique<redis::Link>(config, kWriterTimeoutMs)),
      reader_link_(std::make_unique<redis::Link>(config, kReaderTimeoutMs)) {}

RedisBridge::~RedisBridge() {
  stop();
  while (Message* m = mailbox_.pop()) delete m;
}

std::string RedisBridge::key(std::string_view topic) const {
  std::string k = config_.redis_prefix;
  k += topic;
  return k;
}

std::string RedisBridge::start(net::ForeignWakers wakers) {
  RC_ASSERT(wakers);
  if (std::string err = wake_.init(); !err.empty()) return "redis bridge " + err;
  wakers_ = std::move(wakers);
  writer_ = std::thread([this] { writer_loop(); });
  reader_ = std::thread([this] { reader_loop(); });
  return {};
}

void RedisBridge::stop() {
  if (stop_.exchange(true)) return;
  wake();
  watch_changed_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (reader_.joinable()) reader_.join();
}

void RedisBridge::wake() { wake_.ring(); }

void RedisBridge::post(std::uint32_t shard, Message* m, net::Waker& waker) {
  cluster_.mailboxes[shard]->push(m);
  waker.due(shard);
}

// One log line per outage and one per recovery; `up` is 1 only while both links are up.
void RedisBridge::link_state(redis::Link& link, bool up_now) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  (&link == writer_link_.get() ? writer_up_ : reader_up_) = up_now;
  const bool up = writer_up_ && reader_up_;
  if (up == was_up_) return;
  was_up_ = up;
  metrics_.up.set(up ? 1 : 0);
  if (!up) {
    down_since_ms_ = monotonic_ms();
    // Publishes answer 503 and streams stay open; the links reconnect with backoff.
    log_event(LogLevel::warn, "redis_down", "addr=%s:%u error=%s", config_.redis_host.c_str(),
              config_.redis_port, quoted(link.last_error()).c_str());
    return;
  }
  if (ever_up_) {
    metrics_.reconnects.add();
    // Reading goes on from the last ids read: the streams' entries meanwhile are caught up.
    log_event(LogLevel::warn, "redis_up", "addr=%s:%u down_ms=%llu", config_.redis_host.c_str(),
              config_.redis_port, static_cast<unsigned long long>(monotonic_ms() - down_since_ms_));
  } else {
    log_event(LogLevel::info, "redis_connected", "addr=%s:%u key_prefix=%s",
              config_.redis_host.c_str(), config_.redis_port,
              quoted(config_.redis_prefix).c_str());
  }
  ever_up_ = true;
}

void RedisBridge::rejected(std::string_view key, const redis::ReadEntry& e, Counter* counts,
                           RejectLog& log) {
  RC_ASSERT(e.reject != redis::Reject::none);
  counts[std::size_t(e.reject)].add();
  const std::uint64_t now = monotonic_ms();
  if (now < log.next_ms) {
    ++log.suppressed;
    return;
  }
  log.next_ms = now + 1000;
  char id[42] = "-";
  if (e.has_id) id[format_event_id(e.entry.id, id)] = '\0';
  // The key comes from the reply: quoted, and cut short (a key can be 512 MB).
  log_event(LogLevel::warn, "redis_entry_rejected", "key=%s id=%s reason=%s suppressed=%llu",
            quoted(key.substr(0, 200)).c_str(), id, redis::reject_name(e.reject).data(),
            static_cast<unsigned long long>(log.suppressed));
  log.suppressed = 0;
}

bool RedisBridge::writer_ready() {
  std::string error;
  const bool was = writer_link_->connected();
  const bool ok = writer_link_->ensure(monotonic_ms(), error);
  if (ok != was || !ok) link_state(*writer_link_, ok);
  return ok;
}

// ---- writer -------------------------------------------------------------------------------

void RedisBridge::writer_loop() {
  std::string err;
  writer_waker_ = wakers_(err);
  if (writer_waker_ == nullptr) {
    log_event(LogLevel::error, "redis_bridge_failed", "error=%s", quoted(err).c_str());
    cluster_.stop.store(true);
    return;
  }
  writer_ready();  // connect at start-up (a Redis that is down only delays this)
  std::vector<PublishMessage*> batch;
  while (!stop_.load(std::memory_order_relaxed)) {
    // 250 ms: reconnect attempts continue while nothing is asked (for /metrics and the log).
    wake_.wait(250);
    if (!writer_link_->connected()) writer_ready();
    for (Message* m = mailbox_.pop(); m != nullptr; m = mailbox_.pop()) {
      if (m->kind == MessageKind::publish) {
        batch.push_back(static_cast<PublishMessage*>(m));
        if (batch.size() < kPublishBatch) continue;
        handle_publishes(batch);
        continue;
      }
      handle_publishes(batch);  // earlier publishes first: a connection's answers stay in order
      if (m->kind == MessageKind::stream_open) handle_open(static_cast<StreamOpenMessage*>(m));
      else if (m->kind == MessageKind::unwatch) handle_unwatch(static_cast<UnwatchMessage*>(m));
      else RC_ASSERT(false);
      delete m;
    }
    handle_publishes(batch);
    writer_waker_->flush();
  }
}

// XADDs every publish of the batch in one pipelined round trip; acks each in order.
void RedisBridge::handle_publishes(std::vector<PublishMessage*>& batch) {
  if (batch.empty()) return;
  const bool up = writer_ready();
  const std::uint32_t maxlen = config_.redis_maxlen != 0 ? config_.redis_maxlen : config_.history;
  if (up) {
    for (PublishMessage* m : batch) {
      if (!m->refusal) writer_link_->append(redis::xadd(key(m->topic), maxlen, m->event, m->data));
    }
  }
  // Each message goes back to its shard as its own answer (PublishMessage::answer).
  for (PublishMessage* m : batch) {
    if (m->refusal) {  // echoed, in order
      m->answer(m->status, m->detail, m->headers);
    } else if (redis::Reply r = writer_link_->reply(); !r) {
      metrics_.unavailable.add();
      m->answer(503, "redis is unavailable; try again", kRetryAfter);
    } else if (!redis::parse_xadd(r.get(), m->id)) {
      metrics_.xadd_errors.add();
      log_event(LogLevel::warn, "redis_xadd_refused", "key=%s error=%s",
                quoted(key(m->topic)).c_str(), quoted(redis::error_text(r.get())).c_str());
      m->answer(503, "redis refused the event", kRetryAfter);
    } else {
      metrics_.publishes.add();
      m->answer(202);
    }
    post(m->origin_shard, m, *writer_waker_);
  }
  if (!writer_link_->connected()) link_state(*writer_link_, false);
  batch.clear();
}

void RedisBridge::handle_open(StreamOpenMessage* m) {
  auto* ack = new StreamOpenAckMessage();
  ack->conn_token = m->conn_token;
  ack->last_id = std::move(m->last_id);
  ack->id_known = m->id_known;
  for (const StreamOpenMessage::Watch& w : m->watches) watch(w.topic, m->origin_shard);
  ack->watches = std::move(m->watches);
  for (const std::string& topic : m->replays) {
    ack->replays.emplace_back();
    fetch_replay(topic, m->after, redis::replay_budget_bytes(config_.history_bytes, m->replays.size()),
                 ack->replays.back());
  }
  post(m->origin_shard, ack, *writer_waker_);
}

// Adds the shard to the topic's watchers. A topic new to the node starts at the stream's
// newest entry, read now: the subscriber waiting for this ack gets its head only afterwards,
// so every event published after a client sees the stream head is read.
void RedisBridge::watch(const std::string& topic, std::uint32_t shard) {
  std::vector<std::uint8_t>& shards = watchers_[topic];
  if (shards.empty()) shards.assign(cluster_.shards, 0);
  const bool node_fresh = std::find(shards.begin(), shards.end(), 1) == shards.end();
  shards[shard] = 1;
  if (!node_fresh) return;
  EventId start{unix_ms(), 0};  // Redis down: the node clock stands in (documented)
  if (writer_ready()) {
    if (redis::Reply r = writer_link_->command(redis::xrevrange_last(key(topic))); r) {
      // The newest entry's id, whatever its fields: reading starts after it either way.
      std::vector<redis::ReadEntry> newest;
      if (redis::parse_entries(r.get(), config_.max_event_bytes, newest)) {
        if (newest.empty()) start = EventId{};
        else if (newest[0].has_id) start = newest[0].entry.id;
      }
    } else {
      link_state(*writer_link_, false);
    }
  }
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    watched_[topic] = Watched{start, ++watch_gen_};
  }
  watch_changed_.notify_all();
  // Interrupt the reader's XREAD BLOCK so it starts reading the new topic now.
  const long long reader = reader_client_id_.load();
  if (reader >= 0 && writer_link_->connected()) writer_link_->command(redis::client_unblock(reader));
}

void RedisBridge::handle_unwatch(UnwatchMessage* m) {
  auto it = watchers_.find(m->topic);
  if (it == watchers_.end()) return;
  it->second[m->origin_shard] = 0;
  if (std::find(it->second.begin(), it->second.end(), 1) != it->second.end()) return;
  watchers_.erase(it);
  std::lock_guard<std::mutex> lock(watch_mutex_);
  watched_.erase(m->topic);
}

// The newest entries after `after` that fit the replay's bounds (redis/replay.h), oldest
// first, and whether any were left out. Paged newest first, so the bridge holds at most one
// page beyond what it keeps; the first page travels with the exact-id check.
void RedisBridge::fetch_replay(const std::string& topic, EventId after, std::uint64_t budget_bytes,
                               StreamOpenAckMessage::Replay& out) {
  out.topic = topic;
  if (!writer_ready()) return;
  const std::string k = key(topic);
  redis::ReplayWindow window(after, config_.history, budget_bytes, config_.max_event_bytes);
  std::uint32_t asked = window.page_count();
  writer_link_->append(redis::xrange_exact(k, after));
  writer_link_->append(redis::xrevrange_after(k, after, asked, window.page_end()));
  redis::Reply exact = writer_link_->reply();
  redis::Reply page_reply = writer_link_->reply();  // both read before either is judged
  std::vector<redis::ReadEntry> found, page;
  bool ok = exact && redis::parse_entries(exact.get(), config_.max_event_bytes, found);
  while (ok) {
    page.clear();
    ok = page_reply && redis::parse_entries(page_reply.get(), config_.max_event_bytes, page);
    if (!ok) break;
    for (const redis::ReadEntry& e : page)
      if (e.reject != redis::Reject::none) rejected(k, e, metrics_.rejected_replay, writer_rejects_);
    if (!window.feed(page, asked)) break;
    asked = window.page_count();
    page_reply = writer_link_->command(redis::xrevrange_after(k, after, asked, window.page_end()));
  }
  if (!ok) {  // Redis went away, or refused (e.g. WRONGTYPE): the client gets "unavailable"
    if (!writer_link_->connected()) link_state(*writer_link_, false);
    return;
  }
  out.entries = window.take_entries();
  out.truncated = window.truncated();
  out.found = !found.empty();  // the resume id is still in the stream, whatever its fields
  out.ok = true;
  metrics_.replays.add();
  if (out.truncated) metrics_.replays_truncated.add();
}

// ---- reader -------------------------------------------------------------------------------

void RedisBridge::reader_loop() {
  std::string err;
  reader_waker_ = wakers_(err);
  if (reader_waker_ == nullptr) {
    log_event(LogLevel::error, "redis_bridge_failed", "error=%s", quoted(err).c_str());
    cluster_.stop.store(true);
    return;
  }
  while (!stop_.load(std::memory_order_relaxed)) {
    std::string error;
    const bool was = reader_link_->connected();
    if (!reader_link_->ensure(monotonic_ms(), error)) {
      link_state(*reader_link_, false);
      const std::uint64_t wait = std::min<std::uint64_t>(50, reader_link_->backoff_left(monotonic_ms()));
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max<std::uint64_t>(wait, 1)));
      continue;
    }
    if (!was) {
      redis::Reply id = reader_link_->command(redis::client_id());
      if (!id || id->type != REDIS_REPLY_INTEGER) continue;
      reader_client_id_.store(id->integer);
      link_state(*reader_link_, true);
    }
    if (!read_once()) link_state(*reader_link_, reader_link_->connected());
    reader_waker_->flush();
  }
}

// One XREAD round over every watched topic. Returns false if the link failed.
bool RedisBridge::read_once() {
  std::vector<std::string> keys;
  std::vector<EventId> after;
  std::unordered_map<std::string, std::uint32_t> gens;  // topic -> watch generation read
  {
    std::unique_lock<std::mutex> lock(watch_mutex_);
    // Expired ones are looked at again (a key may be a stream by now), and are forgotten if
    // their topic is no longer watched: the map never outgrows what was found in 5 s.
    const std::uint64_t now = monotonic_ms();
    std::erase_if(wrong_type_until_ms_, [now](const auto& kv) { return kv.second <= now; });
    for (const auto& [topic, w] : watched_) {
      std::string k = key(topic);
      if (wrong_type_until_ms_.contains(k)) continue;
      keys.push_back(std::move(k));
      after.push_back(w.last);
      gens.emplace(topic, w.gen);
    }
    if (keys.empty()) {  // nothing (readable) is watched
      watch_changed_.wait_for(lock, std::chrono::milliseconds(kBlockMs));
      lock.unlock();
      return bool(reader_link_->command({"PING"}));  // notices an outage while idle
    }
  }
  redis::Reply r = reader_link_->command(redis::xread(keys, after, config_.history, kBlockMs));
  if (!r) return false;
  if (redis::error_text(r.get()).starts_with("WRONGTYPE")) return skip_wrong_types(keys);
  std::vector<redis::KeyedEntry> entries;
  if (!redis::parse_xread(r.get(), config_.max_event_bytes, entries)) {
    log_event(LogLevel::warn, "redis_xread_failed", "error=%s",
              quoted(r->type == REDIS_REPLY_ERROR ? redis::error_text(r.get())
                                                  : std::string("unexpected reply")).c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. WRONGTYPE: not a hot loop
    return true;
  }
  bool stuck = false;
  {
    std::lock_guard<std::mutex> lock(watch_mutex_);
    for (redis::KeyedEntry& e : entries) stuck |= !take_read(e, gens);
  }
  // An entry no cursor can move past comes back every round: not a hot loop either.
  if (stuck) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return true;
}

// XREAD was refused because a key holds something else than a stream: finds which (TYPE, one
// pipelined round trip) and leaves those out for 5 s, so the other topics go on. Returns
// false if the link failed.
bool RedisBridge::skip_wrong_types(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) reader_link_->append({"TYPE", k});
  bool found = false;
  for (const std::string& k : keys) {
    redis::Reply type = reader_link_->reply();
    if (!type) return false;
    const bool stream = type->type == REDIS_REPLY_STATUS &&
                        (std::string_view(type->str, type->len) == "stream" ||
                         std::string_view(type->str, type->len) == "none");
    if (stream) continue;
    found = true;
    wrong_type_until_ms_[k] = monotonic_ms() + 5000;
    metrics_.wrong_type_keys.add();
    log_event(LogLevel::warn, "redis_key_wrong_type", "key=%s type=%s", quoted(k).c_str(),
              quoted(type->type == REDIS_REPLY_STATUS ? std::string(type->str, type->len)
                                                      : std::string("?")).c_str());
  }
  // Refused for another reason after all: not a hot loop.
  if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return true;
}

// One entry of an XREAD reply, under watch_mutex_: hands it to the topic's owner shard if it
// is new and valid. Returns false if the reader cannot move past it (no id to continue from).
bool RedisBridge::take_read(redis::KeyedEntry& e,
                            const std::unordered_map<std::string, std::uint32_t>& gens) {
  const std::string& prefix = config_.redis_prefix;
  // XREAD answers with the keys it was asked for; anything else is not a stream of ours.
  const bool ours = e.key.size() > prefix.size() && e.key.compare(0, prefix.size(), prefix) == 0;
  if (!ours || !e.read.has_id) {  // only a broken or hostile server sends this
    if (!ours) e.read.reject = redis::Reject::malformed;
    rejected(e.key, e.read, metrics_.rejected_read, reader_rejects_);
    return false;
  }
  const std::string topic = e.key.substr(prefix.size());
  auto it = watched_.find(topic);
  auto read_gen = gens.find(topic);
  // Unwatched or watched afresh since this read began: the entry belongs to a stale read.
  if (it == watched_.end() || read_gen == gens.end() || it->second.gen != read_gen->second)
    return true;
  if (e.read.entry.id <= it->second.last) return true;
  // Past it, accepted or not: a rejected entry is read (and counted) once.
  it->second.last = e.read.entry.id;
  if (e.read.reject != redis::Reject::none) {
    rejected(e.key, e.read, metrics_.rejected_read, reader_rejects_);
    return true;
  }
  auto* m = new RedisEntryMessage();
  m->topic = topic;
  m->entry = std::move(e.read.entry);
  post(Shard::owner_of(topic, cluster_.shards), m, *reader_waker_);
  metrics_.entries_read.add();
  return true;
}

}  // namespace ringcast
