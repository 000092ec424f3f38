#include "bench/floor/options.h"

#include <cstdio>

#include "base/assert.h"
#include "base/flags.h"

namespace ringcast::floorbench {

namespace {

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
  *exit_code = kFlagsExitUsage;
  FlagParser flags("kernel_floor",
                   "kernel_floor: loopback sends by send() and by io_uring batches to N streams, "
                   "with no SSE server in the way");
  flags.number("--streams", options.streams, 1, kStreamsMax,
               "loopback streams to accept and write to (default 15000; above 19000 only the "
               "io_uring fixed method runs: see --fixed-only)");
  flags.number("--rounds", options.rounds, 1, kRoundsMax,
               "measured rounds per method, interleaved (default 7)", "R");
  flags.number("--warmup", options.warmup_rounds, 0, kRoundsMax,
               "untimed rounds per method first (default 1)", "W");
  flags.number("--event-bytes", options.event_bytes, kEventBytesMin, kEventBytesMax,
               "size of the one SSE event written to every stream (default 64)", "B");
  flags.number("--batch", options.batch, 1, kBatchMax,
               "io_uring SQEs per submit, and the SQ size (default 4096)", "K");
  flags.set("--quiet-clients", options.quiet_clients, true,
            "clients read a round only after its sends finished (default: they read while the "
            "server sends, as real subscribers do)");
  flags.set("--fixed-only", options.fixed_only, true,
            "run only the io_uring fixed method; the server keeps no regular fd per stream, as it "
            "must above 19000 streams");
  flags.text("--json", options.json_path, "also write the results as JSON to FILE", "FILE");
  flags.group("Testing (split sooner than the fd limit requires, to exercise the split at a small size)");
  flags.number("--streams-per-child", options.streams_per_child, 1, kFdsPerProcessMax,
               "most streams per client process (default and max 19000)");
  flags.number("--files-per-ring", options.files_per_ring, 1, kFdsPerProcessMax,
               "most streams per ring's fixed-file table (default and max 19000)");
  switch (flags.parse(argc, argv)) {
    case FlagsResult::ok: break;
    case FlagsResult::help: *exit_code = 0; return std::nullopt;
    case FlagsResult::error: return std::nullopt;
  }
  if (!check_split(options)) return std::nullopt;
  return options;
}

}  // namespace ringcast::floorbench
