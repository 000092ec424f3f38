#pragma once
// ringcast-load's command line: one mode (subcommand) and its flags, checked up front so a
// bad value is a usage error (exit 2) before any socket is opened.
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringcast::load {

enum class Mode : std::uint8_t { subscribe, publish, storm, run };

// How event ids are treated. ringcast: "<ms>-<n>", parsed, required to increase, and compared
// with the id each publish acknowledged. opaque: bytes kept only to resend as Last-Event-ID
// (nchan's "1795453536:0"); the checks then rest on the payload's seq=<k> alone.
enum class IdMode : std::uint8_t { ringcast, opaque };

const char* mode_name(Mode m);

// Bounds that size request buffers.
constexpr std::size_t kPathMax = 128;        // --sub-path, --pub-path
constexpr std::size_t kTopicPrefixMax = 64;  // --topic-prefix
constexpr std::uint32_t kPipelineMax = 1024;
constexpr std::uint32_t kBatchMax = 4096;         // --batch: events per request
constexpr std::size_t kTopicNameMax = kTopicPrefixMax + 7;  // the prefix and an index < 10^6
// Publisher send buffers (publishers x pipeline x request size) stay below this.
constexpr std::uint64_t kPublishBufferBytesMax = 1ull << 30;

struct Options {
  Mode mode = Mode::run;
  sockaddr_in target{};
  std::string target_text = "127.0.0.1:8080";
  // Where publishes go, when not to --target (another node of a cluster: --pub-target).
  sockaddr_in pub_target{};
  std::string pub_target_text;
  std::uint32_t threads = 1;
  std::string json_path;
  bool quiet = false;

  // Streams.
  std::uint64_t streams = 1000;
  std::uint32_t topics = 1;
  std::string topic_prefix = "t";
  double ramp_per_s = 0;  // connects per second over the process; 0 = as fast as the window allows

  // URLs: GET <sub_path><topic>, POST <pub_path><topic>.
  std::string sub_path = "/sse/";
  std::string pub_path = "/pub/";
  IdMode ids = IdMode::ringcast;

  // Publishing.
  std::uint32_t publishers = 1;
  std::uint32_t pipeline = 1;  // requests in flight per publisher connection (HTTP/1.1 pipelining)
  // Events per request. 1: POST <pub_path><topic> with the payload as the body (every server).
  // N > 1: POST <batch_path> with N NDJSON lines {"topic":…,"data":…} (ringcast's batch
  // publish; publish_body.h), answered with one id per line.
  std::uint32_t batch = 1;
  std::string batch_path = "/pub";
  // Where publishers run beside streams (run, storm): on a thread of their own that holds no
  // stream (true), or on the stream threads' rings (--no-publisher-thread: their answers then
  // wait behind each pass over a broadcast's deliveries, and publish latency measures that).
  bool publisher_thread = true;
  double rate_per_s = 0;  // events per second over all publishers; 0 = burst
  std::uint64_t events = 0;  // per topic; 0 = until --duration ends (run: 100 unless --duration)
  std::uint32_t event_bytes = 0;  // pad each payload to this many bytes; 0 = no pad

  // Time bounds (seconds). --duration: subscribe holds, publish and run publish, this long
  // (default 10; run: no bound unless given, it publishes --events).
  double duration_s = 10;
  bool duration_set = false;
  double timeout_s = 120;

  // Storm.
  std::uint64_t drop = 0;
  double settle_s = 1;  // publishing before the drop
  double after_s = 1;   // publishing after every dropped stream has resumed
  // Sustained churn instead of one drop: the --drop K streams are dropped continuously at this
  // many per second (over the process) for --duration seconds, each reconnecting at once with
  // Last-Event-ID; a stream is dropped again only once it has resumed. 0 = one drop.
  double churn_per_s = 0;

  // TLS (--tls): every connection speaks TLS 1.2/1.3 (ALPN http/1.1). The certificate is
  // checked against --tls-ca (chain, and the --tls-sni name or else the target's address), or
  // not at all with --tls-insecure, which must then be asked for by name.
  bool tls = false;
  std::string tls_ca;
  bool tls_insecure = false;
  std::string tls_sni;
  bool tls_resume = false;  // reconnects offer the thread's newest session (ticket)

  // HTTP/2 (--h2): streams ride --streams-per-conn S to a connection (streams/S connections,
  // each S HTTP/2 streams; cleartext prior knowledge, or ALPN h2 with --tls). Publishers stay
  // HTTP/1.1. --h2-window: each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE); the
  // connection's is 1 GiB, and consumed DATA is returned to both at once.
  bool h2 = false;
  std::uint32_t streams_per_conn = 100;
  std::uint32_t h2_window = 1u << 20;

  // Machinery.
  std::uint32_t ring_files = 0;  // 0: RLIMIT_NOFILE - 64
  // Per ring. Each completion holds a buffer only until this pass has parsed it, and the
  // parser needs no event to fit in one, so small buffers suffice; there should be one per
  // stream, since a broadcast fills every stream's receive at once.
  std::uint32_t recv_buffers = 0;  // 0: sized per ring to its streams (recv_buffers_for)
  std::uint32_t recv_buffer_bytes = 2048;  // --h2: 16384 unless given
  std::uint32_t connect_window = 512;  // per ring: connection attempts in flight
  std::uint32_t connect_attempts = 5;  // per stream before it is given up
  std::uint32_t reconnect_delay_ms = 200;
  bool uring_bind = true;   // false: force the socket()+bind()+register fallback
  bool multishot = true;    // false: force one-shot receives
  std::uint64_t seed = 0;   // source-address base; 0 = from the clock
};

// The longest publish request (head and body) these options make, and the reader buffer the
// longest answer needs (a batch answer names every event's topic and id).
std::size_t request_bytes_max(const Options& o);
std::size_t response_bytes_max(const Options& o);

// Parses argv. Returns 0 when `out` is ready, 2 after printing a usage error, 1 after --help.
int parse_options(int argc, char** argv, Options& out);

}  // namespace ringcast::load
