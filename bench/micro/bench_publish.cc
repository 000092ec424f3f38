// Micro-benchmark of one publish's whole path through real shards over the simulated IO, as a
// backend publishes (one keep-alive connection, one request at a time): the request read and
// routed, the id assigned and the event serialized by the topic's owner, the chunk posted to
// every shard and sent to its subscriber, the answer back to the publisher's shard and
// written. Arg: the shard count; the publisher sits on shard 0, the topic on another shard
// when there are two or more (so the answer makes the round trip). tests/alloc counts this
// path's allocations; this is its time.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "core/shard.h"
#include "net/sim_io.h"

namespace ringcast {
namespace {

void BM_PublishRoundTrip(benchmark::State& state) {
  const auto shards = std::uint32_t(state.range(0));
  Config config;
  config.shards = shards;
  config.history = 64;
  config.retry_jitter_ms = 0;
  Cluster cluster;
  cluster.config = &config;
  cluster.shards = shards;
  cluster.boot_unix_ms = net::SimIo::kStartMonotonicMs;
  cluster.id_clock.store(cluster.boot_unix_ms << 20);
  std::vector<std::unique_ptr<net::SimIo>> ios;
  std::vector<std::unique_ptr<Shard>> shard;
  for (std::uint32_t s = 0; s < shards; ++s) {
    cluster.mailboxes.push_back(std::make_unique<Mailbox>());
    cluster.metrics.push_back(std::make_unique<ShardMetrics>());
    ios.push_back(std::make_unique<net::SimIo>(64, 4096, 4096));
  }
  for (std::uint32_t s = 0; s < shards; ++s) {
    shard.push_back(std::make_unique<Shard>(s, cluster, *ios[s]));
    shard.back()->start();
  }
  std::string topic;
  for (int i = 0; topic.empty() || (shards > 1 && Shard::owner_of(topic, shards) == 0); ++i)
    topic = "scores.league-table." + std::to_string(i);
  std::vector<std::uint32_t> subscriber(shards);
  for (std::uint32_t s = 0; s < shards; ++s) {
    subscriber[s] = ios[s]->connect();
    ios[s]->client_write(subscriber[s], "GET /sse/" + topic + " HTTP/1.1\r\nHost: b\r\n\r\n");
  }
  const std::uint32_t publisher = ios[0]->connect();
  const std::string body = "{\"home\":2,\"away\":1,\"minute\":67}";
  const std::string request = "POST /pub/" + topic + "?event=goal HTTP/1.1\r\nHost: b\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  const auto pass = [&] {
    for (auto& s : shard) s->run_once(0);
  };
  for (int i = 0; i < 8; ++i) pass();
  std::uint64_t published = 0;
  for (auto _ : state) {
    ios[0]->client_write(publisher, request);
    ++published;
    // Passes until the answer is written: read, (owner,) answer, (origin,) write.
    std::uint64_t delivered = 0;
    for (int i = 0; i < 16 && delivered < published * shards; ++i) {
      pass();
      delivered = 0;
      for (const auto& m : cluster.metrics) delivered += m->deliveries.get();
    }
    if (published % 256 == 0) {  // the simulated clients' transcripts stay small
      state.PauseTiming();
      ios[0]->clear_received(publisher);
      for (std::uint32_t s = 0; s < shards; ++s) ios[s]->clear_received(subscriber[s]);
      state.ResumeTiming();
    }
  }
  std::uint64_t delivered = 0;
  for (const auto& m : cluster.metrics) delivered += m->deliveries.get();
  if (delivered != published * shards) state.SkipWithError("not every event reached every shard");
}
BENCHMARK(BM_PublishRoundTrip)->Arg(1)->Arg(2)->Arg(4);

}  // namespace
}  // namespace ringcast
