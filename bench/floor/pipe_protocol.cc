#include "bench/floor/pipe_protocol.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringcast::floorbench {

std::string send_message(int fd, const Message& message) {
  for (int attempt = 0; attempt < 100; ++attempt) {  // only EINTR repeats
    ssize_t n = write(fd, &message, sizeof message);
    if (n == ssize_t(sizeof message)) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::string("pipe write: ") + std::strerror(errno);
    return "pipe write: short write";  // cannot happen below PIPE_BUF; say so if it does
  }
  return "pipe write: interrupted too often";
}

std::string receive_message(int fd, int timeout_ms, Message* out) {
  pollfd pfd{fd, POLLIN, 0};
  int ready = poll(&pfd, 1, timeout_ms);
  if (ready < 0) return std::string("pipe poll: ") + std::strerror(errno);
  if (ready == 0) return "no answer from the other process within " + std::to_string(timeout_ms) + " ms";
  for (int attempt = 0; attempt < 100; ++attempt) {
    ssize_t n = read(fd, out, sizeof *out);
    if (n == ssize_t(sizeof *out)) return {};
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return "the other process closed its pipe (it exited or crashed)";
    if (n < 0) return std::string("pipe read: ") + std::strerror(errno);
    return "pipe read: partial message";
  }
  return "pipe read: interrupted too often";
}

std::string expect_message(int fd, Kind want, int timeout_ms, Message* out) {
  if (std::string err = receive_message(fd, timeout_ms, out); !err.empty()) return err;
  if (out->kind == want) return {};
  if (out->kind == Kind::kFailed) {
    out->note[sizeof out->note - 1] = '\0';
    return std::string(out->note) + ": " + std::strerror(int(out->value));
  }
  char text[96];
  std::snprintf(text, sizeof text, "protocol: expected message %u, got %u", unsigned(want),
                unsigned(out->kind));
  return text;
}

Message failure(int err, const char* what) {
  Message message;
  message.kind = Kind::kFailed;
  message.value = std::uint64_t(err);
  std::snprintf(message.note, sizeof message.note, "%s", what);
  return message;
}

}  // namespace ringcast::floorbench
