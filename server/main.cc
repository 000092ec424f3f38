// ringcast: an io_uring Server-Sent Events server. See README.md.
#include <cstdio>

#include "base/log.h"
#include "http/routes.h"
#include "server/access_load.h"
#include "server/config.h"
#include "server/server.h"

int main(int argc, char** argv) {
  ringcast::Config config;
  const int rc = ringcast::parse_flags(argc, argv, config);
  if (rc == ringcast::kFlagsHelp) return 0;
  if (rc == ringcast::kFlagsError) return 2;
  if (rc == ringcast::kFlagsPrintRoutes) {
    std::fputs(ringcast::http::describe_routes().c_str(), stdout);
    return 0;
  }
  if (std::string err = ringcast::validate(config); !err.empty()) {
    std::fprintf(stderr, "ringcast: %s\n", err.c_str());
    return 2;
  }
  if (rc == ringcast::kFlagsPrintConfig) {
    std::fputs(ringcast::print_config(config).c_str(), stdout);
    return 0;
  }
  if (std::string err = ringcast::load_secret_files(config); !err.empty()) {
    std::fprintf(stderr, "ringcast: %s\n", err.c_str());
    return 2;
  }
  ringcast::LogLevel level = ringcast::LogLevel::info;
  ringcast::parse_log_level(config.log_level, level);  // checked when parsed
  ringcast::set_log_level(level);
  return ringcast::run_server(config);
}
