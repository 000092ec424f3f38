#pragma once
// Builds the access policy from the flags at start-up: reads the key files once, so the shards
// only ever read the loaded keys.
#include <string>

#include "core/config.h"
#include "http/access.h"

namespace ringcast {

// Returns an empty string, or what is wrong, naming the flag.
std::string load_access(const Config& config, http::AccessPolicy& policy);

}  // namespace ringcast
