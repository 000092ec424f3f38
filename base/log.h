#pragma once
// Structured logs: one logfmt line per event of interest on stderr, written with one call so
// lines from different shards never interleave:
//
//   ts=2025-01-31T12:00:00.123Z level=info event=listening addr=0.0.0.0:8080 shards=2
//
// `event` names what happened (a fixed snake_case word: start, limits, listening, shard_stall,
// slow_consumer_drops, shutdown, ...); the rest are key=value fields. Free text goes through
// quoted() so that a value with spaces stays one value. --log-level drops lines below it.
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
// "error", "warn", "info", "debug"; false for anything else.
bool parse_log_level(std::string_view name, LogLevel& level);

// Logs one event. `fields` is a printf format producing space-separated key=value pairs (or
// nothing: pass "").
void log_event(LogLevel level, const char* event, const char* fields, ...)
    __attribute__((format(printf, 3, 4)));

// The same, whatever --log-level says: for the one line scripts wait for (event=listening).
void log_event_always(LogLevel level, const char* event, const char* fields, ...)
    __attribute__((format(printf, 3, 4)));

// Free-form message, logged as event=message msg="...". Prefer log_event with real fields.
void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// `text` as a logfmt value: bare if it has no space, quote, '=' or control character, else
// double-quoted with \" \\ \n escaped and other control characters as '?'.
std::string quoted(std::string_view text);

// The line log_event writes (without the newline), for a given wall-clock time. No IO.
std::string format_log_line(LogLevel level, std::string_view event, std::string_view fields,
                            std::uint64_t unix_ms);

}  // namespace ringcast
