#pragma once
// Command line of kernel_floor. Limits live here, checked once at start-up.
#include <cstdint>
#include <optional>
#include <string>

namespace ringcast::floorbench {

// Regular fds one process may hold for streams. RLIMIT_NOFILE is 20,000 (hard) on the target
// machine; the rest is room for the listener, pipes, rings, epoll, stdio and /proc files. It also
// bounds one ring's fixed-file table: the kernel refuses a table larger than RLIMIT_NOFILE.
constexpr std::uint32_t kFdsPerProcessMax = 19000;
// Up to kFdsPerProcessMax streams both ends are regular fds, one per stream in each process, and
// all three methods run. Above it the clients are split over several processes and the server
// keeps each stream only as a direct descriptor in one of several rings' fixed-file tables. The
// cap is what the box can carry: loopback pairs cost ~9 KB of kernel memory each (~1.8 GB here),
// the clients need 11 processes, and the source addresses (bench/floor/clients.h) stay far from
// running out of ephemeral ports.
constexpr std::uint32_t kStreamsMax = 200000;
constexpr std::uint32_t kProcessesMax = 64;  // client children; also the most rings
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
  // Only the io_uring fixed method, with no regular fd kept per stream: what runs above
  // kFdsPerProcessMax streams, available at any N to compare like with like.
  bool fixed_only = false;
  // For tests: split clients and fixed-file tables sooner than the fd limit requires, so that a
  // small run exercises several client processes and several rings.
  std::uint32_t streams_per_child = kFdsPerProcessMax;
  std::uint32_t files_per_ring = kFdsPerProcessMax;
  std::string json_path;            // empty: no JSON
};

// `total` split into the fewest parts of at most `max_per_part`, as evenly as that allows:
// every part has `per_part` except the last, which has the rest (1..per_part).
struct Split {
  std::uint32_t parts = 0;
  std::uint32_t per_part = 0;
  std::uint32_t total = 0;
  std::uint32_t size_of(std::uint32_t part) const;
  std::uint32_t part_of(std::uint32_t index) const { return index / per_part; }
};
Split split_evenly(std::uint32_t total, std::uint32_t max_per_part);

// Whether the server keeps one regular fd per stream, which the send() loop and the io_uring
// method on regular fds need.
bool regular_fds(const Options& options);

// Parses argv. On a bad or out-of-range value prints why to stderr and returns nullopt;
// on --help prints usage to stdout and sets *exit_code to 0 (else 2).
std::optional<Options> parse_options(int argc, char** argv, int* exit_code);

}  // namespace ringcast::floorbench
