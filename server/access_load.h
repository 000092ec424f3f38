#pragma once
// Builds the access policy from the flags at start-up: reads the key files once, so the shards
// only ever read the loaded keys.
#include <string>

#include "auth/access.h"
#include "core/config.h"

namespace ringcast {

// Returns an empty string, or what is wrong, naming the flag.
std::string load_access(const Config& config, http::AccessPolicy& policy);

// Reads --publish-token-file and --redis-password-file into the settings they stand for
// (a trailing line break is not part of the secret). Returns what is wrong, naming the flag.
std::string load_secret_files(Config& config);

// Overwrites a string's bytes (OPENSSL_cleanse, which the compiler may not elide) and clears it.
void wipe(std::string& secret);

}  // namespace ringcast
