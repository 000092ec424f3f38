// The layout of connections over rings and threads (plan.h): which thread holds which streams
// and publishers, with and without the publisher thread. No sockets, no rings.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tools/load/options.h"
#include "tools/load/plan.h"

namespace ringcast::load {
namespace {

Options options(Mode mode, std::uint64_t streams, std::uint32_t topics, std::uint32_t publishers,
                std::uint32_t threads, std::uint32_t ring_files = 100) {
  Options o;
  o.mode = mode;
  o.streams = streams;
  o.topics = topics;
  o.publishers = publishers;
  o.threads = threads;
  o.ring_files = ring_files;  // explicit, so the plan does not depend on RLIMIT_NOFILE
  o.events = 10;
  return o;
}

// Every stream in exactly one ring, in order, and every publisher in exactly one ring.
void expect_covered(const Plan& p) {
  std::uint64_t next = 0;
  std::vector<int> seen(p.publishers, 0);
  for (const RingPlan& rp : p.rings) {
    EXPECT_LT(rp.thread, p.threads);
    if (rp.streams > 0) {
      EXPECT_EQ(rp.first_stream, next);
      next += rp.streams;
    }
    EXPECT_LE(rp.streams + rp.publishers.size(), p.ring_files);
    for (std::uint32_t i : rp.publishers) {
      ASSERT_LT(i, p.publishers);
      ++seen[i];
    }
  }
  EXPECT_EQ(next, p.streams);
  for (std::uint32_t i = 0; i < p.publishers; ++i) EXPECT_EQ(seen[i], 1) << "publisher " << i;
}

TEST(Plan, PublisherThreadHoldsEveryPublisherAndNoStream) {
  for (std::uint32_t threads : {1u, 2u, 3u}) {
    Plan p;
    ASSERT_EQ(make_plan(options(Mode::run, 1000, 10, 4, threads), p), "");
    EXPECT_TRUE(p.publisher_thread);
    EXPECT_EQ(p.threads, threads + 1);
    EXPECT_EQ(p.stream_threads(), threads);
    expect_covered(p);
    std::set<std::uint32_t> stream_threads;
    for (const RingPlan& rp : p.rings) {
      if (rp.thread == threads) {  // the publisher thread: publishers only
        EXPECT_EQ(rp.streams, 0u);
        EXPECT_FALSE(rp.publishers.empty());
      } else {
        EXPECT_TRUE(rp.publishers.empty()) << "a stream ring holds a publisher";
        stream_threads.insert(rp.thread);
      }
    }
    EXPECT_EQ(stream_threads.size(), threads);  // every stream thread has streams
  }
}

TEST(Plan, StormHasAPublisherThreadToo) {
  Options o = options(Mode::storm, 500, 4, 2, 1);
  o.drop = 100;
  Plan p;
  ASSERT_EQ(make_plan(o, p), "");
  EXPECT_TRUE(p.publisher_thread);
  EXPECT_EQ(p.threads, 2u);
  expect_covered(p);
}

TEST(Plan, PublishersBeyondOneRingSpreadOverPublisherRings) {
  // 250 publishers, at most 100 connections per ring: three rings, all on the publisher thread.
  Plan p;
  ASSERT_EQ(make_plan(options(Mode::run, 150, 250, 250, 2), p), "");
  EXPECT_TRUE(p.publisher_thread);
  expect_covered(p);
  std::size_t pub_rings = 0;
  for (const RingPlan& rp : p.rings) {
    if (rp.thread != 2) continue;
    ++pub_rings;
    EXPECT_EQ(rp.streams, 0u);
  }
  EXPECT_EQ(pub_rings, 3u);
}

TEST(Plan, NoPublisherThreadKeepsTheSharedLayout) {
  Options o = options(Mode::run, 1000, 10, 4, 2);
  o.publisher_thread = false;
  Plan p;
  ASSERT_EQ(make_plan(o, p), "");
  EXPECT_FALSE(p.publisher_thread);
  EXPECT_EQ(p.threads, 2u);
  expect_covered(p);
  // Publishers dealt round-robin over the rings, which hold streams too.
  EXPECT_EQ(p.rings[0].publishers, (std::vector<std::uint32_t>{0}));
  EXPECT_GT(p.rings[0].streams, 0u);
}

TEST(Plan, NoPublisherThreadWithoutBothSides) {
  Plan sub, pub;
  ASSERT_EQ(make_plan(options(Mode::subscribe, 1000, 10, 4, 2), sub), "");
  EXPECT_FALSE(sub.publisher_thread);  // no publishers
  EXPECT_EQ(sub.threads, 2u);
  expect_covered(sub);
  ASSERT_EQ(make_plan(options(Mode::publish, 0, 10, 4, 2), pub), "");
  EXPECT_FALSE(pub.publisher_thread);  // no streams: every thread is publishers alone already
  EXPECT_EQ(pub.threads, 2u);
  expect_covered(pub);
}

TEST(Options, PublisherThreadFlags) {
  Options d;
  const char* plain[] = {"ringcast-load", "run"};
  ASSERT_EQ(parse_options(2, const_cast<char**>(plain), d), 0);
  EXPECT_TRUE(d.publisher_thread);  // the default
  Options off;
  const char* no[] = {"ringcast-load", "run", "--no-publisher-thread"};
  ASSERT_EQ(parse_options(3, const_cast<char**>(no), off), 0);
  EXPECT_FALSE(off.publisher_thread);
  Options on;
  const char* yes[] = {"ringcast-load", "run", "--no-publisher-thread", "--publisher-thread"};
  ASSERT_EQ(parse_options(4, const_cast<char**>(yes), on), 0);
  EXPECT_TRUE(on.publisher_thread);  // the last one given wins
}

// --h2: rings hold whole connections of S streams (only the last one short), and a ring's
// fixed files bound its connections, not its streams.
TEST(Plan, H2RingsHoldWholeConnections) {
  Options o = options(Mode::run, 1050, 1, 1, 2, 100);
  o.h2 = true;
  o.streams_per_conn = 100;
  Plan p;
  ASSERT_EQ(make_plan(o, p), "");
  EXPECT_EQ(p.streams_per_conn, 100u);
  std::uint64_t next = 0, conns = 0;
  for (const RingPlan& rp : p.rings) {
    if (rp.streams == 0) continue;
    EXPECT_EQ(rp.first_stream, next);
    EXPECT_EQ(rp.first_stream % 100, 0u);
    next += rp.streams;
    conns += p.h2_conns(rp);
  }
  EXPECT_EQ(next, 1050u);
  EXPECT_EQ(conns, 11u);  // ten of 100, one of 50
  // 10,000 streams in 100 connections fit one ring of 100 files per stream thread.
  Options big = options(Mode::subscribe, 10000, 1, 1, 1, 100);
  big.h2 = true;
  big.streams_per_conn = 100;
  ASSERT_EQ(make_plan(big, p), "");
  ASSERT_EQ(p.rings.size(), 1u);
  EXPECT_EQ(p.h2_conns(p.rings[0]), 100u);
  EXPECT_EQ(make_plan(options(Mode::subscribe, 10000, 1, 1, 1, 100), p), "");
  EXPECT_EQ(p.rings.size(), 100u);  // over HTTP/1.1, one ring per 100 streams
}

TEST(Options, H2Flags) {
  Options o;
  const char* h2[] = {"ringcast-load", "run", "--h2", "--streams-per-conn", "50"};
  ASSERT_EQ(parse_options(5, const_cast<char**>(h2), o), 0);
  EXPECT_TRUE(o.h2);
  EXPECT_EQ(o.streams_per_conn, 50u);
  EXPECT_EQ(o.h2_window, 1u << 20);
  EXPECT_EQ(o.recv_buffer_bytes, 16384u);
  Options bad;
  const char* alone[] = {"ringcast-load", "run", "--streams-per-conn", "50"};
  EXPECT_EQ(parse_options(4, const_cast<char**>(alone), bad), 2);
  Options storm;
  const char* storm_h2[] = {"ringcast-load", "storm", "--h2", "--drop", "1"};
  EXPECT_EQ(parse_options(5, const_cast<char**>(storm_h2), storm), 0);
  Options churn;
  const char* churn_h2[] = {"ringcast-load", "storm", "--h2", "--drop", "1", "--churn", "10"};
  EXPECT_EQ(parse_options(7, const_cast<char**>(churn_h2), churn), 2);
  Options publish;
  const char* publish_h2[] = {"ringcast-load", "publish", "--h2"};
  EXPECT_EQ(parse_options(3, const_cast<char**>(publish_h2), publish), 2);
}

// Storm over HTTP/1.1: exactly K of N streams drop, spread evenly.
TEST(Plan, StormDropsKStreamsSpreadEvenly) {
  Options o = options(Mode::storm, 1000, 10, 1, 1);
  o.drop = 500;
  Plan p;
  ASSERT_EQ(make_plan(o, p), "");
  EXPECT_EQ(p.drop_units, 500u);
  EXPECT_EQ(p.drop_streams, 500u);
  std::uint64_t first_half = 0;
  for (std::uint64_t g = 0; g < 500; ++g) first_half += p.droppee(g);
  EXPECT_EQ(first_half, 250u);
  EXPECT_TRUE(p.droppee(1));
  EXPECT_FALSE(p.droppee(0));
}

// Storm over HTTP/2: whole connections drop, as many as hold K streams (rounded up), spread
// evenly; every stream of a dropped connection drops, no other.
TEST(Plan, H2StormDropsWholeConnections) {
  Options o = options(Mode::storm, 1050, 10, 1, 1, 1000);
  o.h2 = true;
  o.streams_per_conn = 100;  // 11 connections, the last of 50 streams
  o.drop = 250;              // 3 connections
  Plan p;
  ASSERT_EQ(make_plan(o, p), "");
  EXPECT_EQ(p.drop_units, 3u);
  std::uint64_t dropped = 0;
  for (std::uint64_t c = 0; c < 11; ++c) {
    const bool first = p.droppee(c * 100);
    for (std::uint64_t g = c * 100; g < std::min<std::uint64_t>(c * 100 + 100, 1050); ++g) {
      EXPECT_EQ(p.droppee(g), first) << "stream " << g << " of connection " << c;
      dropped += p.droppee(g);
    }
  }
  EXPECT_EQ(dropped, p.drop_streams);
  EXPECT_GE(p.drop_streams, 250u);
  EXPECT_LE(p.drop_streams, 300u);
}

}  // namespace
}  // namespace ringcast::load
