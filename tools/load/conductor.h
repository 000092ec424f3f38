#pragma once
// The main thread: builds the plan, starts the workers, drives the phases of the chosen mode
// (every wait bounded by --timeout/--duration), prints the progress line each second, and
// hands everything to the report.
#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tools/load/options.h"
#include "tools/load/plan.h"
#include "tools/load/ring.h"
#include "tools/load/shared.h"
#include "tools/load/tls_client.h"
#include "tools/load/worker.h"

namespace ringcast::load {

// Sums of the workers' progress counters at one moment.
struct Totals {
  std::uint64_t established = 0, events = 0, lost = 0, duplicates = 0, reordered = 0;
  std::uint64_t complete = 0, failed = 0, resumed = 0, dropped = 0, drop_handled = 0;
  std::uint64_t droppees_with_id = 0, published = 0, publishers_up = 0, publishers_done = 0;
  std::uint64_t tls_handshakes = 0, tls_resumed = 0, tls_failures = 0;
  std::uint64_t h2_conns_up = 0;
  bool all_exited = true;
};

// When each phase began (CLOCK_MONOTONIC ns; 0 = never).
struct Timeline {
  std::uint64_t start = 0, connected = 0, publish_begin = 0, publish_end = 0;
  std::uint64_t drop = 0, churn_end = 0, resumed = 0, end = 0;
};

struct Outcome {
  bool completed = false;
  bool interrupted = false;  // SIGINT/SIGTERM
  std::string note;          // what did not complete
};

class Conductor {
 public:
  explicit Conductor(const Options& opt) : opt_(opt) {}
  ~Conductor();
  int run();  // the exit status

 private:
  std::string start();
  void stop();
  Totals totals() const;
  bool wait_until(const std::function<bool(const Totals&)>& done, std::uint64_t deadline_ns);
  void set_phase(Phase p);
  void progress_line(const Totals& t, std::uint64_t now);
  void fail(const std::string& why);

  void mode_run();
  void mode_subscribe();
  void mode_publish();
  void mode_storm();
  bool storm_churn(std::uint64_t deadline);
  bool connect_all();
  void drain_publishers();

  Options opt_;
  KernelFeatures kernel_;
  Plan plan_;
  TlsContext tls_;  // --tls: the context every connection is made from
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Timeline timeline_;
  Outcome outcome_;
  std::uint64_t last_line_ns_ = 0;
  std::uint64_t last_events_ = 0;
  rusage last_usage_{};
};

}  // namespace ringcast::load
