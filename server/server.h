#pragma once
#include "core/config.h"

namespace ringcast {

// Probes the kernel, opens the listeners, starts one pinned thread per shard, waits for
// SIGTERM/SIGINT, drains, and returns the process exit code (0 clean, 1 start-up failure).
int run_server(const Config& config);

}  // namespace ringcast
