#pragma once
// The parent (server side) and each client child talk over two pipes of their own in fixed-size
// messages, one at a time, each side waiting for the other: the lockstep that keeps the accept
// queue short while connecting and keeps socket buffers from filling between rounds. With
// several children (bench/floor/client_pool.h) every message below concerns that child's own
// streams only: its connected count, its share of the bytes, its CPU and RSS.
#include <cstdint>
#include <string>

namespace ringcast::floorbench {

enum class Kind : std::uint32_t {
  // child -> parent
  kHello = 1,      // set up, nothing connected yet
  kConnected = 2,  // value: streams connected so far
  kArmed = 3,      // every socket is in the child's epoll set
  kReceived = 4,   // value: bytes received so far; value2: child CPU ns so far
  kBye = 5,        // value: child CPU ns; value2: child max RSS bytes
  kFailed = 6,     // value: errno; text in the message's note
  // parent -> child
  kGo = 16,        // start connecting
  kAccepted = 17,  // value: streams accepted so far
  kArm = 18,       // the memory snapshot is taken: register sockets with epoll
  kExpect = 19,    // value: total bytes the child should have received when it answers
  kStop = 20,
};

struct Message {
  Kind kind{};
  std::uint32_t status = 0;
  std::uint64_t value = 0;
  std::uint64_t value2 = 0;
  char note[40] = {};  // a short reason with kFailed; smaller than PIPE_BUF keeps writes atomic
};
static_assert(sizeof(Message) <= 512, "one message must be one atomic pipe write");

// Both return an empty string or a reason. receive_message waits at most timeout_ms.
std::string send_message(int fd, const Message& message);
std::string receive_message(int fd, int timeout_ms, Message* out);

// Waits for a message of kind `want`; a kFailed from the other side becomes the reason.
std::string expect_message(int fd, Kind want, int timeout_ms, Message* out);

Message failure(int err, const char* what);

}  // namespace ringcast::floorbench
