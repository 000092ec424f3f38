#include "tools/load/options.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/flags.h"
#include "tools/load/publish_body.h"

namespace ringcast::load {

namespace {

// What each mode does (the head of --help).
constexpr const char* kDescription =
    "ringcast-load MODE [flags]: an io_uring load generator for SSE servers\n"
    "modes:\n"
    "  subscribe  hold --streams N on --topics T for --duration S after connecting\n"
    "  publish    publish --rate R (or --burst) for --duration S or --events E per topic\n"
    "  storm      N streams; publish; drop --drop K at once; they resume with Last-Event-ID\n"
    "  run        N streams, then E events per topic (or for --duration S), until every\n"
    "             stream has every event";

bool parse_target(std::string_view text, sockaddr_in& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(text.substr(0, colon));
  if (host == "localhost") host = "127.0.0.1";
  std::uint64_t port = 0;
  if (!parse_decimal(text.substr(colon + 1), 1, 65535, port)) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(std::uint16_t(port));
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

// Flags whose absence changes another default, or that need another flag.
struct Given {
  bool recv_buffer_bytes = false;
  bool streams_per_conn = false;
  bool burst = false;
};

// A value check in the FlagParser's form, from a predicate over the text.
FlagParser::Apply check(bool (*valid)(std::string_view), std::string& out, const char* form) {
  return [valid, &out, form](std::string_view v, std::string& why) {
    if (!valid(v)) return why = form, false;
    out = std::string(v);
    return true;
  };
}

FlagParser::Apply address(sockaddr_in& sa, std::string& text) {
  return [&sa, &text](std::string_view v, std::string& why) {
    if (!parse_target(v, sa)) return why = "an IPv4 address (or localhost) and a port", false;
    text = std::string(v);
    return true;
  };
}

void common_flags(FlagParser& f, Options& o, Given& given) {
  f.group("Common");
  f.option("--target", "HOST:PORT", "the server (default 127.0.0.1:8080)", address(o.target, o.target_text));
  f.number("--threads", o.threads, 1, 256, "worker threads, one ring each (default 1)");
  f.text("--json", o.json_path, "also write the report as JSON to FILE", "FILE");
  f.set("--quiet", o.quiet, true, "no progress lines");
  f.decimal("--timeout", o.timeout_s, 0.1, 86400, "give up after S seconds (default 120)");
  f.option("--duration", "S", "how long subscribe holds and publish and run publish (default 10)",
           [&o](std::string_view v, std::string& why) {
             o.duration_set = true;
             if (parse_real(v, 0, 86400, o.duration_s)) return true;
             return why = "a number from 0 to 86400", false;
           });
  f.group("Streams");
  f.number("--streams", o.streams, 0, 10'000'000, "streams to open (default 1000)");
  f.number("--topics", o.topics, 1, 1'000'000, "topics they are spread over (default 1)", "T");
  f.option("--topic-prefix", "P", "topic names are P0, P1, ... (default t)",
           check(valid_prefix, o.topic_prefix, "1-64 of A-Z a-z 0-9 . _ ~ -, not starting with _"));
  f.decimal("--ramp", o.ramp_per_s, 0, 1e9, "connects per second (default 0: as fast as the window allows)", "R");
  f.group("Publish");
  f.number("--publishers", o.publishers, 1, 4096, "publisher connections, at most --topics (default 1)", "P");
  f.decimal("--rate", o.rate_per_s, 0.001, 1e9, "events per second over all publishers", "R");
  f.set("--burst", given.burst, true, "publish as fast as the answers come (instead of --rate)");
  f.number("--events", o.events, 1, 1'000'000'000, "events per topic (run: 100 unless --duration)", "E");
  f.option("--pub-target", "HOST:PORT", "where publishes go (default --target; another node of a cluster)",
           address(o.pub_target, o.pub_target_text));
  f.number("--event-bytes", o.event_bytes, 0, 1 << 20, "pad each payload to B bytes (default 0: no pad)", "B");
  f.number("--pipeline", o.pipeline, 1, kPipelineMax, "requests in flight per publisher (default 1)", "D");
  f.number("--batch", o.batch, 1, kBatchMax, "events per request, NDJSON to POST --batch-path (default 1)");
  f.option("--batch-path", "P", "the batch publish path (default /pub)",
           check(valid_path, o.batch_path, "a path: '/', then up to 127 visible bytes but '#'"));
  f.set("--publisher-thread", o.publisher_thread, true,
        "publishers on a thread of their own (the default beside streams)");
  f.set("--no-publisher-thread", o.publisher_thread, false, "publishers share the stream threads' rings");
}

void machinery_flags(FlagParser& f, Options& o, Given& given) {
  f.group("Machinery");
  f.number("--ring-files", o.ring_files, 64, 1u << 20, "fixed files per ring (default RLIMIT_NOFILE - 64)");
  f.option("--recv-buffers", "N", "provided receive buffers per ring, a power of two (default: its streams)",
           [&o](std::string_view v, std::string& why) {
             std::uint64_t n;
             if (!parse_decimal(v, 16, 32768, n) || (n & (n - 1)) != 0)
               return why = "a power of two from 16 to 32768", false;
             o.recv_buffers = std::uint32_t(n);
             return true;
           });
  f.option("--recv-buffer-bytes", "N", "bytes of one receive buffer (default 2048; --h2 16384)",
           [&](std::string_view v, std::string& why) {
             given.recv_buffer_bytes = true;
             std::uint64_t n;
             if (!parse_decimal(v, 256, 1 << 20, n)) return why = "an integer from 256 to 1048576", false;
             o.recv_buffer_bytes = std::uint32_t(n);
             return true;
           });
  f.number("--connect-window", o.connect_window, 1, 16384, "connection attempts in flight per ring (default 512)");
  f.number("--connect-attempts", o.connect_attempts, 1, 1000, "attempts per stream before it is given up (default 5)");
  f.number("--reconnect-delay-ms", o.reconnect_delay_ms, 0, 600000, "wait before a reconnect (default 200)");
  f.set("--no-uring-bind", o.uring_bind, false, "force the socket()+bind()+register fallback");
  f.set("--no-multishot", o.multishot, false, "force one-shot receives");
  f.number("--seed", o.seed, 0, ~0ull, "source-address base (default 0: from the clock)");
}

void more_flags(FlagParser& f, Options& o, Given& given) {
  f.group("Server");
  const char* path_form = "a path: '/', then up to 127 visible bytes but '#'";
  f.option("--sub-path", "P", "GET P<topic> (default /sse/)", check(valid_path, o.sub_path, path_form));
  f.option("--pub-path", "P", "POST P<topic> (default /pub/)", check(valid_path, o.pub_path, path_form));
  f.option("--ids", "ringcast|opaque", "event ids: checked as ringcast's, or opaque (default ringcast)",
           [&o](std::string_view v, std::string& why) {
             return parse_ids(v, o.ids) || (why = "ringcast or opaque", false);
           });
  f.group("Storm");
  f.number("--drop", o.drop, 0, 10'000'000,
           "streams dropped at once; they resume with Last-Event-ID (with --h2 whole connections "
           "drop, as many as hold K streams, as a browser's EventSources do when their connection goes)",
           "K");
  f.decimal("--settle", o.settle_s, 0, 3600, "publishing before the drop (default 1)");
  f.decimal("--after", o.after_s, 0, 3600, "publishing after every dropped stream resumed (default 1)");
  f.decimal("--churn", o.churn_per_s, 0.001, 1e7, "drop the K streams continuously, R per second, for --duration (HTTP/1.1)", "R");
  f.group("TLS");
  f.set("--tls", o.tls, true, "every connection speaks TLS (with --tls-ca or --tls-insecure)");
  f.text("--tls-ca", o.tls_ca, "trust anchors the server's certificate is checked against", "FILE");
  f.set("--tls-insecure", o.tls_insecure, true, "no certificate check at all");
  f.option("--tls-sni", "NAME", "server name sent, and checked in the certificate",
           check(valid_sni, o.tls_sni, "a DNS name"));
  f.set("--tls-resume", o.tls_resume, true, "reconnects offer the thread's newest session");
  f.group("HTTP/2");
  f.set("--h2", o.h2, true, "streams over HTTP/2 (run, subscribe, storm)");
  f.option("--streams-per-conn", "S", "HTTP/2 streams to a connection (default 100)",
           [&](std::string_view v, std::string& why) {
             given.streams_per_conn = true;
             std::uint64_t n;
             if (!parse_decimal(v, 1, 1u << 20, n)) return why = "an integer from 1 to 1048576", false;
             o.streams_per_conn = std::uint32_t(n);
             return true;
           });
  f.number("--h2-window", o.h2_window, 65535, 0x7fffffffu, "each stream's receive window (default 1048576)", "B");
  machinery_flags(f, o, given);
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

// Relations between flags, and defaults that depend on other flags. Returns an empty string,
// or the usage error.
std::string settle(Options& o, const Given& given);

int parse_options(int argc, char** argv, Options& out) {
  Options o;
  Given given;
  parse_target(o.target_text, o.target);
  FlagParser flags("ringcast-load", kDescription);
  flags.positional("MODE", "subscribe, publish, storm or run",
                   [&o](std::string_view v, std::string& why) {
                     if (parse_mode(v, o.mode)) return true;
                     return why = "subscribe, publish, storm or run", false;
                   });
  common_flags(flags, o, given);
  more_flags(flags, o, given);
  switch (flags.parse(argc, argv)) {
    case FlagsResult::ok: break;
    case FlagsResult::help: return 1;
    case FlagsResult::error: return kFlagsExitUsage;
  }
  if (std::string err = settle(o, given); !err.empty()) {
    flags.fail(err + " (see --help)");
    return kFlagsExitUsage;
  }
  out = o;
  return 0;
}

std::string settle(Options& o, const Given& given) {
  if (given.burst && o.rate_per_s > 0) return "--rate and --burst exclude each other";
  if (o.tls && o.tls_ca.empty() == !o.tls_insecure)
    return "--tls needs either --tls-ca FILE or --tls-insecure (not both)";
  if (!o.tls && (!o.tls_ca.empty() || o.tls_insecure || !o.tls_sni.empty() || o.tls_resume))
    return "--tls-ca, --tls-insecure, --tls-sni and --tls-resume need --tls";
  if (given.streams_per_conn && !o.h2) return "--streams-per-conn needs --h2";
  if (o.h2 && o.mode == Mode::publish) return "--h2 is for run, subscribe and storm";
  if (o.h2 && o.churn_per_s > 0)
    return "--churn is for HTTP/1.1 (--h2 storms drop whole connections at once)";
  if (o.h2 && !given.recv_buffer_bytes) o.recv_buffer_bytes = 16384;
  if (o.mode == Mode::storm && (o.drop == 0 || o.drop > o.streams))
    return "storm needs --drop K with 0 < K <= --streams";
  if (o.churn_per_s > 0 && o.mode != Mode::storm) return "--churn is a storm flag";
  if (o.mode == Mode::run && o.events == 0 && !o.duration_set) o.events = 100;
  if (o.mode != Mode::publish && o.streams == 0) return "--streams must be > 0";
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
    return "--publishers x --pipeline x --batch x --event-bytes needs over 1 GiB of send buffers";
  return {};
}

}  // namespace ringcast::load
