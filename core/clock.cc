#include "core/clock.h"

#include <time.h>

namespace ringcast {

static std::uint64_t read_ms(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return std::uint64_t(ts.tv_sec) * 1000u + std::uint64_t(ts.tv_nsec) / 1000000u;
}

std::uint64_t monotonic_ms() { return read_ms(CLOCK_MONOTONIC); }
std::uint64_t unix_ms() { return read_ms(CLOCK_REALTIME); }

}  // namespace ringcast
