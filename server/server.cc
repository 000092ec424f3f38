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

}  // namespace

int run_server(const Config& requested) {
  Config config = requested;
  if (std::string err = config.io == IoBackend::uring ? net::probe_io_uring() : ""; !err.empty()) {
    log_event(LogLevel::error, "io_uring_unsupported", "msg=%s", quoted(err).c_str());
    return 1;
  }
  net::TlsContext tls_ctx;
  if (!config.tls_cert.empty()) {
    std::string err;
    tls_ctx = net::make_tls_context({config.tls_cert, config.tls_key, config.tls_min_version, config.h2}, err);
    if (!tls_ctx) {
      log_event(LogLevel::error, "tls_config_failed", "error=%s", quoted(err).c_str());
      return 1;
    }
    if (config.tls_offload) net::TlsIo::enable_record_offload(tls_ctx.get());
  }
  // Keys are read once, here, and shared read-only by every shard.
  auto access = std::make_unique<http::AccessPolicy>();
  if (std::string err = load_access(config, *access); !err.empty()) {
    log_event(LogLevel::error, "access_config_failed", "error=%s", quoted(err).c_str());
    return 1;
  }
  const std::uint32_t shards = shard_count(config);
  std::vector<int> listen_fds;
  std::uint16_t port = config.listen_port;
  for (std::uint32_t i = 0; i < shards; ++i) {
    net::ListenResult l = net::listen_tcp(config.listen_host, port, kListenBacklog, int(config.sndbuf),
                                          int(config.rcvbuf));
    if (!l.error.empty()) {
      log_event(LogLevel::error, "listen_failed", "addr=%s:%u error=%s",
                config.listen_host.c_str(), port, quoted(l.error).c_str());
      for (int fd : listen_fds) close(fd);
      return 1;
    }
    port = l.port;  // port 0 resolves on the first listener; the others share it
    listen_fds.push_back(l.fd);
  }

  Cluster cluster;
  cluster.config = &config;
  cluster.access = access.get();
  cluster.shards = shards;
  cluster.boot_unix_ms = unix_ms();
  cluster.id_clock.store(cluster.boot_unix_ms << 20);  // every id of this run is >= boot time
  for (std::uint32_t i = 0; i < shards; ++i) {
    cluster.mailboxes.push_back(std::make_unique<Mailbox>());
    cluster.metrics.push_back(std::make_unique<ShardMetrics>());
  }
  std::unique_ptr<RedisBridge> bridge;
  std::unique_ptr<RedisOccupancy> occupancy;
  if (config.redis()) {
    bridge = std::make_unique<RedisBridge>(config, cluster);
    cluster.redis = bridge.get();
    occupancy = std::make_unique<RedisOccupancy>(config, cluster);
    cluster.occupancy = occupancy.get();
  }

  // Signals go to the main thread only: block them before any shard thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // io_uring: each ring has its own fixed-file table, bounded by RLIMIT_NOFILE; a shard adds
  // rings (lazily) up to what its share needs. epoll: every socket sits in the one process fd
  // table, which the shards share, and that caps the streams.
  const std::uint64_t per_shard = per_shard_connections(config, shards);
  std::uint32_t files, max_rings = 1;
  if (config.io == IoBackend::uring) {
    files = std::uint32_t(std::max<std::uint64_t>(64, std::min<std::uint64_t>(per_shard, net::nofile_limit())));
    if (config.ring_files != 0) files = std::min<std::uint32_t>(files, std::max<std::uint32_t>(16, config.ring_files));
    max_rings = std::uint32_t(std::min<std::uint64_t>(255, (per_shard + files - 1) / files));
  } else {
    files = std::max<std::uint32_t>(64, (net::nofile_limit() - 64) / shards);
  }
  const std::uint64_t capacity = std::uint64_t(shards) * max_rings * files;
  if (capacity < config.max_streams) {
    log_event(LogLevel::warn, "max_streams_lowered", "max_streams=%u capacity=%llu bound=%s",
              config.max_streams, static_cast<unsigned long long>(capacity),
              config.io == IoBackend::uring ? "rings_per_shard" : "process_fd_table");
    config.max_streams = std::uint32_t(capacity - std::min<std::uint64_t>(capacity / 16, 1024 * shards));
  }
  std::vector<std::unique_ptr<ShardSlot>> slots;
  for (std::uint32_t i = 0; i < shards; ++i) slots.push_back(std::make_unique<ShardSlot>());
  std::vector<int> ring_fds(shards, -1);
  std::barrier ready(shards + 1);   // every ring exists (or failed)
  std::barrier go(shards + 1);      // peers known; run or quit
  bool start_ok = true;

  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < shards; ++i) {
    threads.emplace_back([&, i] {
      pin_to_core(i);
      ShardSlot& slot = *slots[i];
      slot.init(config, files, max_rings, listen_fds[i], tls_ctx.get());
      if (slot.init_error.empty()) {
        ring_fds[i] = slot.peer_handle;
        // Read here, before the barrier: once running, the shard alone touches its backend.
        slot.description = slot.describe();
      }
      ready.arrive_and_wait();
      go.arrive_and_wait();
      if (!start_ok) return;
      slot.set_peers(ring_fds);
      Shard shard(i, cluster, *slot.io);
      shard.run();
    });
  }
  ready.arrive_and_wait();
  for (std::uint32_t i = 0; i < shards; ++i) {
    if (!slots[i]->init_error.empty()) {
      log_event(LogLevel::error, "shard_init_failed", "shard=%u error=%s", i,
                quoted(slots[i]->init_error).c_str());
      start_ok = false;
    }
  }
  // The bridge starts before any shard runs (shards wake it through its net::WakeFd).
  if (start_ok && bridge) {
    if (std::string err = bridge->start(slots[0]->foreign_wakers(ring_fds)); !err.empty()) {
      log_event(LogLevel::error, "redis_bridge_failed", "error=%s", quoted(err).c_str());
      start_ok = false;
    }
  }
  if (start_ok && occupancy) occupancy->start();
  go.arrive_and_wait();
  if (!start_ok) {
    for (auto& t : threads) t.join();
    for (int fd : listen_fds) close(fd);
    return 1;
  }
  log_event(LogLevel::info, "start", "io=%s shards=%u rings_per_shard=%u descriptors_per_ring=%u "
            "max_streams=%u", quoted(slots[0]->description).c_str(), shards, max_rings, files,
            config.max_streams);
  log_host_limits(config, shards, files, max_rings);
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
  for (auto& t : threads) t.join();
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
