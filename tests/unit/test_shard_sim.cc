// The shard's protocol and fan-out logic driven over the simulated IO: no sockets, every
// send completion (full, short, failed) chosen by the test.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/unit/sim_shard.h"

namespace ringcast {
namespace {

TEST(ShardSim, SubscriberReceivesExactWireBytes) {
  SimShard s;
  std::uint32_t sub = s.subscribe("news");
  EXPECT_EQ(s.io.received(sub), SimShard::prelude());
  std::string ack = s.publish("news", "line one\r\nline two");
  EXPECT_NE(ack.find("HTTP/1.1 202 Accepted\r\n"), std::string::npos) << ack;
  s.settle();
  EXPECT_EQ(s.io.received(sub), SimShard::prelude() + "id: " + id_of(ack) +
                                    "\ndata: line one\ndata: line two\n\n");
}

TEST(ShardSim, OneSerializationForAThousandSubscribers) {
  SimShard s;
  std::vector<std::uint32_t> subs;
  for (int i = 0; i < 1000; ++i) subs.push_back(s.subscribe("wide"));
  std::string ack = s.publish("wide", "x");
  s.settle();
  EXPECT_EQ(s.metrics().serializations.get(), 1u);
  EXPECT_EQ(s.metrics().deliveries.get(), 1000u);
  const std::string expected = SimShard::prelude() + "id: " + id_of(ack) + "\ndata: x\n\n";
  for (std::uint32_t fd : subs) ASSERT_EQ(s.io.received(fd), expected);
}

TEST(ShardSim, EventsPendingBehindASendGoOutTogether) {
  SimShard s;
  s.io.auto_complete = false;
  std::uint32_t sub = s.subscribe("burst");
  ASSERT_EQ(s.io.inflight().size(), 1u);  // the stream head
  for (int i = 0; i < 3; ++i) {
    s.publish_holding_streams("burst", std::to_string(i));
  }
  // The head send is still in flight; completing it releases all three events in one send.
  ASSERT_EQ(s.io.inflight().size(), 1u);
  s.io.complete_send(0, int(s.io.inflight()[0].bytes.size()));
  s.settle();
  std::size_t stream_sends = 0;
  for (const auto& send : s.io.inflight()) {
    if (send.fd != sub) continue;
    ++stream_sends;
    EXPECT_NE(send.bytes.find("data: 0\n"), std::string::npos);
    EXPECT_NE(send.bytes.find("data: 2\n"), std::string::npos);
  }
  EXPECT_EQ(stream_sends, 1u);
  s.io.complete_all_sends();
  s.settle();
  const std::string& got = s.io.received(sub);
  EXPECT_LT(got.find("data: 0\n"), got.find("data: 1\n"));
  EXPECT_LT(got.find("data: 1\n"), got.find("data: 2\n"));
  EXPECT_EQ(s.metrics().deliveries.get(), 3u);
}

TEST(ShardSim, ShortSendsResumeAtTheRightByte) {
  SimShard s;
  std::uint32_t a = s.subscribe("t1");
  std::uint32_t b = s.subscribe("t1");
  s.io.auto_complete = false;
  std::string acks;
  for (int i = 0; i < 5; ++i) {
    acks += "id: " + id_of(s.publish_holding_streams("t1", "hello world")) + "\ndata: hello world\n\n";
  }
  // Dribble every stream send out 7 bytes at a time.
  for (int rounds = 0; rounds < 10000 && !s.io.inflight().empty(); ++rounds) {
    const auto& first = s.io.inflight()[0];
    s.io.complete_send(0, int(std::min<std::size_t>(7, first.bytes.size())));
    s.settle(1);
  }
  EXPECT_TRUE(s.io.inflight().empty());
  EXPECT_EQ(s.io.received(a), SimShard::prelude() + acks);
  EXPECT_EQ(s.io.received(b), SimShard::prelude() + acks);
}

TEST(ShardSim, ASlowConsumerIsDisconnectedAndFreed) {
  Config c = SimShard::base_config();
  c.history = 2;
  c.publish_wait_ms = 0;  // no flow control: the history runs past the stream (test_publish_flow.cc)
  SimShard s(c);
  std::uint32_t slow = s.subscribe("t");
  std::uint32_t fast = s.subscribe("t");
  s.io.auto_complete = false;
  for (int i = 0; i < 6; ++i) {
    std::uint32_t p = s.io.connect();
    s.io.client_write(p, "POST /pub/t HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz");
    s.settle();
    // Everyone but the slow stream gets its sends completed.
    complete_sends_except(s.io, slow);
    s.settle();
  }
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 1u);
  EXPECT_TRUE(s.io.closed_by_server(slow));
  EXPECT_FALSE(s.io.closed_by_server(fast));
  EXPECT_EQ(s.metrics().streams.get(), 1u);
}

TEST(ShardSim, AClosedClientFreesItsRecord) {
  SimShard s;
  std::uint32_t before = s.shard->open_connections();
  std::uint32_t sub = s.subscribe("t");
  EXPECT_EQ(s.metrics().streams.get(), 1u);
  s.io.client_close(sub);
  s.settle();
  EXPECT_TRUE(s.io.closed_by_server(sub));
  EXPECT_EQ(s.metrics().streams.get(), 0u);
  EXPECT_EQ(s.shard->open_connections(), before);
}

TEST(ShardSim, BadRequestGets400ThenLingeringClose) {
  SimShard s;
  std::uint32_t fd = s.request("BOGUS\r\n\r\n");
  EXPECT_EQ(s.io.received(fd).rfind("HTTP/1.1 400 ", 0), 0u) << s.io.received(fd);
  EXPECT_NE(s.io.received(fd).find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(s.io.write_shut_by_server(fd));
  EXPECT_FALSE(s.io.closed_by_server(fd));  // waits for the client's EOF
  s.io.client_close(fd);
  s.settle();
  EXPECT_TRUE(s.io.closed_by_server(fd));
  EXPECT_EQ(s.metrics().bad_requests.get(), 1u);
}

TEST(ShardSim, PipelinedKeepAliveRequestsAreAnsweredInOrder) {
  SimShard s;
  std::uint32_t fd = s.request("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
  const std::string& got = s.io.received(fd);
  auto ok = got.find("HTTP/1.1 200 OK");
  auto missing = got.find("HTTP/1.1 404 ");
  ASSERT_NE(ok, std::string::npos) << got;
  ASSERT_NE(missing, std::string::npos) << got;
  EXPECT_LT(ok, missing);
}

TEST(ShardSim, RequestSplitAcrossReadsIsReassembled) {
  SimShard s;
  std::uint32_t fd = s.io.connect();
  s.settle();
  const std::string req = "POST /pub/split HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde";
  for (char ch : req) {
    s.io.client_write(fd, std::string(1, ch));
    s.settle(2);
  }
  EXPECT_EQ(s.io.received(fd).rfind("HTTP/1.1 202 ", 0), 0u) << s.io.received(fd);
}

TEST(ShardSim, ExhaustedReceiveBuffersAreRetried) {
  SimShard s(SimShard::base_config(), /*buffers=*/1);
  std::vector<std::uint32_t> fds;
  for (int i = 0; i < 4; ++i) {
    std::uint32_t fd = s.io.connect();
    fds.push_back(fd);
    s.io.client_write(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  s.settle(20);
  for (std::uint32_t fd : fds) EXPECT_EQ(s.io.received(fd).rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST(ShardSim, StreamLimitAnswers503) {
  Config c = SimShard::base_config();
  c.max_streams = 2;
  SimShard s(c);
  s.subscribe("a");
  s.subscribe("b");
  std::uint32_t third = s.subscribe("c");
  EXPECT_EQ(s.io.received(third).rfind("HTTP/1.1 503 ", 0), 0u) << s.io.received(third);
  EXPECT_EQ(s.metrics().rejected_streams.get(), 1u);
}

}  // namespace
}  // namespace ringcast

namespace ringcast {
namespace {

std::string subscribe_request(const std::string& target, const std::string& last_id = "") {
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\n";
  if (!last_id.empty()) req += "Last-Event-ID: " + last_id + "\r\n";
  return req + "\r\n";
}

std::string event_bytes(const std::string& id, const std::string& data) {
  return "id: " + id + "\ndata: " + data + "\n\n";
}

struct Published {
  std::string id;
  std::string data;
};

std::vector<Published> publish_n(SimShard& s, const std::string& topic, int n, int from = 0) {
  std::vector<Published> out;
  for (int i = from; i < from + n; ++i) {
    std::string data = topic + "-" + std::to_string(i);
    out.push_back({id_of(s.publish(topic, data)), data});
  }
  return out;
}

std::string gap_of(const std::string& stream) {
  auto at = stream.find("event: gap\ndata: ");
  if (at == std::string::npos) return {};
  return stream.substr(at + 17, stream.find('\n', at + 17) - at - 17);
}

TEST(ShardSimResume, KnownIdReplaysExactlyWhatFollows) {
  SimShard s;
  auto events = publish_n(s, "r", 5);
  std::uint32_t fd = s.request(subscribe_request("/sse/r", events[1].id));
  std::string expected = SimShard::prelude();
  for (int i = 2; i < 5; ++i) expected += event_bytes(events[i].id, events[i].data);
  EXPECT_EQ(s.io.received(fd), expected);
  // Live events continue right after the replay.
  auto live = publish_n(s, "r", 1, 5);
  s.settle();
  EXPECT_EQ(s.io.received(fd), expected + event_bytes(live[0].id, live[0].data));
}

TEST(ShardSimResume, QueryParameterWorksAndTheHeaderWins) {
  SimShard s;
  auto events = publish_n(s, "q", 3);
  std::uint32_t by_query = s.request(subscribe_request("/sse/q?lastEventId=" + events[0].id));
  EXPECT_EQ(s.io.received(by_query), SimShard::prelude() + event_bytes(events[1].id, events[1].data) +
                                         event_bytes(events[2].id, events[2].data));
  std::uint32_t both = s.request(subscribe_request("/sse/q?lastEventId=" + events[0].id, events[1].id));
  EXPECT_EQ(s.io.received(both), SimShard::prelude() + event_bytes(events[2].id, events[2].data));
}

TEST(ShardSimResume, GapReasons) {
  Config c = SimShard::base_config();
  c.history = 2;
  SimShard s(c);
  auto events = publish_n(s, "g", 4);  // retained: events[2], events[3]
  struct Case {
    std::string last_id;
    std::string reason;
  } cases[] = {
      {"not-an-id", "malformed"},
      {"1-0", "earlier_run"},
      {events[0].id, "expired"},
      {"99999999999999-0", "unknown"},
  };
  for (const Case& k : cases) {
    std::uint32_t fd = s.request(subscribe_request("/sse/g", k.last_id));
    const std::string& got = s.io.received(fd);
    EXPECT_EQ(gap_of(got), "{\"topic\":\"g\",\"lastEventId\":\"" + k.last_id + "\",\"firstId\":\"" +
                               events[2].id + "\",\"reason\":\"" + k.reason + "\"}")
        << got;
    // After the gap event: the retained events, oldest first, and no id on the gap event.
    EXPECT_NE(got.find("\n\n" + event_bytes(events[2].id, events[2].data) +
                       event_bytes(events[3].id, events[3].data)),
              std::string::npos);
    EXPECT_EQ(got.find("id: ", got.find("event: gap")), got.find("id: " + events[2].id));
  }
  EXPECT_EQ(s.metrics().gap_events.get(), 4u);
}

TEST(ShardSimResume, MultiTopicResumeIsExactForSequentialPublishes) {
  SimShard s;
  std::vector<Published> a, b;
  for (int i = 0; i < 3; ++i) {
    a.push_back(publish_n(s, "ta", 1, i)[0]);
    b.push_back(publish_n(s, "tb", 1, i)[0]);
  }
  // The client last saw a[1]; b[1] was published after a[1], so it must come again.
  std::uint32_t fd = s.request(subscribe_request("/sse?topic=ta&topic=tb", a[1].id));
  const std::string& got = s.io.received(fd);
  EXPECT_EQ(gap_of(got), "");
  EXPECT_EQ(got.find(a[0].data + "\n"), std::string::npos);
  EXPECT_EQ(got.find(a[1].data + "\n"), std::string::npos);
  EXPECT_EQ(got.find(b[0].data + "\n"), std::string::npos);
  EXPECT_NE(got.find(event_bytes(a[2].id, a[2].data)), std::string::npos);
  EXPECT_NE(got.find(event_bytes(b[1].id, b[1].data)), std::string::npos);
  EXPECT_NE(got.find(event_bytes(b[2].id, b[2].data)), std::string::npos);
}

TEST(ShardSimResume, SkipPolicySendsAGapAndJumpsToTheNewest) {
  Config c = SimShard::base_config();
  c.history = 2;
  c.publish_wait_ms = 0;  // no flow control: the history runs past the stream (test_publish_flow.cc)
  c.slow_consumer = SlowConsumerPolicy::skip;
  SimShard s(c);
  std::uint32_t slow = s.subscribe("k");
  s.io.auto_complete = false;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(id_of(s.publish_holding_streams("k", std::to_string(i))));
  }
  // The slow stream's head send finally completes; it fell behind and must skip.
  s.io.auto_complete = true;
  s.settle();
  const std::string& got = s.io.received(slow);
  EXPECT_FALSE(s.io.closed_by_server(slow));
  EXPECT_EQ(gap_of(got), "{\"topic\":\"k\",\"lastEventId\":\"\",\"firstId\":\"" + ids[5] +
                             "\",\"reason\":\"slow_consumer\"}");
  EXPECT_NE(got.find(event_bytes(ids[5], "5")), std::string::npos);
  EXPECT_EQ(got.find("data: 3\n"), std::string::npos);
  EXPECT_EQ(s.metrics().slow_skips.get(), 1u);
}

TEST(ShardSimResume, APartSentEventIsFinishedEvenAfterItLeavesTheHistory) {
  Config c = SimShard::base_config();
  c.history = 1;
  c.slow_consumer = SlowConsumerPolicy::skip;
  SimShard s(c);
  std::uint32_t sub = s.subscribe("p");
  s.io.auto_complete = false;
  std::uint32_t p = s.io.connect();
  s.io.client_write(p, "POST /pub/p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst");
  s.settle();
  // Complete the publisher's reply; write only 3 bytes of the stream's event send.
  complete_sends_of(s.io, p);
  s.settle();
  std::size_t stream_send = 0;
  while (s.io.inflight()[stream_send].fd != sub) ++stream_send;
  const std::string head_and_event = s.io.inflight()[stream_send].bytes;
  s.io.complete_send(stream_send, int(head_and_event.size()) - 4);  // 4 bytes of the event left
  s.settle();
  // The rest of "first" is now in flight. Two more events evict it (and the next) meanwhile.
  for (const char* body : {"p-1", "p-2"}) {
    s.publish_holding_streams("p", body);
  }
  s.io.auto_complete = true;
  s.settle();
  const std::string& got = s.io.received(sub);
  const std::size_t head = SimShard::prelude().size();
  EXPECT_EQ(got.substr(head, head_and_event.size()), head_and_event) << got;  // finished intact
  EXPECT_NE(got.find("event: gap"), std::string::npos) << got;
  EXPECT_EQ(got.find("data: p-1\n"), std::string::npos) << got;  // skipped
  EXPECT_NE(got.find("data: p-2\n"), std::string::npos) << got;  // the newest
}

}  // namespace
}  // namespace ringcast

namespace ringcast {
namespace {

TEST(ShardSimResume, APartSentEventOfOneTopicIsFinishedBeforeAnotherTopicsEvent) {
  // Found by the simulation: a multi-topic stream cut inside an event of one topic must send
  // the rest of that event before any event of its other topics.
  SimShard s;
  std::uint32_t sub = s.request("GET /sse?topic=a&topic=b HTTP/1.1\r\nHost: t\r\n\r\n");
  s.io.auto_complete = false;
  s.publish_holding_streams("a", "first on a");
  s.publish_holding_streams("b", "then b");  // arrives while a's event is in flight
  std::size_t at = 0;
  while (s.io.inflight()[at].fd != sub) ++at;
  const std::string a_send = s.io.inflight()[at].bytes;
  s.io.complete_send(at, int(a_send.size()) - 6);  // 6 bytes of a's event left
  s.settle();
  s.io.auto_complete = true;
  s.settle();
  const std::string& got = s.io.received(sub);
  const std::size_t a_end = got.find("data: first on a\n\n");
  const std::size_t b_at = got.find("data: then b\n\n");
  ASSERT_NE(a_end, std::string::npos) << got;
  ASSERT_NE(b_at, std::string::npos) << got;
  EXPECT_LT(a_end, b_at) << got;
  EXPECT_EQ(got.compare(SimShard::prelude().size(), a_send.size(), a_send), 0) << got;  // intact
}

TEST(ShardSimResume, AResumePointEvictedBeforeTheFirstSendIsAGapNotADrop) {
  Config c = SimShard::base_config();
  c.history = 2;
  c.publish_wait_ms = 0;  // no flow control: the history runs past the stream (test_publish_flow.cc)
  SimShard s(c);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(id_of(s.publish("e", "old" + std::to_string(i))));
  // Publishers and the subscriber connect first; then all their requests land in one pass.
  std::vector<std::uint32_t> pubs;
  for (int i = 0; i < 3; ++i) pubs.push_back(s.io.connect());
  std::uint32_t sub = s.io.connect();
  s.settle();
  s.io.client_write(sub, "GET /sse/e HTTP/1.1\r\nHost: t\r\nLast-Event-ID: " + ids[1] + "\r\n\r\n");
  for (std::uint32_t p : pubs) s.io.client_write(p, "POST /pub/e HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nnew");
  s.settle();
  const std::string& got = s.io.received(sub);
  EXPECT_FALSE(s.io.closed_by_server(sub));
  EXPECT_EQ(s.metrics().drops_slow_consumer.get(), 0u);
  EXPECT_EQ(got.rfind(SimShard::prelude(), 0), 0u) << got;
  EXPECT_NE(got.find("\"reason\":\"expired\""), std::string::npos) << got;
  EXPECT_EQ(got.find("data: old"), std::string::npos) << got;  // evicted: only the new ones
  std::size_t news = 0;
  for (std::size_t at = got.find("data: new\n"); at != std::string::npos; at = got.find("data: new\n", at + 1)) ++news;
  EXPECT_EQ(news, 2u);  // the two retained of the three new events
}

}  // namespace
}  // namespace ringcast

namespace ringcast {
namespace {

// --pass-sends: a fan-out larger than one pass goes on over the next passes, oldest stream
// first, and a request that arrives meanwhile is answered ahead of the streams still queued.
TEST(ShardSimPasses, AFanOutSpansPassesAndARequestGoesFirst) {
  Config config = SimShard::base_config();
  config.pass_sends = 3;
  SimShard s(config);
  std::vector<std::uint32_t> subs;
  for (int i = 0; i < 10; ++i) subs.push_back(s.subscribe("wide"));
  s.io.auto_complete = false;
  const std::uint32_t pub = s.io.connect();
  s.io.client_write(pub, "POST /pub/wide HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
  s.shard->run_once(0);  // reads the publish and starts the first pass of the fan-out
  s.shard->run_once(0);
  const std::size_t after_two = s.io.inflight().size();
  EXPECT_LT(after_two, 11u) << "the fan-out should not have gone out in one pass";
  EXPECT_GT(s.metrics().passes_continued.get(), 0u);
  // A request now: its answer is the next send, ahead of the streams still waiting.
  const std::uint32_t probe = s.io.connect();
  s.io.client_write(probe, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  std::size_t probe_at = SIZE_MAX;
  for (int pass = 0; pass < 20 && probe_at == SIZE_MAX; ++pass) {
    const std::size_t before = s.io.inflight().size();
    s.shard->run_once(0);
    for (std::size_t k = before; k < s.io.inflight().size(); ++k)
      if (s.io.inflight()[k].fd == probe) probe_at = k;
  }
  ASSERT_NE(probe_at, SIZE_MAX) << "the request was never answered";
  std::size_t streams_before_probe = 0;
  for (std::size_t k = 0; k < probe_at; ++k)
    for (std::uint32_t fd : subs) streams_before_probe += s.io.inflight()[k].fd == fd;
  EXPECT_LT(streams_before_probe, subs.size()) << "the answer waited for the whole fan-out";
  // Every stream still gets the event, and in the order the streams were queued.
  s.io.auto_complete = true;
  s.settle(20);
  for (const std::uint32_t fd : subs) {
    EXPECT_NE(s.io.received(fd).find("data: x\n\n"), std::string::npos) << "stream " << fd;
  }
  EXPECT_EQ(s.metrics().deliveries.get(), subs.size());
  EXPECT_NE(s.io.received(probe).find("200"), std::string::npos) << s.io.received(probe);
}

TEST(ShardSimPipeline, PipelinedPublishesAreAnsweredInOrderAndCoalesce) {
  SimShard s;
  std::uint32_t sub = s.subscribe("pp");
  s.io.auto_complete = false;
  std::string requests;
  for (int i = 0; i < 10; ++i)
    requests += "POST /pub/pp HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n" + std::string(1, char('a' + i)) + "!";
  requests += "GET /sse/pp HTTP/1.1\r\nHost: t\r\n\r\n";  // must wait until the ten answers are written
  std::uint32_t p = s.io.connect();
  s.io.client_write(p, requests);
  s.settle();
  // One pass: ten publishes, ten answers in one send, ten events in one send to the stream.
  std::size_t to_publisher = 0, to_stream = 0;
  for (const auto& send : s.io.inflight()) {
    if (send.fd == p) {
      ++to_publisher;
      std::size_t answers = 0;
      for (auto at = send.bytes.find("202 Accepted"); at != std::string::npos;
           at = send.bytes.find("202 Accepted", at + 1))
        ++answers;
      EXPECT_EQ(answers, 10u);
    }
    if (send.fd == sub) {
      ++to_stream;
      EXPECT_NE(send.bytes.find("data: a!\n"), std::string::npos);
      EXPECT_NE(send.bytes.find("data: j!\n"), std::string::npos);
    }
  }
  EXPECT_EQ(to_publisher, 1u);
  EXPECT_EQ(to_stream, 1u);
  s.io.complete_all_sends();
  s.io.auto_complete = true;
  s.settle();
  const std::string& got = s.io.received(p);
  std::vector<std::string> ids;
  for (auto at = got.find("\"id\":\""); at != std::string::npos; at = got.find("\"id\":\"", at + 1))
    ids.push_back(got.substr(at + 6, got.find('"', at + 6) - at - 6));
  ASSERT_EQ(ids.size(), 10u);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EventId a, b;
    ASSERT_TRUE(parse_event_id(ids[i - 1], a) && parse_event_id(ids[i], b));
    EXPECT_LT(a, b);
  }
  // The subscribe after them became a stream once the answers were out.
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  EXPECT_EQ(s.metrics().streams.get(), 2u);
}

}  // namespace
}  // namespace ringcast
