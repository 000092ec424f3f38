#pragma once
#include <cstdint>

namespace ringcast {

// The system clocks. A shard never reads these: its time comes through its net::Io
// (Io::monotonic_ms, Io::unix_ms), which the kernel backends answer from here and the
// simulation from its own clock. Threads outside the IO seam read them directly: logging,
// start-up, the Redis bridge and occupancy threads (real sockets, never simulated).
// Milliseconds on the monotonic clock (for timeouts and intervals).
std::uint64_t monotonic_ms();
// Milliseconds since the Unix epoch (for event ids).
std::uint64_t unix_ms();

// Coarse per-shard time: u32 milliseconds since the shard started, read once per loop pass.
// Wraps after 49 days; compare with elapsed(), which is wrap-safe for intervals under 24 days.
inline std::uint32_t elapsed(std::uint32_t now, std::uint32_t then) { return now - then; }

}  // namespace ringcast
