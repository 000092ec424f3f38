#include "bench/floor/clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "bench/floor/pipe_protocol.h"

namespace ringcast::floorbench {

namespace {

// Connects between handshakes with the parent. Below the listen backlog (somaxconn 4096 here),
// so no SYN is ever dropped and no connect() waits a second for its retransmit.
constexpr std::uint32_t kConnectWindow = 1024;
constexpr int kPipeTimeoutMs = 60000;  // the parent is at most one round of sends away
// kGo and kArm wait for the other client processes to connect first (one at a time, to keep
// the accept queue short): 200,000 streams, even at a few thousand connections a second.
constexpr int kEstablishTimeoutMs = 300000;
constexpr int kStallMs = 20000;        // a round's bytes not all here after this: give up
constexpr int kEpollEvents = 1024;
constexpr std::size_t kReadBufferBytes = 65536;

std::uint64_t cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

class Clients {
 public:
  explicit Clients(const ClientPlan& plan) : plan_(plan), buffer_(kReadBufferBytes) {}

  // Each returns an empty string or a reason; `failed_errno_` holds the errno behind it.
  std::string connect_all();
  std::string arm();
  std::string serve_rounds();
  int failed_errno() const { return failed_errno_; }

 private:
  int connect_one(std::uint32_t index);
  std::string drain_ready(const epoll_event* events, int count, bool* stop);
  std::string on_command(bool* stop);

  ClientPlan plan_;
  std::vector<int> fds_;
  std::vector<char> buffer_;
  int epoll_fd_ = -1;
  int failed_errno_ = 0;
  std::uint64_t received_bytes_ = 0;
  std::uint64_t target_bytes_ = 0;
  bool waiting_ = false;  // a kExpect is outstanding
};

int Clients::connect_one(std::uint32_t index) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int one = 1;
  // An explicit source address, port left to connect(): the kernel then picks a port unique for
  // the full 4-tuple instead of one unique per source address (and cannot collide with another
  // process's explicit bind, as choosing ports here could).
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const timeval connect_timeout{10, 0};  // SO_SNDTIMEO bounds a blocking connect()
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof connect_timeout);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  // 127.0.0.2.. and on: the whole of 127.0.0.0/8 is loopback.
  source.sin_addr.s_addr =
      htonl(INADDR_LOOPBACK + 1 + plan_.first_source + index / kStreamsPerSource);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server.sin_port = htons(plan_.server_port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

std::string Clients::connect_all() {
  fds_.reserve(plan_.streams);
  while (fds_.size() < plan_.streams) {
    const std::uint32_t window_end =
        std::min<std::uint32_t>(plan_.streams, std::uint32_t(fds_.size()) + kConnectWindow);
    while (fds_.size() < window_end) {
      int fd = connect_one(std::uint32_t(fds_.size()));
      if (fd < 0) {
        failed_errno_ = -fd;
        return "client connect";
      }
      fds_.push_back(fd);
    }
    Message message;
    message.kind = Kind::kConnected;
    message.value = fds_.size();
    if (std::string err = send_message(plan_.to_parent, message); !err.empty()) return err;
    if (std::string err = expect_message(plan_.from_parent, Kind::kAccepted, kPipeTimeoutMs, &message);
        !err.empty())
      return err;
    if (message.value != fds_.size()) return "protocol: parent accepted a different count";
  }
  return {};
}

// Sockets join the epoll set only after the parent's "after" memory snapshot, so that the
// per-socket kernel memory it reports holds no epoll items.
std::string Clients::arm() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    failed_errno_ = errno;
    return "epoll_create1";
  }
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered: one read per report is enough
  event.data.fd = plan_.from_parent;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, plan_.from_parent, &event) != 0) {
    failed_errno_ = errno;
    return "epoll_ctl pipe";
  }
  for (int fd : fds_) {
    event.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      failed_errno_ = errno;
      return "epoll_ctl socket";
    }
  }
  Message message;
  message.kind = Kind::kArmed;
  return send_message(plan_.to_parent, message);
}

std::string Clients::on_command(bool* stop) {
  Message message;
  if (std::string err = receive_message(plan_.from_parent, kPipeTimeoutMs, &message); !err.empty())
    return err;
  if (message.kind == Kind::kStop) {
    *stop = true;
    return {};
  }
  if (message.kind != Kind::kExpect || waiting_) return "protocol: unexpected command";
  target_bytes_ = message.value;
  waiting_ = true;
  return {};
}

std::string Clients::drain_ready(const epoll_event* events, int count, bool* stop) {
  for (int i = 0; i < count; ++i) {
    const int fd = events[i].data.fd;
    if (fd == plan_.from_parent) {
      if (std::string err = on_command(stop); !err.empty() || *stop) return err;
      continue;
    }
    ssize_t n = recv(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      received_bytes_ += std::uint64_t(n);
    } else if (n == 0) {
      return "protocol: the server closed a stream";
    } else if (errno != EAGAIN && errno != EINTR) {
      failed_errno_ = errno;  // EAGAIN: a stale readiness report; anything else is a real failure
      return "client recv";
    }
  }
  return {};
}

std::string Clients::serve_rounds() {
  std::vector<epoll_event> events(kEpollEvents);
  bool stop = false;
  while (!stop) {  // bounded: every wait below times out, and a timeout ends the child
    if (plan_.quiet && !waiting_) {
      // Quiet clients leave the sockets alone until the parent has finished sending.
      if (std::string err = on_command(&stop); !err.empty() || stop) return err;
    }
    int n = epoll_wait(epoll_fd_, events.data(), kEpollEvents, waiting_ ? kStallMs : kPipeTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed_errno_ = errno;
      return "epoll_wait";
    }
    if (n == 0) return waiting_ ? "a round's bytes stopped arriving" : "the parent went quiet";
    if (std::string err = drain_ready(events.data(), n, &stop); !err.empty()) return err;
    if (waiting_ && received_bytes_ > target_bytes_) return "protocol: more bytes than were sent";
    if (waiting_ && received_bytes_ == target_bytes_) {
      waiting_ = false;
      Message message;
      message.kind = Kind::kReceived;
      message.value = received_bytes_;
      message.value2 = cpu_ns();
      if (std::string err = send_message(plan_.to_parent, message); !err.empty()) return err;
    }
  }
  return {};
}

[[noreturn]] void fail(const ClientPlan& plan, int err, const std::string& what) {
  std::fprintf(stderr, "kernel_floor (clients %u): %s%s%s\n", plan.child, what.c_str(),
               err != 0 ? ": " : "", err != 0 ? std::strerror(err) : "");
  send_message(plan.to_parent, failure(err, what.c_str()));  // best effort: the pipe may be gone
  _exit(1);
}

}  // namespace

void run_clients(const ClientPlan& plan) {
  // Die with the parent whatever way it ends (even abort()), so no client is ever orphaned.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.parent) _exit(1);
  Clients clients(plan);
  Message message;
  message.kind = Kind::kHello;
  if (std::string err = send_message(plan.to_parent, message); !err.empty()) fail(plan, 0, err);
  if (std::string err = expect_message(plan.from_parent, Kind::kGo, kEstablishTimeoutMs, &message);
      !err.empty())
    fail(plan, 0, err);
  if (std::string err = clients.connect_all(); !err.empty()) fail(plan, clients.failed_errno(), err);
  if (std::string err = expect_message(plan.from_parent, Kind::kArm, kEstablishTimeoutMs, &message);
      !err.empty())
    fail(plan, 0, err);
  if (std::string err = clients.arm(); !err.empty()) fail(plan, clients.failed_errno(), err);
  if (std::string err = clients.serve_rounds(); !err.empty()) fail(plan, clients.failed_errno(), err);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  message = Message{};
  message.kind = Kind::kBye;
  message.value = cpu_ns();
  message.value2 = std::uint64_t(usage.ru_maxrss) * 1024;
  send_message(plan.to_parent, message);
  _exit(0);  // the kernel closes the sockets; no destructors, no stdio flush of the parent's buffers
}

}  // namespace ringcast::floorbench
