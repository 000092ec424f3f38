// kernel_floor: the budget every ringcast figure is held to. It accepts N loopback streams and
// writes one small SSE event to every stream, by a tight send() loop and by io_uring batches,
// rounds interleaved; the sends per second it reports are the floor no SSE server can beat per
// send on this box. It also reports what an established loopback stream costs the kernel.
//
// The client half runs in forked children, as many as it takes for each process to stay under
// RLIMIT_NOFILE (bench/floor/client_pool.h); they talk to this process over pipes in lockstep
// (bench/floor/pipe_protocol.h), are reaped on every way out of main, and die with the parent
// through PR_SET_PDEATHSIG if it aborts. Above 19,000 streams the server cannot hold a regular fd
// per stream either: it keeps them as direct descriptors in several rings' fixed-file tables
// (bench/floor/ring_set.h), and only the io_uring fixed method runs.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "base/assert.h"
#include "bench/floor/client_pool.h"
#include "bench/floor/kernel_memory.h"
#include "bench/floor/options.h"
#include "bench/floor/report.h"
#include "bench/floor/ring_set.h"
#include "bench/floor/senders.h"

namespace ringcast::floorbench {

namespace {

constexpr std::uint32_t kFdsBesideStreams = 64;  // listener, epoll, stdio, /proc files
constexpr int kListenBacklog = 4096;    // the kernel clamps it to net.core.somaxconn
constexpr std::uint64_t kAcceptWindowTimeoutNs = 30'000'000'000;

std::string errno_text(const char* what, int err = errno) {
  return std::string(what) + ": " + std::strerror(err);
}

// The most any process needs: a regular fd per stream here (when kept), a client process's
// share, and one ring's fixed-file table (the kernel holds a table to RLIMIT_NOFILE too), plus
// every client's two pipes and every ring here. Raise the soft limit to the hard one if that is
// what it takes (the children inherit it), and say plainly when even the hard limit is too low.
std::string ensure_fd_limit(const Options& options) {
  const Split clients = split_evenly(options.streams, options.streams_per_child);
  const Split rings = split_evenly(options.streams, options.files_per_ring);
  const std::uint32_t streams_here = regular_fds(options) ? options.streams : 0;
  const rlim_t needed = rlim_t(std::max({streams_here, clients.per_part, rings.per_part})) +
                        kFdsBesideStreams + 2 * clients.parts + rings.parts;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return errno_text("getrlimit");
  if (limit.rlim_cur >= needed) return {};
  if (limit.rlim_max < needed) {
    return "--streams " + std::to_string(options.streams) + " needs " + std::to_string(needed) +
           " fds per process but RLIMIT_NOFILE (hard) is " + std::to_string(limit.rlim_max);
  }
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return errno_text("setrlimit");
  return {};
}

// Owns the listener, the streams, the rings and the client processes; its destructor is the one
// cleanup path for all exits.
class FloorRun {
 public:
  explicit FloorRun(const Options& options)
      : options_(options),
        regular_fds_(regular_fds(options)),
        client_split_(split_evenly(options.streams, options.streams_per_child)),
        ring_split_(split_evenly(options.streams, options.files_per_ring)),
        clients_(client_split_),
        shortfall_(client_split_) {}
  FloorRun(const FloorRun&) = delete;
  FloorRun& operator=(const FloorRun&) = delete;
  ~FloorRun();

  std::string start(FloorReport* report);  // listener, client processes, rings
  std::string establish(FloorReport* report);
  std::string measure(FloorReport* report);
  std::string finish(FloorReport* report);  // stop the clients, reap them, check how they ended
  void snapshot_after_rounds(FloorReport* report);

 private:
  std::string listen_loopback();
  std::string accept_until(std::uint32_t count);
  std::string keep_stream(int fd);
  std::string one_round(Method method, bool measured, FloorReport* report);
  RoundResult send_round(Method method, std::string* error);
  void write_event();

  Options options_;
  bool regular_fds_;  // the server keeps a regular fd per stream (else only direct descriptors)
  Split client_split_;
  Split ring_split_;
  ClientPool clients_;
  RingSet rings_;
  Shortfall shortfall_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  MemorySnapshot before_streams_;
  std::uint32_t accepted_ = 0;
  std::vector<int> streams_;  // regular fds, stream i at i; empty unless regular_fds_
  std::vector<char> event_;
  std::uint64_t event_id_ms_ = 0;
  std::uint64_t event_seq_ = 0;
};

FloorRun::~FloorRun() {
  for (int fd : streams_) close(fd);
  if (listener_ >= 0) close(listener_);
}

std::string FloorRun::listen_loopback() {
  listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listener_ < 0) return errno_text("socket");
  const int one = 1;
  // Accepted sockets inherit TCP_NODELAY, as they do from ringcast's listener: a small event is
  // sent when written, never held back by Nagle behind an unacknowledged one.
  setsockopt(listener_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // any free port: other benchmarks may run beside this one
  if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return errno_text("bind 127.0.0.1");
  if (listen(listener_, kListenBacklog) != 0) return errno_text("listen");
  socklen_t length = sizeof address;
  if (getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return errno_text("getsockname");
  port_ = ntohs(address.sin_port);
  return {};
}

std::string FloorRun::start(FloorReport* report) {
  if (std::string err = listen_loopback(); !err.empty()) return err;
  if (std::string err = clients_.start(port_, options_.quiet_clients, listener_); !err.empty())
    return err;
  // After the fork, so that no client process holds a ring; before the memory snapshot, so that
  // the rings and their (empty) tables are not counted against the streams.
  if (std::string err = rings_.init(options_.batch, ring_split_); !err.empty()) return err;
  report->ring = rings_.describe();
  report->client_processes = clients_.processes();
  report->rings = rings_.rings();
  return {};
}

// A regular fd is kept as it is; without regular fds the stream goes straight into its ring's
// table and the fd is closed, so that this process's fd table stays small at any N.
std::string FloorRun::keep_stream(int fd) {
  if (regular_fds_) {
    streams_.push_back(fd);
  } else {
    std::string err = rings_.install(accepted_, fd);
    close(fd);
    if (!err.empty()) return err;
  }
  ++accepted_;
  return {};
}

std::string FloorRun::accept_until(std::uint32_t count) {
  RC_ASSERT(count <= options_.streams);
  const std::uint64_t deadline = monotonic_ns() + kAcceptWindowTimeoutNs;
  while (accepted_ < count) {  // bounded by the deadline
    int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      if (std::string err = keep_stream(fd); !err.empty()) return err;
      continue;
    }
    // EINTR and ECONNABORTED (a client gave up in the queue) are normal; retry. EAGAIN: the
    // child's connect has not reached the queue yet.
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) return errno_text("accept4");
    if (monotonic_ns() > deadline) return "accepting stalled: the clients' connects stopped arriving";
    pollfd pfd{listener_, POLLIN, 0};
    poll(&pfd, 1, 1000);
  }
  return {};
}

std::string FloorRun::establish(FloorReport* report) {
  if (regular_fds_) streams_.reserve(options_.streams);
  before_streams_ = take_memory_snapshot();
  const std::uint64_t start = monotonic_ns();
  if (std::string err = clients_.connect_all([this](std::uint32_t total) { return accept_until(total); });
      !err.empty())
    return err;
  RC_ASSERT(accepted_ == options_.streams);
  report->establish_seconds = double(monotonic_ns() - start) / 1e9;
  const MemorySnapshot after = take_memory_snapshot();
  report->memory = memory_growth(before_streams_, after, options_.streams);
  if (std::string err = clients_.arm(); !err.empty()) return err;
  // With regular fds the table entries are made after the snapshot, as the single table was
  // registered before the split: the figure stays the bare pairs'. Without, they are in it.
  for (std::uint32_t stream = 0; stream < streams_.size(); ++stream) {
    if (std::string err = rings_.install(stream, streams_[stream]); !err.empty()) return err;
  }
  return {};
}

// One event, like the server's: "id: <ms>-<seq>\ndata: xxxx…\n\n", exactly event_bytes long.
void FloorRun::write_event() {
  const std::size_t size = options_.event_bytes;
  event_.assign(size, 'x');
  int head = std::snprintf(event_.data(), size, "id: %llu-%llu\ndata: ",
                           (unsigned long long)event_id_ms_, (unsigned long long)event_seq_++);
  RC_ASSERT(head > 0 && std::size_t(head) + 2 <= size);  // kEventBytesMin leaves room
  event_[std::size_t(head)] = 'x';  // snprintf's terminator lands in the padding
  event_[size - 2] = '\n';
  event_[size - 1] = '\n';
}

RoundResult FloorRun::send_round(Method method, std::string* error) {
  switch (method) {
    case Method::kSend: return send_loop(streams_, event_.data(), event_.size(), &shortfall_);
    case Method::kUring:
      return rings_.send_regular(streams_, event_.data(), event_.size(), &shortfall_, error);
    case Method::kUringFixed: return rings_.send_fixed(event_.data(), event_.size(), &shortfall_, error);
  }
  RC_ASSERT(false);
  return {};
}

std::string FloorRun::one_round(Method method, bool measured, FloorReport* report) {
  write_event();
  shortfall_.reset();
  std::string error;
  const RoundResult result = send_round(method, &error);
  if (!error.empty()) return error;
  MethodRounds& rounds = report->methods[int(method)];
  SendCounts& totals = rounds.totals;
  totals.full += result.counts.full;
  totals.short_writes += result.counts.short_writes;
  totals.eagain += result.counts.eagain;
  totals.errors += result.counts.errors;
  if (totals.first_errno == 0) totals.first_errno = result.counts.first_errno;
  if (result.counts.errors != 0)
    return errno_text("a send failed, so a client is gone", result.counts.first_errno);
  report->bytes_sent += result.counts.bytes;
  // The next round starts only when every byte of this one has arrived at every client
  // process: socket buffers never carry a round over, so no round measures a fuller buffer
  // than the one before.
  std::uint64_t client_cpu_ns = 0;
  if (std::string err = clients_.confirm_round(shortfall_, event_.size(), &report->bytes_received,
                                               &client_cpu_ns);
      !err.empty())
    return err;
  // The children's shares come from the shortfall, the total from the counts: they must agree.
  if (report->bytes_received != report->bytes_sent) return "protocol: the clients counted other bytes";
  if (measured) {
    rounds.rounds.push_back(result);
    rounds.client_cpu_ns.push_back(client_cpu_ns);
  }
  return {};
}

std::string FloorRun::measure(FloorReport* report) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  event_id_ms_ = std::uint64_t(now.tv_sec) * 1000 + std::uint64_t(now.tv_nsec) / 1000000;
  for (int i = 0; i < kMethodCount; ++i) {
    report->methods[i].measured = regular_fds_ || Method(i) == Method::kUringFixed;
  }
  const std::uint32_t total = options_.warmup_rounds + options_.rounds;
  for (std::uint32_t round = 0; round < total; ++round) {
    // ABC then CBA: slow drift on a shared box (frequency, neighbours) falls evenly on all three.
    const bool forward = round % 2 == 0;
    for (int i = 0; i < kMethodCount; ++i) {
      const Method method = Method(forward ? i : kMethodCount - 1 - i);
      if (!report->methods[int(method)].measured) continue;  // needs one regular fd per stream
      if (std::string err = one_round(method, round >= options_.warmup_rounds, report); !err.empty())
        return std::string(method_name(method)) + " round " + std::to_string(round) + ": " + err;
    }
  }
  return {};
}

void FloorRun::snapshot_after_rounds(FloorReport* report) {
  report->memory_after_rounds =
      memory_growth(before_streams_, take_memory_snapshot(), options_.streams);
}

std::string FloorRun::finish(FloorReport* report) {
  return clients_.stop(&report->client_cpu_ns, &report->client_max_rss_bytes);
}

std::string run(const Options& options, FloorReport* report) {
  FloorRun run(options);
  if (std::string err = run.start(report); !err.empty()) return err;
  if (std::string err = run.establish(report); !err.empty()) return "establishing streams: " + err;
  if (std::string err = run.measure(report); !err.empty()) return err;
  run.snapshot_after_rounds(report);
  report->load_average_after = load_average();
  return run.finish(report);
}

}  // namespace

}  // namespace ringcast::floorbench

int main(int argc, char** argv) {
  using namespace ringcast::floorbench;
  int exit_code = 2;
  std::optional<Options> options = parse_options(argc, argv, &exit_code);
  if (!options) return exit_code;
  // A vanished client must show up as a counted send error or a pipe error, not kill us.
  signal(SIGPIPE, SIG_IGN);
  if (std::string err = ensure_fd_limit(*options); !err.empty()) {
    std::fprintf(stderr, "kernel_floor: %s\n", err.c_str());
    return 2;
  }
  FloorReport report;
  report.options = *options;
  report.machine = describe_machine();
  if (std::string err = run(*options, &report); !err.empty()) {
    std::fprintf(stderr, "kernel_floor: %s\n", err.c_str());
    return 1;
  }
  print_table(report, stdout);
  if (!options->json_path.empty()) {
    if (std::string err = write_json(report, options->json_path); !err.empty()) {
      std::fprintf(stderr, "kernel_floor: %s\n", err.c_str());
      return 1;
    }
  }
  return 0;
}
