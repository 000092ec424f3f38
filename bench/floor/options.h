#pragma once
// Command line of kernel_floor. Limits live here, checked once at start-up.
#include <cstdint>
#include <optional>
#include <string>

namespace ringcast::floorbench {

// One regular fd per stream on each side: the server half in this process, the client half in the
// child. With RLIMIT_NOFILE at 20,000 (hard) this leaves room for listener, pipes, ring and stdio.
constexpr std::uint32_t kStreamsMax = 19000;
constexpr std::uint32_t kRoundsMax = 1000;
constexpr std::uint32_t kEventBytesMin = 32;     // "id: <13 digits>-<seq>\ndata: \n\n" fits
constexpr std::uint32_t kEventBytesMax = 65536;
constexpr std::uint32_t kBatchMax = 32768;       // IORING_MAX_ENTRIES

struct Options {
  std::uint32_t streams = 15000;
  std::uint32_t rounds = 7;
  std::uint32_t warmup_rounds = 1;  // untimed rounds of every method before the measured ones
  std::uint32_t event_bytes = 64;
  std::uint32_t batch = 4096;       // SQEs per io_uring_submit; also the SQ size
  bool quiet_clients = false;       // clients read only after a round's sends, not during them
  std::string json_path;            // empty: no JSON
};

// Parses argv. On a bad or out-of-range value prints why to stderr and returns nullopt;
// on --help prints usage to stdout and sets *exit_code to 0 (else 2).
std::optional<Options> parse_options(int argc, char** argv, int* exit_code);

}  // namespace ringcast::floorbench
