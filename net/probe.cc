#include "net/probe.h"

#include <liburing.h>
#include <sys/utsname.h>

#include <cstring>

namespace ringcast::net {

namespace {

std::string kernel_version() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

struct Needed {
  int opcode;
  const char* what;
};

// The opcodes the shard loop issues. Multishot accept, provided buffer rings and MSG_RING
// together make Linux 5.19 the floor.
const Needed kNeeded[] = {
    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
    {IORING_OP_RECV, "IORING_OP_RECV"},
    {IORING_OP_SEND, "IORING_OP_SEND"},
    {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
    {IORING_OP_CLOSE, "IORING_OP_CLOSE"},
    {IORING_OP_SHUTDOWN, "IORING_OP_SHUTDOWN"},
    {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
    {IORING_OP_MSG_RING, "IORING_OP_MSG_RING"},
};

}  // namespace

std::string probe_io_uring() {
  io_uring_probe* probe = io_uring_get_probe();
  if (probe == nullptr) {
    return "io_uring is not available on kernel " + kernel_version() +
           " (disabled by sysctl kernel.io_uring_disabled, seccomp, or too old; ringcast needs "
           "Linux 5.19+)";
  }
  std::string missing;
  for (const Needed& n : kNeeded) {
    if (!io_uring_opcode_supported(probe, n.opcode)) {
      missing = n.what;
      break;
    }
  }
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    return "kernel " + kernel_version() + " lacks " + missing + " (ringcast needs Linux 5.19+)";
  }
  return {};
}

}  // namespace ringcast::net
