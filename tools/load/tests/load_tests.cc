// Unit tests of ringcast-load's IO-free parts: the SSE parser (split at every byte), the
// delivery check, the histogram, the publisher's response reader, ids and source addresses.
// The peers' formats (nchan, Node) and publishing are in sse_peer_tests.cc, publish_tests.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tools/load/event_check.h"
#include "tools/load/event_id.h"
#include "tools/load/histogram.h"
#include "tools/load/http_response.h"
#include "tools/load/source_plan.h"
#include "tools/load/sse_parser.h"

namespace ringcast::load {
namespace {

struct Seen {
  int status = 0;
  std::vector<SseEvent> events;
  std::vector<std::uint32_t> retries;
  int comments = 0;
};

// Feeds `text` in pieces of at most `chunk` bytes, collecting what the parser reports.
Seen parse(const std::string& text, std::size_t chunk) {
  SseParser p;
  Seen seen;
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    std::string_view in(text.data() + at, std::min(chunk, text.size() - at));
    for (int guard = 0; guard < 10000; ++guard) {
      const SseStep step = p.next(in);
      if (step == SseStep::need_more) break;
      if (step == SseStep::head) seen.status = p.status();
      if (step == SseStep::event) seen.events.push_back(p.event());
      if (step == SseStep::retry) seen.retries.push_back(p.retry_ms());
      if (step == SseStep::comment) ++seen.comments;
    }
    EXPECT_TRUE(in.empty());
  }
  return seen;
}

const std::string kHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\nConnection: keep-alive\r\n\r\nretry: 3417\n\n";

const std::string kStream = kHead +
    "id: 1795450520683-0\ndata: seq=1 t=123456789 topic=news\n\n"
    ": ping\n\n"
    "event: gap\ndata: {\"topic\":\"news\",\"lastEventId\":\"x\",\"firstId\":\"\",\"reason\":\"malformed\"}\n\n"
    "id: 1795450520683-17\ndata: seq=2 t=987 topic=news pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\n"
    "id: 1795450520690-0\nevent: message\ndata:seq=3 t=5 topic=news\n\n";

void expect_stream(const Seen& s) {
  EXPECT_EQ(s.status, 200);
  ASSERT_EQ(s.retries.size(), 1u);
  EXPECT_EQ(s.retries[0], 3417u);
  EXPECT_EQ(s.comments, 1);
  ASSERT_EQ(s.events.size(), 4u);
  const SseEvent& a = s.events[0];
  EXPECT_EQ(a.kind, SseKind::message);
  EXPECT_TRUE(a.has(sse_field::id_valid));
  EXPECT_EQ(a.id.ms, 1795450520683u);
  EXPECT_EQ(a.id.n, 0u);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(a.sent_ns, 123456789u);
  EXPECT_EQ(a.topic_hash, topic_hash("news"));
  EXPECT_EQ(s.events[1].kind, SseKind::gap);
  EXPECT_FALSE(s.events[1].has(sse_field::id));
  EXPECT_EQ(s.events[2].id.n, 17u);
  EXPECT_EQ(s.events[2].seq, 2u);
  EXPECT_EQ(s.events[2].sent_ns, 987u);
  EXPECT_EQ(s.events[2].topic_hash, topic_hash("news"));
  EXPECT_FALSE(s.events[2].has(sse_field::malformed));
  EXPECT_EQ(s.events[3].kind, SseKind::message);
  EXPECT_EQ(s.events[3].seq, 3u);
}

TEST(SseParser, WholeStream) { expect_stream(parse(kStream, kStream.size())); }

TEST(SseParser, EverySplitSize) {
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) expect_stream(parse(kStream, chunk));
}

TEST(SseParser, EverySplitPoint) {
  // Two reads split at each byte.
  for (std::size_t at = 1; at < kStream.size(); ++at) {
    SseParser p;
    Seen seen;
    for (std::string_view in : {std::string_view(kStream).substr(0, at), std::string_view(kStream).substr(at)}) {
      for (int guard = 0; guard < 1000; ++guard) {
        const SseStep step = p.next(in);
        if (step == SseStep::need_more) break;
        if (step == SseStep::head) seen.status = p.status();
        if (step == SseStep::event) seen.events.push_back(p.event());
        if (step == SseStep::retry) seen.retries.push_back(p.retry_ms());
        if (step == SseStep::comment) ++seen.comments;
      }
    }
    expect_stream(seen);
  }
}

TEST(SseParser, CrAndCrlfLineEndings) {
  std::string crlf, cr;
  for (char c : kStream.substr(kHead.size())) {
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    cr += c == '\n' ? '\r' : c;
  }
  for (const std::string& body : {crlf, cr}) {
    for (std::size_t chunk : {std::size_t(1), std::size_t(7), body.size()}) {
      expect_stream(parse(kHead + body, chunk));
    }
  }
}

TEST(SseParser, RejectedHead) {
  const Seen s = parse("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 4\r\n\r\n", 3);
  EXPECT_EQ(s.status, 503);
}

TEST(SseParser, InvalidIdsAndNumbers) {
  const Seen s = parse(kHead +
                           "id: 12\ndata: seq=1 t=1 topic=a\n\n"
                           "id: 12-x\ndata: seq=1x t=1 topic=a\n\n"
                           "id\ndata\n\n"
                           "id: 99999999999999999999999-1\ndata: seq=2\n\n",
                       5);
  ASSERT_EQ(s.events.size(), 4u);
  EXPECT_TRUE(s.events[0].has(sse_field::id));
  EXPECT_FALSE(s.events[0].has(sse_field::id_valid));
  EXPECT_FALSE(s.events[1].has(sse_field::id_valid));
  EXPECT_TRUE(s.events[1].has(sse_field::malformed));
  EXPECT_FALSE(s.events[2].has(sse_field::id_valid));
  EXPECT_EQ(s.events[2].data_lines, 1u);
  EXPECT_FALSE(s.events[3].has(sse_field::id_valid));
  EXPECT_FALSE(s.events[3].has(sse_field::topic));
}

TEST(SseParser, BlankLinesWithoutDataDispatchNothing) {
  const Seen s = parse(kHead + "\n\n\nid: 1-1\n\nevent: other\ndata: x\n\n", 2);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].kind, SseKind::other);
}

TEST(EventCheck, InOrderLossDuplicateReorder) {
  TopicTrack t;
  CheckTally tally;
  EXPECT_EQ(track_seq(t, 1, true, tally), Delivery::fresh);
  EXPECT_EQ(track_seq(t, 2, true, tally), Delivery::fresh);
  EXPECT_EQ(track_seq(t, 5, true, tally), Delivery::fresh);  // 3, 4 lost
  EXPECT_EQ(tally.lost, 2u);
  EXPECT_EQ(track_seq(t, 4, true, tally), Delivery::late);   // 4 was late, not lost
  EXPECT_EQ(tally.lost, 1u);
  EXPECT_EQ(tally.reordered, 1u);
  EXPECT_EQ(track_seq(t, 4, true, tally), Delivery::duplicate);
  EXPECT_EQ(track_seq(t, 5, true, tally), Delivery::duplicate);
  EXPECT_EQ(tally.duplicates, 2u);
  EXPECT_EQ(tally.delivered, 4u);
  EXPECT_EQ(track_seq(t, 500, true, tally), Delivery::fresh);
  EXPECT_EQ(track_seq(t, 100, true, tally), Delivery::duplicate);  // beyond the window
}

TEST(EventCheck, FromZeroCountsMissingStart) {
  TopicTrack t;
  CheckTally tally;
  track_seq(t, 3, true, tally);
  EXPECT_EQ(tally.lost, 2u);
  TopicTrack u;
  CheckTally baseline;
  track_seq(u, 3, false, baseline);
  track_seq(u, 4, false, baseline);
  EXPECT_EQ(baseline.lost, 0u);
}

TEST(EventCheck, IdsMustIncrease) {
  TopicTrack t;
  CheckTally tally;
  track_id(t, EventId{10, 0}, tally);
  track_id(t, EventId{10, 1}, tally);
  track_id(t, EventId{9, 5}, tally);
  track_id(t, EventId{9, 5}, tally);
  EXPECT_EQ(tally.id_regressions, 2u);
  EXPECT_EQ(t.last_id, (EventId{9, 5}));
}

TEST(EventId, ParseFormatCompare) {
  EventId id;
  ASSERT_TRUE(parse_event_id("1795450520683-12", id));
  EXPECT_EQ(id.ms, 1795450520683u);
  EXPECT_EQ(id.n, 12u);
  char buf[kEventIdMax];
  EXPECT_EQ(std::string(buf, format_event_id(id, buf)), "1795450520683-12");
  for (const char* bad : {"", "-", "1-", "-1", "1--1", "a-1", "1-1 ", "+1-1", "1-99999999999"})
    EXPECT_FALSE(parse_event_id(bad, id)) << bad;
  EXPECT_LT((EventId{9, 0}), (EventId{10, 0}));
  EXPECT_LT((EventId{10, 2}), (EventId{10, 10}));
}

TEST(Histogram, BucketsRoundTrip) {
  for (std::uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 1000ull, 123456789ull, ~0ull}) {
    const int b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBuckets);
    EXPECT_GE(v, Histogram::bucket_low(b));
    EXPECT_LT(v - Histogram::bucket_low(b), Histogram::bucket_width(b));
  }
}

TEST(Histogram, Quantiles) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_NEAR(double(h.quantile(0.5)), 50e6, 50e6 * 0.02);
  EXPECT_NEAR(double(h.quantile(0.99)), 99e6, 99e6 * 0.02);
  Histogram merged;
  merged.merge(h);
  merged.merge(h);
  EXPECT_EQ(merged.count(), 200000u);
  EXPECT_EQ(merged.quantile(0.5), h.quantile(0.5));
}

TEST(ResponseReader, AckInPieces) {
  const std::string r =
      "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 38\r\n"
      "Cache-Control: no-store\r\n\r\n{\"topic\":\"t0\",\"id\":\"1795450520683-3\"}\n";
  ResponseReader reader;
  HttpResponse out;
  for (std::size_t i = 0; i + 1 < r.size(); ++i) {
    ASSERT_EQ(reader.feed(std::string_view(r).substr(i, 1)), 1u);
    ASSERT_EQ(reader.parse(out), ReadStatus::incomplete) << i;
  }
  ASSERT_EQ(reader.feed(std::string_view(r).substr(r.size() - 1)), 1u);
  ASSERT_EQ(reader.parse(out), ReadStatus::complete);
  EXPECT_EQ(out.status, 202);
  EXPECT_TRUE(out.accepted());
  EXPECT_FALSE(out.close);
  EventId id;
  ASSERT_TRUE(id_from_ack(out.body, id));
  EXPECT_EQ(id, (EventId{1795450520683u, 3}));
  reader.consume(out);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ResponseReader, ErrorWithClose) {
  ResponseReader reader;
  reader.feed("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 3\r\n\r\nno\n");
  HttpResponse out;
  ASSERT_EQ(reader.parse(out), ReadStatus::complete);
  EXPECT_EQ(out.status, 503);
  EXPECT_TRUE(out.close);
  ResponseReader bad;
  bad.feed("garbage\r\n\r\n");
  EXPECT_EQ(bad.parse(out), ReadStatus::malformed);
}

TEST(SourcePlan, DistinctPairsAvoidingTargetPort) {
  SourcePlan plan(12345, 1000, 20005);
  std::set<std::pair<std::uint32_t, std::uint16_t>> seen;
  for (std::uint64_t c = 0; c < 1000; ++c) {
    for (std::uint32_t a = 0; a < 3; ++a) {
      const sockaddr_in sa = plan.source(c, a);
      const std::uint32_t ip = ntohl(sa.sin_addr.s_addr);
      EXPECT_EQ(ip >> 24, 127u);
      EXPECT_GE((ip >> 16) & 0xff, 1u);
      EXPECT_NE(ntohs(sa.sin_port), 20005);
      EXPECT_TRUE(seen.insert({ip, ntohs(sa.sin_port)}).second);
    }
  }
}

}  // namespace
}  // namespace ringcast::load
