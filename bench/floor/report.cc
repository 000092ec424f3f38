#include "bench/floor/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "bench/floor/summary.h"

namespace ringcast::floorbench {

namespace {

constexpr Method kMethods[kMethodCount] = {Method::kSend, Method::kUring, Method::kUringFixed};

Spread sends_per_second(const MethodRounds& m, std::uint32_t streams) {
  std::vector<double> samples;
  for (const RoundResult& r : m.rounds) samples.push_back(double(streams) * 1e9 / double(r.wall_ns));
  return spread_of(samples);
}

Spread time_us(const MethodRounds& m) {
  std::vector<double> samples;
  for (const RoundResult& r : m.rounds) samples.push_back(double(r.wall_ns) / 1e3);
  return spread_of(samples);
}

Spread server_cpu_share(const MethodRounds& m) {
  std::vector<double> samples;
  for (const RoundResult& r : m.rounds) samples.push_back(double(r.cpu_ns) / double(r.wall_ns));
  return spread_of(samples);
}

Spread client_cpu_us(const MethodRounds& m) {
  std::vector<double> samples;
  for (std::uint64_t ns : m.client_cpu_ns) samples.push_back(double(ns) / 1e3);
  return spread_of(samples);
}

// 1234567.8 -> "1,234,568"
std::string grouped(double value) {
  long long v = (long long)(value < 0 ? value - 0.5 : value + 0.5);
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

void print_spread_row(std::FILE* out, const char* label, const Spread& s, const char* tail) {
  std::fprintf(out, "  %-16s %10s %10s %10s %10s %10s%s\n", label, grouped(s.median).c_str(),
               grouped(s.min).c_str(), grouped(s.p25).c_str(), grouped(s.p75).c_str(),
               grouped(s.max).c_str(), tail);
}

constexpr const char* kNotMeasured = "not measured (needs one fd per stream)";

void print_speed(const FloorReport& report, std::FILE* out) {
  const std::uint32_t n = report.options.streams;
  std::fprintf(out, "\n  %-16s %10s %10s %10s %10s %10s %9s %11s %12s\n", "sends/s", "median",
               "min", "p25", "p75", "max", "ns/send", "server cpu", "client cpu");
  for (Method method : kMethods) {
    const MethodRounds& m = report.methods[int(method)];
    if (!m.measured) {
      std::fprintf(out, "  %-16s %s\n", method_label(method), kNotMeasured);
      continue;
    }
    const Spread time = time_us(m);
    char tail[64];
    std::snprintf(tail, sizeof tail, " %9.0f %10.0f%% %9s µs", time.median * 1e3 / n,
                  server_cpu_share(m).median * 100, grouped(client_cpu_us(m).median).c_str());
    print_spread_row(out, method_label(method), sends_per_second(m, n), tail);
  }
  char header[64];
  std::snprintf(header, sizeof header, "µs for %u sends", n);
  std::fprintf(out, "\n  %-16s %10s %10s %10s %10s %10s\n", header, "median", "min", "p25", "p75",
               "max");
  for (Method method : kMethods) {
    const MethodRounds& m = report.methods[int(method)];
    if (!m.measured) {
      std::fprintf(out, "  %-16s %s\n", method_label(method), kNotMeasured);
      continue;
    }
    print_spread_row(out, method_label(method), time_us(m), "");
  }
  // The send() loop is measured exactly when all three are (it needs regular fds, as io_uring does).
  if (!report.methods[int(Method::kSend)].measured) {
    std::fputc('\n', out);
    return;
  }
  const double send_median = time_us(report.methods[0]).median;
  std::fprintf(out, "\n  median time relative to the send() loop: io_uring %.2f, io_uring fixed %.2f\n",
               time_us(report.methods[1]).median / send_median,
               time_us(report.methods[2]).median / send_median);
}

void print_counts(const FloorReport& report, std::FILE* out) {
  for (Method method : kMethods) {
    if (!report.methods[int(method)].measured) continue;
    const SendCounts& c = report.methods[int(method)].totals;
    std::fprintf(out, "  %-16s %s full, %s short, %s EAGAIN, %s errors%s%s\n", method_label(method),
                 grouped(double(c.full)).c_str(), grouped(double(c.short_writes)).c_str(),
                 grouped(double(c.eagain)).c_str(), grouped(double(c.errors)).c_str(),
                 c.first_errno != 0 ? " first: " : "",
                 c.first_errno != 0 ? std::strerror(c.first_errno) : "");
  }
  std::fprintf(out, "  clients received %s of %s bytes sent (all rounds, warm-up included)\n",
               grouped(double(report.bytes_received)).c_str(), grouped(double(report.bytes_sent)).c_str());
}

void print_caches(std::FILE* out, const MemoryGrowth& g) {
  const double pairs = double(g.pairs);
  for (std::size_t i = 0; i < g.caches.size() && i < 8; ++i) {
    const CacheGrowth& cache = g.caches[i];
    std::fprintf(out, "      %-22s %7s B (%.2f)%s%s\n", cache.name.c_str(),
                 grouped(cache.bytes / pairs).c_str(), cache.objects / pairs,
                 cache.merged_with.empty() ? "" : "  merged with: ", cache.merged_with.c_str());
  }
}

void print_memory(const FloorReport& report, std::FILE* out) {
  const MemoryGrowth& g = report.memory;
  const double pairs = double(g.pairs);
  std::fprintf(out, "\n  kernel memory for %u established loopback pairs (both ends on this box):\n",
               g.pairs);
  std::fprintf(out, "    Slab        %12s B  %8s B per pair  ~%6s B per server-side socket\n",
               grouped(double(g.slab_bytes)).c_str(), grouped(g.slab_bytes / pairs).c_str(),
               grouped(g.slab_bytes / pairs / 2).c_str());
  std::fprintf(out, "    SUnreclaim  %12s B  %8s B per pair  ~%6s B per server-side socket\n",
               grouped(double(g.sunreclaim_bytes)).c_str(), grouped(g.sunreclaim_bytes / pairs).c_str(),
               grouped(g.sunreclaim_bytes / pairs / 2).c_str());
  if (g.have_slabinfo) {
    std::fprintf(out, "    largest growing slab caches, bytes per pair (objects per pair):\n");
    print_caches(out, g);
  }
  std::fprintf(out, "    sockstat: sockets used %+lld, TCP inuse %+lld, TCP alloc %+lld, TCP mem %+lld pages\n",
               (long long)g.sockets_used, (long long)g.tcp_inuse, (long long)g.tcp_alloc,
               (long long)g.tcp_mem_pages);
  const MemoryGrowth& later = report.memory_after_rounds;
  std::fprintf(out, "    after all rounds (now with the clients' epoll items, the rings' file tables and "
               "slabs the sends left behind):\n      Slab %s B per pair, SUnreclaim %s B per pair, "
               "TCP mem %+lld pages\n", grouped(later.slab_bytes / pairs).c_str(),
               grouped(later.sunreclaim_bytes / pairs).c_str(), (long long)later.tcp_mem_pages);
  if (later.have_slabinfo) print_caches(out, later);
  std::fprintf(out, "    server process RSS %+lld kB (%s B per stream)\n", (long long)(g.rss_bytes / 1024),
               grouped(g.rss_bytes / pairs).c_str());
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_spread(const Spread& s) {
  char text[256];
  std::snprintf(text, sizeof text,
                "{\"median\": %.3f, \"min\": %.3f, \"p25\": %.3f, \"p75\": %.3f, \"max\": %.3f}",
                s.median, s.min, s.p25, s.p75, s.max);
  return text;
}

void json_method(std::ofstream& out, Method method, const MethodRounds& m, std::uint32_t streams) {
  const SendCounts& c = m.totals;
  out << "    " << json_string(method_name(method)) << ": {\n"
      << "      \"sends_per_s\": " << json_spread(sends_per_second(m, streams)) << ",\n"
      << "      \"time_us\": " << json_spread(time_us(m)) << ",\n"
      << "      \"ns_per_send_median\": " << time_us(m).median * 1e3 / streams << ",\n"
      << "      \"server_cpu_share\": " << json_spread(server_cpu_share(m)) << ",\n"
      << "      \"client_cpu_us_per_round\": " << json_spread(client_cpu_us(m)) << ",\n"
      << "      \"counts\": {\"full\": " << c.full << ", \"short\": " << c.short_writes
      << ", \"eagain\": " << c.eagain << ", \"errors\": " << c.errors
      << ", \"first_errno\": " << c.first_errno << "},\n"
      << "      \"rounds\": [";
  for (std::size_t i = 0; i < m.rounds.size(); ++i) {
    out << (i ? ", " : "") << "{\"wall_ns\": " << m.rounds[i].wall_ns
        << ", \"cpu_ns\": " << m.rounds[i].cpu_ns << ", \"client_cpu_ns\": " << m.client_cpu_ns[i]
        << "}";
  }
  out << "]\n    }";
}

// A method that was not run is absent from "methods" and named in "not_measured" with why, so
// that a reader of floor["methods"][name] finds no zeros posing as figures.
void json_methods(std::ofstream& out, const FloorReport& report) {
  out << "  \"methods\": {\n";
  bool first = true;
  for (int i = 0; i < kMethodCount; ++i) {
    if (!report.methods[i].measured) continue;
    out << (first ? "" : ",\n");
    json_method(out, kMethods[i], report.methods[i], report.options.streams);
    first = false;
  }
  out << "\n  },\n  \"not_measured\": {";
  first = true;
  for (int i = 0; i < kMethodCount; ++i) {
    if (report.methods[i].measured) continue;
    out << (first ? "" : ", ") << json_string(method_name(kMethods[i]))
        << ": \"needs one fd per stream\"";
    first = false;
  }
  out << "},\n  \"median_time_relative_to_send\": ";
  if (report.methods[int(Method::kSend)].measured) {  // then all three are
    const double send_median = time_us(report.methods[0]).median;
    out << "{\"uring\": " << time_us(report.methods[1]).median / send_median
        << ", \"uring_fixed\": " << time_us(report.methods[2]).median / send_median << "},\n";
  } else {
    out << "null,\n";
  }
}

std::string json_caches(const MemoryGrowth& g) {
  std::string text = "[";
  for (std::size_t i = 0; i < g.caches.size(); ++i) {
    const CacheGrowth& cache = g.caches[i];
    text += (i ? ", " : "") + std::string("{\"name\": ") + json_string(cache.name) +
            ", \"objects\": " + std::to_string(cache.objects) + ", \"bytes\": " +
            std::to_string(cache.bytes) + ", \"merged_with\": " + json_string(cache.merged_with) + "}";
  }
  return text + "]";
}

void json_memory(std::ofstream& out, const MemoryGrowth& g, const MemoryGrowth& after) {
  const double pairs = double(g.pairs);
  out << "  \"kernel_memory\": {\n"
      << "    \"pairs\": " << g.pairs << ",\n"
      << "    \"note\": \"both ends of every pair are on this box: per server-side socket = per pair / 2\",\n"
      << "    \"slab_bytes\": " << g.slab_bytes << ",\n"
      << "    \"slab_bytes_per_pair\": " << g.slab_bytes / pairs << ",\n"
      << "    \"slab_bytes_per_server_socket\": " << g.slab_bytes / pairs / 2 << ",\n"
      << "    \"sunreclaim_bytes\": " << g.sunreclaim_bytes << ",\n"
      << "    \"sunreclaim_bytes_per_pair\": " << g.sunreclaim_bytes / pairs << ",\n"
      << "    \"sunreclaim_bytes_per_server_socket\": " << g.sunreclaim_bytes / pairs / 2 << ",\n"
      << "    \"sockstat\": {\"sockets_used\": " << g.sockets_used << ", \"tcp_inuse\": " << g.tcp_inuse
      << ", \"tcp_alloc\": " << g.tcp_alloc << ", \"tcp_mem_pages\": " << g.tcp_mem_pages << "},\n"
      << "    \"server_rss_bytes\": " << g.rss_bytes << ",\n"
      << "    \"server_rss_bytes_per_stream\": " << g.rss_bytes / pairs << ",\n"
      << "    \"after_rounds\": {\"slab_bytes\": " << after.slab_bytes
      << ", \"sunreclaim_bytes\": " << after.sunreclaim_bytes
      << ", \"tcp_mem_pages\": " << after.tcp_mem_pages
      << ", \"slab_caches\": " << json_caches(after) << "},\n"
      << "    \"slab_caches\": " << json_caches(g) << "\n  }\n";
}

}  // namespace

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

MachineInfo describe_machine() {
  MachineInfo machine;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    std::size_t colon = line.find(':');
    if (colon != std::string::npos) machine.cpu_model = line.substr(colon + 2);
    break;
  }
  utsname names{};
  if (uname(&names) == 0) machine.kernel = std::string(names.sysname) + " " + names.release;
  machine.cpus = sysconf(_SC_NPROCESSORS_ONLN);
  machine.memory_bytes = std::uint64_t(sysconf(_SC_PHYS_PAGES)) * std::uint64_t(sysconf(_SC_PAGESIZE));
  machine.load_average = load_average();
  return machine;
}

void print_table(const FloorReport& report, std::FILE* out) {
  const Options& o = report.options;
  std::fprintf(out, "kernel_floor: %u loopback streams, one %u-byte event each, %u rounds per method "
               "(+%u warm-up), clients %s\n", o.streams, o.event_bytes, o.rounds, o.warmup_rounds,
               o.quiet_clients ? "read after each round" : "read while the server sends");
  std::fprintf(out, "machine: %s, %ld cpus, %.1f GiB, %s; ring: %s\n", report.machine.cpu_model.c_str(),
               report.machine.cpus, double(report.machine.memory_bytes) / (1u << 30),
               report.machine.kernel.c_str(), report.ring.c_str());
  std::fprintf(out, "load average before: %s, after: %s (anything above ~0 is other work sharing "
               "the cores)\n", report.machine.load_average.c_str(), report.load_average_after.c_str());
  std::fprintf(out, "established %u streams in %.2f s (%s connections/s) from %u client %s\n",
               o.streams, report.establish_seconds,
               grouped(o.streams / report.establish_seconds).c_str(), report.client_processes,
               report.client_processes == 1 ? "process" : "processes");
  if (!report.methods[int(Method::kSend)].measured) {
    std::fprintf(out, "the server holds the streams only as direct descriptors (%s): the send() "
                 "loop and io_uring on regular fds need one fd per stream and are not run\n",
                 o.fixed_only ? "--fixed-only" : "more than 19,000 streams");
  }
  print_speed(report, out);
  print_counts(report, out);
  print_memory(report, out);
  std::fflush(out);
}

}  // namespace ringcast::floorbench

namespace ringcast::floorbench {

std::string write_json(const FloorReport& report, const std::string& path) {
  std::ofstream out(path);
  if (!out) return "cannot open " + path + ": " + std::strerror(errno);
  const Options& o = report.options;
  const MachineInfo& machine = report.machine;
  out << "{\n  \"benchmark\": \"kernel_floor\",\n"
      << "  \"machine\": {\"cpu_model\": " << json_string(machine.cpu_model)
      << ", \"cpus\": " << machine.cpus << ", \"memory_bytes\": " << machine.memory_bytes
      << ", \"kernel\": " << json_string(machine.kernel)
      << ", \"load_average_before\": " << json_string(machine.load_average)
      << ", \"load_average_after\": " << json_string(report.load_average_after) << "},\n"
      << "  \"options\": {\"streams\": " << o.streams << ", \"rounds\": " << o.rounds
      << ", \"warmup_rounds\": " << o.warmup_rounds << ", \"event_bytes\": " << o.event_bytes
      << ", \"batch\": " << o.batch << ", \"quiet_clients\": " << (o.quiet_clients ? "true" : "false")
      << ", \"fixed_only\": " << (o.fixed_only ? "true" : "false")
      << ", \"streams_per_child\": " << o.streams_per_child
      << ", \"files_per_ring\": " << o.files_per_ring << "},\n"
      << "  \"ring\": " << json_string(report.ring) << ",\n"
      << "  \"rings\": " << report.rings << ",\n"
      << "  \"establish_seconds\": " << report.establish_seconds << ",\n";
  json_methods(out, report);
  out << "  \"bytes_sent\": " << report.bytes_sent << ",\n"
      << "  \"bytes_received\": " << report.bytes_received << ",\n"
      << "  \"client\": {\"processes\": " << report.client_processes
      << ", \"cpu_ns\": " << report.client_cpu_ns
      << ", \"max_rss_bytes\": " << report.client_max_rss_bytes << "},\n";
  json_memory(out, report.memory, report.memory_after_rounds);
  out << "}\n";
  out.flush();
  if (!out) return "cannot write " + path;
  return {};
}

}  // namespace ringcast::floorbench
