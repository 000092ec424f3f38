// Issue #16 item 5: a published event costs at most one heap allocation (its chunk), whatever
// the shard count. Real shards over the simulated IO (which, with record_bytes off, allocates
// nothing of its own once warm), a keep-alive publisher sending one request at a time as
// `requests` or curl do, subscribers on every shard; every allocation the process makes while
// the publishes are read, routed, serialized, handed across shards, fanned out, acknowledged
// and answered is counted (count_malloc.cc).
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/shard.h"
#include "net/sim_io.h"
#include "tests/alloc/count_malloc.h"

namespace ringcast {
namespace {

constexpr std::uint32_t kStreamsPerShard = 50;
constexpr int kWarmup = 300;  // past the history's length, so it evicts as in steady state
constexpr int kCounted = 1000;

class World {
 public:
  explicit World(std::uint32_t shards) {
    config_.shards = shards;
    config_.history = 64;
    config_.retry_jitter_ms = 0;
    config_.max_streams = 10000;
    cluster_.config = &config_;
    cluster_.shards = shards;
    cluster_.boot_unix_ms = net::SimIo::kStartMonotonicMs;
    cluster_.id_clock.store(cluster_.boot_unix_ms << 20);
    for (std::uint32_t s = 0; s < shards; ++s) {
      cluster_.mailboxes.push_back(std::make_unique<Mailbox>());
      cluster_.metrics.push_back(std::make_unique<ShardMetrics>());
      ios_.push_back(std::make_unique<net::SimIo>(64, 4096, 4096));
      ios_.back()->record_bytes = false;
    }
    for (std::uint32_t s = 0; s < shards; ++s) {
      shards_.push_back(std::make_unique<Shard>(s, cluster_, *ios_[s]));
      shards_.back()->start();
    }
  }

  // Runs every shard until three whole rounds leave no completion queued and no send in
  // flight anywhere (a message posted in one round is taken by its shard in the next).
  void settle() {
    int quiet = 0;
    for (int round = 0; round < 10000; ++round) {
      for (auto& shard : shards_) shard->run_once(0);
      bool idle = true;
      for (auto& io : ios_) idle = idle && io->queued() == 0 && io->inflight().empty();
      quiet = idle ? quiet + 1 : 0;
      if (quiet == 3) return;
    }
    ADD_FAILURE() << "the shards never went idle";
  }

  std::uint32_t connect(std::uint32_t shard, std::string request) {
    const std::uint32_t fd = ios_[shard]->connect();
    ios_[shard]->client_write(fd, std::move(request));
    return fd;
  }

  std::uint64_t sum(Counter ShardMetrics::*counter) const {
    std::uint64_t n = 0;
    for (const auto& m : cluster_.metrics) n += (m.get()->*counter).get();
    return n;
  }

  net::SimIo& io(std::uint32_t shard) { return *ios_[shard]; }
  std::uint32_t shards() const { return cluster_.shards; }

 private:
  Config config_;
  Cluster cluster_;
  std::vector<std::unique_ptr<net::SimIo>> ios_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

struct Result {
  double per_event = 0;
  std::uint64_t allocations = 0;
};

// Publishes to a topic owned by shard `owner` from a publisher connected to shard `from`.
Result measure(std::uint32_t shards, std::uint32_t from, bool remote_owner) {
  World w(shards);
  // A topic name past std::string's inline capacity, so a copy of it would show.
  std::string topic;
  for (int i = 0; topic.empty() || (Shard::owner_of(topic, shards) == from) != !remote_owner; ++i)
    topic = "scores.league-table." + std::to_string(i);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> subscribers;
  for (std::uint32_t s = 0; s < shards; ++s)
    for (std::uint32_t i = 0; i < kStreamsPerShard; ++i)
      subscribers.emplace_back(s, w.connect(s, "GET /sse/" + topic + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  w.settle();
  const std::string body = "{\"home\":2,\"away\":1,\"minute\":67}";
  std::vector<std::string> requests;
  for (int i = 0; i < kWarmup + kCounted; ++i)
    requests.push_back("POST /pub/" + topic + "?event=goal HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::uint32_t publisher = w.io(from).connect();
  w.settle();
  std::vector<std::uint64_t> before(subscribers.size());
  std::uint64_t allocations = 0;
  for (int i = 0; i < kWarmup + kCounted; ++i) {
    if (i == kWarmup) {
      for (std::size_t k = 0; k < subscribers.size(); ++k)
        before[k] = w.io(subscribers[k].first).received_bytes(subscribers[k].second);
      alloc_count::start();
    }
    w.io(from).client_write(publisher, std::move(requests[std::size_t(i)]));
    w.settle();
  }
  allocations = alloc_count::stop();
  // Everything happened: every event serialized once, every answer and every stream's bytes.
  EXPECT_EQ(w.sum(&ShardMetrics::serializations), std::uint64_t(kWarmup + kCounted));
  EXPECT_EQ(w.sum(&ShardMetrics::deliveries),
            std::uint64_t(kWarmup + kCounted) * subscribers.size());
  EXPECT_GE(w.io(from).received_bytes(publisher), std::uint64_t(kWarmup + kCounted) * 100);
  for (std::size_t k = 0; k < subscribers.size(); ++k)
    EXPECT_GE(w.io(subscribers[k].first).received_bytes(subscribers[k].second) - before[k],
              std::uint64_t(kCounted) * body.size());
  return {double(allocations) / kCounted, allocations};
}

void report(const char* what, std::uint32_t shards, const Result& r) {
  std::printf("[ alloc ] %u shard(s), %s: %llu allocations for %d events, %.2f per event\n", shards,
              what, static_cast<unsigned long long>(r.allocations), kCounted, r.per_event);
}

TEST(PublishAllocations, AtMostOnePerEventOnOneShard) {
  const Result r = measure(1, 0, false);
  report("publisher on the owner", 1, r);
  EXPECT_LE(r.per_event, 1.0);
}

TEST(PublishAllocations, AtMostOnePerEventOnTwoShards) {
  for (bool remote : {false, true}) {
    const Result r = measure(2, 0, remote);
    report(remote ? "publisher on another shard" : "publisher on the owner", 2, r);
    EXPECT_LE(r.per_event, 1.0);
  }
}

TEST(PublishAllocations, AtMostOnePerEventOnFourShards) {
  for (bool remote : {false, true}) {
    const Result r = measure(4, 1, remote);
    report(remote ? "publisher on another shard" : "publisher on the owner", 4, r);
    EXPECT_LE(r.per_event, 1.0);
  }
}

// The counter itself: an allocation made while counting is seen, one made outside is not.
TEST(PublishAllocations, TheCounterSeesAllocations) {
  alloc_count::start();
  auto* p = new std::string(100, 'x');
  const std::uint64_t n = alloc_count::stop();
  delete p;
  EXPECT_GE(n, 1u);
  auto* q = new std::string(100, 'y');
  alloc_count::start();
  const std::uint64_t none = alloc_count::stop();
  delete q;
  EXPECT_EQ(none, 0u);
}

}  // namespace
}  // namespace ringcast
