#include "base/clock.h"

#include <time.h>

namespace ringcast {

static std::uint64_t read_ms(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return std::uint64_t(ts.tv_sec) * 1000u + std::uint64_t(ts.tv_nsec) / 1000000u;
}

static const std::uint64_t* test_monotonic = nullptr;
static const std::uint64_t* test_unix = nullptr;

std::uint64_t monotonic_ms() { return test_monotonic ? *test_monotonic : read_ms(CLOCK_MONOTONIC); }
std::uint64_t unix_ms() { return test_unix ? *test_unix : read_ms(CLOCK_REALTIME); }

void set_test_clocks(const std::uint64_t* monotonic, const std::uint64_t* unix) {
  test_monotonic = monotonic;
  test_unix = unix;
}

}  // namespace ringcast
