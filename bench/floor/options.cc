#include "bench/floor/options.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/assert.h"

namespace ringcast::floorbench {

namespace {

constexpr const char* kUsage =
    "usage: kernel_floor [--streams N] [--rounds R] [--warmup W] [--event-bytes B] [--batch K]\n"
    "                    [--quiet-clients] [--fixed-only] [--json FILE]\n"
    "  --streams N       loopback streams to accept and write to (default 15000, max 200000;\n"
    "                    above 19000 only the io_uring fixed method runs: see --fixed-only)\n"
    "  --rounds R        measured rounds per method, interleaved (default 7)\n"
    "  --warmup W        untimed rounds per method first (default 1)\n"
    "  --event-bytes B   size of the one SSE event written to every stream (default 64, 32..65536)\n"
    "  --batch K         io_uring SQEs per submit, and the SQ size (default 4096, max 32768)\n"
    "  --quiet-clients   clients read a round only after its sends finished (default: they read\n"
    "                    while the server sends, as real subscribers do)\n"
    "  --fixed-only      run only the io_uring fixed method; the server keeps no regular fd per\n"
    "                    stream, as it must above 19000 streams\n"
    "  --json FILE       also write the results as JSON to FILE\n"
    "testing (split sooner than the fd limit requires, to exercise the split at a small size):\n"
    "  --streams-per-child N  most streams per client process (default and max 19000)\n"
    "  --files-per-ring N     most streams per ring's fixed-file table (default and max 19000)\n";

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

// Relations between the flags, checked once all are read.
bool check_split(const Options& options) {
  const Split children = split_evenly(options.streams, options.streams_per_child);
  const Split rings = split_evenly(options.streams, options.files_per_ring);
  if (children.parts > kProcessesMax || rings.parts > kProcessesMax) {
    std::fprintf(stderr,
                 "kernel_floor: --streams %u needs %u client processes and %u rings; at most %u "
                 "each (raise --streams-per-child or --files-per-ring)\n",
                 options.streams, children.parts, rings.parts, kProcessesMax);
    return false;
  }
  return true;
}

}  // namespace

std::uint32_t Split::size_of(std::uint32_t part) const {
  RC_ASSERT(part < parts);
  return part + 1 < parts ? per_part : total - per_part * (parts - 1);
}

Split split_evenly(std::uint32_t total, std::uint32_t max_per_part) {
  RC_ASSERT(total > 0 && max_per_part > 0);
  Split split;
  const std::uint32_t fewest_parts = (total + max_per_part - 1) / max_per_part;
  split.per_part = (total + fewest_parts - 1) / fewest_parts;
  split.parts = (total + split.per_part - 1) / split.per_part;
  split.total = total;
  return split;
}

bool regular_fds(const Options& options) {
  return !options.fixed_only && options.streams <= kFdsPerProcessMax;
}

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
    } else if (std::strcmp(flag, "--fixed-only") == 0) {
      options.fixed_only = true;
      continue;
    } else if (std::strcmp(flag, "--streams") == 0) {
      ok = parse_u32(flag, value, 1, kStreamsMax, &options.streams);
    } else if (std::strcmp(flag, "--streams-per-child") == 0) {
      ok = parse_u32(flag, value, 1, kFdsPerProcessMax, &options.streams_per_child);
    } else if (std::strcmp(flag, "--files-per-ring") == 0) {
      ok = parse_u32(flag, value, 1, kFdsPerProcessMax, &options.files_per_ring);
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
    ++i;  // every flag but the three above takes a value
  }
  if (!check_split(options)) return std::nullopt;
  return options;
}

}  // namespace ringcast::floorbench
