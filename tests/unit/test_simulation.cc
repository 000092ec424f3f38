// Deterministic simulation: three real shards over the simulated IO, one seeded random
// generator choosing every step — which shard runs, which send completes and how much of it,
// resets mid-send, -ENOBUFS, the multishot accept ending, doorbells failing, completions held
// back (a full completion queue), clock jumps (both clocks, the wall clock backwards too),
// shards stalled while others run, slow readers, reconnects with Last-Event-ID.
//
// Checked after every step: each stream's events per topic have strictly increasing ids, and
// the same id always carries the same data. Checked at the end, after a drain: every stream
// got, per topic, a contiguous run of that topic's events (contiguous again after each gap
// event, from the gap's firstId), live streams are at the topic's last event, every event was
// serialized once, and every connection record and chunk was freed.
//
// A failure names the seed: RINGCAST_SIM_SEED=<seed> reruns exactly that world.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "core/chunk.h"
#include "core/shard.h"
#include "net/sim_io.h"

namespace ringcast {
namespace {

constexpr std::uint32_t kShards = 3;
const char* const kTopics[] = {"alpha", "beta", "gamma", "delta"};

EventId id_of(const std::string& text) {
  EventId id;
  EXPECT_TRUE(parse_event_id(text, id)) << text;
  return id;
}

// What one connection of a subscriber saw, per topic, in order. A gap event starts a new run.
struct Run {
  std::vector<std::string> ids;
  std::string first_id;  // the gap's firstId this run must start at ("" = anywhere)
};

struct Subscriber {
  std::uint32_t shard = 0;
  std::uint32_t fd = 0;
  std::vector<std::string> topics;
  bool connected = false;
  bool slow = false;          // its sends are not completed while set
  bool never_dropped = true;  // one connection for its whole life (checked at the end)
  std::string pending;        // bytes not yet parsed
  bool head_seen = false;
  std::string last_id;        // for the resume
  std::map<std::string, std::vector<Run>> runs;  // this connection's runs per topic
  std::vector<std::map<std::string, std::vector<Run>>> history;  // earlier connections'
};

struct Publisher {
  std::uint32_t fd = 0;
  bool busy = false;
  std::string pending;
};

class World {
 public:
  explicit World(std::uint64_t seed) : seed_(seed), rng_(seed) {
    chunks_before_ = live_chunks();
    config_.shards = kShards;
    config_.history = 8;
    config_.heartbeat_ms = 1000;
    config_.stall_timeout_ms = 5000;
    config_.request_timeout_ms = 2000;
    config_.retry_jitter_ms = 0;
    config_.max_streams = 10000;
    config_.drain_ms = 2000;
    // Half the worlds cap a pass at 1-3 sends, so every fan-out spans passes with the shard's
    // other work (closes, resumes, drains) in between.
    if (seed % 2 == 0) config_.pass_sends = 1 + std::uint32_t(seed / 2 % 3);
    cluster_.config = &config_;
    cluster_.shards = kShards;
    cluster_.boot_unix_ms = wall_;
    cluster_.id_clock.store(wall_ << 20);
    for (std::uint32_t s = 0; s < kShards; ++s) {
      cluster_.mailboxes.push_back(std::make_unique<Mailbox>());
      cluster_.metrics.push_back(std::make_unique<ShardMetrics>());
      ios_.push_back(std::make_unique<net::SimIo>(4, 256, 4096));
      ios_.back()->auto_complete = false;
      // Every shard's clock starts at the world's; move_clocks() moves them all together.
      ios_.back()->advance_ms(mono_ - net::SimIo::kStartMonotonicMs);
      ios_.back()->set_unix_ms(wall_);
    }
    for (std::uint32_t s = 0; s < kShards; ++s) {
      shards_.push_back(std::make_unique<Shard>(s, cluster_, *ios_[s]));
      shards_.back()->start();
    }
  }

  // Moves the world's time: every shard's clocks, which the world keeps equal. A negative
  // wall_step jumps the wall clock back (the monotonic one never goes back).
  void move_clocks(std::uint64_t mono_step, std::int64_t wall_step) {
    mono_ += mono_step;
    wall_ = std::uint64_t(std::int64_t(wall_) + wall_step);
    for (auto& io : ios_) {
      io->advance_ms(mono_step);
      io->set_unix_ms(wall_);
    }
  }

  std::string where() const {
    return "seed " + std::to_string(seed_) + " step " + std::to_string(step_);
  }

  void step() {
    ++step_;
    const std::uint32_t roll = pick(1000);
    const std::uint32_t s = pick(kShards);
    net::SimIo& io = *ios_[s];
    if (roll < 300) {
      run(s);
    } else if (roll < 520) {
      complete_some_send(s);
    } else if (roll < 640) {
      publish(s);
    } else if (roll < 690) {
      subscribe_new(s);
    } else if (roll < 715) {
      close_some_subscriber(false);
    } else if (roll < 725) {
      close_some_subscriber(true);
    } else if (roll < 745) {
      reconnect_some_subscriber(s);
    } else if (roll < 770) {
      toggle_slow();
    } else if (roll < 850) {
      const std::uint64_t mono_step = 1 + pick(100);
      move_clocks(mono_step, std::int64_t(1 + pick(100)));
    } else if (roll < 854) {
      const std::uint64_t mono_step = 500 + pick(2000);  // heartbeats and request timeouts come due
      move_clocks(mono_step, std::int64_t(500 + pick(2000)));
    } else if (roll < 855) {
      const std::uint64_t mono_step = 5000 + pick(5000);  // and stall timeouts
      move_clocks(mono_step, std::int64_t(5000 + pick(5000)));
    } else if (roll < 858) {
      // The wall clock steps back.
      move_clocks(0, -std::int64_t(std::min<std::uint64_t>(wall_ - 1, 1 + pick(5000))));
    } else if (roll < 880) {
      io.nobufs_next += 1 + pick(3);
    } else if (roll < 890) {
      io.end_accept_next = true;
    } else if (roll < 905) {
      io.fail_notify_next = true;
    } else if (roll < 925) {
      io.max_batch = pick(4) == 0 ? ~std::size_t(0) : 1 + pick(8);
    } else {
      run(s);
    }
    read_all();
  }

  // Lets everything finish: no slow readers, every send completes, every shard runs.
  void settle(int rounds) {
    for (Subscriber& sub : subs_) sub.slow = false;
    for (int r = 0; r < rounds; ++r) {
      for (std::uint32_t s = 0; s < kShards; ++s) {
        ios_[s]->max_batch = ~std::size_t(0);
        ios_[s]->complete_all_sends();
        run(s);
      }
      move_clocks(10, 10);
      read_all();
    }
  }

  // SIGTERM: every shard drains; clients close when the server shuts their write side.
  void drain() {
    cluster_.stop.store(true);
    std::vector<bool> done(kShards, false);
    for (int round = 0; round < 5000; ++round) {
      bool all = true;
      for (std::uint32_t s = 0; s < kShards; ++s) {
        ios_[s]->max_batch = ~std::size_t(0);
        ios_[s]->complete_all_sends();
        if (!done[s]) done[s] = !shards_[s]->run_once(0);
        all = all && done[s];
      }
      for (Subscriber& sub : subs_) {
        if (sub.connected && ios_[sub.shard]->write_shut_by_server(sub.fd) &&
            !ios_[sub.shard]->closed_by_server(sub.fd)) {
          ios_[sub.shard]->client_close(sub.fd);
        }
      }
      for (auto& [key, pub] : publishers_) {
        net::SimIo& io = *ios_[key / 4];
        if (pub.fd != 0 && !io.closed_by_server(pub.fd - 1) && !io.reset_by_client(pub.fd - 1))
          io.client_close(pub.fd - 1);
      }
      read_all();
      move_clocks(20, 20);
      if (all) return;
    }
    ADD_FAILURE() << where() << ": the shards did not finish draining";
  }

  // Frees the shards and every message still in a mailbox; returns chunks leaked.
  std::int64_t tear_down() {
    for (std::uint32_t s = 0; s < kShards; ++s) {
      EXPECT_EQ(shards_[s]->open_connections(), 0u) << where() << " shard " << s;
    }
    shards_.clear();
    for (auto& box : cluster_.mailboxes) {
      while (Message* m = box->pop()) dispose(m);
    }
    return live_chunks() - chunks_before_;
  }

  void check_final() {
    // The truth per topic: every event anyone saw or had acknowledged, in id order.
    std::map<std::string, std::vector<std::string>> truth;
    for (const auto& [id, topic] : topic_of_) truth[topic].push_back(id);
    std::map<std::string, std::map<std::string, std::size_t>> index;
    for (auto& [topic, ids] : truth) {
      std::sort(ids.begin(), ids.end(),
                [](const std::string& a, const std::string& b) { return id_of(a) < id_of(b); });
      for (std::size_t i = 0; i < ids.size(); ++i) index[topic][ids[i]] = i;
    }
    std::uint64_t serialized = 0, accepted = 0;
    for (const auto& m : cluster_.metrics) {
      serialized += m->serializations.get();
      accepted += m->events_published.get();
    }
    EXPECT_EQ(serialized, accepted) << where() << ": one serialization per event";
    // Some publishes' answers are lost with their connection (a reset, a timeout) and some
    // events reach no subscriber; the rest must all be accounted for.
    EXPECT_GE(serialized, topic_of_.size()) << where();
    for (std::size_t k = 0; k < subs_.size(); ++k) {
      Subscriber& sub = subs_[k];
      std::vector<std::map<std::string, std::vector<Run>>> lives = sub.history;
      lives.push_back(sub.runs);
      for (const auto& life : lives) {
        for (const auto& [topic, runs] : life) {
          for (const Run& run : runs) {
            for (std::size_t i = 0; i < run.ids.size(); ++i) {
              const std::size_t at = index[topic].at(run.ids[i]);
              if (i == 0) {
                if (!run.first_id.empty()) {
                  EXPECT_EQ(run.ids[0], run.first_id) << where() << " sub " << k << " " << topic;
                }
                continue;
              }
              EXPECT_EQ(at, index[topic].at(run.ids[i - 1]) + 1)
                  << where() << ": sub " << k << " topic " << topic << " skipped from "
                  << run.ids[i - 1] << " to " << run.ids[i];
            }
          }
        }
      }
      // A stream that lived through the whole run ends at each topic's newest event.
      if (!sub.never_dropped || !sub.connected) continue;
      for (const auto& [topic, runs] : sub.runs) {
        if (runs.empty() || runs.back().ids.empty()) continue;
        EXPECT_EQ(runs.back().ids.back(), truth[topic].back())
            << where() << ": live sub " << k << " missed the end of " << topic;
      }
    }
    // Single-topic streams resumed across connections: no event lost between two lives.
    for (std::size_t k = 0; k < subs_.size(); ++k) {
      const Subscriber& sub = subs_[k];
      if (sub.topics.size() != 1 || sub.history.empty()) continue;
      const std::string& topic = sub.topics[0];
      std::string last;
      std::vector<std::map<std::string, std::vector<Run>>> lives = sub.history;
      lives.push_back(sub.runs);
      for (const auto& life : lives) {
        auto it = life.find(topic);
        if (it == life.end()) continue;
        for (const Run& run : it->second) {
          if (run.ids.empty()) continue;
          if (!last.empty() && run.first_id.empty()) {
            EXPECT_EQ(index[topic].at(run.ids[0]), index[topic].at(last) + 1)
                << where() << ": sub " << k << " lost events across a reconnect after " << last;
          }
          last = run.ids.back();
        }
      }
    }
  }

  std::size_t events() const { return topic_of_.size(); }
  // Sums a counter over the shards (what the faults made happen).
  std::uint64_t total(Counter ShardMetrics::*field) const {
    std::uint64_t sum = 0;
    for (const auto& m : cluster_.metrics) sum += ((*m).*field).get();
    return sum;
  }
  std::size_t reconnects() const { return reconnects_; }

 private:
  std::uint32_t pick(std::uint32_t n) { return std::uint32_t(rng_() % n); }

  // RINGCAST_SIM_TRACE=1: one line per publish, answer and received event.
  template <typename... Args>
  void trace(const char* format, Args... args) const {
    if (std::getenv("RINGCAST_SIM_TRACE") == nullptr) return;
    std::fprintf(stderr, "step %llu ", static_cast<unsigned long long>(step_));
    std::fprintf(stderr, format, args...);
    std::fputc('\n', stderr);
  }

  void run(std::uint32_t s) { shards_[s]->run_once(0); }

  void complete_some_send(std::uint32_t s) {
    net::SimIo& io = *ios_[s];
    if (io.inflight().empty()) return;
    if (pick(3) == 0) {  // a busy pass: every send of readers that keep up completes
      for (std::size_t i = 0; i < io.inflight().size();) {
        bool slow = false;
        for (const Subscriber& sub : subs_)
          slow |= sub.shard == s && sub.fd == io.inflight()[i].fd && sub.slow && sub.connected;
        if (slow) ++i;
        else io.complete_send(i, std::int32_t(io.inflight()[i].bytes.size()));
      }
      return;
    }
    const std::size_t i = pick(std::uint32_t(io.inflight().size()));
    const std::uint32_t fd = io.inflight()[i].fd;
    for (const Subscriber& sub : subs_)
      if (sub.shard == s && sub.fd == fd && sub.slow && sub.connected) return;
    const std::int32_t size = std::int32_t(io.inflight()[i].bytes.size());
    const std::uint32_t how = pick(100);
    if (how < 70) io.complete_send(i, size);
    else if (how < 95) io.complete_send(i, 1 + std::int32_t(pick(std::uint32_t(size))));
    else if (how < 98) io.complete_send(i, -EINTR);
    else reset_client(s, fd);
  }

  void reset_client(std::uint32_t s, std::uint32_t fd) {
    ios_[s]->client_reset(fd);
    for (Subscriber& sub : subs_) {
      if (sub.shard == s && sub.fd == fd && sub.connected) lost_connection(sub);
    }
  }

  void publish(std::uint32_t s) {
    const std::uint32_t key = s * 4 + pick(4);  // four publishers per shard
    Publisher& pub = publishers_[key];
    net::SimIo& io = *ios_[s];
    if (pub.fd == 0 || io.closed_by_server(pub.fd - 1) || io.reset_by_client(pub.fd - 1)) {
      pub = Publisher{};
      pub.fd = io.connect() + 1;  // stored +1: 0 means none
    }
    if (pub.busy) return;
    const std::string topic = kTopics[pick(4)];
    const std::string body = topic + "|" + std::to_string(++published_) + "|" +
                             std::string(pick(300), char('a' + pick(26)));
    io.client_write(pub.fd - 1, "POST /pub/" + topic + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                                    std::to_string(body.size()) + "\r\n\r\n" + body);
    pub.busy = true;
    trace("publish shard %u fd %u %s", s, pub.fd - 1, body.substr(0, 12).c_str());
  }

  void subscribe_new(std::uint32_t s) {
    Subscriber sub;
    sub.topics.push_back(kTopics[pick(4)]);
    if (pick(5) == 0) {
      std::string other = kTopics[pick(4)];
      if (other != sub.topics[0]) sub.topics.push_back(other);
    }
    subs_.push_back(std::move(sub));
    open(subs_.back(), s);
  }

  void open(Subscriber& sub, std::uint32_t s) {
    sub.shard = s;
    sub.fd = ios_[s]->connect();
    sub.connected = true;
    sub.head_seen = false;
    sub.pending.clear();
    std::string target = "/sse?topic=" + sub.topics[0];
    for (std::size_t i = 1; i < sub.topics.size(); ++i) target += "&topic=" + sub.topics[i];
    std::string head = "GET " + target + " HTTP/1.1\r\nHost: sim\r\n";
    if (!sub.last_id.empty()) head += "Last-Event-ID: " + sub.last_id + "\r\n";
    ios_[s]->client_write(sub.fd, head + "\r\n");
  }

  Subscriber* some_subscriber(bool connected) {
    std::vector<std::size_t> candidates;
    for (std::size_t k = 0; k < subs_.size(); ++k)
      if (subs_[k].connected == connected) candidates.push_back(k);
    if (candidates.empty()) return nullptr;
    return &subs_[candidates[pick(std::uint32_t(candidates.size()))]];
  }

  void close_some_subscriber(bool reset) {
    Subscriber* sub = some_subscriber(true);
    if (sub == nullptr) return;
    if (reset) return reset_client(sub->shard, sub->fd);
    ios_[sub->shard]->client_close(sub->fd);
    lost_connection(*sub);
  }

  void reconnect_some_subscriber(std::uint32_t s) {
    Subscriber* sub = some_subscriber(false);
    if (sub == nullptr) return;
    ++reconnects_;
    open(*sub, s);  // to any shard, with Last-Event-ID
  }

  void toggle_slow() {
    if (Subscriber* sub = some_subscriber(true)) sub->slow = !sub->slow;
  }

  void lost_connection(Subscriber& sub) {
    sub.connected = false;
    sub.never_dropped = false;
    sub.slow = false;
    sub.history.push_back(std::move(sub.runs));
    sub.runs.clear();
  }

  void read_all() {
    for (std::size_t k = 0; k < subs_.size(); ++k) {
      Subscriber& sub = subs_[k];
      if (!sub.connected) continue;
      net::SimIo& io = *ios_[sub.shard];
      sub.pending += io.received(sub.fd);
      io.clear_received(sub.fd);
      parse_stream(k, sub);
      if (sub.connected && io.closed_by_server(sub.fd)) {
        // Closed by the server (a slow reader dropped, a stall, a 503): it reconnects later.
        lost_connection(sub);
      }
    }
    for (auto& [key, pub] : publishers_) {
      if (pub.fd == 0) continue;
      const std::uint32_t s = key / 4;
      net::SimIo& io = *ios_[s];
      pub.pending += io.received(pub.fd - 1);
      io.clear_received(pub.fd - 1);
      for (std::size_t end; (end = pub.pending.find("}\n")) != std::string::npos;) {
        const std::string answer = pub.pending.substr(0, end + 2);
        pub.pending.erase(0, end + 2);
        pub.busy = false;
        trace("answer shard %u fd %u %s", s, pub.fd - 1, answer.substr(answer.find('{')).c_str());
        const std::size_t at = answer.find("\"id\":\"");
        const std::size_t topic_at = answer.find("\"topic\":\"");
        ASSERT_NE(answer.find("202 Accepted"), std::string::npos) << where() << answer;
        ASSERT_NE(at, std::string::npos) << answer;
        const std::string id = answer.substr(at + 6, answer.find('"', at + 6) - at - 6);
        const std::string topic =
            answer.substr(topic_at + 9, answer.find('"', topic_at + 9) - topic_at - 9);
        note_event(id, topic, {});
      }
      if (io.closed_by_server(pub.fd - 1)) pub = Publisher{};
    }
  }

  // One id is one event: the same topic (and data, where seen) everywhere.
  void note_event(const std::string& id, const std::string& topic, const std::string& data) {
    auto [it, fresh] = topic_of_.emplace(id, topic);
    ASSERT_EQ(it->second, topic) << where() << ": id " << id << " in two topics; data "
                                 << data << " earlier " << data_of_[id];
    if (data.empty()) return;
    auto [dit, dfresh] = data_of_.emplace(id, data);
    ASSERT_EQ(dit->second, data) << where() << ": id " << id << " with two payloads";
    (void)fresh;
    (void)dfresh;
  }

  void parse_stream(std::size_t k, Subscriber& sub) {
    if (!sub.head_seen) {
      const std::size_t end = sub.pending.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (sub.pending.compare(0, 12, "HTTP/1.1 200") != 0) {
        sub.pending.clear();  // refused (e.g. 503 while draining); the close follows
        return;
      }
      sub.head_seen = true;
      sub.pending.erase(0, end + 4);
    }
    for (std::size_t end; (end = sub.pending.find("\n\n")) != std::string::npos;) {
      const std::string block = sub.pending.substr(0, end + 1);
      sub.pending.erase(0, end + 2);
      std::string id, data, event;
      for (std::size_t pos = 0; pos < block.size();) {
        const std::size_t nl = block.find('\n', pos);
        const std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.rfind("id: ", 0) == 0) id = line.substr(4);
        else if (line.rfind("data: ", 0) == 0) data = line.substr(6);
        else if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      }
      if (event == "gap") {
        const std::size_t t = data.find("\"topic\":\"") + 9;
        const std::string topic = data.substr(t, data.find('"', t) - t);
        const std::size_t f = data.find("\"firstId\":\"") + 11;
        sub.runs[topic].push_back(Run{{}, data.substr(f, data.find('"', f) - f)});
        continue;
      }
      if (id.empty()) continue;  // retry:, comments
      const std::string topic = data.substr(0, data.find('|'));
      ASSERT_TRUE(std::find(sub.topics.begin(), sub.topics.end(), topic) != sub.topics.end())
          << where() << ": sub " << k << " got " << topic;
      trace("sub %zu shard %u fd %u id %s %s", k, sub.shard, sub.fd, id.c_str(), data.substr(0, 10).c_str());
      note_event(id, topic, data);
      std::vector<Run>& runs = sub.runs[topic];
      if (runs.empty()) runs.push_back(Run{});
      if (!runs.back().ids.empty()) {
        ASSERT_LT(id_of(runs.back().ids.back()), id_of(id))
            << where() << ": sub " << k << " topic " << topic << " out of order";
      }
      runs.back().ids.push_back(id);
      sub.last_id = id;
    }
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::uint64_t mono_ = 5'000'000;
  std::uint64_t wall_ = 1'790'000'000'000;
  std::int64_t chunks_before_ = 0;
  std::uint64_t step_ = 0;
  std::uint64_t published_ = 0;
  std::size_t reconnects_ = 0;
  Config config_;
  Cluster cluster_;
  std::vector<std::unique_ptr<net::SimIo>> ios_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<Subscriber> subs_;
  std::map<std::uint32_t, Publisher> publishers_;
  std::map<std::string, std::string> topic_of_;
  std::map<std::string, std::string> data_of_;
};

// What the faults made happen, summed over worlds: the simulation must reach every path it
// claims to test.
struct Coverage {
  std::uint64_t reconnects = 0, resumes = 0, gaps = 0, slow_drops = 0, stalls = 0,
                heartbeats = 0, nobufs = 0, events = 0, continued = 0;
};

void run_world(std::uint64_t seed, int steps, Coverage* coverage = nullptr) {
  World world(seed);
  for (int i = 0; i < steps && !::testing::Test::HasFatalFailure(); ++i) world.step();
  if (::testing::Test::HasFatalFailure()) return;
  world.settle(200);  // enough passes for a fan-out released at the end (--pass-sends 1)
  world.check_final();
  if (coverage != nullptr) {
    coverage->reconnects += world.reconnects();
    coverage->resumes += world.total(&ShardMetrics::resumes);
    coverage->gaps += world.total(&ShardMetrics::gap_events);
    coverage->slow_drops += world.total(&ShardMetrics::drops_slow_consumer);
    coverage->stalls += world.total(&ShardMetrics::drops_stalled);
    coverage->heartbeats += world.total(&ShardMetrics::heartbeats);
    coverage->nobufs += world.total(&ShardMetrics::recv_nobufs);
    coverage->continued += world.total(&ShardMetrics::passes_continued);
    coverage->events += world.events();
  }
  world.drain();
  EXPECT_EQ(world.tear_down(), 0) << world.where() << ": chunks leaked";
  EXPECT_GT(world.events(), 0u) << world.where();
}

TEST(Simulation, SeededWorldsKeepEveryInvariant) {
  if (const char* seed = std::getenv("RINGCAST_SIM_SEED")) {
    return run_world(std::strtoull(seed, nullptr, 10), std::getenv("RINGCAST_SIM_STEPS") ? std::atoi(std::getenv("RINGCAST_SIM_STEPS")) : 6000);
  }
  Coverage c;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("RINGCAST_SIM_SEED=" + std::to_string(seed));
    run_world(seed, 4000, &c);
    if (HasFailure()) return;
  }
  std::printf("simulation: %llu events, %llu reconnects, %llu resumes, %llu gap events, "
              "%llu slow-consumer drops, %llu stalls, %llu heartbeats, %llu -ENOBUFS\n",
              (unsigned long long)c.events, (unsigned long long)c.reconnects,
              (unsigned long long)c.resumes, (unsigned long long)c.gaps,
              (unsigned long long)c.slow_drops, (unsigned long long)c.stalls,
              (unsigned long long)c.heartbeats, (unsigned long long)c.nobufs);
  EXPECT_GT(c.reconnects, 0u);
  EXPECT_GT(c.resumes, 0u);
  EXPECT_GT(c.gaps, 0u);
  EXPECT_GT(c.slow_drops, 0u);
  EXPECT_GT(c.stalls, 0u);
  EXPECT_GT(c.heartbeats, 0u);
  EXPECT_GT(c.nobufs, 0u);
  EXPECT_GT(c.continued, 0u);  // fan-outs that spanned passes (--pass-sends)
}

TEST(Simulation, SameSeedSameWorld) {
  // Reproducibility: two runs of one seed see the same events and reconnects.
  std::vector<std::size_t> seen;
  for (int run = 0; run < 2; ++run) {
    World w(77);
    for (int i = 0; i < 2000; ++i) w.step();
    seen.push_back(w.events());
    seen.push_back(w.reconnects());
    w.settle(40);
    w.drain();
    EXPECT_EQ(w.tear_down(), 0);
  }
  EXPECT_EQ(seen[0], seen[2]);
  EXPECT_EQ(seen[1], seen[3]);
  EXPECT_GT(seen[0], 0u);
}

}  // namespace
}  // namespace ringcast
