#include "bench/floor/client_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/assert.h"
#include "bench/floor/clients.h"
#include "bench/floor/pipe_protocol.h"

namespace ringcast::floorbench {

namespace {

constexpr int kHandshakeTimeoutMs = 60000;
constexpr int kRoundTimeoutMs = 60000;  // the clients read one round well within this
constexpr int kReapTimeoutMs = 5000;

std::string errno_text(const char* what, int err = errno) {
  return std::string(what) + ": " + std::strerror(err);
}

std::string child_text(std::uint32_t index, const std::string& err) {
  return "client process " + std::to_string(index) + ": " + err;
}

}  // namespace

ClientPool::~ClientPool() {
  for (Child& child : children_) {
    if (child.pid > 0) {
      kill(child.pid, SIGKILL);
      while (waitpid(child.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    for (int fd : {child.to, child.from}) {
      if (fd >= 0) close(fd);
    }
  }
}

std::string ClientPool::spawn(std::uint32_t index, std::uint16_t port, bool quiet, int listener) {
  int down[2];  // parent -> child
  int up[2];    // child -> parent
  if (pipe2(down, O_CLOEXEC) != 0) return errno_text("pipe2");
  children_.push_back(Child{});
  Child& child = children_.back();
  child.to = down[1];
  if (pipe2(up, O_CLOEXEC) != 0) {
    close(down[0]);
    return errno_text("pipe2");
  }
  child.from = up[0];
  const pid_t parent = getpid();
  std::fflush(nullptr);  // the child must not inherit unflushed stdio
  child.pid = fork();
  if (child.pid < 0) {
    close(down[0]);
    close(up[1]);
    return errno_text("fork");
  }
  if (child.pid == 0) {
    // Keep nothing of the parent's but this child's own pipe ends: a sibling holding another
    // child's pipe would hide that child's exit from the parent.
    close(listener);
    for (const Child& other : children_) {
      close(other.to);
      close(other.from);
    }
    ClientPlan plan;
    plan.child = index;
    plan.streams = split_.size_of(index);
    plan.first_source = index * sources_for(split_.per_part);
    plan.server_port = port;
    plan.quiet = quiet;
    plan.from_parent = down[0];
    plan.to_parent = up[1];
    plan.parent = parent;
    run_clients(plan);
  }
  close(down[0]);
  close(up[1]);
  return {};
}

std::string ClientPool::start(std::uint16_t port, bool quiet, int listener) {
  RC_ASSERT(children_.empty());
  children_.reserve(split_.parts);
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = spawn(index, port, quiet, listener); !err.empty()) return err;
  }
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    Message hello;
    if (std::string err = expect_message(children_[index].from, Kind::kHello, kHandshakeTimeoutMs, &hello);
        !err.empty())
      return child_text(index, err);
  }
  return {};
}

std::string ClientPool::connect_child(std::uint32_t index, std::uint32_t first_stream,
                                      const AcceptUntil& accept_until) {
  const Child& child = children_[index];
  const std::uint32_t streams = split_.size_of(index);
  Message message;
  message.kind = Kind::kGo;
  if (std::string err = send_message(child.to, message); !err.empty()) return err;
  std::uint64_t connected = 0;
  while (connected < streams) {  // bounded: every window adds connections or fails
    if (std::string err = expect_message(child.from, Kind::kConnected, kHandshakeTimeoutMs, &message);
        !err.empty())
      return err;
    if (message.value <= connected || message.value > streams) return "protocol: bad connected count";
    connected = message.value;
    if (std::string err = accept_until(first_stream + std::uint32_t(connected)); !err.empty()) return err;
    message = Message{};
    message.kind = Kind::kAccepted;
    message.value = connected;
    if (std::string err = send_message(child.to, message); !err.empty()) return err;
  }
  return {};
}

std::string ClientPool::connect_all(const AcceptUntil& accept_until) {
  std::uint32_t first_stream = 0;
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = connect_child(index, first_stream, accept_until); !err.empty())
      return child_text(index, err);
    first_stream += split_.size_of(index);
  }
  RC_ASSERT(first_stream == split_.total);
  return {};
}

std::string ClientPool::arm() {
  Message message;
  message.kind = Kind::kArm;
  // All at once, then all the answers: the children register their sockets in parallel.
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = send_message(children_[index].to, message); !err.empty())
      return child_text(index, err);
  }
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = expect_message(children_[index].from, Kind::kArmed, kHandshakeTimeoutMs, &message);
        !err.empty())
      return child_text(index, err);
  }
  return {};
}

std::string ClientPool::confirm_round(const Shortfall& shortfall, std::size_t event_bytes,
                                      std::uint64_t* received_bytes, std::uint64_t* cpu_ns) {
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    Child& child = children_[index];
    child.expected_bytes += shortfall.expected(index, event_bytes);
    Message message;
    message.kind = Kind::kExpect;
    message.value = child.expected_bytes;
    if (std::string err = send_message(child.to, message); !err.empty()) return child_text(index, err);
  }
  *received_bytes = 0;
  *cpu_ns = 0;
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    Child& child = children_[index];
    Message message;
    if (std::string err = expect_message(child.from, Kind::kReceived, kRoundTimeoutMs, &message);
        !err.empty())
      return child_text(index, err);
    if (message.value != child.expected_bytes)
      return child_text(index, "protocol: the clients counted other bytes");
    *received_bytes += message.value;
    *cpu_ns += message.value2 - child.cpu_ns;
    child.cpu_ns = message.value2;
  }
  return {};
}

std::string ClientPool::reap(Child* child) {
  int status = 0;
  for (int waited_ms = 0; waited_ms < kReapTimeoutMs; waited_ms += 10) {
    pid_t pid = waitpid(child->pid, &status, WNOHANG);
    if (pid == child->pid) {
      child->pid = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      return "ended badly (status " + std::to_string(status) + ")";
    }
    if (pid < 0 && errno != EINTR) return errno_text("waitpid");
    usleep(10000);
  }
  return "did not exit after kStop";  // the destructor kills and reaps it
}

std::string ClientPool::stop(std::uint64_t* cpu_ns, std::uint64_t* max_rss_bytes) {
  Message message;
  message.kind = Kind::kStop;
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = send_message(children_[index].to, message); !err.empty())
      return child_text(index, err);
  }
  *cpu_ns = 0;
  *max_rss_bytes = 0;
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = expect_message(children_[index].from, Kind::kBye, kHandshakeTimeoutMs, &message);
        !err.empty())
      return child_text(index, err);
    *cpu_ns += message.value;
    *max_rss_bytes = std::max(*max_rss_bytes, message.value2);
  }
  for (std::uint32_t index = 0; index < split_.parts; ++index) {
    if (std::string err = reap(&children_[index]); !err.empty()) return child_text(index, err);
  }
  return {};
}

}  // namespace ringcast::floorbench
