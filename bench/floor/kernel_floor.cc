// kernel_floor: the budget every ringcast figure is held to. It accepts N loopback streams and
// writes one small SSE event to every stream, by a tight send() loop and by io_uring batches,
// rounds interleaved; the sends per second it reports are the floor no SSE server can beat per
// send on this box. It also reports what an established loopback stream costs the kernel.
//
// The client half runs in a forked child so that each process stays under RLIMIT_NOFILE; the two
// talk over pipes in lockstep (bench/floor/pipe_protocol.h), and the child is reaped on every way
// out of main (and dies with the parent through PR_SET_PDEATHSIG if the parent aborts).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench/floor/clients.h"
#include "bench/floor/kernel_memory.h"
#include "bench/floor/options.h"
#include "bench/floor/pipe_protocol.h"
#include "bench/floor/report.h"
#include "bench/floor/senders.h"
#include "core/assert.h"

namespace ringcast::floorbench {

namespace {

constexpr int kFdsBesideStreams = 64;   // listener, pipes, ring, stdio, /proc files
constexpr int kListenBacklog = 4096;    // the kernel clamps it to net.core.somaxconn
constexpr int kHandshakeTimeoutMs = 60000;
constexpr int kRoundTimeoutMs = 60000;  // the clients read one round well within this
constexpr std::uint64_t kAcceptWindowTimeoutNs = 30'000'000'000;
constexpr int kReapTimeoutMs = 5000;

std::string errno_text(const char* what, int err = errno) {
  return std::string(what) + ": " + std::strerror(err);
}

// Every stream is one fd here and one in the child; raise the soft limit to the hard one if
// that is what it takes, and say plainly when even the hard limit is too low.
std::string ensure_fd_limit(std::uint32_t streams) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return errno_text("getrlimit");
  const rlim_t needed = rlim_t(streams) + kFdsBesideStreams;
  if (limit.rlim_cur >= needed) return {};
  if (limit.rlim_max < needed) {
    return "--streams " + std::to_string(streams) + " needs " + std::to_string(needed) +
           " fds per process but RLIMIT_NOFILE (hard) is " + std::to_string(limit.rlim_max);
  }
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return errno_text("setrlimit");
  return {};
}

// Owns every fd and the child; its destructor is the one cleanup path for all exits.
class FloorRun {
 public:
  explicit FloorRun(const Options& options) : options_(options) {}
  FloorRun(const FloorRun&) = delete;
  FloorRun& operator=(const FloorRun&) = delete;
  ~FloorRun();

  std::string start();                  // listener, pipes, fork
  std::string establish(FloorReport* report);
  std::string measure(FloorReport* report);
  std::string finish(FloorReport* report);  // stop the child, reap it, check how it ended
  void snapshot_after_rounds(FloorReport* report);

 private:
  std::string listen_loopback();
  std::string accept_until(std::uint32_t count);
  std::string one_round(Method method, bool measured, FloorReport* report);
  RoundResult send_round(Method method, std::string* error);
  void write_event();

  Options options_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  int to_child_ = -1;
  int from_child_ = -1;
  pid_t child_ = -1;
  MemorySnapshot before_streams_;
  std::vector<int> streams_;
  UringSender uring_;
  std::vector<char> event_;
  std::uint64_t event_id_ms_ = 0;
  std::uint64_t event_seq_ = 0;
  std::uint64_t client_cpu_ns_ = 0;  // the child's CPU at its last kReceived
};

FloorRun::~FloorRun() {
  if (child_ > 0) {
    kill(child_, SIGKILL);
    while (waitpid(child_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  for (int fd : streams_) close(fd);
  for (int fd : {listener_, to_child_, from_child_}) {
    if (fd >= 0) close(fd);
  }
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

std::string FloorRun::start() {
  if (std::string err = listen_loopback(); !err.empty()) return err;
  int down[2];  // parent -> child
  int up[2];    // child -> parent
  if (pipe2(down, O_CLOEXEC) != 0) return errno_text("pipe2");
  to_child_ = down[1];
  if (pipe2(up, O_CLOEXEC) != 0) {
    close(down[0]);
    return errno_text("pipe2");
  }
  from_child_ = up[0];
  const pid_t parent = getpid();
  std::fflush(nullptr);  // the child must not inherit unflushed stdio
  child_ = fork();
  if (child_ < 0) {
    close(down[0]);
    close(up[1]);
    return errno_text("fork");
  }
  if (child_ == 0) {
    close(listener_);
    close(to_child_);
    close(from_child_);
    run_clients({options_.streams, port_, options_.quiet_clients, down[0], up[1], parent});
  }
  close(down[0]);
  close(up[1]);
  Message hello;
  return expect_message(from_child_, Kind::kHello, kHandshakeTimeoutMs, &hello);
}

std::string FloorRun::accept_until(std::uint32_t count) {
  const std::uint64_t deadline = monotonic_ns() + kAcceptWindowTimeoutNs;
  while (streams_.size() < count) {  // bounded by the deadline
    int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      streams_.push_back(fd);
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
  streams_.reserve(options_.streams);
  before_streams_ = take_memory_snapshot();
  const std::uint64_t start = monotonic_ns();
  Message message;
  message.kind = Kind::kGo;
  if (std::string err = send_message(to_child_, message); !err.empty()) return err;
  while (streams_.size() < options_.streams) {  // bounded: every window adds connections or fails
    if (std::string err = expect_message(from_child_, Kind::kConnected, kHandshakeTimeoutMs, &message);
        !err.empty())
      return err;
    if (message.value <= streams_.size() || message.value > options_.streams)
      return "protocol: bad connected count";
    if (std::string err = accept_until(std::uint32_t(message.value)); !err.empty()) return err;
    message = Message{};
    message.kind = Kind::kAccepted;
    message.value = streams_.size();
    if (std::string err = send_message(to_child_, message); !err.empty()) return err;
  }
  report->establish_seconds = double(monotonic_ns() - start) / 1e9;
  const MemorySnapshot after = take_memory_snapshot();
  report->memory = memory_growth(before_streams_, after, options_.streams);
  message = Message{};
  message.kind = Kind::kArm;
  if (std::string err = send_message(to_child_, message); !err.empty()) return err;
  if (std::string err = expect_message(from_child_, Kind::kArmed, kHandshakeTimeoutMs, &message);
      !err.empty())
    return err;
  if (std::string err = uring_.init(options_.batch, streams_); !err.empty()) return err;
  report->ring = uring_.describe();
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
    case Method::kSend: return send_loop(streams_, event_.data(), event_.size());
    case Method::kUring: return uring_.run(streams_, event_.data(), event_.size(), false, error);
    case Method::kUringFixed: return uring_.run(streams_, event_.data(), event_.size(), true, error);
  }
  RC_ASSERT(false);
  return {};
}

std::string FloorRun::one_round(Method method, bool measured, FloorReport* report) {
  write_event();
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
  // The next round starts only when every byte of this one has arrived: socket buffers never
  // carry a round over, so no round measures a fuller buffer than the one before.
  Message message;
  message.kind = Kind::kExpect;
  message.value = report->bytes_sent;
  if (std::string err = send_message(to_child_, message); !err.empty()) return err;
  if (std::string err = expect_message(from_child_, Kind::kReceived, kRoundTimeoutMs, &message);
      !err.empty())
    return err;
  if (message.value != report->bytes_sent) return "protocol: the clients counted other bytes";
  report->bytes_received = message.value;
  const std::uint64_t client_cpu_ns = message.value2 - client_cpu_ns_;
  client_cpu_ns_ = message.value2;
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
  const std::uint32_t total = options_.warmup_rounds + options_.rounds;
  for (std::uint32_t round = 0; round < total; ++round) {
    // ABC then CBA: slow drift on a shared box (frequency, neighbours) falls evenly on all three.
    const bool forward = round % 2 == 0;
    for (int i = 0; i < kMethodCount; ++i) {
      const Method method = Method(forward ? i : kMethodCount - 1 - i);
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
  Message message;
  message.kind = Kind::kStop;
  if (std::string err = send_message(to_child_, message); !err.empty()) return err;
  if (std::string err = expect_message(from_child_, Kind::kBye, kHandshakeTimeoutMs, &message);
      !err.empty())
    return err;
  report->client_cpu_ns = message.value;
  report->client_max_rss_bytes = message.value2;
  int status = 0;
  for (int waited_ms = 0; waited_ms < kReapTimeoutMs; waited_ms += 10) {
    pid_t pid = waitpid(child_, &status, WNOHANG);
    if (pid == child_) {
      child_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      return "the client process ended badly (status " + std::to_string(status) + ")";
    }
    if (pid < 0 && errno != EINTR) return errno_text("waitpid");
    usleep(10000);
  }
  return "the client process did not exit after kStop";  // the destructor kills and reaps it
}

std::string run(const Options& options, FloorReport* report) {
  FloorRun run(options);
  if (std::string err = run.start(); !err.empty()) return err;
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
  if (std::string err = ensure_fd_limit(options->streams); !err.empty()) {
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
