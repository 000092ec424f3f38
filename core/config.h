#pragma once
// Every limit and knob of the server in one struct, filled from flags at start-up.
// Relations between limits are checked in validate() (server/config.h); nothing reads the
// environment.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast {

enum class SlowConsumerPolicy : std::uint8_t { disconnect, skip };
enum class IoBackend : std::uint8_t { uring, epoll };
inline const char* io_backend_name(IoBackend io) { return io == IoBackend::uring ? "uring" : "epoll"; }

constexpr std::uint32_t kMaxShardCount = 256;  // --shards at most

struct Config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  std::uint32_t shards = 0;                 // 0: one per online core
  std::uint32_t max_streams = 1000000;      // open SSE streams, whole process
  std::uint32_t max_connections = 0;        // per shard; 0: derived (see server.cc)
  std::uint32_t ring_files = 0;             // fixed-file table per ring; 0: min(RLIMIT_NOFILE, need)
  std::uint32_t max_event_bytes = 65536;    // POST body limit
  std::uint32_t max_batch_bytes = 1u << 20; // POST /pub (batch) body limit
  std::uint32_t max_batch_events = 1000;    // events in one batch publish
  std::uint32_t header_bytes_max = 8192;    // request line + headers
  std::uint32_t url_bytes_max = 2048;       // request target
  std::uint32_t max_topics = 65536;         // topics per process
  std::uint32_t max_topics_per_stream = 8;  // ?topic=a&topic=b...
  std::uint32_t history = 1024;             // events kept per topic ...
  std::uint32_t history_bytes = 16u << 20;  // ... and at most this many wire bytes ...
  std::uint32_t history_ttl_ms = 3600000;   // ... and no older than this (0: no age limit)
  std::uint32_t heartbeat_ms = 15000;       // idle stream gets ": ping"
  std::uint32_t retry_ms = 3000;            // "retry:" sent on connect ...
  std::uint32_t retry_jitter_ms = 1000;     // ... plus up to this much jitter
  std::uint32_t stall_timeout_ms = 30000;   // a send pending this long closes the stream
  std::uint32_t request_timeout_ms = 10000; // a request head must arrive within this
  std::uint32_t drain_ms = 5000;            // shutdown grace before streams are cut
  std::uint32_t poll_timeout_ms = 25000;    // a long poll with no event answers after this
  std::uint32_t recv_buffer_bytes = 8192;   // one provided receive buffer
  std::uint32_t recv_buffers = 512;         // provided receive buffers per shard (power of 2)
  std::uint32_t ring_entries = 4096;        // submission queue entries per ring
  // Most sends one loop pass starts (the rest: next pass). Small, so that a request or a
  // message from another shard waits for at most ~32 sends' kernel time (docs/perf/fanout.md).
  std::uint32_t pass_sends = 32;
  // Publish flow control (core/shard_flow.cc): while a topic's streams are more than half its
  // history behind, its publishes wait, at most this long; 0 turns it off.
  std::uint32_t publish_wait_ms = 5000;
  std::uint32_t submit_batch = 512;         // sends per io_uring_enter while a pass queues them
  std::uint32_t ring_cq_entries = 0;        // completion queue entries per ring; 0: derived
  SlowConsumerPolicy slow_consumer = SlowConsumerPolicy::disconnect;
  std::string log_level = "info";
  IoBackend io = IoBackend::uring;          // --io: io_uring (production) or epoll (the baseline)
  bool enable_admin = false;                // POST /admin/drop (tests, operators)
  bool stream_recv = true;                  // keep a receive armed on idle streams (see README)
  // HTTP/2 (core/shard_h2.cc): cleartext prior knowledge on the same port (the client preface
  // is detected), and "h2" offered first by ALPN over TLS.
  bool h2 = true;
  std::uint32_t h2_max_streams = 256;       // SETTINGS_MAX_CONCURRENT_STREAMS per connection
  std::uint32_t sndbuf = 0;                 // SO_SNDBUF of accepted sockets (0: kernel default)
  std::uint32_t rcvbuf = 0;                 // SO_RCVBUF of accepted sockets (0: kernel default)
  std::uint32_t send_zc_min_bytes = 0;      // io_uring: sends this large go zero-copy (0: never)
  // TLS: both set = the listener speaks HTTPS only (net/tls_io.h).
  std::string tls_cert;                     // PEM certificate chain
  std::string tls_key;                      // PEM private key
  std::string tls_min_version = "1.2";      // "1.2" or "1.3"
  bool tls_offload = true;                  // TLS 1.3: ringcast's record layer after the handshake

  // Access control (README "Access control"). All empty/false: publish and subscribe are open.
  std::string publish_token;                // --publish-token: a publisher's bearer secret
  std::string publish_token_file;           // --publish-token-file: the same, read from a file
  std::string jwt_secret_file;              // --jwt-secret-file: HS256 secret (file bytes)
  std::string jwt_public_key;               // --jwt-public-key: PEM file, RSA (RS256) or P-256 (ES256)
  std::uint32_t jwt_leeway_s = 30;          // --jwt-leeway-s: clock skew allowed on exp/nbf/iat
  std::string jwt_audience;                 // --jwt-audience: required in "aud" if set
  std::string jwt_issuer;                   // --jwt-issuer: required as "iss" if set
  bool require_subscribe_token = false;     // --require-subscribe-token
  std::string jwt_cookie;                   // --jwt-cookie: cookie carrying a subscriber's JWT
  std::string cors_origin;                  // --cors-origin: comma list of origins and/or "*"
  // Scale-out over Redis Streams (redis/bridge.h); off while redis_host is empty.
  std::string redis_host;
  std::uint16_t redis_port = 6379;
  std::string redis_password;               // AUTH on connect when set
  std::string redis_password_file;          // --redis-password-file: the same, read from a file
  std::uint32_t redis_db = 0;               // SELECT on connect when nonzero
  std::string redis_prefix = "ringcast:";   // stream key = prefix + topic
  std::uint32_t redis_maxlen = 0;           // XADD MAXLEN ~ N (0: --history)
  // Who is listening (README "Who is listening"): occupancy events on "_occupancy.T".
  bool occupancy_events = false;            // --occupancy-events
  std::uint32_t occupancy_interval_ms = 1000;  // at most one count event per topic per interval
  std::uint32_t occupancy_grace_ms = 5000;  // a topic must stay empty this long before "vacated"
  std::uint32_t occupancy_ttl_ms = 5000;    // Redis mode: a node's counts expire after this
  bool redis() const { return !redis_host.empty(); }
};

}  // namespace ringcast
