// ringcast: an io_uring Server-Sent Events server. See README.md.
#include <cstdio>

#include "core/config.h"
#include "core/log.h"
#include "core/server.h"

int main(int argc, char** argv) {
  ringcast::Config config;
  if (int rc = ringcast::parse_flags(argc, argv, config); rc != 0) return rc == 1 ? 0 : 2;
  if (std::string err = ringcast::validate(config); !err.empty()) {
    std::fprintf(stderr, "ringcast: %s\n", err.c_str());
    return 2;
  }
  const char* level = config.log_level.c_str();
  ringcast::set_log_level(level[0] == 'e'   ? ringcast::LogLevel::error
                          : level[0] == 'w' ? ringcast::LogLevel::warn
                          : level[0] == 'd' ? ringcast::LogLevel::debug
                                            : ringcast::LogLevel::info);
  return ringcast::run_server(config);
}
