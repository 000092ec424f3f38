#pragma once
// State every thread sees: the options and plan (immutable), the phase the main thread
// drives, and what the publishers have acknowledged per topic.
#include <arpa/inet.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/load/event_id.h"
#include "tools/load/options.h"
#include "tools/load/plan.h"
#include "tools/load/ring.h"
#include "tools/load/source_plan.h"
#include "tools/load/tls_client.h"

namespace ringcast::load {

// The main thread moves the phase forward only; workers act on each step once.
enum class Phase : int {
  setup,    // building rings
  connect,  // streams and publisher connections open
  publish,  // publishers publish
  drop,     // storm: drop the designated streams (they reconnect at once)
  drain,    // publishers finish their request in flight and stop
  stop,     // every worker leaves its loop
};

struct Shared {
  Shared(const Options& o, const Plan& p, const KernelFeatures& k, std::uint64_t seed)
      : opt(o), plan(p), kernel(k),
        sources(seed, p.conns(), ntohs(o.target.sin_port)),
        acked(new std::atomic<std::uint64_t>[p.topic_names.size()]()),
        ack_ids(p.table_events * p.topic_names.size()) {}

  const Options& opt;
  const Plan& plan;
  const KernelFeatures& kernel;
  const SourcePlan sources;
  // --tls: the client context every worker's connections are made from; null without --tls.
  const TlsContext* tls = nullptr;

  std::atomic<Phase> phase{Phase::setup};
  // Storm with --churn: set when the churn's --duration is over; no stream is dropped after it.
  std::atomic<bool> churn_over{false};
  // Per topic: the highest k acknowledged by the server (k is consecutive, so also the count).
  // Stored (release) by the topic's publisher, on whichever thread holds it (the publisher
  // thread by default); loaded (acquire) by every stream thread's completion scan and, after
  // the join, by the report. Nothing else crosses threads during the run.
  std::unique_ptr<std::atomic<std::uint64_t>[]> acked;
  // Set once publishing has stopped (drain done): acked[] is then every topic's final k.
  std::atomic<bool> acked_final{false};
  // [topic * table_events + k - 1]: the id each 202 returned. Written only by the thread that
  // holds the topic's publisher (each cell once per accepted k; a resend after a lost answer
  // rewrites it on that same thread); read only after every worker has been joined
  // (Worker::id_mismatches, from the report), so plain stores need no atomics: the join orders
  // them.
  std::vector<EventId> ack_ids;
  std::atomic<std::uint64_t> start_error_count{0};
  std::string start_error;  // the first worker's init error (guarded by start_error_count)

  bool use_uring_bind() const { return kernel.bind_op && opt.uring_bind; }
  bool use_multishot() const { return kernel.multishot_recv && opt.multishot; }
};

}  // namespace ringcast::load
