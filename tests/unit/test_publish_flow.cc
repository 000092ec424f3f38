// Publish flow control (core/shard_flow.cc) on one simulated shard: a publish waits while a
// stream is half a history behind, and is answered once it catches up; a stream that stops
// reading costs the publisher one --publish-wait-ms, then falls off the history.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/sim_shard.h"

namespace ringcast {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class PublishFlowTest : public ::testing::Test {
 protected:
  static Config config(std::uint32_t wait_ms) {
    Config c = SimShard::base_config();
    c.history = 8;
    c.publish_wait_ms = wait_ms;
    return c;
  }
  // One publish on the keep-alive connection `p`; completes only p's sends.
  static void publish(SimShard& s, std::uint32_t p, int n) {
    const std::string body = "e" + std::to_string(n);
    s.io.client_write(p, "POST /pub/t HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body);
    s.settle();
    complete_sends_of(s.io, p);
    s.settle();
  }
};

TEST_F(PublishFlowTest, APublishWaitsWhileAStreamIsHalfAHistoryBehind) {
  SimShard s(config(1000));
  const std::uint32_t sub = s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  // The stream's first send (event 1) stays in flight: its cursor stays at the start. The
  // ninth event makes the history evict with the stream in its older half; the tenth waits.
  for (int i = 1; i <= 10; ++i) publish(s, p, i);
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 9u);
  EXPECT_EQ(s.metrics().publishes_held.get(), 1u);
  EXPECT_EQ(s.metrics().events_published.get(), 9u);

  // The stream reads: it passes the middle, the tenth publish is applied and answered.
  for (int round = 0; round < 20 && count(s.io.received(p), "HTTP/1.1 202") < 10; ++round) {
    complete_sends_of(s.io, sub);
    s.settle();
    complete_sends_of(s.io, p);
    s.settle();
  }
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 10u);
  complete_sends_of(s.io, sub);
  s.settle();
  const std::string& got = s.io.received(sub);
  for (int i = 1; i <= 10; ++i) {
    EXPECT_NE(got.find("data: e" + std::to_string(i) + "\n"), std::string::npos) << i;
  }
  EXPECT_LT(got.find("data: e9\n"), got.find("data: e10\n"));
  EXPECT_EQ(got.find("event: gap"), std::string::npos);
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 0u);
  EXPECT_EQ(s.metrics().publish_overruns.get(), 0u);
}

TEST_F(PublishFlowTest, AStreamThatStopsReadingCostsOneWaitThenFallsOff) {
  SimShard s(config(1000));
  s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  const std::uint64_t start = s.io.monotonic_ms();
  for (int i = 1; i <= 10; ++i) publish(s, p, i);
  ASSERT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 9u);
  // Once the stream's send has been pending for --publish-wait-ms (seen at the next tick), it
  // stops counting and the publish goes on.
  s.io.advance_ms(900);
  s.settle();
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 9u);  // still waiting
  for (int step = 0; step < 20 && count(s.io.received(p), "HTTP/1.1 202") < 10; ++step) {
    s.io.advance_ms(50);
    s.settle();
    complete_sends_of(s.io, p);
    s.settle();
  }
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 10u);
  EXPECT_GE(s.io.monotonic_ms() - start, 1000u);
  EXPECT_LT(s.io.monotonic_ms() - start, 2000u);  // before the last bound (twice the wait)
  EXPECT_EQ(s.metrics().publish_overruns.get(), 0u);
  // The history runs past the stream, which is dropped (the default policy); nothing more waits.
  for (int i = 11; i <= 30; ++i) publish(s, p, i);
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 30u);
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 1u);
  EXPECT_EQ(s.metrics().publishes_held.get(), 1u);
}

TEST_F(PublishFlowTest, AStuckStreamDoesNotCostTheStreamsThatReadTheirProtection) {
  SimShard s(config(1000));
  const std::uint32_t stuck = s.subscribe("t");
  const std::uint32_t reader = s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  // The reader takes every send at once; the stuck stream takes none.
  auto publish_and_read = [&](int n) {
    publish(s, p, n);
    complete_sends_except(s.io, stuck);
    s.settle();
  };
  for (int i = 1; i <= 10; ++i) publish_and_read(i);
  ASSERT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 9u);
  for (int step = 0; step < 40 && count(s.io.received(p), "HTTP/1.1 202") < 10; ++step) {
    s.io.advance_ms(50);
    s.settle();
    complete_sends_except(s.io, stuck);
    s.settle();
  }
  ASSERT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 10u);
  for (int i = 11; i <= 40; ++i) publish_and_read(i);
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 40u);
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 1u);  // the stuck one
  const std::string& got = s.io.received(reader);
  for (int i = 1; i <= 40; ++i) {
    EXPECT_NE(got.find("data: e" + std::to_string(i) + "\n"), std::string::npos) << i;
  }
  EXPECT_EQ(got.find("event: gap"), std::string::npos);
  EXPECT_EQ(s.metrics().publish_overruns.get(), 0u);
}

// A hostile reader: it takes each send, but only every 100 ms, so it keeps passing the middle
// of the history and would hold the publisher to its pace for ever. Its protection runs out
// --publish-wait-ms after it first fell behind; then it falls off and the publisher goes on.
TEST_F(PublishFlowTest, AStreamThatReadsJustEnoughCannotPaceThePublisherForLong) {
  SimShard s(config(1000));
  const std::uint32_t slow = s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  int published = 0;
  for (int step = 0; step < 400 && s.metrics().drops_slow_consumer.get() == 0; ++step) {
    publish(s, p, ++published);
    if (step % 10 == 0) {  // every 10 ms of simulated time: one send taken
      complete_sends_of(s.io, slow);
      s.settle();
    }
    s.io.advance_ms(10);
    s.settle();
  }
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 1u);
  // Held while protected, not for ever: dropped within 2 s of simulated time (200 steps).
  EXPECT_LT(published, 200);
  EXPECT_GT(s.metrics().publishes_held.get(), 0u);
  EXPECT_EQ(s.metrics().publish_overruns.get(), 0u);
  // Then nothing holds the publisher: every request written (pipelined behind the held ones)
  // is answered, and so is each one after.
  for (int i = 0; i < 20; ++i) publish(s, p, ++published);
  for (int i = 0; i < 5; ++i) {  // responses queued behind one another go out one send each
    complete_sends_of(s.io, p);
    s.settle();
  }
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), std::size_t(published));
}

TEST_F(PublishFlowTest, OffWhenTheWaitIsZero) {
  SimShard s(config(0));
  s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  for (int i = 1; i <= 12; ++i) publish(s, p, i);
  EXPECT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 12u);
  EXPECT_EQ(s.metrics().publishes_held.get(), 0u);
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 1u);
}

TEST_F(PublishFlowTest, HeldPublishesAreAnsweredInOrderAndABatchWaitsWithThem) {
  SimShard s(config(1000));
  const std::uint32_t sub = s.subscribe("t");
  s.io.auto_complete = false;
  const std::uint32_t p = s.io.connect();
  for (int i = 1; i <= 10; ++i) publish(s, p, i);
  ASSERT_EQ(count(s.io.received(p), "HTTP/1.1 202"), 9u);
  // A batch on another connection: its events to "t" wait behind the held one, its event to
  // "u" (not behind) does not make it answer early.
  const std::uint32_t b = s.io.connect();
  const std::string batch = "{\"topic\":\"u\",\"data\":\"b1\"}\n{\"topic\":\"t\",\"data\":\"b2\"}\n";
  s.io.client_write(b, "POST /pub HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\n"
                       "Content-Length: " + std::to_string(batch.size()) + "\r\n\r\n" + batch);
  s.settle();
  complete_sends_of(s.io, b);
  s.settle();
  EXPECT_EQ(s.io.received(b), "");
  for (int round = 0; round < 20 && s.io.received(b).empty(); ++round) {
    complete_sends_of(s.io, sub);
    s.settle();
    complete_sends_of(s.io, p);
    complete_sends_of(s.io, b);
    s.settle();
  }
  EXPECT_NE(s.io.received(b).find("HTTP/1.1 202"), std::string::npos) << s.io.received(b);
  complete_sends_of(s.io, sub);
  s.settle();
  const std::string& got = s.io.received(sub);
  EXPECT_LT(got.find("data: e10\n"), got.find("data: b2\n"));
  EXPECT_EQ(got.find("data: b1\n"), std::string::npos);  // another topic
}

}  // namespace
}  // namespace ringcast
