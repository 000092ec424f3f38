#pragma once
// One line per event of interest on stderr, prefixed "ringcast:". printf-style.
namespace ringcast {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ringcast
