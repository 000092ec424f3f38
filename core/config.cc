#include "core/config.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "http/cors.h"

namespace ringcast {

namespace {

struct U32Flag {
  const char* name;
  std::uint32_t Config::*field;
  std::uint32_t min;
  std::uint32_t max;
  const char* help;
};

constexpr std::uint32_t kU32Max = 0xffffffffu;

const U32Flag kU32Flags[] = {
    {"--shards", &Config::shards, 0, 256, "shard threads, one ring each (0: online cores)"},
    {"--max-streams", &Config::max_streams, 1, 100000000, "open SSE streams in the process"},
    {"--max-connections", &Config::max_connections, 0, 100000000,
     "connections one shard can hold (0: its share of --max-streams plus slack)"},
    {"--ring-files", &Config::ring_files, 0, 1u << 24,
     "descriptors per io_uring (0: RLIMIT_NOFILE or less); a shard adds rings as they fill"},
    {"--max-event-bytes", &Config::max_event_bytes, 1, 16u << 20, "largest POST body accepted"},
    {"--max-header-bytes", &Config::header_bytes_max, 256, 1u << 20, "largest request head"},
    {"--max-url-bytes", &Config::url_bytes_max, 16, 1u << 20, "longest request target"},
    {"--max-topics", &Config::max_topics, 1, 100000000, "topics in the process"},
    {"--max-topics-per-stream", &Config::max_topics_per_stream, 1, 64, "topics one stream may join"},
    {"--history", &Config::history, 1, 1u << 20, "events kept per topic (replay and slow readers)"},
    {"--history-bytes", &Config::history_bytes, 1, 0xffffffffu, "wire bytes kept per topic"},
    {"--history-ttl-ms", &Config::history_ttl_ms, 0, 0xffffffffu,
     "evict events older than this (0: no age limit)"},
    {"--heartbeat-ms", &Config::heartbeat_ms, 100, kU32Max / 4, "idle time before ': ping'"},
    {"--retry-ms", &Config::retry_ms, 0, 86400000, "reconnect delay sent as 'retry:'"},
    {"--retry-jitter-ms", &Config::retry_jitter_ms, 0, 86400000, "random extra reconnect delay"},
    {"--stall-timeout-ms", &Config::stall_timeout_ms, 100, kU32Max / 4,
     "close a stream whose send has not completed for this long"},
    {"--request-timeout-ms", &Config::request_timeout_ms, 100, kU32Max / 4,
     "close a connection whose request head is not complete after this long"},
    {"--drain-ms", &Config::drain_ms, 0, 3600000, "shutdown grace before streams are cut"},
    {"--recv-buffer-bytes", &Config::recv_buffer_bytes, 1024, 1u << 20, "size of one receive buffer"},
    {"--recv-buffers", &Config::recv_buffers, 8, 32768, "receive buffers per shard (power of 2)"},
    {"--sndbuf", &Config::sndbuf, 0, 1u << 30, "SO_SNDBUF of accepted sockets (0: kernel default)"},
    {"--rcvbuf", &Config::rcvbuf, 0, 1u << 30, "SO_RCVBUF of accepted sockets (0: kernel default)"},
    {"--send-zc-min-bytes", &Config::send_zc_min_bytes, 0, 1u << 30,
     "io_uring: sends of at least N bytes go zero-copy (SEND_ZC; 0: never, the default here)"},
    {"--ring-entries", &Config::ring_entries, 64, 32768, "io_uring submission entries per ring"},
    {"--ring-cq-entries", &Config::ring_cq_entries, 0, 1u << 20,
     "io_uring completion entries per ring (0: enough for every descriptor at once)"},
    {"--jwt-leeway-s", &Config::jwt_leeway_s, 0, 3600, "clock skew allowed on a JWT's exp/nbf/iat"},
    // Redis scale-out (the string flags are in apply_redis)
    {"--redis-db", &Config::redis_db, 0, 65535, "Redis database to SELECT (with --redis)"},
    {"--redis-maxlen", &Config::redis_maxlen, 0, 1u << 24,
     "entries kept per topic stream, XADD MAXLEN ~ N (0: --history)"},
};

// Access control: string-valued flags (README "Access control").
struct StringFlag {
  const char* name;
  std::string Config::*field;
  const char* help;
};

const StringFlag kAccessFlags[] = {
    {"--publish-token", &Config::publish_token,
     "bearer secret a publisher must send (visible in ps: prefer a JWT key file)"},
    {"--jwt-secret-file", &Config::jwt_secret_file, "file holding the HS256 secret (>= 32 bytes)"},
    {"--jwt-public-key", &Config::jwt_public_key,
     "PEM public key file: RSA verifies RS256, EC P-256 verifies ES256"},
    {"--jwt-audience", &Config::jwt_audience, "tokens must list this in \"aud\""},
    {"--jwt-issuer", &Config::jwt_issuer, "tokens must carry this \"iss\""},
    {"--jwt-cookie", &Config::jwt_cookie, "cookie a subscriber's JWT may travel in"},
    {"--cors-origin", &Config::cors_origin, "origins allowed cross-origin (comma list, or *)"},
};

bool parse_u32(std::string_view text, std::uint32_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_listen(std::string_view text, Config& config) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::uint32_t port;
  if (!parse_u32(text.substr(colon + 1), port) || port > 65535) return false;
  config.listen_host = std::string(text.substr(0, colon));
  config.listen_port = static_cast<std::uint16_t>(port);
  return true;
}

int bad_value(const char* flag, std::string_view value) {
  std::fprintf(stderr, "ringcast: bad value '%.*s' for %s (see --help)\n", int(value.size()),
               value.data(), flag);
  return 2;
}

// The Redis scale-out flags that take text. Returns 0, 2 (bad value), or -1 (not one of them).
int apply_redis(std::string_view name, std::string_view value, Config& config) {
  if (name == "--redis") {
    auto colon = value.rfind(':');
    std::uint32_t port;
    if (colon == std::string_view::npos || colon == 0 || !parse_u32(value.substr(colon + 1), port) ||
        port == 0 || port > 65535)
      return bad_value("--redis", value);
    config.redis_host = std::string(value.substr(0, colon));
    config.redis_port = static_cast<std::uint16_t>(port);
    return 0;
  }
  if (name == "--redis-password") {
    config.redis_password = std::string(value);
    return 0;
  }
  if (name == "--redis-prefix") {
    if (value.size() > 64) return bad_value("--redis-prefix", value);
    config.redis_prefix = std::string(value);
    return 0;
  }
  return -1;
}

// Applies one "--name value" pair. Returns 0, or 2 after printing what is wrong.
int apply(std::string_view name, std::string_view value, Config& config) {
  for (const U32Flag& f : kU32Flags) {
    if (name != f.name) continue;
    std::uint32_t v;
    if (!parse_u32(value, v) || v < f.min || v > f.max) return bad_value(f.name, value);
    config.*(f.field) = v;
    return 0;
  }
  for (const StringFlag& f : kAccessFlags) {
    if (name != f.name) continue;
    if (value.empty()) return bad_value(f.name, value);
    config.*(f.field) = std::string(value);
    return 0;
  }
  if (name == "--listen") return parse_listen(value, config) ? 0 : bad_value("--listen", value);
  if (int rc = apply_redis(name, value, config); rc >= 0) return rc;
  if (name == "--slow-consumer") {
    if (value == "disconnect") config.slow_consumer = SlowConsumerPolicy::disconnect;
    else if (value == "skip") config.slow_consumer = SlowConsumerPolicy::skip;
    else return bad_value("--slow-consumer", value);
    return 0;
  }
  if (name == "--stream-recv") {
    if (value != "on" && value != "off") return bad_value("--stream-recv", value);
    config.stream_recv = value == "on";
    return 0;
  }
  if (name == "--io") {
    if (value != "uring" && value != "epoll") return bad_value("--io", value);
    config.io = std::string(value);
    return 0;
  }
  if (name == "--tls-cert" || name == "--tls-key") {
    if (value.empty()) return bad_value(name == "--tls-cert" ? "--tls-cert" : "--tls-key", value);
    (name == "--tls-cert" ? config.tls_cert : config.tls_key) = std::string(value);
    return 0;
  }
  if (name == "--tls-offload") {
    if (value != "on" && value != "off") return bad_value("--tls-offload", value);
    config.tls_offload = value == "on";
    return 0;
  }
  if (name == "--tls-min-version") {
    if (value != "1.2" && value != "1.3") return bad_value("--tls-min-version", value);
    config.tls_min_version = std::string(value);
    return 0;
  }
  if (name == "--log-level") {
    if (value == "error" || value == "warn" || value == "info" || value == "debug") {
      config.log_level = std::string(value);
      return 0;
    }
    return bad_value("--log-level", value);
  }
  std::fprintf(stderr, "ringcast: unknown flag %.*s (see --help)\n", int(name.size()), name.data());
  return 2;
}

}  // namespace

std::string usage() {
  std::string text =
      "usage: ringcast [flags]\n"
      "  --listen HOST:PORT            address to listen on (default 0.0.0.0:8080; port 0 picks one)\n"
      "  --slow-consumer disconnect|skip  a stream that falls off the history is closed, or\n"
      "                                gets a gap event and jumps to the newest event\n"
      "  --enable-admin                serve POST /admin/drop?topic=T (closes T's streams)\n"
      "  --log-level error|warn|info|debug\n"
      "  --io uring|epoll              IO backend: io_uring (default) or the epoll baseline\n"
      "  --stream-recv on|off          keep a receive armed on streams to notice closed clients\n"
      "                                at once (on), or only when a send fails (off)\n"
      "  --tls-cert FILE               PEM certificate chain; with --tls-key the port speaks HTTPS\n"
      "  --tls-key FILE                PEM private key for --tls-cert\n"
      "  --tls-min-version 1.2|1.3     oldest TLS version accepted (default 1.2)\n"
      "  --tls-offload on|off          TLS 1.3: after the handshake ringcast's own record layer\n"
      "                                replaces OpenSSL's and frees its 14 KB per stream (on)\n"
      "  --require-subscribe-token     streams need a JWT (else a token is checked if sent)\n"
      "  --redis HOST:PORT             scale out: publish to and read from Redis Streams\n"
      "  --redis-password TEXT         AUTH with this password (with --redis)\n"
      "  --redis-prefix TEXT           stream key prefix, key = prefix + topic (default ringcast:)\n";
  char line[256];
  for (const U32Flag& f : kU32Flags) {
    std::snprintf(line, sizeof line, "  %-29s %s\n", (std::string(f.name) + " N").c_str(), f.help);
    text += line;
  }
  for (const StringFlag& f : kAccessFlags) {
    std::snprintf(line, sizeof line, "  %-29s %s\n", (std::string(f.name) + " V").c_str(), f.help);
    text += line;
  }
  return text;
}

int parse_flags(int argc, char** argv, Config& config) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return 1;
    }
    if (arg == "--enable-admin") {
      config.enable_admin = true;
      continue;
    }
    if (arg == "--require-subscribe-token") {
      config.require_subscribe_token = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      std::fprintf(stderr, "ringcast: unexpected argument %s (see --help)\n", argv[i]);
      return 2;
    }
    std::string_view name = arg, value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "ringcast: %s needs a value (see --help)\n", argv[i]);
      return 2;
    }
    if (int rc = apply(name, value, config); rc != 0) return rc;
  }
  return 0;
}

namespace {
// The JWT options mean nothing without a key to check tokens with.
std::string validate_access(const Config& config) {
  const bool jwt_key = !config.jwt_secret_file.empty() || !config.jwt_public_key.empty();
  if (!jwt_key) {
    if (config.require_subscribe_token) return "--require-subscribe-token needs --jwt-secret-file or --jwt-public-key";
    if (!config.jwt_cookie.empty()) return "--jwt-cookie needs --jwt-secret-file or --jwt-public-key";
    if (!config.jwt_audience.empty()) return "--jwt-audience needs --jwt-secret-file or --jwt-public-key";
    if (!config.jwt_issuer.empty()) return "--jwt-issuer needs --jwt-secret-file or --jwt-public-key";
  }
  if (!config.cors_origin.empty()) {
    http::CorsPolicy cors;
    if (std::string err = cors.configure(config.cors_origin); !err.empty()) return "--cors-origin: " + err;
  }
  return {};
}
}  // namespace

std::string validate(const Config& config) {
  if ((config.recv_buffers & (config.recv_buffers - 1)) != 0)
    return "--recv-buffers must be a power of two";
  if (config.recv_buffer_bytes < 1024) return "--recv-buffer-bytes must be at least 1024";
  if (config.tls_cert.empty() != config.tls_key.empty())
    return "--tls-cert and --tls-key go together";
  if (config.max_topics_per_stream > config.max_topics)
    return "--max-topics-per-stream exceeds --max-topics";
  // A publishing connection names the shard that owes it acks in one byte; 255 is the bridge.
  if (config.redis() && config.shards >= 255) return "--redis supports at most 254 shards";
  return validate_access(config);
}

}  // namespace ringcast
