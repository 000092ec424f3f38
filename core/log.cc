#include "core/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace ringcast {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
const char* const kLevelNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void log(LogLevel level, const char* format, ...) {
  if (!log_enabled(level)) return;
  // Format into one buffer and write it with one call so lines from shards do not interleave.
  char line[1024];
  int n = std::snprintf(line, sizeof line, "ringcast: %s: ", kLevelNames[static_cast<int>(level)]);
  va_list args;
  va_start(args, format);
  int m = std::vsnprintf(line + n, sizeof line - n - 1, format, args);
  va_end(args);
  std::size_t len = n + (m < 0 ? 0 : (m >= int(sizeof line) - n - 1 ? sizeof line - n - 2 : m));
  line[len++] = '\n';
  std::fwrite(line, 1, len, stderr);
}

}  // namespace ringcast
