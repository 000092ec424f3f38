#pragma once
#include <cstdint>

namespace ringcast {

// Milliseconds on the monotonic clock (for timeouts and intervals).
std::uint64_t monotonic_ms();
// Milliseconds since the Unix epoch (for event ids).
std::uint64_t unix_ms();

// Tests only (the deterministic simulation): both clocks read these values instead, which the
// test moves, jumps included. Null restores the real clocks. Never called by the server.
void set_test_clocks(const std::uint64_t* monotonic, const std::uint64_t* unix);

// Coarse per-shard time: u32 milliseconds since the shard started, read once per loop pass.
// Wraps after 49 days; compare with elapsed(), which is wrap-safe for intervals under 24 days.
inline std::uint32_t elapsed(std::uint32_t now, std::uint32_t then) { return now - then; }

}  // namespace ringcast
