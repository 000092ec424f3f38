#pragma once
// A shard: one thread, one ring (behind net::Io), one listener, its own connection records,
// topic table and timers. Shards share nothing but immutable chunks and talk through mailboxes.
//
// Split by concern across files:
//   shard.cc       loop, connection lifecycle, completions, timers, cross-shard messages
//   shard_http.cc  requests: parsing, routing, publish, subscribe, plain responses
//   shard_topics.cc the topic table: creation, the per-tick sweep that frees unused topics
//   shard_send.cc  fan-out: the ready list, building coalesced sends, send completions
//   shard_access.cc the one access decision of every read route; streams whose token expires
//   shard_poll.cc  the long-poll fallback: a held request woken like a stream, answered JSON
//   shard_topic_info.cc GET /topics/{topic} and GET /topics: counts summed over every shard
//   shard_occupancy.cc  subscriber counts reported each tick; occupancy events on "_occupancy.T"
//   shard_flow.cc  publish flow control: a publish waits while a topic's streams are far behind
//   shard_h2.cc    HTTP/2: the preface, the session's writer, streams as records of their own
#include <atomic>
#include <bitset>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alloc/slab.h"
#include "auth/access.h"
#include "core/bridge.h"
#include "core/config.h"
#include "core/conn_table.h"
#include "core/topic_table.h"
#include "core/h2_conn.h"
#include "core/history.h"
#include "core/mailbox.h"
#include "core/metrics.h"
#include "core/token_expiry.h"
#include "core/topic_messages.h"
#include "http/publish_batch.h"
#include "http/request_parser.h"
#include "http/routes.h"
#include "net/io.h"

namespace ringcast {

// What every shard can see of the others. Built once before the shards start.
struct Cluster {
  const Config* config = nullptr;
  const http::AccessPolicy* access = nullptr;  // null: open publish and subscribe, no CORS
  BridgePort* redis = nullptr;  // set with --redis (core/bridge.h, redis/bridge.h)
  OccupancyPort* occupancy = nullptr;  // set with --redis: node counts in Redis (redis/occupancy.h)
  std::uint32_t shards = 1;
  std::vector<std::unique_ptr<Mailbox>> mailboxes;       // one per shard
  std::vector<std::unique_ptr<ShardMetrics>> metrics;    // one per shard
  std::atomic<std::uint32_t> streams_open{0};            // for --max-streams
  std::atomic<bool> stop{false};                         // set on SIGTERM/SIGINT
  std::uint64_t boot_unix_ms = 0;
  std::atomic<std::uint64_t> boot_rss_bytes{0};  // resident memory once every shard is up
  // The one place shards share mutable state, off the delivery path: the event-id clock, one
  // compare-and-swap per publish, so ids are unique and ordered across every topic and shard.
  // Packed as (unix ms << 20) | counter within the millisecond.
  std::atomic<std::uint64_t> id_clock{0};
};

// Resident set size of the process, from /proc/self/statm (0 if unreadable).
std::uint64_t resident_bytes();

// Next event id from the cluster's clock: never below the last one, whatever the wall clock
// (`now`: the caller's Io::unix_ms) does.
EventId next_event_id(Cluster& cluster, std::uint64_t now);


// One topic subscription of one stream: a cursor into the topic's history.
struct Sub {
  std::uint32_t conn;
  std::uint32_t topic;          // local topic index
  std::uint32_t topic_prev;     // topic's subscriber list
  std::uint32_t topic_next;
  std::uint32_t conn_next;      // the stream's other subscriptions
  std::uint32_t offset;         // bytes of the chunk at `seq` already sent
  std::uint64_t seq;            // next event to send
  std::uint64_t inflight_end;   // end (exclusive) of the events in the send in flight
};
static_assert(sizeof(Sub) <= 48, "a subscription record must stay small");

struct OccupancyTable;  // shard_occupancy.cc: the occupancy topics this shard publishes

class Shard {
 public:
  Shard(std::uint32_t index, Cluster& cluster, net::Io& io);
  Shard(const Shard&) = delete;
  ~Shard();

  // Runs the loop until the cluster is stopped and every connection has drained.
  void run();

  // Arms the listener. run() calls it; tests driving run_once() call it themselves.
  void start();
  // One loop pass: wait up to timeout_ms, run completions, messages, timers, then flush.
  // Returns false once the shard has stopped and drained.
  bool run_once(int timeout_ms);
  std::uint32_t open_connections() const { return conns_.live(); }
  std::size_t token_expiries_queued() const { return token_expiry_.size(); }

  static std::uint32_t owner_of(std::string_view topic, std::uint32_t shards);

 private:
  friend class H2Conn;
  // shard.cc: loop, lifecycle, timers, messages
  void dispatch(const net::Completion& c);
  void on_accept(const net::Completion& c);
  void on_recv(const net::Completion& c);
  void on_close_done(std::uint32_t ci);
  void arm_recv(std::uint32_t ci);
  void begin_close(std::uint32_t ci);
  void maybe_finish_close(std::uint32_t ci);
  void shutdown_write(std::uint32_t ci);
  void on_fd_op_done(std::uint64_t token, std::uint8_t flag);
  void drain_mailbox();
  void post(std::uint32_t target, Message* message);
  void ring_doorbells();
  void tick();
  void begin_drain();
  void timer_touch(std::uint32_t ci);
  void timer_remove(std::uint32_t ci);
  std::uint64_t token(std::uint32_t ci) const;
  std::uint32_t conn_of(std::uint64_t token) const;  // nil if stale
  void refresh_gauges();
  void log_drops();

  // shard_http.cc: requests
  void on_request_bytes(std::uint32_t ci, std::string_view bytes);
  enum class Handled : std::uint8_t { done, incomplete, deferred };
  Handled handle_buffered(std::uint32_t ci, std::string_view bytes, bool pipelined,
                          std::size_t& consumed);
  bool may_pipeline(std::uint32_t ci, const http::Request& req) const;
  std::string& response_buffer(std::uint32_t ci);
  void route(std::uint32_t ci, const http::Request& req, std::string_view body);
  void refuse_method(std::uint32_t ci, const http::Route& r);
  void handle_subscribe(std::uint32_t ci, const http::Request& req, const http::ReadTarget& target);
  void handle_publish(std::uint32_t ci, const http::Request& req, std::string_view topic,
                      std::string_view body);
  void respond(std::uint32_t ci, int status, std::string_view content_type, std::string_view body,
               std::string_view extra_headers = {});
  void respond_error(std::uint32_t ci, int status, std::string_view detail,
                     std::string_view extra_headers = {});
  std::string_view answer_headers(std::uint32_t ci, std::string_view extra,
                                  std::string& scratch) const;
  void reject_publish(std::uint32_t ci, int status, const char* detail, const char* headers = "");
  void on_publish_message(PublishMessage* m);
  // shard_batch.cc: POST /pub with many events
  struct Batch {
    std::vector<http::BatchEvent> events;
    std::vector<EventId> ids;
    std::vector<std::uint8_t> failed_line;  // 1: its owner could not take the event
  };
  void handle_publish_batch(std::uint32_t ci, const http::Request& req, std::string_view body);
  bool on_batch_ack(PublishMessage* m);
  void answer_batch(std::uint32_t ci, const Batch& b);
  void on_publish_ack(PublishMessage* m);
  void finish_publish(std::uint32_t ci, int status, std::string_view topic, EventId id);
  void handle_admin_drop(std::uint32_t ci, const http::Request& req);
  void handle_preflight(std::uint32_t ci, const http::Request& req);
  void refuse_auth(std::uint32_t ci, const http::Request& req, const http::AuthOutcome& outcome);
  void count_refusal(const http::Request& req, const http::AuthOutcome& outcome);
  std::uint32_t drop_topic_streams(std::string_view topic);
  void on_drop_message(DropMessage* m);
  void on_drop_ack(DropAckMessage* m);
  void resume(std::uint32_t ci, std::string_view last_event_id, std::string& gaps);
  struct ResumePoint {
    std::uint64_t seq;       // first event to send
    std::string_view reason; // empty: exact; else why events may be missing (gap reason)
  };
  ResumePoint resume_point(const Topic& topic, bool parsed, EventId id, bool named) const;

  // shard_access.cc: the read routes' access decision, token expiry
  void route_read(std::uint32_t ci, const http::Request& req, const http::Route& r);
  void watch_token_expiry(std::uint32_t ci, std::int64_t expires_s);
  void end_expired_streams();
  bool end_stream_token_expired(std::uint32_t ci, bool force);

  // shard_poll.cc: long poll
  void handle_poll(std::uint32_t ci, const http::Request& req, const http::ReadTarget& target);
  void poll_woken(std::uint32_t ci);
  void answer_poll(std::uint32_t ci);
  void stash_input(std::uint32_t ci, std::string_view bytes);
  void publish_stats();

  // shard_redis.cc: Redis mode (--redis)
  bool redis_topic(std::string_view name) const;
  bool open_via_redis(std::uint32_t ci, std::string_view last_id);
  void on_stream_open_ack(StreamOpenAckMessage* m);
  void start_stream(std::uint32_t ci);
  void apply_replay(std::uint32_t ci, const StreamOpenAckMessage::Replay& replay,
                    std::string_view last_id, bool found_anywhere, std::string& out);
  void on_redis_entry(RedisEntryMessage* m);
  void maybe_unwatch(Topic& topic);

  // shard_topic_info.cc: who is listening, on request
  void handle_topic_info(std::uint32_t ci, const std::string& topic);
  void handle_topic_list(std::uint32_t ci, const http::Request& req);
  void start_topic_info(std::uint32_t ci, TopicInfoMessage& request);
  TopicSample sample_topic(std::uint32_t index) const;
  std::vector<TopicSample> local_samples(const TopicInfoMessage& request) const;
  void on_topic_info(TopicInfoMessage* m);
  void on_topic_info_ack(TopicInfoAckMessage* m);
  void answer_topic_info(std::uint32_t ci, std::vector<TopicSample>& samples, bool list,
                         std::uint32_t limit);
  std::uint64_t cluster_subscribers(std::string_view topic, std::uint64_t node) const;

  // shard_occupancy.cc: counts reported each tick, occupancy events
  void occupancy_touch(std::uint32_t topic);
  void report_occupancy();
  void on_occupancy_counts(OccupancyCountsMessage* m);
  void on_cluster_counts(ClusterCountsMessage* m);
  void publish_occupancy();
  // shard_flow.cc: publish flow control
  bool flow_on() const { return config_.publish_wait_ms > 0 && !config_.redis(); }
  bool flow_holds(const Topic& t) const;
  bool mailboxes_behind() const;
  bool flow_protects(std::uint32_t ci);
  void flow_tick();
  void flow_passed(std::uint32_t ti);
  void flow_report(std::uint32_t ti);
  void on_flow_message(FlowMessage* m);
  void set_behind(std::uint32_t ti, std::uint32_t shard, bool behind);
  void hold_publish(std::uint32_t ti, PublishMessage* m);
  void apply_publish(PublishMessage* m);
  void send_ack(std::uint32_t origin, PublishMessage* m);
  void release_held();

  // shard_h2.cc: HTTP/2 connections and their streams
  bool is_h2_stream(std::uint32_t ci) const { return conns_[ci].fd & kH2StreamFd; }
  H2Conn* h2_of(std::uint32_t ci) {
    if (h2_.empty()) return nullptr;
    auto it = h2_.find(ci);
    return it == h2_.end() ? nullptr : it->second.get();
  }
  void h2_init();
  H2Conn& h2_parent(std::uint32_t stream_ci);
  bool h2_detect(std::uint32_t ci, std::string_view bytes);
  void h2_on_bytes(std::uint32_t ci, std::string_view bytes);
  void h2_note_failure(std::uint32_t ci);
  void h2_send(std::uint32_t ci);
  void h2_linger(std::uint32_t ci);
  void h2_sent(std::uint32_t ci, std::int32_t res);
  void h2_stage(std::uint32_t ci);
  void h2_end_stream(std::uint32_t ci);
  void h2_finish_stream_close(std::uint32_t ci);
  void h2_close_streams(std::uint32_t ci);
  bool h2_teardown(std::uint32_t ci);
  void h2_goaway(std::uint32_t ci);
  void h2_open_stream(std::uint32_t ci, std::int32_t id, const http::H2Request& request);
  void h2_complete(H2Conn& h, std::int32_t id);
  std::uint32_t new_gen();

  // shard_topics.cc: the topic table
  std::uint32_t topic_index(std::string_view name, bool create);
  std::uint32_t live_topics() const { return topics_.live(); }
  bool reclaimable(std::uint32_t index) const;
  void sweep_topics();

  // shard_send.cc: fan-out
  // `id`: the event's id when it comes from a Redis stream; else the node's clock assigns one.
  EventId publish_local(std::uint32_t topic, std::string_view event, std::string_view data,
                        const EventId* id = nullptr);
  void deliver(Chunk* chunk);
  void mark_ready(std::uint32_t ci);   // ahead of queued fan-out (responses, control)
  void queue_ready(std::uint32_t ci);  // behind it (events)
  void flush_ready();
  void start_send(std::uint32_t ci);
  void on_send(std::uint32_t ci, std::int32_t res);
  void on_idle(std::uint32_t ci);
  void finish_response(std::uint32_t ci);
  void account_sent(std::uint32_t ci, std::uint32_t bytes);
  bool has_pending(std::uint32_t ci) const;
  // The shard drains, or this stream alone is ending (its token expired): once nothing is
  // pending it gets its last notice and then EOF.
  bool ending(std::uint32_t ci) const {
    return draining_ || (conns_[ci].more_flags & conn_flag2::drain_notice_sent);
  }
  void subscribe(std::uint32_t ci, std::uint32_t topic);
  void unsubscribe_all(std::uint32_t ci);
  void free_subs(std::uint32_t ci);
  void drop_slow(std::uint32_t ci);
  bool handle_behind(std::uint32_t ci);
  void append_gap(std::string& out, const Topic& topic, std::string_view last_id,
                  std::uint64_t first_seq, std::string_view reason,
                  const EventId* first_id = nullptr);

  std::uint32_t index_;
  Cluster& cluster_;
  const Config& config_;
  net::Io& io_;
  ShardMetrics& metrics_;
  std::vector<const ShardMetrics*> all_metrics_;

  ConnTable conns_;                       // records, tokens, the activity and ready lists
  Slab<Sub> subs_;
  Slab<H2Stream> h2_streams_;             // HTTP/2 streams' staging state (core/h2_conn.h)
  TopicTable topics_;                     // names to slots, created on demand (shard_topics.cc)
  std::vector<std::uint32_t> held_topics_;  // topics with publishes waiting (shard_flow.cc)

  std::vector<std::uint32_t> recv_retry_;  // receives that found no buffer
  bool bridge_due_ = false;                 // the Redis bridge has new messages
  std::vector<iovec> iov_;               // scratch for building one send
  http::H2Settings h2_settings_;         // every HTTP/2 session's bounds, from the config
  std::unordered_map<std::uint32_t, std::unique_ptr<H2Conn>> h2_;  // by connection record

  std::uint64_t start_ms_;
  std::uint32_t now_ms_ = 0;             // shard clock, read once per pass
  std::uint32_t next_tick_ms_ = 0;
  bool accepting_ = false;
  bool accept_rearm_due_ = false;
  bool draining_ = false;
  std::uint32_t drain_deadline_ms_ = 0;

  http::ParseLimits parse_limits_;
  // Stream heads: for each CORS slot (0: none), kPreludeVariants "retry: N" variants (jitter).
  static constexpr std::uint32_t kPreludeVariants = 16;
  std::vector<std::string> stream_preludes_;
  std::vector<std::string> drain_notices_;    // "retry: N" variants sent before a drain EOF
  std::unordered_map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> drops_;  // token ->
                                              // (acks outstanding, streams dropped)
  std::uint32_t slow_drops_unlogged_ = 0;     // streams dropped since the last log line
  std::uint32_t stall_drops_unlogged_ = 0;
  std::uint32_t stats_topic_ = nil;           // "_stats": live numbers for the page at /
  std::uint64_t stats_last_ms_ = 0;
  std::uint64_t stats_last_events_ = 0;
  std::uint64_t stats_last_deliveries_ = 0;
  std::minstd_rand rng_;
  std::unordered_map<std::uint64_t, Batch> batches_;  // connection token -> batch awaiting acks
  TokenExpiry token_expiry_;                  // streams opened with a token, soonest exp first
  std::vector<std::pair<std::int64_t, std::uint64_t>> expiry_retry_;  // scratch: busy at expiry
  // Who is listening. Info requests waiting on other shards: token -> (acks owed, samples).
  struct InfoPending {
    std::uint32_t acks = 0;
    bool list = false;
    std::uint32_t limit = 0;
    std::vector<TopicSample> samples;
  };
  std::unordered_map<std::uint64_t, InfoPending> infos_;
  std::vector<std::uint32_t> occupancy_dirty_;    // topics whose count changed since the tick
  std::shared_ptr<OccupancyTable> occupancy_;     // aggregator state (--occupancy-events);
                                                  // shared_ptr: complete only in its own file
  std::shared_ptr<const ClusterCounts> cluster_counts_;  // other nodes' counts (Redis mode)

  // shard_spares.cc: what the publish path reuses instead of allocating (issue #16): response
  // buffers (Conn::out, out_next) and publish messages back from their round trip, with their
  // capacity; and handle_publish's decoded names.
  std::string* take_buffer();
  void give_back(std::string* buffer);  // null is fine
  PublishMessage* take_publish();
  void recycle(PublishMessage* m);
  std::vector<std::string*> spare_buffers_;
  std::vector<PublishMessage*> spare_publishes_;
  std::string publish_topic_, publish_event_;
};

}  // namespace ringcast
