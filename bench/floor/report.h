#pragma once
// What one kernel_floor run found, printed as a table and written as JSON.
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/floor/kernel_memory.h"
#include "bench/floor/options.h"
#include "bench/floor/senders.h"

namespace ringcast::floorbench {

struct MethodRounds {
  // False above 19,000 streams (or with --fixed-only) for the two methods that need one regular
  // fd per stream: not run, so the table says so and the JSON leaves them out of "methods".
  bool measured = true;
  std::vector<RoundResult> rounds;           // measured rounds only
  std::vector<std::uint64_t> client_cpu_ns;  // the clients' CPU to read each measured round
  SendCounts totals;                         // every round, warm-up included
};

struct MachineInfo {
  std::string cpu_model;
  std::string kernel;
  long cpus = 0;
  std::uint64_t memory_bytes = 0;
  std::string load_average;  // /proc/loadavg's first three fields: others' work on the box
};

struct FloorReport {
  Options options;
  MachineInfo machine;
  std::string ring;                  // the io_uring setup the batches used
  std::uint32_t rings = 0;           // rings holding the fixed-file tables
  std::uint32_t client_processes = 0;
  double establish_seconds = 0;      // connect + accept of all streams
  MemoryGrowth memory;               // before the streams -> established, no traffic yet
  MemoryGrowth memory_after_rounds;  // before the streams -> every round sent and read
  std::array<MethodRounds, kMethodCount> methods;
  std::uint64_t bytes_sent = 0;      // accepted by the kernel, all rounds
  std::uint64_t bytes_received = 0;  // counted by the clients, all rounds
  std::uint64_t client_cpu_ns = 0;   // the client processes' whole lives, summed
  std::uint64_t client_max_rss_bytes = 0;  // the largest client process's peak RSS
  std::string load_average_after;
};

MachineInfo describe_machine();
std::string load_average();
void print_table(const FloorReport& report, std::FILE* out);
// Returns an empty string or why the file could not be written.
std::string write_json(const FloorReport& report, const std::string& path);

}  // namespace ringcast::floorbench
