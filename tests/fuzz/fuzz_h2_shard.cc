// libFuzzer target: the HTTP/2 front of a real Shard over the simulated IO. One client
// connection sends the client preface (and an empty SETTINGS frame when the first byte is even)
// and then the input, in pieces whose sizes come from the input; between pieces the shard runs
// passes, a publisher on another connection publishes to the topics the input may subscribe to
// (so streams get DATA), and the connection's sends complete in full, in part, or fail.
// At the end the client goes away. Invariants: no crash, no assertion, no ASan/UBSan report,
// and every record (the connection and each of its streams) is freed once the client is gone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/shard.h"
#include "net/sim_io.h"
#include "tests/unit/single_cluster.h"

using namespace ringcast;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

Config fuzz_config() {
  Config c;
  c.h2_max_streams = 8;
  c.max_event_bytes = 4096;
  c.max_batch_bytes = 8192;
  c.history = 8;
  c.max_streams = 64;
  c.pass_sends = 64;
  c.retry_jitter_ms = 0;
  return c;
}

// Topics the input's requests would name most often (":path" values a mutator finds easily).
constexpr const char* kTopics[] = {"a", "b", "t"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const Config config = fuzz_config();
  Cluster cluster;
  init_single_cluster(cluster, config);
  net::SimIo io(16, 4096, 256);
  io.auto_complete = false;
  auto shard = std::make_unique<Shard>(0, cluster, io);
  shard->start();
  auto settle = [&] {
    for (int i = 0; i < 4; ++i) shard->run_once(0);
  };

  const std::uint8_t mode = data[0];
  std::string preface(http::kH2ClientPreface);
  if ((mode & 1) == 0) preface.append("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  const std::uint32_t client = io.connect();
  io.client_write(client, preface);
  settle();

  std::size_t at = 1;
  std::uint32_t round = 0;
  while (at < size) {
    const std::size_t piece = std::min<std::size_t>(size - at, 1 + data[at] % 64);
    io.client_write(client, std::string(reinterpret_cast<const char*>(data) + at + 1,
                                        std::min(piece, size - at - 1)));
    at += piece + 1;
    settle();
    if ((round++ & 3) == 0) {  // an event for whatever streams the input opened
      const char* topic = kTopics[round % 3];
      const std::uint32_t pub = io.connect();
      io.client_write(pub, std::string("POST /pub/") + topic +
                               " HTTP/1.1\r\nHost: f\r\nContent-Length: 4\r\n\r\nfuzz");
      settle();
      io.client_close(pub);  // its answer may still be in flight: completed below
    }
    // The connection's sends: in full, in part (a byte count from the input), or failed.
    const std::uint8_t how = at < size ? data[at - 1] : 0;
    for (std::size_t k = 0; k < io.inflight().size();) {
      const auto& send = io.inflight()[k];
      if (send.fd != client) {
        io.complete_send(k, static_cast<std::int32_t>(send.bytes.size()));
      } else if ((how & 0xc0) == 0xc0) {
        io.complete_send(k, -ECONNRESET);
      } else if ((how & 0xc0) == 0x80 && send.bytes.size() > 1) {
        io.complete_send(k, static_cast<std::int32_t>(1 + how % (send.bytes.size() - 1)));
      } else {
        io.complete_send(k, static_cast<std::int32_t>(send.bytes.size()));
      }
    }
    settle();
  }
  io.client_close(client);
  for (int i = 0; i < 64 && shard->open_connections() > 0; ++i) {
    io.complete_all_sends();
    settle();
  }
  check(shard->open_connections() == 0);  // the connection and every stream record freed
  return 0;
}
