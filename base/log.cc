#include "base/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

#include "base/clock.h"

namespace ringcast {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
const char* const kLevelNames[] = {"error", "warn", "info", "debug"};
constexpr std::size_t kLineMax = 2048;  // longer lines are cut (and end in "...")

void write_line(std::string line) {
  if (line.size() > kLineMax) line.replace(kLineMax - 3, std::string::npos, "...");
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines never interleave
}

std::string vformat(const char* format, va_list args) {
  char buf[kLineMax + 1];
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  return n < 0 ? std::string() : std::string(buf, std::min<std::size_t>(std::size_t(n), kLineMax));
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

bool parse_log_level(std::string_view name, LogLevel& level) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) {
      level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

std::string quoted(std::string_view text) {
  bool bare = !text.empty();
  for (char ch : text) bare &= ch > 0x20 && ch != '"' && ch != '=' && ch != '\\' && ch != 0x7f;
  if (bare) return std::string(text);
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out += (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ? '?' : ch;
    }
  }
  return out + '"';
}

std::string format_log_line(LogLevel level, std::string_view event, std::string_view fields,
                            std::uint64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc;
  gmtime_r(&seconds, &utc);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                unsigned(unix_ms % 1000));
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += kLevelNames[static_cast<int>(level)];
  line += " event=";
  line += event;
  if (!fields.empty()) {
    line += ' ';
    line += fields;
  }
  return line;
}

void log_event(LogLevel level, const char* event, const char* fields, ...) {
  if (!log_enabled(level)) return;
  va_list args;
  va_start(args, fields);
  const std::string text = vformat(fields, args);
  va_end(args);
  write_line(format_log_line(level, event, text, unix_ms()));
}

void log_event_always(LogLevel level, const char* event, const char* fields, ...) {
  va_list args;
  va_start(args, fields);
  const std::string text = vformat(fields, args);
  va_end(args);
  write_line(format_log_line(level, event, text, unix_ms()));
}

void log(LogLevel level, const char* format, ...) {
  if (!log_enabled(level)) return;
  va_list args;
  va_start(args, format);
  const std::string text = vformat(format, args);
  va_end(args);
  write_line(format_log_line(level, "message", "msg=" + quoted(text), unix_ms()));
}

}  // namespace ringcast
