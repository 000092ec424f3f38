#include "base/clock.h"

#include <time.h>

#include "base/assert.h"

namespace ringcast {

static std::uint64_t read_ms(clockid_t id) {
  timespec ts;
  // The only failures are EINVAL and EFAULT: a clock id or pointer that is a programming error.
  const int rc = clock_gettime(id, &ts);
  RC_ASSERT(rc == 0);
  return std::uint64_t(ts.tv_sec) * 1000u + std::uint64_t(ts.tv_nsec) / 1000000u;
}

std::uint64_t monotonic_ms() { return read_ms(CLOCK_MONOTONIC); }
std::uint64_t unix_ms() { return read_ms(CLOCK_REALTIME); }

}  // namespace ringcast
