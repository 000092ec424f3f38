#pragma once
// CLOCK_MONOTONIC in nanoseconds: the clock publishers stamp into payloads ("t=<ns>") and
// subscribers read on arrival. It is system-wide, so a separate publisher process's stamps
// compare with this process's arrivals.
#include <time.h>

#include <cstdint>

namespace ringcast::load {

inline std::uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}

constexpr std::uint64_t kNsPerMs = 1000000ull;
constexpr std::uint64_t kNsPerS = 1000000000ull;

}  // namespace ringcast::load
