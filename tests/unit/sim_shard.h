#pragma once
// One real Shard over the simulated IO, for tests of its protocol and fan-out logic: no
// sockets, every send completion (full, short, failed) chosen by the test.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/clock.h"
#include "core/shard.h"
#include "http/response.h"
#include "net/sim_io.h"
#include "tests/unit/single_cluster.h"

namespace ringcast {

class SimShard {
 public:
  explicit SimShard(Config config = base_config(), std::uint32_t buffers = 8) : config_(config), io(buffers) {
    init_single_cluster(cluster_, config_, io.unix_ms());
    shard = std::make_unique<Shard>(0, cluster_, io);
    shard->start();
  }
  static Config base_config() {
    Config c;
    c.retry_jitter_ms = 0;  // one prelude, so expected bytes are exact
    c.retry_ms = 2000;
    c.max_streams = 1000;
    // settle() runs a few passes; the tests that are about passes set their own size.
    c.pass_sends = 4096;
    return c;
  }
  void settle(int passes = 6) {
    for (int i = 0; i < passes; ++i) shard->run_once(0);
  }
  std::uint32_t request(const std::string& bytes) {
    std::uint32_t fd = io.connect();
    io.client_write(fd, bytes);
    settle();
    return fd;
  }
  std::uint32_t subscribe(const std::string& topic) {
    return request("GET /sse/" + topic + " HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  std::string publish(const std::string& topic, const std::string& body) {
    std::uint32_t fd = request("POST /pub/" + topic + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body);
    return io.received(fd);
  }
  // Publishes over a new connection and completes only that connection's reply, leaving every
  // stream's send in flight (for tests with auto_complete off). Returns the reply.
  std::string publish_holding_streams(const std::string& topic, const std::string& body);
  ShardMetrics& metrics() { return *cluster_.metrics[0]; }
  Cluster& cluster() { return cluster_; }
  static std::string prelude() { return std::string(http::stream_head()) + "retry: 2000\n\n"; }

 private:
  Config config_;
  Cluster cluster_;

 public:
  net::SimIo io;
  std::unique_ptr<Shard> shard;
};

// Completes, in full, every send in flight to client `fd` (leaving the others in flight).
inline void complete_sends_of(net::SimIo& io, std::uint32_t fd) {
  for (std::size_t k = 0; k < io.inflight().size();) {
    if (io.inflight()[k].fd == fd) io.complete_send(k, int(io.inflight()[k].bytes.size()));
    else ++k;
  }
}

// Completes every send in flight except those to client `fd`.
inline void complete_sends_except(net::SimIo& io, std::uint32_t fd) {
  for (std::size_t k = 0; k < io.inflight().size();) {
    if (io.inflight()[k].fd != fd) io.complete_send(k, int(io.inflight()[k].bytes.size()));
    else ++k;
  }
}

inline std::string SimShard::publish_holding_streams(const std::string& topic, const std::string& body) {
  std::uint32_t p = io.connect();
  io.client_write(p, "POST /pub/" + topic + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  settle();
  complete_sends_of(io, p);
  settle();
  return io.received(p);
}

// Pulls the id out of a 202 response body {"topic":"...","id":"..."}.
inline std::string id_of(const std::string& response) {
  auto at = response.find("\"id\":\"");
  EXPECT_NE(at, std::string::npos) << response;
  auto end = response.find('"', at + 6);
  return response.substr(at + 6, end - at - 6);
}

}  // namespace ringcast
