#include "bench/floor/options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringcast::floorbench {

namespace {

constexpr const char* kUsage =
    "usage: kernel_floor [--streams N] [--rounds R] [--warmup W] [--event-bytes B] [--batch K]\n"
    "                    [--quiet-clients] [--json FILE]\n"
    "  --streams N       loopback streams to accept and write to (default 15000, max 19000)\n"
    "  --rounds R        measured rounds per method, interleaved (default 7)\n"
    "  --warmup W        untimed rounds per method first (default 1)\n"
    "  --event-bytes B   size of the one SSE event written to every stream (default 64, 32..65536)\n"
    "  --batch K         io_uring SQEs per submit, and the SQ size (default 4096, max 32768)\n"
    "  --quiet-clients   clients read a round only after its sends finished (default: they read\n"
    "                    while the server sends, as real subscribers do)\n"
    "  --json FILE       also write the results as JSON to FILE\n";

bool parse_u32(const char* flag, const char* text, std::uint32_t lo, std::uint32_t hi,
               std::uint32_t* out) {
  if (text == nullptr) {
    std::fprintf(stderr, "kernel_floor: %s needs a value\n", flag);
    return false;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
    std::fprintf(stderr, "kernel_floor: %s: '%s' is not a number\n", flag, text);
    return false;
  }
  if (value < lo || value > hi) {
    std::fprintf(stderr, "kernel_floor: %s must be in %u..%u (got %llu)\n", flag, lo, hi, value);
    return false;
  }
  *out = static_cast<std::uint32_t>(value);
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, int* exit_code) {
  Options options;
  *exit_code = 2;
  for (int i = 1; i < argc; ++i) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = true;
    if (std::strcmp(flag, "--help") == 0 || std::strcmp(flag, "-h") == 0) {
      std::fputs(kUsage, stdout);
      *exit_code = 0;
      return std::nullopt;
    } else if (std::strcmp(flag, "--quiet-clients") == 0) {
      options.quiet_clients = true;
      continue;
    } else if (std::strcmp(flag, "--streams") == 0) {
      if (value != nullptr && std::strtoull(value, nullptr, 10) > kStreamsMax) {
        std::fprintf(stderr,
                     "kernel_floor: --streams %s is more than %u: each process keeps one regular fd "
                     "per stream and RLIMIT_NOFILE is 20,000 on the target machine\n",
                     value, kStreamsMax);
        return std::nullopt;
      }
      ok = parse_u32(flag, value, 1, kStreamsMax, &options.streams);
    } else if (std::strcmp(flag, "--rounds") == 0) {
      ok = parse_u32(flag, value, 1, kRoundsMax, &options.rounds);
    } else if (std::strcmp(flag, "--warmup") == 0) {
      ok = parse_u32(flag, value, 0, kRoundsMax, &options.warmup_rounds);
    } else if (std::strcmp(flag, "--event-bytes") == 0) {
      ok = parse_u32(flag, value, kEventBytesMin, kEventBytesMax, &options.event_bytes);
    } else if (std::strcmp(flag, "--batch") == 0) {
      ok = parse_u32(flag, value, 1, kBatchMax, &options.batch);
    } else if (std::strcmp(flag, "--json") == 0) {
      if (value == nullptr || value[0] == '\0') {
        std::fprintf(stderr, "kernel_floor: --json needs a file name\n");
        return std::nullopt;
      }
      options.json_path = value;
    } else {
      std::fprintf(stderr, "kernel_floor: unknown argument '%s'\n%s", flag, kUsage);
      return std::nullopt;
    }
    if (!ok) return std::nullopt;
    ++i;  // every flag but the two above takes a value
  }
  return options;
}

}  // namespace ringcast::floorbench
