#include "server/server.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "core/shard.h"
#include "net/epoll_io.h"
#include "net/listener.h"
#include "net/probe.h"
#include "net/tls_context.h"
#include "net/tls_io.h"
#include "net/uring_io.h"
#include "redis/bridge.h"
#include "redis/occupancy.h"
#include "server/access_load.h"
#include "server/host_limits.h"

namespace ringcast {

namespace {

constexpr int kListenBacklog = 4096;  // the kernel caps it at net.core.somaxconn

void pin_to_core(std::uint32_t shard) {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores <= 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(shard % static_cast<std::uint32_t>(cores), &set);
  // Failure (e.g. a restricted cpuset) only costs locality; the shard still runs.
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
    log_event(LogLevel::debug, "pin_failed", "shard=%u", shard);
}

std::uint32_t shard_count(const Config& config) {
  if (config.shards != 0) return config.shards;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 ? std::min(static_cast<std::uint32_t>(cores), kMaxShardCount) : 1;
}

// Connections one shard must be able to hold: its share of --max-streams plus room for plain
// requests and for SO_REUSEPORT's uneven spread (or --max-connections, if given).
std::uint64_t per_shard_connections(const Config& config, std::uint32_t shards) {
  if (config.max_connections != 0) return config.max_connections;
  const std::uint64_t streams = (std::uint64_t(config.max_streams) + shards - 1) / shards;
  return streams + std::max<std::uint64_t>(1024, streams / 32);
}

// One shard's IO backend, chosen by --io. Created on the shard's own thread.
struct ShardSlot {
  std::unique_ptr<net::UringIo> uring;
  std::unique_ptr<net::EpollIo> epoll;
  std::unique_ptr<net::TlsIo> tls;  // over either backend when --tls-cert is given
  net::Io* io = nullptr;
  int peer_handle = -1;  // what a waker rings to wake this shard: ring fd (MSG_RING) or eventfd
  std::string init_error;
  std::string description;  // for the start-up log, taken before the shard runs

  void init(const Config& config, std::uint32_t files, std::uint32_t max_rings, int listen_fd,
            SSL_CTX* tls_ctx) {
    init_backend(config, files, max_rings, listen_fd);
    if (tls_ctx != nullptr && init_error.empty()) {
      tls = std::make_unique<net::TlsIo>(*io, tls_ctx, config.recv_buffer_bytes);
      io = tls.get();
    }
  }
  void init_backend(const Config& config, std::uint32_t files, std::uint32_t max_rings,
                    int listen_fd) {
    if (config.io == IoBackend::epoll) {
      epoll = std::make_unique<net::EpollIo>();
      net::EpollOptions options;
      options.max_fds = files;
      options.recv_buffers = config.recv_buffers;
      options.recv_buffer_bytes = config.recv_buffer_bytes;
      options.listen_fd = listen_fd;
      init_error = epoll->init(options);
      io = epoll.get();
      if (init_error.empty()) peer_handle = epoll->peer_handle();
      return;
    }
    uring = std::make_unique<net::UringIo>();
    net::UringOptions options;
    options.ring.sq_entries = config.ring_entries;
    options.ring.cq_entries = config.ring_cq_entries != 0
                                  ? config.ring_cq_entries
                                  : std::max({16384u, config.ring_entries * 4, files});
    options.ring.files = files;
    options.ring.recv_buffers = config.recv_buffers;
    options.ring.recv_buffer_bytes = config.recv_buffer_bytes;
    options.max_rings = max_rings;
    options.listen_fd = listen_fd;
    options.send_zc_min_bytes = config.send_zc_min_bytes;
    options.submit_batch = config.submit_batch;
    // With SINGLE_ISSUER only the creating thread may submit: this runs on the shard's thread.
    init_error = uring->init(options);
    io = uring.get();
    if (init_error.empty()) peer_handle = uring->ring_fd();
  }
  void set_peers(const std::vector<int>& handles) {
    if (uring) uring->set_peers(handles);
    if (epoll) epoll->set_peers(handles);
  }
  // The backend's wakers for threads that are not shards (the Redis bridge), over every
  // shard's peer handle.
  net::ForeignWakers foreign_wakers(const std::vector<int>& handles) const {
    if (uring) return [handles](std::string& error) { return net::UringIo::foreign_waker(handles, error); };
    return [handles](std::string& error) { return net::EpollIo::foreign_waker(handles, error); };
  }
  std::string describe() const {
    std::string text = uring ? "io_uring: " + uring->describe() : "epoll (the baseline backend)";
    return tls ? text + ", TLS" : text;
  }
};

// One line with what the host allows, then one warning per limit that binds first.
void log_host_limits(const Config& config, std::uint32_t shards, std::uint32_t files,
                     std::uint32_t rings) {
  CapacityPlan plan;
  plan.shards = shards;
  plan.files_per_ring = files;
  plan.rings_per_shard = rings;
  plan.max_streams = config.max_streams;
  plan.listen_backlog = kListenBacklog;
  plan.uring = config.io == IoBackend::uring;
  const HostCheck check = check_host_limits(read_host_limits(), plan);
  log_event(LogLevel::info, "limits", "%s", check.fields.c_str());
  for (const std::string& w : check.warnings) log_event(LogLevel::warn, "limit_binds", "%s", w.c_str());
}

// The server's start-up and shutdown, one step each: the TLS context and the access keys, the
// listeners, the cluster the shards share, how many descriptors each shard's rings hold, the
// shard threads, and the wait for a stop signal.

// Returns false (logged) when --tls-cert was given and the context cannot be made.
bool make_tls(const Config& config, net::TlsContext& tls_ctx) {
  if (config.tls_cert.empty()) return true;
  std::string err;
  tls_ctx = net::make_tls_context({config.tls_cert, config.tls_key, config.tls_min_version, config.h2}, err);
  if (!tls_ctx) {
    log_event(LogLevel::error, "tls_config_failed", "error=%s", quoted(err).c_str());
    return false;
  }
  if (config.tls_offload) net::TlsIo::enable_record_offload(tls_ctx.get());
  return true;
}

// One listener per shard on the same port (SO_REUSEPORT); `port` 0 resolves on the first.
// Returns false (logged, nothing left open) if one cannot be made.
bool open_listeners(const Config& config, std::uint32_t shards, std::vector<int>& fds,
                    std::uint16_t& port) {
  port = config.listen_port;
  for (std::uint32_t i = 0; i < shards; ++i) {
    net::ListenResult l = net::listen_tcp(config.listen_host, port, kListenBacklog, int(config.sndbuf),
                                          int(config.rcvbuf));
    if (!l.error.empty()) {
      log_event(LogLevel::error, "listen_failed", "addr=%s:%u error=%s",
                config.listen_host.c_str(), port, quoted(l.error).c_str());
      for (int fd : fds) close(fd);
      fds.clear();
      return false;
    }
    port = l.port;
    fds.push_back(l.fd);
  }
  return true;
}

void fill_cluster(Cluster& cluster, const Config& config, const http::AccessPolicy& access,
                  std::uint32_t shards) {
  cluster.config = &config;
  cluster.access = &access;
  cluster.shards = shards;
  cluster.boot_unix_ms = unix_ms();
  cluster.id_clock.store(cluster.boot_unix_ms << 20);  // every id of this run is >= boot time
  for (std::uint32_t i = 0; i < shards; ++i) {
    cluster.mailboxes.push_back(std::make_unique<Mailbox>());
    cluster.metrics.push_back(std::make_unique<ShardMetrics>());
  }
}

// Descriptors per ring and rings per shard. io_uring: each ring has its own fixed-file table,
// bounded by RLIMIT_NOFILE; a shard adds rings (lazily) up to what its share needs. epoll:
// every socket sits in the one process fd table, which the shards share, and that caps the
// streams. Lowers config.max_streams (logged) to what they can hold.
struct RingBudget {
  std::uint32_t files = 0;
  std::uint32_t max_rings = 1;
};
RingBudget ring_budget(Config& config, std::uint32_t shards) {
  const std::uint64_t per_shard = per_shard_connections(config, shards);
  RingBudget b;
  if (config.io == IoBackend::uring) {
    b.files = std::uint32_t(std::max<std::uint64_t>(64, std::min<std::uint64_t>(per_shard, net::nofile_limit())));
    if (config.ring_files != 0) b.files = std::min<std::uint32_t>(b.files, std::max<std::uint32_t>(16, config.ring_files));
    b.max_rings = std::uint32_t(std::min<std::uint64_t>(255, (per_shard + b.files - 1) / b.files));
  } else {
    b.files = std::max<std::uint32_t>(64, (net::nofile_limit() - 64) / shards);
  }
  const std::uint64_t capacity = std::uint64_t(shards) * b.max_rings * b.files;
  if (capacity < config.max_streams) {
    log_event(LogLevel::warn, "max_streams_lowered", "max_streams=%u capacity=%llu bound=%s",
              config.max_streams, static_cast<unsigned long long>(capacity),
              config.io == IoBackend::uring ? "rings_per_shard" : "process_fd_table");
    config.max_streams = std::uint32_t(capacity - std::min<std::uint64_t>(capacity / 16, 1024 * shards));
  }
  return b;
}

// Signals go to the main thread only: blocked before any shard thread exists.
sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// The shard threads, started in two steps: each makes its backend on its own thread (with
// SINGLE_ISSUER only the creating thread may submit), then, once every ring exists and the
// Redis threads are up, each learns its peers and runs.
class ShardThreads {
 public:
  ShardThreads(Cluster& cluster, const Config& config, RingBudget budget,
               const std::vector<int>& listen_fds, SSL_CTX* tls_ctx)
      : shards_(cluster.shards), ring_fds_(shards_, -1), ready_(shards_ + 1), go_(shards_ + 1) {
    for (std::uint32_t i = 0; i < shards_; ++i) slots_.push_back(std::make_unique<ShardSlot>());
    for (std::uint32_t i = 0; i < shards_; ++i) {
      threads_.emplace_back([this, &cluster, &config, budget, &listen_fds, tls_ctx, i] {
        pin_to_core(i);
        ShardSlot& slot = *slots_[i];
        slot.init(config, budget.files, budget.max_rings, listen_fds[i], tls_ctx);
        if (slot.init_error.empty()) {
          ring_fds_[i] = slot.peer_handle;
          // Read here, before the barrier: once running, the shard alone touches its backend.
          slot.description = slot.describe();
        }
        ready_.arrive_and_wait();
        go_.arrive_and_wait();
        if (!start_ok_) return;
        slot.set_peers(ring_fds_);
        Shard shard(i, cluster, *slot.io);
        shard.run();
      });
    }
    ready_.arrive_and_wait();
  }
  // Every backend made? (Logs each that was not.)
  bool backends_ok() {
    for (std::uint32_t i = 0; i < shards_; ++i) {
      if (slots_[i]->init_error.empty()) continue;
      log_event(LogLevel::error, "shard_init_failed", "shard=%u error=%s", i,
                quoted(slots_[i]->init_error).c_str());
      start_ok_ = false;
    }
    return start_ok_;
  }
  net::ForeignWakers foreign_wakers() const { return slots_[0]->foreign_wakers(ring_fds_); }
  const std::string& description() const { return slots_[0]->description; }
  // Lets the shards run (ok) or end (not ok, and joins them).
  void go(bool ok) {
    start_ok_ = ok;
    go_.arrive_and_wait();
    if (!ok) join();
  }
  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::uint32_t shards_;
  std::vector<std::unique_ptr<ShardSlot>> slots_;
  std::vector<int> ring_fds_;
  std::barrier<> ready_;  // every ring exists (or failed)
  std::barrier<> go_;     // peers known; run or quit
  bool start_ok_ = true;
  std::vector<std::thread> threads_;
};

}  // namespace

int run_server(const Config& requested) {
  Config config = requested;
  if (std::string err = config.io == IoBackend::uring ? net::probe_io_uring() : ""; !err.empty()) {
    log_event(LogLevel::error, "io_uring_unsupported", "msg=%s", quoted(err).c_str());
    return 1;
  }
  net::TlsContext tls_ctx;
  if (!make_tls(config, tls_ctx)) return 1;
  // Keys are read once, here, and shared read-only by every shard.
  auto access = std::make_unique<http::AccessPolicy>();
  if (std::string err = load_access(config, *access); !err.empty()) {
    log_event(LogLevel::error, "access_config_failed", "error=%s", quoted(err).c_str());
    return 1;
  }
  const std::uint32_t shards = shard_count(config);
  std::vector<int> listen_fds;
  std::uint16_t port = 0;
  if (!open_listeners(config, shards, listen_fds, port)) return 1;
  Cluster cluster;
  fill_cluster(cluster, config, *access, shards);
  std::unique_ptr<RedisBridge> bridge;
  std::unique_ptr<RedisOccupancy> occupancy;
  if (config.redis()) {
    bridge = std::make_unique<RedisBridge>(config, cluster);
    cluster.redis = bridge.get();
    occupancy = std::make_unique<RedisOccupancy>(config, cluster);
    cluster.occupancy = occupancy.get();
  }
  const sigset_t stop_signals = block_stop_signals();
  const RingBudget budget = ring_budget(config, shards);
  ShardThreads threads(cluster, config, budget, listen_fds, tls_ctx.get());
  bool ok = threads.backends_ok();
  // The bridge starts before any shard runs (shards wake it through its net::WakeFd).
  if (ok && bridge) {
    if (std::string err = bridge->start(threads.foreign_wakers()); !err.empty()) {
      log_event(LogLevel::error, "redis_bridge_failed", "error=%s", quoted(err).c_str());
      ok = false;
    }
  }
  if (ok && occupancy) occupancy->start();
  threads.go(ok);
  if (!ok) {
    for (int fd : listen_fds) close(fd);
    return 1;
  }
  log_event(LogLevel::info, "start", "io=%s shards=%u rings_per_shard=%u descriptors_per_ring=%u "
            "max_streams=%u", quoted(threads.description()).c_str(), shards, budget.max_rings,
            budget.files, config.max_streams);
  log_host_limits(config, shards, budget.files, budget.max_rings);
  cluster.boot_rss_bytes.store(resident_bytes());
  // Tests and scripts wait for this line to learn the port (port 0 picks one): every level.
  log_event_always(LogLevel::info, "listening", "addr=%s:%u shards=%u", config.listen_host.c_str(), port,
            shards);
  std::fflush(stderr);

  int signo = 0;
  sigwait(&stop_signals, &signo);
  log_event(LogLevel::info, "shutdown", "signal=%s drain_ms=%u", signo == SIGINT ? "SIGINT" : "SIGTERM",
            config.drain_ms);
  cluster.stop.store(true);
  threads.join();
  if (bridge) bridge->stop();  // after the shards: they post to it until they stop
  if (occupancy) occupancy->stop();
  // Messages posted to a shard after it finished still hold chunk references: release them.
  for (auto& box : cluster.mailboxes) {
    while (Message* m = box->pop()) dispose(m);
  }
  log_event(LogLevel::info, "stopped", "exit=%d", 0);
  return 0;
}

}  // namespace ringcast
