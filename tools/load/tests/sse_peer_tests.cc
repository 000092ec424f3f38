// The SSE parser against the benchmark peers' wire formats: nchan's head and opaque ids, the
// Node peer's chunked body. Every input is also fed split at every byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/load/opaque_id.h"
#include "tools/load/sse_parser.h"

namespace ringcast::load {
namespace {

struct Heard {
  int status = 0;
  bool event_stream = false, chunked = false, unknown_coding = false;
  std::vector<SseEvent> events;
  std::vector<std::string> ids;  // capture mode: each event's id as it stood at dispatch
  int comments = 0, retries = 0, ended = 0, malformed = 0;
};

// Feeds `pieces` in order; with `capture`, ids come out as bytes into an OpaqueId.
Heard hear(const std::vector<std::string_view>& pieces, bool capture) {
  SseParser p;
  Heard h;
  OpaqueId id;
  std::string_view piece;
  for (std::string_view in : pieces) {
    for (int guard = 0; guard < 100000 && !in.empty(); ++guard) {
      switch (p.next(in, capture ? &piece : nullptr)) {
        case SseStep::need_more: break;
        case SseStep::head:
          h.status = p.status();
          h.event_stream = p.event_stream();
          h.chunked = p.chunked();
          h.unknown_coding = p.unknown_coding();
          break;
        case SseStep::event:
          id.commit();
          h.events.push_back(p.event());
          h.ids.emplace_back(id.last());
          break;
        case SseStep::retry: ++h.retries; break;
        case SseStep::comment: ++h.comments; break;
        case SseStep::id_begin: id.begin(); break;
        case SseStep::id_bytes: id.append(piece); break;
        case SseStep::ended: ++h.ended; break;
        case SseStep::malformed: ++h.malformed; break;
      }
    }
    EXPECT_TRUE(in.empty());
  }
  return h;
}

// Whole, then split in two at every byte.
template <class Check>
void every_split(const std::string& text, bool capture, Check check) {
  check(hear({text}, capture));
  for (std::size_t at = 1; at < text.size(); ++at) {
    SCOPED_TRACE(at);
    const std::string_view all(text);
    check(hear({all.substr(0, at), all.substr(at)}, capture));
  }
}

const std::string kNchan =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 17:12:11 GMT\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\nConnection: keep-alive\r\n\r\n"
    ": hi\n\n"
    "id: 1795453932:0\ndata: seq=1 t=5 topic=t0\n\n"
    "id: 1795453932:1\ndata: seq=2 t=6 topic=t0\n\n";

TEST(SsePeers, NchanHeadCommentAndOpaqueIds) {
  every_split(kNchan, true, [](const Heard& h) {
    EXPECT_EQ(h.status, 200);
    EXPECT_TRUE(h.event_stream);
    EXPECT_FALSE(h.chunked);
    EXPECT_EQ(h.comments, 1);
    EXPECT_EQ(h.retries, 0);  // no retry: line; the head alone establishes the stream
    ASSERT_EQ(h.events.size(), 2u);
    EXPECT_EQ(h.ids[0], "1795453932:0");
    EXPECT_EQ(h.ids[1], "1795453932:1");
    EXPECT_EQ(h.events[1].seq, 2u);
    EXPECT_TRUE(h.events[1].has(sse_field::id));
    EXPECT_FALSE(h.events[1].has(sse_field::id_valid));  // bytes, never parsed
  });
}

TEST(SsePeers, NchanIdsWithoutCaptureAreInvalidRingcastIds) {
  const Heard h = hear({kNchan}, false);
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_TRUE(h.events[0].has(sse_field::id));
  EXPECT_FALSE(h.events[0].has(sse_field::id_valid));
  EXPECT_EQ(h.events[0].seq, 1u);
}

TEST(SsePeers, CapturedIdsFollowEventSourceRules) {
  // An id persists to later events without one; "id" with no value clears it; a lone id
  // without data dispatches nothing and so changes nothing yet.
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                           "id:  a b\ndata: seq=1\n\n"
                           "data: seq=2\n\n"
                           "id: c\n\n"
                           "id\ndata: seq=3\n\n";
  every_split(text, true, [](const Heard& h) {
    ASSERT_EQ(h.events.size(), 3u);
    EXPECT_EQ(h.ids[0], " a b");  // one leading space dropped, the rest kept
    EXPECT_EQ(h.ids[1], " a b");
    EXPECT_EQ(h.ids[2], "");
  });
}

TEST(SsePeers, HeadContentTypes) {
  auto head = [](const std::string& headers) {
    return hear({"HTTP/1.1 200 OK\r\n" + headers + "\r\n"}, false);
  };
  EXPECT_TRUE(head("Content-Type: text/event-stream\r\n").event_stream);
  EXPECT_TRUE(head("content-TYPE:TEXT/Event-Stream ; charset=utf-8\r\n").event_stream);
  EXPECT_TRUE(head("Content-Type: text/event-stream  \r\n").event_stream);
  EXPECT_FALSE(head("Content-Type: text/plain\r\n").event_stream);
  EXPECT_FALSE(head("Content-Type: text/event-streams\r\n").event_stream);
  EXPECT_FALSE(head("X-Content-Type: text/event-stream\r\n").event_stream);
  EXPECT_FALSE(head("Content-Type : text/event-stream\r\n").event_stream);
  EXPECT_FALSE(head("").event_stream);
  const Heard te = head("Transfer-Encoding: Chunked\r\nContent-Type: text/event-stream\r\n");
  EXPECT_TRUE(te.chunked);
  EXPECT_FALSE(te.unknown_coding);
  EXPECT_TRUE(head("Transfer-Encoding: gzip\r\n").unknown_coding);
  EXPECT_TRUE(head("Transfer-Encoding: chunked, gzip\r\n").unknown_coding);
  EXPECT_TRUE(head("Transfer-Encoding:\r\n").unknown_coding);
}

// The Node peer's bytes, as captured: one chunk per res.write.
const std::string kNodeHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "Connection: keep-alive\r\nX-Accel-Buffering: no\r\nDate: Mon, 23 Nov 2026 17:12:14 GMT\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";
const std::string kNodeBody =
    "d\r\nretry: 3000\n\n\r\n"
    "23\r\nid: 1795453935171-0\ndata: seq=1 a\n\n\r\n"
    "23\r\nid: 1795453935172-0\ndata: seq=2 b\n\n\r\n";

void expect_node(const Heard& h, bool captured) {
  EXPECT_TRUE(h.chunked);
  EXPECT_EQ(h.retries, 1);
  EXPECT_EQ(h.malformed, 0);
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[0].seq, 1u);
  EXPECT_EQ(h.events[1].seq, 2u);
  if (captured) EXPECT_EQ(h.ids[1], "1795453935172-0");
  else EXPECT_EQ(h.events[1].id, (EventId{1795453935172u, 0}));
  EXPECT_EQ(h.events[1].data_lines, 1u);
}

TEST(SsePeers, NodeChunkedBody) {
  every_split(kNodeHead + kNodeBody, false, [](const Heard& h) { expect_node(h, false); });
  every_split(kNodeHead + kNodeBody, true, [](const Heard& h) { expect_node(h, true); });
}

// The same events re-chunked with chunks of every size from 1 byte, so that chunk framing
// falls inside ids, payloads and line ends; with extensions and bare-LF framing too.
TEST(SsePeers, ChunkBoundariesAnywhere) {
  const std::string events = "retry: 3000\n\nid: 1795453935171-0\ndata: seq=1 a\n\n"
                             "id: 1795453935172-0\ndata: seq=2 b\n\n";
  for (std::size_t size = 1; size <= events.size(); ++size) {
    SCOPED_TRACE(size);
    std::string body;
    for (std::size_t at = 0; at < events.size(); at += size) {
      const std::string part = events.substr(at, size);
      char hex[16];
      std::snprintf(hex, sizeof hex, size % 2 ? "%zx" : "%zX", part.size());
      body += hex + std::string(size % 3 == 0 ? ";ext=1\r\n" : size % 3 == 1 ? "\r\n" : "\n");
      body += part + (size % 3 == 2 ? "\n" : "\r\n");
    }
    expect_node(hear({kNodeHead + body}, false), false);
    expect_node(hear({kNodeHead, body}, true), true);
  }
}

TEST(SsePeers, ChunkedEndAndBrokenFraming) {
  Heard h = hear({kNodeHead + kNodeBody + "0\r\n\r\nid: 9-9\ndata: seq=9\n\n"}, false);
  EXPECT_EQ(h.ended, 1);
  EXPECT_EQ(h.events.size(), 2u);  // nothing after the last chunk is parsed
  for (const char* bad : {"zz\r\n", "5\rx", "3\r\nabcX", "\r\n", "fffffffff\r\n"}) {
    SCOPED_TRACE(bad);
    h = hear({kNodeHead + kNodeBody + bad + "23\r\nid: 1795453935172-1\ndata: seq=3 c\n\n\r\n"}, false);
    EXPECT_EQ(h.malformed, 1);
    EXPECT_EQ(h.events.size(), 2u);
  }
}

TEST(OpaqueIdStore, BoundsAndRestart) {
  OpaqueId id;
  id.begin();
  id.append("1795453536:");
  id.append("0");
  EXPECT_TRUE(id.commit());
  EXPECT_EQ(id.last(), "1795453536:0");
  id.begin();
  id.append(std::string(OpaqueId::kMax, 'x'));
  EXPECT_TRUE(id.commit());
  EXPECT_EQ(id.last().size(), OpaqueId::kMax);
  id.begin();
  id.append(std::string(OpaqueId::kMax, 'y'));
  id.append("y");  // one past the bound: unusable, the last id stays
  EXPECT_FALSE(id.commit());
  EXPECT_EQ(id.last(), std::string(OpaqueId::kMax, 'x'));
  id.begin();
  id.append(std::string_view("a\0b", 3));
  EXPECT_FALSE(id.commit());
  id.restart();  // a new connection: an event without an id keeps the last one
  EXPECT_TRUE(id.commit());
  EXPECT_EQ(id.last(), std::string(OpaqueId::kMax, 'x'));
}

}  // namespace
}  // namespace ringcast::load
