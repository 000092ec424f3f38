#include "tools/load/conductor.h"

#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "tools/load/clock.h"
#include "tools/load/report.h"

namespace ringcast::load {

namespace {

constexpr std::uint64_t kTickNs = 100 * kNsPerMs;
constexpr std::uint64_t kStartupNs = 30 * kNsPerS;
constexpr std::uint64_t kDrainNs = 10 * kNsPerS;

std::uint64_t ns_of(double seconds) { return std::uint64_t(seconds * 1e9); }

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

double cpu_seconds(const rusage& u) {
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

Conductor::~Conductor() { stop(); }

int Conductor::run() {
  if (std::string err = start(); !err.empty()) {
    std::fprintf(stderr, "ringcast-load: %s\n", err.c_str());
    stop();
    return 1;
  }
  switch (opt_.mode) {
    case Mode::run: mode_run(); break;
    case Mode::subscribe: mode_subscribe(); break;
    case Mode::publish: mode_publish(); break;
    case Mode::storm: mode_storm(); break;
  }
  stop();
  timeline_.end = mono_ns();
  return finish_report(ReportInput{opt_, plan_, kernel_, *shared_, workers_, timeline_, outcome_});
}

std::string Conductor::start() {
  timeline_.start = mono_ns();
  getrusage(RUSAGE_SELF, &last_usage_);
  if (std::string err = probe_kernel(kernel_); !err.empty()) return err;
  if (std::string err = make_plan(opt_, plan_); !err.empty()) return err;
  if (!kernel_.bind_op && opt_.uring_bind)
    std::fprintf(stderr,
                 "ringcast-load: warning: kernel %s lacks IORING_OP_BIND (Linux 6.11); each socket "
                 "is made with socket()+bind() and moved into the fixed table (4 syscalls per "
                 "connection, no fd kept)\n",
                 kernel_.release.c_str());
  if (!kernel_.multishot_recv && opt_.multishot)
    std::fprintf(stderr, "ringcast-load: warning: kernel %s lacks multishot receive (Linux 6.0); "
                 "using one-shot receives\n", kernel_.release.c_str());
  std::uint64_t seed = opt_.seed;
  if (seed == 0) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = std::uint64_t(ts.tv_nsec) * 2654435761u ^ std::uint64_t(ts.tv_sec) ^ (std::uint64_t(getpid()) << 32);
  }
  shared_ = std::make_unique<Shared>(opt_, plan_, kernel_, seed);
  if (opt_.tls) {
    TlsConfig config;
    config.verify = !opt_.tls_insecure;
    config.ca_file = opt_.tls_ca;
    config.sni = opt_.tls_sni;
    config.verify_ip = inet_ntoa(opt_.target.sin_addr);
    config.resume = opt_.tls_resume;
    if (std::string err = tls_.init(config); !err.empty()) return err;
    shared_->tls = &tls_;
  }
  // Workers inherit the mask: SIGINT/SIGTERM are taken only by the main thread's sigtimedwait.
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (std::uint32_t t = 0; t < plan_.threads; ++t) {
    workers_.push_back(std::make_unique<Worker>(*shared_, t));
    Worker* w = workers_.back().get();
    threads_.emplace_back([w] { w->run(); });
  }
  const std::uint64_t deadline = mono_ns() + kStartupNs;
  for (const auto& w : workers_) {
    while (!w->progress.ready.load() && !w->progress.exited.load() && mono_ns() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (shared_->start_error_count.load() > 0) return shared_->start_error;
  for (const auto& w : workers_)
    if (!w->progress.ready.load()) return "a worker did not finish setting up its rings in 30 s";
  if (!opt_.quiet)
    std::fprintf(stderr, "ringcast-load: %s: %llu streams, %u publishers, %zu rings x %u files, %u threads%s; "
                 "bind %s, %s receive (kernel %s)\n",
                 mode_name(opt_.mode), (unsigned long long)plan_.streams, plan_.publishers,
                 plan_.rings.size(), plan_.ring_files, plan_.threads,
                 plan_.publisher_thread ? " (the last for publishers alone)" : "",
                 shared_->use_uring_bind() ? "IORING_OP_BIND" : "socket()+bind()+register",
                 shared_->use_multishot() ? "multishot" : "one-shot", kernel_.release.c_str());
  if (opt_.tls && !opt_.quiet)
    std::fprintf(stderr, "ringcast-load: tls: %s, sni %s, resume %s (%s)\n",
                 opt_.tls_insecure ? "no certificate check (--tls-insecure)" : ("verified against " + opt_.tls_ca).c_str(),
                 opt_.tls_sni.empty() ? "none" : opt_.tls_sni.c_str(), opt_.tls_resume ? "on" : "off",
                 OpenSSL_version(OPENSSL_VERSION));
  return {};
}

void Conductor::stop() {
  if (shared_) set_phase(Phase::stop);
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void Conductor::set_phase(Phase p) { shared_->phase.store(p, std::memory_order_release); }

Totals Conductor::totals() const {
  Totals t;
  const auto r = std::memory_order_relaxed;
  for (const auto& w : workers_) {
    const Progress& p = w->progress;
    t.established += p.established.load(r);
    t.events += p.events.load(r);
    t.lost += p.lost.load(r);
    t.duplicates += p.duplicates.load(r);
    t.reordered += p.reordered.load(r);
    t.complete += p.complete.load(r);
    t.failed += p.failed.load(r);
    t.resumed += p.resumed.load(r);
    t.dropped += p.dropped.load(r);
    t.drop_handled += p.drop_handled.load(r);
    t.droppees_with_id += p.droppees_with_id.load(r);
    t.published += p.published.load(r);
    t.publishers_up += p.publishers_up.load(r);
    t.publishers_done += p.publishers_done.load(r);
    t.tls_handshakes += p.tls_handshakes.load(r);
    t.tls_resumed += p.tls_resumed.load(r);
    t.tls_failures += p.tls_failures.load(r);
    t.h2_conns_up += p.h2_conns_up.load(r);
    t.all_exited = t.all_exited && p.exited.load(r);
  }
  return t;
}

// Sleeps in 100 ms steps (waking at once for SIGINT/SIGTERM) until `done` holds, the deadline
// passes, or a signal arrives. Returns whether `done` held.
bool Conductor::wait_until(const std::function<bool(const Totals&)>& done, std::uint64_t deadline_ns) {
  const sigset_t set = stop_signals();
  for (;;) {
    const Totals t = totals();
    const std::uint64_t now = mono_ns();
    if (now - last_line_ns_ >= kNsPerS) progress_line(t, now);
    if (done(t)) return true;
    if (outcome_.interrupted || now >= deadline_ns || t.all_exited) return false;
    const std::uint64_t step = std::min(kTickNs, deadline_ns - now);
    timespec ts{time_t(step / kNsPerS), long(step % kNsPerS)};
    if (sigtimedwait(&set, nullptr, &ts) > 0) {
      outcome_.interrupted = true;
      fail("interrupted by a signal");
    }
  }
}

void Conductor::progress_line(const Totals& t, std::uint64_t now) {
  const double dt = last_line_ns_ == 0 ? double(now - timeline_.start) / 1e9 : double(now - last_line_ns_) / 1e9;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = dt > 0 ? (cpu_seconds(usage) - cpu_seconds(last_usage_)) / dt * 100 : 0;
  const double rate = dt > 0 ? double(t.events - last_events_) / dt : 0;
  last_usage_ = usage;
  last_line_ns_ = now;
  last_events_ = t.events;
  if (opt_.quiet) return;
  auto latency = std::make_unique<Histogram>();
  for (const auto& w : workers_) latency->merge(w->stats.latency);
  char tls[96] = "";
  if (opt_.tls)
    std::snprintf(tls, sizeof tls, " tls handshakes %llu resumed %llu failed %llu",
                  (unsigned long long)t.tls_handshakes, (unsigned long long)t.tls_resumed,
                  (unsigned long long)t.tls_failures);
  char h2[48] = "";
  if (opt_.h2) std::snprintf(h2, sizeof h2, " h2 conns %llu", (unsigned long long)t.h2_conns_up);
  std::fprintf(stderr,
               "ringcast-load: %6.1fs streams %llu/%llu events %llu (%.0f/s) lost %llu dup %llu "
               "reord %llu p99 %.0fus published %llu%s%s cpu %.0f%%\n",
               double(now - timeline_.start) / 1e9, (unsigned long long)t.established,
               (unsigned long long)plan_.streams, (unsigned long long)t.events, rate,
               (unsigned long long)t.lost, (unsigned long long)t.duplicates,
               (unsigned long long)t.reordered, double(latency->quantile(0.99)) / 1e3,
               (unsigned long long)t.published, tls, h2, cpu);
}

void Conductor::fail(const std::string& why) {
  if (outcome_.note.empty()) outcome_.note = why;
}

// Every stream and publisher connected (or given up), bounded by --timeout from the start.
bool Conductor::connect_all() {
  set_phase(Phase::connect);
  const std::uint64_t streams = plan_.streams, publishers = plan_.publishers;
  const bool ok = wait_until(
      [&](const Totals& t) {
        return t.established + t.failed >= streams && t.publishers_up >= publishers;
      },
      timeline_.start + ns_of(opt_.timeout_s));
  timeline_.connected = mono_ns();
  const Totals t = totals();
  if (t.established < streams)
    fail("only " + std::to_string(t.established) + " of " + std::to_string(streams) + " streams connected");
  if (t.publishers_up < publishers) fail("not every publisher connected");
  return ok;
}

void Conductor::drain_publishers() {
  set_phase(Phase::drain);
  const std::uint64_t publishers = plan_.publishers;
  if (!wait_until([&](const Totals& t) { return t.publishers_done >= publishers; }, mono_ns() + kDrainNs))
    fail("publishers did not finish their last request");
  timeline_.publish_end = mono_ns();
  shared_->acked_final.store(true, std::memory_order_release);
}

void Conductor::mode_run() {
  connect_all();
  if (outcome_.interrupted) return;
  set_phase(Phase::publish);
  timeline_.publish_begin = mono_ns();
  const std::uint64_t deadline = timeline_.start + ns_of(opt_.timeout_s);
  const std::uint64_t streams = plan_.streams, publishers = plan_.publishers;
  // Publishing ends when every topic has --events, or after --duration when given.
  const std::uint64_t publish_until =
      opt_.duration_set ? std::min(deadline, timeline_.publish_begin + ns_of(opt_.duration_s)) : deadline;
  if (!wait_until([&](const Totals& t) { return t.publishers_done >= publishers; }, publish_until) &&
      !opt_.duration_set)
    fail("publishing did not finish within --timeout");
  if (outcome_.interrupted) return;
  drain_publishers();
  if (!wait_until([&](const Totals& t) { return t.complete + t.failed >= streams; }, deadline))
    fail("not every stream had every event within --timeout");
  if (totals().complete < streams) fail("not every stream had every event");
  outcome_.completed = outcome_.note.empty();
}

void Conductor::mode_subscribe() {
  connect_all();
  if (outcome_.interrupted) return;
  const bool connected = outcome_.note.empty();
  // Hold the streams; a signal ends the hold early without spoiling the run (a harness may
  // stop us once it has measured the server).
  wait_until([](const Totals&) { return false; }, mono_ns() + ns_of(opt_.duration_s));
  outcome_.completed = connected;
}

void Conductor::mode_publish() {
  connect_all();
  if (outcome_.interrupted) return;
  set_phase(Phase::publish);
  timeline_.publish_begin = mono_ns();
  const std::uint64_t publishers = plan_.publishers;
  wait_until([&](const Totals& t) { return t.publishers_done >= publishers; },
             mono_ns() + ns_of(opt_.duration_s));
  drain_publishers();
  outcome_.completed = outcome_.note.empty();
}

void Conductor::mode_storm() {
  connect_all();
  if (outcome_.interrupted) return;
  set_phase(Phase::publish);
  timeline_.publish_begin = mono_ns();
  // With --churn, --timeout bounds the waits around the churn's --duration, not the churn.
  const std::uint64_t deadline =
      timeline_.start + ns_of(opt_.timeout_s) +
      (opt_.churn_per_s > 0 ? ns_of(opt_.settle_s + opt_.duration_s + opt_.after_s) : 0);
  const std::uint64_t drop = plan_.drop_streams, streams = plan_.streams;
  wait_until([](const Totals&) { return false; }, std::min(deadline, mono_ns() + ns_of(opt_.settle_s)));
  // Each dropped stream must have an id to resume from, or its resume cannot be exact.
  if (!wait_until([&](const Totals& t) { return t.droppees_with_id >= drop; }, deadline))
    fail("not every stream to drop had received an event");
  if (outcome_.interrupted) return;
  set_phase(Phase::drop);
  timeline_.drop = mono_ns();
  const bool resumed = opt_.churn_per_s > 0 ? storm_churn(deadline) : wait_until(
      [&](const Totals& t) { return t.drop_handled >= drop && t.resumed >= t.dropped; }, deadline);
  timeline_.resumed = mono_ns();
  if (!resumed) fail("not every dropped stream resumed within --timeout");
  wait_until([](const Totals&) { return false; }, std::min(deadline, mono_ns() + ns_of(opt_.after_s)));
  drain_publishers();
  if (!wait_until([&](const Totals& t) { return t.complete + t.failed >= streams; }, deadline))
    fail("not every stream had every published event within --timeout");
  outcome_.completed = outcome_.note.empty();
}

// --churn: the workers drop streams for --duration; then every stream dropped must resume.
bool Conductor::storm_churn(std::uint64_t deadline) {
  wait_until([](const Totals&) { return false; }, std::min(deadline, mono_ns() + ns_of(opt_.duration_s)));
  shared_->churn_over.store(true, std::memory_order_release);
  timeline_.churn_end = mono_ns();
  if (outcome_.interrupted) return false;
  return wait_until([](const Totals& t) { return t.resumed >= t.dropped; }, deadline);
}

}  // namespace ringcast::load
