#include "tools/load/options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "tools/load/publish_body.h"

namespace ringcast::load {

namespace {

constexpr const char* kUsage =
    "usage: ringcast-load MODE [flags]\n"
    "modes:\n"
    "  subscribe  hold --streams N on --topics T for --duration S after connecting\n"
    "  publish    publish --rate R (or --burst) for --duration S or --events E per topic\n"
    "  storm      N streams; publish; drop --drop K at once; they resume with Last-Event-ID\n"
    "  run        N streams, then E events per topic (or for --duration S), until every\n"
    "             stream has every event\n"
    "common:    --target HOST:PORT (127.0.0.1:8080) --threads N (1) --json FILE --quiet\n"
    "           --timeout S (120) --duration S (10)\n"
    "streams:   --streams N (1000) --topics T (1) --topic-prefix P (t) --ramp R (0 = fast)\n"
    "publish:   --publishers P (1, at most --topics) --rate R | --burst --events E\n"
    "           --pub-target HOST:PORT (--target; e.g. another node of a cluster)\n"
    "           --event-bytes B --pipeline D (1 request in flight per publisher)\n"
    "           --batch N (1): N events per request, NDJSON to POST --batch-path P (/pub)\n"
    "           --publisher-thread (default beside streams): publishers on a thread of their own\n"
    "           --no-publisher-thread: publishers share the stream threads' rings\n"
    "server:    --sub-path P (/sse/) --pub-path P (/pub/) --ids ringcast|opaque (ringcast)\n"
    "storm:     --drop K --settle S (1) --after S (1); with --h2 whole connections drop (as many\n"
    "           as hold K streams), as a browser's EventSources do when their connection goes\n"
    "           --churn R: drop the K streams continuously, R per second, for --duration S (HTTP/1.1)\n"
    "tls:       --tls with --tls-ca FILE | --tls-insecure; --tls-sni NAME --tls-resume\n"
    "http/2:    --h2 --streams-per-conn S (100): streams over HTTP/2, S to a connection (run,\n"
    "           subscribe, storm); --h2-window B (1048576): each stream's receive window\n"
    "machinery: --ring-files N --recv-buffers N (per ring: its streams, 1024..32768) --recv-buffer-bytes N (2048; --h2 16384)\n"
    "           --connect-window N (512 per ring) --connect-attempts N (5)\n"
    "           --reconnect-delay-ms N (200) --no-uring-bind --no-multishot --seed N\n";

int usage_error(const char* fmt, const char* arg) {
  std::fprintf(stderr, "ringcast-load: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\n%s", kUsage);
  return 2;
}

template <class T>
bool parse_uint(std::string_view text, T& out, T lo, T hi) {
  T v{};
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_double(std::string_view text, double& out, double lo, double hi) {
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(v) || v < lo ||
      v > hi)
    return false;
  out = v;
  return true;
}

bool parse_target(std::string_view text, sockaddr_in& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(text.substr(0, colon));
  if (host == "localhost") host = "127.0.0.1";
  std::uint16_t port = 0;
  if (!parse_uint<std::uint16_t>(text.substr(colon + 1), port, 1, 65535)) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return false;
  out = sa;
  return true;
}

// Topic names are 1-128 of A-Z a-z 0-9 . _ ~ - (the server's rule); the server keeps names
// starting with '_' for itself, and the prefix leaves room for the index.
bool valid_prefix(std::string_view p) {
  if (p.empty() || p.size() > kTopicPrefixMax || p[0] == '_') return false;
  for (char c : p) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A URL path prefix: starts with '/', then visible ASCII but '#' (no space or control byte can
// reach the request line).
bool valid_path(std::string_view p) {
  if (p.empty() || p.size() > kPathMax || p[0] != '/') return false;
  for (char c : p)
    if (c <= ' ' || c >= 127 || c == '#') return false;
  return true;
}

// A DNS name for SNI: 1-253 bytes of letters, digits, '-' and '.'.
bool valid_sni(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool parse_ids(std::string_view text, IdMode& out) {
  if (text == "ringcast") out = IdMode::ringcast;
  else if (text == "opaque") out = IdMode::opaque;
  else return false;
  return true;
}

bool parse_mode(std::string_view text, Mode& out) {
  if (text == "subscribe") out = Mode::subscribe;
  else if (text == "publish") out = Mode::publish;
  else if (text == "storm") out = Mode::storm;
  else if (text == "run") out = Mode::run;
  else return false;
  return true;
}

// One flag with its value. Returns false for a bad value, or (with `bad` set) an unknown flag.
// Flags whose absence changes another default, or that need another flag.
struct Given {
  bool recv_buffer_bytes = false;
  bool streams_per_conn = false;
};

bool apply(std::string_view flag, std::string_view v, Options& o, Given& given, bool& bad) {
  bad = false;
  auto u32 = [&](std::uint32_t& f, std::uint32_t lo, std::uint32_t hi) {
    return parse_uint<std::uint32_t>(v, f, lo, hi);
  };
  auto u64 = [&](std::uint64_t& f, std::uint64_t lo, std::uint64_t hi) {
    return parse_uint<std::uint64_t>(v, f, lo, hi);
  };
  if (flag == "--target") return o.target_text = std::string(v), parse_target(v, o.target);
  if (flag == "--pub-target")
    return o.pub_target_text = std::string(v), parse_target(v, o.pub_target);
  if (flag == "--threads") return u32(o.threads, 1, 256);
  if (flag == "--json") return o.json_path = std::string(v), !v.empty();
  if (flag == "--streams") return u64(o.streams, 0, 10'000'000);
  if (flag == "--topics") return u32(o.topics, 1, 1'000'000);
  if (flag == "--topic-prefix") return o.topic_prefix = std::string(v), valid_prefix(v);
  if (flag == "--ramp") return parse_double(v, o.ramp_per_s, 0, 1e9);
  if (flag == "--publishers") return u32(o.publishers, 1, 4096);
  if (flag == "--pipeline") return u32(o.pipeline, 1, kPipelineMax);
  if (flag == "--batch") return u32(o.batch, 1, kBatchMax);
  if (flag == "--batch-path") return o.batch_path = std::string(v), valid_path(v);
  if (flag == "--sub-path") return o.sub_path = std::string(v), valid_path(v);
  if (flag == "--pub-path") return o.pub_path = std::string(v), valid_path(v);
  if (flag == "--ids") return parse_ids(v, o.ids);
  if (flag == "--rate") return parse_double(v, o.rate_per_s, 0.001, 1e9);
  if (flag == "--events") return u64(o.events, 1, 1'000'000'000);
  if (flag == "--event-bytes") return u32(o.event_bytes, 0, 1 << 20);
  if (flag == "--duration") return o.duration_set = true, parse_double(v, o.duration_s, 0, 86400);
  if (flag == "--timeout") return parse_double(v, o.timeout_s, 0.1, 86400);
  if (flag == "--drop") return u64(o.drop, 0, 10'000'000);
  if (flag == "--settle") return parse_double(v, o.settle_s, 0, 3600);
  if (flag == "--after") return parse_double(v, o.after_s, 0, 3600);
  if (flag == "--churn") return parse_double(v, o.churn_per_s, 0.001, 1e7);
  if (flag == "--ring-files") return u32(o.ring_files, 64, 1u << 20);
  if (flag == "--recv-buffers") return u32(o.recv_buffers, 16, 32768) && (o.recv_buffers & (o.recv_buffers - 1)) == 0;
  if (flag == "--recv-buffer-bytes") return given.recv_buffer_bytes = true, u32(o.recv_buffer_bytes, 256, 1 << 20);
  if (flag == "--streams-per-conn") return given.streams_per_conn = true, u32(o.streams_per_conn, 1, 1u << 20);
  if (flag == "--h2-window") return u32(o.h2_window, 65535, 0x7fffffffu);
  if (flag == "--connect-window") return u32(o.connect_window, 1, 16384);
  if (flag == "--connect-attempts") return u32(o.connect_attempts, 1, 1000);
  if (flag == "--reconnect-delay-ms") return u32(o.reconnect_delay_ms, 0, 600000);
  if (flag == "--seed") return u64(o.seed, 0, ~0ull);
  if (flag == "--tls-ca") return o.tls_ca = std::string(v), !v.empty();
  if (flag == "--tls-sni") return o.tls_sni = std::string(v), valid_sni(v);
  bad = true;
  return false;
}

}  // namespace

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::subscribe: return "subscribe";
    case Mode::publish: return "publish";
    case Mode::storm: return "storm";
    case Mode::run: return "run";
  }
  return "?";
}

// Head: "POST ", a path and a topic name bounded by the options (128 + 71 bytes), the dotted
// quad target, fixed header text and a length: under 400 bytes. A single body: under 130 bytes
// of fields, or --event-bytes when that is longer. A batch body: per line, the JSON keys and
// quotes (23 bytes), the topic and that payload; our topic names and payloads need no escapes.
std::size_t request_bytes_max(const Options& o) {
  if (o.batch <= 1) return 1024 + o.event_bytes;
  const std::size_t line = 32 + kTopicNameMax + payload_bytes_max(kTopicNameMax, o.event_bytes);
  return 1024 + std::size_t(o.batch) * line;
}

// A batch answer's entry {"topic":"<name>","id":"<id>"} is under 130 bytes; the slack allows
// for whitespace and other members.
std::size_t response_bytes_max(const Options& o) {
  constexpr std::size_t kSingle = 4096;
  return o.batch <= 1 ? kSingle : kSingle + std::size_t(o.batch) * 192;
}

int parse_options(int argc, char** argv, Options& out) {
  if (argc < 2) return usage_error("%s", "name a mode");
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h") {
    std::fputs(kUsage, stdout);
    return 1;
  }
  Options o;
  Given given;
  if (!parse_mode(first, o.mode)) return usage_error("unknown mode '%s'", argv[1]);
  parse_target(o.target_text, o.target);
  bool burst = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--quiet") { o.quiet = true; continue; }
    if (flag == "--burst") { burst = true; continue; }
    if (flag == "--no-uring-bind") { o.uring_bind = false; continue; }
    if (flag == "--no-multishot") { o.multishot = false; continue; }
    if (flag == "--publisher-thread") { o.publisher_thread = true; continue; }
    if (flag == "--no-publisher-thread") { o.publisher_thread = false; continue; }
    if (flag == "--tls") { o.tls = true; continue; }
    if (flag == "--h2") { o.h2 = true; continue; }
    if (flag == "--tls-insecure") { o.tls_insecure = true; continue; }
    if (flag == "--tls-resume") { o.tls_resume = true; continue; }
    if (flag == "--help" || flag == "-h") { std::fputs(kUsage, stdout); return 1; }
    if (i + 1 >= argc) return usage_error("%s needs a value", argv[i]);
    bool unknown = false;
    if (!apply(flag, argv[i + 1], o, given, unknown))
      return usage_error(unknown ? "unknown flag %s" : "bad value for %s", argv[i]);
    ++i;
  }
  if (burst && o.rate_per_s > 0) return usage_error("%s", "--rate and --burst exclude each other");
  if (o.tls && o.tls_ca.empty() == !o.tls_insecure)
    return usage_error("%s", "--tls needs either --tls-ca FILE or --tls-insecure (not both)");
  if (!o.tls && (!o.tls_ca.empty() || o.tls_insecure || !o.tls_sni.empty() || o.tls_resume))
    return usage_error("%s", "--tls-ca, --tls-insecure, --tls-sni and --tls-resume need --tls");
  if (given.streams_per_conn && !o.h2) return usage_error("%s", "--streams-per-conn needs --h2");
  if (o.h2 && o.mode == Mode::publish) return usage_error("%s", "--h2 is for run, subscribe and storm");
  if (o.h2 && o.churn_per_s > 0)
    return usage_error("%s", "--churn is for HTTP/1.1 (--h2 storms drop whole connections at once)");
  if (o.h2 && !given.recv_buffer_bytes) o.recv_buffer_bytes = 16384;
  if (o.mode == Mode::storm && (o.drop == 0 || o.drop > o.streams))
    return usage_error("%s", "storm needs --drop K with 0 < K <= --streams");
  if (o.churn_per_s > 0 && o.mode != Mode::storm) return usage_error("%s", "--churn is a storm flag");
  if (o.mode == Mode::run && o.events == 0 && !o.duration_set) o.events = 100;
  if (o.mode != Mode::publish && o.streams == 0) return usage_error("%s", "--streams must be > 0");
  // A topic has exactly one publisher, so its k reach the server in order over one connection.
  // Two connections publishing one topic would race (the server may take either first), and
  // subscribers would see reordering that no server caused: to have more publishes of one
  // topic in flight, use --pipeline, which keeps them ordered on one connection.
  if (o.publishers > o.topics && o.mode != Mode::subscribe) {
    if (!o.quiet)
      std::fprintf(stderr, "ringcast-load: note: --publishers %u > --topics %u: using %u (one publisher "
                   "per topic; --pipeline D puts more of a topic's requests in flight)\n",
                   o.publishers, o.topics, o.topics);
    o.publishers = o.topics;
  }
  const std::uint64_t send_bytes = std::uint64_t(o.publishers) * o.pipeline * request_bytes_max(o);
  if (o.mode != Mode::subscribe && send_bytes > kPublishBufferBytesMax)
    return usage_error("%s", "--publishers x --pipeline x --batch x --event-bytes needs over 1 GiB of send buffers");
  out = o;
  return 0;
}

}  // namespace ringcast::load
