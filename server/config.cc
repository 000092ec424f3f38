#include "server/config.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "auth/cors.h"
#include "base/assert.h"
#include "base/flags.h"
#include "base/log.h"

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
    {"--shards", &Config::shards, 0, kMaxShardCount, "shard threads, one ring each (0: online cores)"},
    {"--max-streams", &Config::max_streams, 1, 100000000, "open SSE streams in the process"},
    {"--max-connections", &Config::max_connections, 0, 100000000,
     "connections one shard can hold (0: its share of --max-streams plus slack)"},
    {"--ring-files", &Config::ring_files, 0, 1u << 24,
     "descriptors per io_uring (0: RLIMIT_NOFILE or less); a shard adds rings as they fill"},
    {"--max-event-bytes", &Config::max_event_bytes, 1, 16u << 20, "largest POST body accepted"},
    {"--max-batch-bytes", &Config::max_batch_bytes, 1, 64u << 20,
     "largest batch publish (POST /pub, NDJSON) body accepted"},
    {"--max-batch-events", &Config::max_batch_events, 1, 10000, "events in one batch publish"},
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
    {"--poll-timeout-ms", &Config::poll_timeout_ms, 100, kU32Max / 4,
     "a long poll (GET /poll/{topic}) with no event answers after this long"},
    {"--occupancy-interval-ms", &Config::occupancy_interval_ms, 100, 3600000,
     "occupancy events: at most one count event per topic per interval"},
    {"--occupancy-grace-ms", &Config::occupancy_grace_ms, 0, 3600000,
     "occupancy events: a topic must stay empty this long before 'vacated'"},
    {"--occupancy-ttl-ms", &Config::occupancy_ttl_ms, 2000, 3600000,
     "Redis mode: a node's subscriber counts expire this long after its last heartbeat"},
    {"--recv-buffer-bytes", &Config::recv_buffer_bytes, 1024, 1u << 20, "size of one receive buffer"},
    {"--recv-buffers", &Config::recv_buffers, 8, 32768, "receive buffers per shard (power of 2)"},
    {"--sndbuf", &Config::sndbuf, 0, 1u << 30, "SO_SNDBUF of accepted sockets (0: kernel default)"},
    {"--rcvbuf", &Config::rcvbuf, 0, 1u << 30, "SO_RCVBUF of accepted sockets (0: kernel default)"},
    {"--send-zc-min-bytes", &Config::send_zc_min_bytes, 0, 1u << 30,
     "io_uring: sends of at least N bytes go zero-copy (SEND_ZC; 0: never, the default here)"},
    {"--ring-entries", &Config::ring_entries, 64, 32768, "io_uring submission entries per ring"},
    {"--h2-max-streams", &Config::h2_max_streams, 1, 1u << 20,
     "HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS)"},
    {"--pass-sends", &Config::pass_sends, 1, 1u << 20,
     "most sends one loop pass starts; a bigger fan-out continues after the shard's other work"},
    {"--publish-wait-ms", &Config::publish_wait_ms, 0, 600000,
     "publishes wait while a topic's streams are half a history behind; each stream holds them at most this long (0: off)"},
    {"--submit-batch", &Config::submit_batch, 1, 32768,
     "io_uring: sends handed to the kernel per submit while a fan-out is queued"},
    {"--ring-cq-entries", &Config::ring_cq_entries, 0, 1u << 20,
     "io_uring completion entries per ring (0: enough for every descriptor at once)"},
    {"--jwt-leeway-s", &Config::jwt_leeway_s, 0, 3600, "clock skew allowed on a JWT's exp/nbf/iat"},
    // Redis scale-out (the string flags are in apply_redis)
    {"--redis-db", &Config::redis_db, 0, 65535, "Redis database to SELECT (with --redis)"},
    {"--redis-maxlen", &Config::redis_maxlen, 0, 1u << 24,
     "entries kept per topic stream, XADD MAXLEN ~ N (0: --history)"},
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

// Flags whose value is a word or an address. Each parses its text and prints it back (the
// printed form must parse to the same setting: --print-config relies on it).
struct TextFlag {
  const char* name;
  const char* metavar;
  bool (*parse)(std::string_view, Config&);
  std::string (*print)(const Config&);
  const char* help;
};

const TextFlag kTextFlags[] = {
    {"--listen", "HOST:PORT", parse_listen,
     [](const Config& c) { return c.listen_host + ":" + std::to_string(c.listen_port); },
     "address to listen on (default 0.0.0.0:8080; port 0 picks one)"},
    {"--slow-consumer", "disconnect|skip",
     [](std::string_view v, Config& c) {
       if (v != "disconnect" && v != "skip") return false;
       c.slow_consumer = v == "skip" ? SlowConsumerPolicy::skip : SlowConsumerPolicy::disconnect;
       return true;
     },
     [](const Config& c) {
       return std::string(c.slow_consumer == SlowConsumerPolicy::skip ? "skip" : "disconnect");
     },
     "a stream that falls off the history is closed, or gets a gap event and jumps ahead"},
    {"--stream-recv", "on|off",
     [](std::string_view v, Config& c) {
       if (v != "on" && v != "off") return false;
       c.stream_recv = v == "on";
       return true;
     },
     [](const Config& c) { return std::string(c.stream_recv ? "on" : "off"); },
     "keep a receive armed on streams to notice closed clients at once"},
    {"--h2", "on|off",
     [](std::string_view v, Config& c) {
       if (v != "on" && v != "off") return false;
       c.h2 = v == "on";
       return true;
     },
     [](const Config& c) { return std::string(c.h2 ? "on" : "off"); },
     "HTTP/2: prior knowledge on the cleartext port, ALPN \"h2\" over TLS"},
    {"--io", "uring|epoll",
     [](std::string_view v, Config& c) {
       if (v != "uring" && v != "epoll") return false;
       c.io = v == "uring" ? IoBackend::uring : IoBackend::epoll;
       return true;
     },
     [](const Config& c) { return std::string(io_backend_name(c.io)); }, "IO backend: io_uring (default) or the epoll baseline"},
    {"--log-level", "error|warn|info|debug",
     [](std::string_view v, Config& c) {
       LogLevel level;
       if (!parse_log_level(v, level)) return false;
       c.log_level = std::string(v);
       return true;
     },
     [](const Config& c) { return c.log_level; }, "least severe log lines written"},
    {"--tls-cert", "FILE",
     [](std::string_view v, Config& c) { return !v.empty() && (c.tls_cert = std::string(v), true); },
     [](const Config& c) { return c.tls_cert; }, "PEM certificate chain; with --tls-key the port speaks HTTPS"},
    {"--tls-key", "FILE",
     [](std::string_view v, Config& c) { return !v.empty() && (c.tls_key = std::string(v), true); },
     [](const Config& c) { return c.tls_key; }, "PEM private key for --tls-cert"},
    {"--tls-min-version", "1.2|1.3",
     [](std::string_view v, Config& c) {
       if (v != "1.2" && v != "1.3") return false;
       c.tls_min_version = std::string(v);
       return true;
     },
     [](const Config& c) { return c.tls_min_version; }, "oldest TLS version accepted (default 1.2)"},
    {"--tls-offload", "on|off",
     [](std::string_view v, Config& c) {
       if (v != "on" && v != "off") return false;
       c.tls_offload = v == "on";
       return true;
     },
     [](const Config& c) { return std::string(c.tls_offload ? "on" : "off"); },
     "TLS 1.3: ringcast's record layer replaces OpenSSL's after the handshake (frees ~14 KB)"},
    {"--redis", "HOST:PORT",
     [](std::string_view v, Config& c) {
       const auto colon = v.rfind(':');
       std::uint32_t port;
       if (colon == std::string_view::npos || colon == 0 || !parse_u32(v.substr(colon + 1), port) ||
           port == 0 || port > 65535)
         return false;
       c.redis_host = std::string(v.substr(0, colon));
       c.redis_port = static_cast<std::uint16_t>(port);
       return true;
     },
     [](const Config& c) {
       return c.redis() ? c.redis_host + ":" + std::to_string(c.redis_port) : std::string();
     },
     "scale out: publish to and read from Redis Streams"},
    {"--redis-password", "TEXT",
     [](std::string_view v, Config& c) { return c.redis_password = std::string(v), true; },
     [](const Config& c) { return c.redis_password; },
     "AUTH with this password (visible in ps: prefer --redis-password-file)"},
    {"--redis-prefix", "TEXT",
     [](std::string_view v, Config& c) { return v.size() <= 64 && (c.redis_prefix = std::string(v), true); },
     [](const Config& c) { return c.redis_prefix; },
     "stream key prefix, key = prefix + topic (default ringcast:)"},
};

// Text flags of the access controls and secrets: any non-empty value (empty: not set).
struct StringFlag {
  const char* name;
  std::string Config::*field;
  const char* help;
};
const StringFlag kAccessFlags[] = {
    {"--publish-token", &Config::publish_token,
     "bearer secret a publisher must send (visible in ps: prefer --publish-token-file)"},
    {"--publish-token-file", &Config::publish_token_file,
     "file holding the publish token (read once at start-up)"},
    {"--redis-password-file", &Config::redis_password_file,
     "file holding the Redis AUTH password (read once at start-up)"},
    {"--jwt-secret-file", &Config::jwt_secret_file, "file holding the HS256 secret (>= 32 bytes)"},
    {"--jwt-public-key", &Config::jwt_public_key,
     "PEM public key file: RSA verifies RS256, EC P-256 verifies ES256"},
    {"--jwt-audience", &Config::jwt_audience, "tokens must list this in \"aud\""},
    {"--jwt-issuer", &Config::jwt_issuer, "tokens must carry this \"iss\""},
    {"--jwt-cookie", &Config::jwt_cookie, "cookie a subscriber's JWT may travel in"},
    {"--cors-origin", &Config::cors_origin, "origins allowed cross-origin (comma list, or *)"},
};

// On/off flags: "--name" alone sets them; a config file says `name = true|false`.
struct SwitchFlag {
  const char* name;
  bool Config::*field;
  const char* help;
};

const SwitchFlag kSwitchFlags[] = {
    {"--enable-admin", &Config::enable_admin, "serve POST /admin/drop?topic=T (closes T's streams)"},
    {"--occupancy-events", &Config::occupancy_events,
     "publish subscriber-count changes of topic T as events on '_occupancy.T'"},
    {"--require-subscribe-token", &Config::require_subscribe_token,
     "streams need a JWT (else a token is checked if sent)"},
};

int bad_value(std::string_view flag, std::string_view value, std::string* error) {
  std::string text = "bad value '" + std::string(value) + "' for " + std::string(flag);
  if (error != nullptr) *error = text;
  else std::fprintf(stderr, "ringcast: %s (see --help)\n", text.c_str());
  return 2;
}

}  // namespace

bool is_secret_flag(std::string_view key) {
  return key == "publish-token" || key == "redis-password";
}

std::vector<FlagInfo> flag_table() {
  std::vector<FlagInfo> table;
  for (const U32Flag& f : kU32Flags) table.push_back({f.name + 2, FlagKind::integer, f.min, f.max});
  for (const TextFlag& f : kTextFlags) table.push_back({f.name + 2, FlagKind::text, 0, 0});
  for (const StringFlag& f : kAccessFlags) table.push_back({f.name + 2, FlagKind::text, 0, 0});
  for (const SwitchFlag& f : kSwitchFlags) table.push_back({f.name + 2, FlagKind::boolean, 0, 1});
  return table;
}

int apply_flag(std::string_view name, std::string_view value, Config& config, std::string* error) {
  for (const U32Flag& f : kU32Flags) {
    if (name != f.name) continue;
    std::uint32_t v;
    if (!parse_u32(value, v) || v < f.min || v > f.max) return bad_value(name, value, error);
    config.*(f.field) = v;
    return 0;
  }
  for (const TextFlag& f : kTextFlags) {
    if (name != f.name) continue;
    return f.parse(value, config) ? 0 : bad_value(name, value, error);
  }
  for (const StringFlag& f : kAccessFlags) {
    if (name != f.name) continue;
    if (value.empty()) return bad_value(name, value, error);
    config.*(f.field) = std::string(value);
    return 0;
  }
  for (const SwitchFlag& f : kSwitchFlags) {
    if (name != f.name) continue;
    if (value != "true" && value != "false") return bad_value(name, value, error);
    config.*(f.field) = value == "true";
    return 0;
  }
  const std::string text = "unknown flag " + std::string(name);
  if (error != nullptr) *error = text;
  else std::fprintf(stderr, "ringcast: %s (see --help)\n", text.c_str());
  return 2;
}

std::string flag_value(const Config& config, std::string_view key) {
  for (const U32Flag& f : kU32Flags)
    if (key == f.name + 2) return std::to_string(config.*(f.field));
  for (const TextFlag& f : kTextFlags)
    if (key == f.name + 2) return f.print(config);
  for (const StringFlag& f : kAccessFlags)
    if (key == f.name + 2) return config.*(f.field);
  for (const SwitchFlag& f : kSwitchFlags)
    if (key == f.name + 2) return config.*(f.field) ? "true" : "false";
  RC_ASSERT(false);  // only called with keys from flag_table()
  return {};
}

namespace {

// The command line: every row of the tables is a flag, applied through apply_flag exactly as
// the config file's keys are. --config is applied first wherever it stands, so the flags
// given with it override the file.
void declare(FlagParser& flags, Config& config, bool& print_config, bool& print_routes) {
  auto apply = [&config](const char* name, std::string why_form) -> FlagParser::Apply {
    return [&config, name, why_form](std::string_view v, std::string& why) {
      if (apply_flag(name, v, config, &why) == 0) return true;
      why = why_form;
      return false;
    };
  };
  flags.option("--config", "FILE",
               "read settings from a TOML file (keys: flag names without '--'); flags given as "
               "well override it",
               [&config](std::string_view path, std::string& why) {
                 why = load_config_file(std::string(path), config);
                 return why.empty();
               },
               FlagParser::Order::first, FlagParser::Report::why_alone);
  flags.set("--print-config", print_config, true, "print the effective settings as TOML and exit");
  flags.set("--print-routes", print_routes, true,
            "print every endpoint with its access class and exit");
  for (const TextFlag& f : kTextFlags) flags.option(f.name, f.metavar, f.help, apply(f.name, f.metavar));
  for (const SwitchFlag& f : kSwitchFlags) flags.toggle(f.name, f.help, apply(f.name, "true or false"));
  for (const U32Flag& f : kU32Flags)
    flags.option(f.name, "N", f.help,
                 apply(f.name, "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max)));
  for (const StringFlag& f : kAccessFlags) flags.option(f.name, "V", f.help, apply(f.name, "not empty"));
}

constexpr const char* kDescription = "ringcast: an io_uring Server-Sent Events server";

}  // namespace

std::string usage() {
  Config config;
  bool print_config = false, print_routes = false;
  FlagParser flags("ringcast", kDescription);
  declare(flags, config, print_config, print_routes);
  return flags.help();
}

int parse_flags(int argc, char** argv, Config& config) {
  bool print_config = false, print_routes = false;
  FlagParser flags("ringcast", kDescription);
  declare(flags, config, print_config, print_routes);
  switch (flags.parse(argc, argv)) {
    case FlagsResult::ok: break;
    case FlagsResult::help: return kFlagsHelp;
    case FlagsResult::error: return kFlagsError;
  }
  if (print_routes) return kFlagsPrintRoutes;
  return print_config ? kFlagsPrintConfig : kFlagsOk;
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
  if (!config.publish_token.empty() && !config.publish_token_file.empty())
    return "--publish-token and --publish-token-file are alternatives: give one";
  if (!config.redis_password.empty() && !config.redis_password_file.empty())
    return "--redis-password and --redis-password-file are alternatives: give one";
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
