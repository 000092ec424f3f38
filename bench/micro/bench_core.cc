// Micro-benchmarks of the core's per-event and per-connection costs, without sockets:
// chunk creation and refcounting, slab records, and a whole shard fanning one event out to
// many cursors through an IO backend whose sends complete instantly (no kernel).
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "alloc/slab.h"
#include "base/clock.h"
#include "core/chunk.h"
#include "core/shard.h"
#include "net/io.h"

namespace ringcast {
namespace {

void BM_MakeChunk(benchmark::State& state) {
  const std::string data(std::size_t(state.range(0)), 'x');
  std::uint64_t seq = 1;
  for (auto _ : state) {
    Chunk* c = make_chunk("bench", EventId{1795450520683, seq}, "", data, 1);
    benchmark::DoNotOptimize(c);
    release(c);
    ++seq;
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_MakeChunk)->Arg(100)->Arg(4096)->Arg(65536);

void BM_ChunkRefcount(benchmark::State& state) {
  Chunk* c = make_chunk("bench", EventId{1, 1}, "", "x", 1);
  for (auto _ : state) {
    c->refs.fetch_add(1, std::memory_order_relaxed);
    release(c);
  }
  release(c);
}
BENCHMARK(BM_ChunkRefcount);

struct Record128 {
  char bytes[72];
};

void BM_SlabAllocFree(benchmark::State& state) {
  Slab<Record128> slab(1u << 20);
  std::vector<std::uint32_t> held(1024);
  for (auto _ : state) {
    for (auto& h : held) h = slab.alloc();
    for (auto h : held) slab.free(h);
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * 1024);
}
BENCHMARK(BM_SlabAllocFree);

// An IO backend with no kernel: accepts N connections, feeds each the request it was given
// once, and completes every send in full at the next wait.
class InstantIo final : public net::Io {
 public:
  std::string request;
  std::uint32_t to_accept = 0;
  std::uint64_t bytes_sent = 0;

  void accept() override {}
  void stop_accepting() override {}
  void recv(std::uint64_t token, std::uint32_t fd) override {
    if (fed_.size() <= fd) fed_.resize(fd + 1, false);
    if (fed_[fd]) return;  // idle stream: the receive stays armed, nothing arrives
    fed_[fd] = true;
    net::Completion c{net::Op::recv};
    c.token = token;
    c.res = std::int32_t(request.size());
    c.data = request.data();
    queued_.push_back(c);
  }
  void release_buffer(std::uint32_t) override {}
  void send(std::uint64_t token, std::uint32_t, std::span<const iovec> iov) override {
    std::size_t n = 0;
    for (const iovec& v : iov) n += v.iov_len;
    bytes_sent += n;
    net::Completion c{net::Op::send};
    c.token = token;
    c.res = std::int32_t(n);
    queued_.push_back(c);
  }
  void shutdown_write(std::uint64_t, std::uint32_t) override {}
  void cancel(std::uint64_t, std::uint32_t) override {}
  void close(std::uint64_t, std::uint32_t) override {}
  net::Waker& waker() override { return waker_; }
  std::span<const net::Completion> wait(int) override {
    for (; to_accept > 0; --to_accept) {
      net::Completion c{net::Op::accept};
      c.more = true;
      c.res = std::int32_t(next_fd_++);
      queued_.push_back(c);
    }
    batch_.swap(queued_);
    queued_.clear();
    return batch_;
  }
  std::uint64_t monotonic_ms() const override { return ringcast::monotonic_ms(); }
  std::uint64_t unix_ms() const override { return ringcast::unix_ms(); }
  std::uint32_t descriptor_capacity() const override { return 1u << 20; }

 private:
  // One shard: nobody to wake.
  class NoWaker final : public net::Waker {
   public:
    NoWaker() : Waker(1) {}
    void flush() override { due_.assign(due_.size(), 0); }
  };
  NoWaker waker_;
  std::vector<bool> fed_;
  std::deque<net::Completion> unused_;
  std::vector<net::Completion> queued_, batch_;
  std::uint32_t next_fd_ = 0;
};

// One shard, N streams on one topic: the cost of delivering one event to every cursor
// (history push, ready list, building each stream's send, completing it, advancing cursors).
void BM_FanoutPerSubscriber(benchmark::State& state) {
  const auto subscribers = std::uint32_t(state.range(0));
  Config config;
  config.max_streams = subscribers;
  Cluster cluster;
  cluster.config = &config;
  cluster.mailboxes.push_back(std::make_unique<Mailbox>());
  cluster.metrics.push_back(std::make_unique<ShardMetrics>());
  InstantIo io;
  io.request = "GET /sse/wide HTTP/1.1\r\nHost: b\r\n\r\n";
  io.to_accept = subscribers;
  Shard shard(0, cluster, io);
  shard.start();
  for (int i = 0; i < 8; ++i) shard.run_once(0);  // accept, parse, send the stream heads
  RC_ASSERT(cluster.metrics[0]->streams.get() == subscribers);
  const std::string publish = "POST /pub/wide HTTP/1.1\r\nHost: t\r\nContent-Length: 64\r\n\r\n" + std::string(64, 'e');
  std::uint64_t published = 0;
  for (auto _ : state) {
    // Publishing over a fresh connection: accept, parse, serialize once, fan out, complete.
    io.request = publish;
    io.to_accept = 1;
    ++published;
    // A fan-out larger than --pass-sends spans passes: run them until every stream has it
    // (bounded: each pass starts up to pass_sends sends).
    const std::uint64_t target = published * subscribers;
    for (std::uint32_t i = 0; i < 6 + 2 * (subscribers / config.pass_sends + 1) &&
                              cluster.metrics[0]->deliveries.get() < target;
         ++i)
      shard.run_once(0);
  }
  RC_ASSERT(cluster.metrics[0]->deliveries.get() == published * subscribers);
  state.counters["ns_per_subscriber"] = benchmark::Counter(
      double(subscribers) * double(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FanoutPerSubscriber)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringcast
