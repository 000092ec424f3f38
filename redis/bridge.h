#pragma once
// The node's bridge to Redis Streams (--redis): scale-out across ringcast nodes.
//
// Off the shards' hot path, two threads each own one blocking hiredis connection:
//   writer  takes shard requests from its mailbox (woken through a net::WakeFd): XADDs publishes
//           (pipelined, one round trip per batch) and acks each publishing connection with the
//           entry id or a 503; starts and stops watching topics; fetches missed entries for
//           resuming streams (XREVRANGE).
//   reader  XREAD BLOCKs the streams of every watched topic, from the last id read per topic,
//           and hands each entry to the topic's owner shard, which serializes it once with the
//           Redis id and fans it out as it would a local publish.
// In Redis mode every delivery, this node's own publishes included, comes through the reader,
// so every node sees each topic's events in the stream's order with the stream's ids.
// Redis down: publishes answer 503, streams stay open, both threads reconnect with capped
// backoff and the reader continues from its last ids (catch-up). See docs/PROTOCOL.md.
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/bridge.h"
#include "core/mailbox.h"
#include "core/metrics.h"
#include "net/waker.h"
#include "redis/protocol.h"

namespace ringcast {

struct Cluster;
struct Config;
namespace redis { class Link; }

// Node-wide counters of the bridge (each written by one bridge thread; `up` under a lock).
struct RedisMetrics {
  Counter up;              // gauge: 1 while both connections are established
  Counter reconnects;      // connections re-established after a loss
  Counter publishes;       // XADDs acknowledged
  Counter unavailable;     // publishes answered 503 because Redis was unreachable
  Counter xadd_errors;     // XADDs Redis refused with an error reply
  Counter entries_read;    // entries XREAD handed to the shards
  Counter replays;         // resumes served from the stream
  Counter replays_truncated;  // of those, cut short by their bounds (the client got a gap)
  Counter wrong_type_keys;    // watched keys found holding something else than a stream
  // Entries read and not fanned out, by redis::Reject (slot 0 unused). One array per bridge
  // thread, since a Counter has one writer; /metrics shows their sum per reason.
  Counter rejected_read[redis::kRejectReasons];    // reader: XREAD
  Counter rejected_replay[redis::kRejectReasons];  // writer: replays and watch starts
};
std::string render_redis_metrics(const RedisMetrics& m);

class RedisBridge final : public BridgePort {
 public:
  RedisBridge(const Config& config, Cluster& cluster);
  ~RedisBridge();
  RedisBridge(const RedisBridge&) = delete;

  // Starts both threads. `wakers`: how a thread of ours gets its waker for the shards, from
  // their backend (net/waker.h).
  std::string start(net::ForeignWakers wakers);
  // Stops and joins both threads (after the shards have stopped).
  void stop();

  Mailbox& mailbox() override { return mailbox_; }
  // Wakes the writer thread; called by shards after posting to mailbox().
  void wake() override;
  RedisMetrics& metrics() { return metrics_; }
  std::string render_metrics() const override { return render_redis_metrics(metrics_); }
  std::string key(std::string_view topic) const;

 private:
  // writer thread
  void writer_loop();
  void handle_publishes(std::vector<PublishMessage*>& batch);
  void handle_open(StreamOpenMessage* m);
  void handle_unwatch(UnwatchMessage* m);
  void watch(const std::string& topic, std::uint32_t shard);
  void fetch_replay(const std::string& topic, EventId after, std::uint64_t budget_bytes,
                    StreamOpenAckMessage::Replay& out);
  bool writer_ready();
  // reader thread
  void reader_loop();
  bool read_once();
  bool take_read(redis::KeyedEntry& e, const std::unordered_map<std::string, std::uint32_t>& gens);
  bool skip_wrong_types(const std::vector<std::string>& keys);
  // both: an entry that is not fanned out is counted, and logged at most once a second per
  // thread (a stream full of bad entries must not flood the log; /metrics counts them all).
  struct RejectLog {
    std::uint64_t next_ms = 0;
    std::uint64_t suppressed = 0;  // lines skipped since the last one written
  };
  void rejected(std::string_view key, const redis::ReadEntry& e, Counter* counts, RejectLog& log);
  // both
  void post(std::uint32_t shard, Message* m, net::Waker& waker);
  void link_state(redis::Link& link, bool up_now);

  const Config& config_;
  Cluster& cluster_;
  Mailbox mailbox_;
  net::WakeFd wake_;  // the writer sleeps on it; shards ring it (wake())
  std::atomic<bool> stop_{false};
  RedisMetrics metrics_;
  net::ForeignWakers wakers_;
  std::thread writer_;
  std::thread reader_;

  // Topics this node reads: topic -> the last id handed to the shards. Shared by both
  // threads under `watch_mutex_` (touched once per XREAD round and per watch change).
  struct Watched {
    EventId last;
    std::uint32_t gen;  // bumped on every fresh watch: drops entries of a superseded read
  };
  std::mutex watch_mutex_;
  std::condition_variable watch_changed_;
  std::map<std::string, Watched> watched_;
  std::uint32_t watch_gen_ = 0;
  std::atomic<long long> reader_client_id_{-1};
  // Reader only: watched keys that hold something else than a stream (anyone who can write
  // the keys can do that), left out of XREAD until the given time: one such key makes
  // Redis refuse the whole XREAD, which would stop every topic of the node.
  std::unordered_map<std::string, std::uint64_t> wrong_type_until_ms_;

  // Writer only: which shards watch each topic.
  std::unordered_map<std::string, std::vector<std::uint8_t>> watchers_;
  std::unique_ptr<redis::Link> writer_link_;
  std::unique_ptr<redis::Link> reader_link_;
  // Each thread's waker for the shards, built on that thread (null until it starts).
  std::unique_ptr<net::Waker> writer_waker_;
  std::unique_ptr<net::Waker> reader_waker_;
  RejectLog writer_rejects_;
  RejectLog reader_rejects_;

  std::mutex state_mutex_;  // the up/down transitions and their log lines
  bool writer_up_ = false, reader_up_ = false, was_up_ = false, ever_up_ = false;
  std::uint64_t down_since_ms_ = 0;
};

}  // namespace ringcast
