// The publishing side without sockets: answers from each peer and several per read
// (pipelining), the publish sequence under refusals and lost connections, and the options.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/load/http_response.h"
#include "tools/load/options.h"
#include "tools/load/publish_sequence.h"

namespace ringcast::load {
namespace {

const std::string kNchanAck =
    "HTTP/1.1 202 Accepted\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 17:12:12 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n"
    "queued messages: 1\r\nlast requested: 1 sec. ago\r\nactive subscribers: 1\r\n"
    "last message id: 1795453932:0";
const std::string kNodeAck =
    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 36\r\n"
    "Date: Mon, 23 Nov 2026 17:12:15 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=120\r\n\r\n"
    "{\"topic\":\"x\",\"id\":\"1795453935171-0\"}";

// Feeds `text` in pieces of `chunk` bytes, taking every whole response out as it goes.
std::vector<HttpResponse> take_all(const std::string& text, std::size_t chunk, std::vector<std::string>& bodies) {
  ResponseReader reader;
  std::vector<HttpResponse> out;
  std::string_view rest(text);
  while (!rest.empty()) {
    std::string_view piece = rest.substr(0, chunk);
    rest.remove_prefix(piece.size());
    while (!piece.empty()) {
      piece.remove_prefix(reader.feed(piece));
      HttpResponse r;
      ReadStatus st;
      while ((st = reader.parse(r)) == ReadStatus::complete) {
        out.push_back(r);
        bodies.emplace_back(r.body);
        reader.consume(r);
      }
      if (st != ReadStatus::incomplete) {
        ADD_FAILURE() << "read status " << int(st);
        return out;
      }
    }
  }
  EXPECT_EQ(reader.buffered(), 0u);
  return out;
}

TEST(ResponseReader, PeersAnswersPipelinedInEveryPieceSize) {
  std::string stream;
  for (int i = 0; i < 20; ++i) stream += i % 2 ? kNchanAck : kNodeAck;  // > the 4 KiB buffer
  stream += "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  stream += "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\n\r\nno\n";
  ASSERT_GT(stream.size(), ResponseReader::kCapacity);
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(300), stream.size()}) {
    SCOPED_TRACE(chunk);
    std::vector<std::string> bodies;
    const auto rs = take_all(stream, chunk, bodies);
    ASSERT_EQ(rs.size(), 22u);
    EXPECT_TRUE(rs[0].accepted());
    EXPECT_EQ(bodies[1].substr(0, 16), "queued messages:");
    EventId id;
    EXPECT_TRUE(id_from_ack(bodies[0], id));
    EXPECT_FALSE(id_from_ack(bodies[1], id));  // nchan's body has no JSON id (--ids opaque)
    EXPECT_EQ(rs[20].status, 201);
    EXPECT_TRUE(rs[20].accepted());
    EXPECT_EQ(rs[21].status, 503);
    EXPECT_FALSE(rs[21].accepted());
  }
}

TEST(ResponseReader, InterimChunkedAndOversized) {
  ResponseReader reader;
  HttpResponse r;
  reader.feed("HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_EQ(reader.parse(r), ReadStatus::complete);
  EXPECT_TRUE(r.interim());
  EXPECT_FALSE(r.accepted());
  reader.consume(r);
  reader.feed("HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(reader.parse(r), ReadStatus::unsupported);
  ResponseReader full;
  const std::string big(ResponseReader::kCapacity + 10, 'x');
  EXPECT_EQ(full.feed(big), ResponseReader::kCapacity);
  EXPECT_TRUE(full.full());
  EXPECT_EQ(full.parse(r), ReadStatus::too_large);
}

std::vector<PublishRequest> issue_all(PublishSequence& s) {
  std::vector<PublishRequest> out;
  PublishRequest r;
  while (s.issue(0, r)) out.push_back(r);
  return out;
}

TEST(PublishSequence, PipelinedInOrderRoundRobin) {
  PublishSequence s(2, 3, 4);  // two topics, three events each, four in flight
  auto first = issue_all(s);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0].pos, 0u);
  EXPECT_EQ(first[1].pos, 1u);
  EXPECT_EQ(first[2].k, 2u);
  std::uint64_t holes = 9;
  EXPECT_EQ(s.answer(true, holes).k, 1u);
  EXPECT_EQ(holes, 0u);
  EXPECT_EQ(issue_all(s).size(), 1u);  // one answer, one more request
  while (s.in_flight() > 0) {
    s.answer(true, holes);
    issue_all(s);
  }
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.acked(0), 3u);
  EXPECT_EQ(s.acked(1), 3u);
  EXPECT_EQ(s.acked_total(), 6u);
}

TEST(PublishSequence, RefusalStallsThenResendsInOrder) {
  PublishSequence s(1, 0, 4);
  ASSERT_EQ(issue_all(s).size(), 4u);  // k = 1..4
  std::uint64_t holes = 0;
  s.answer(true, holes);               // 1 accepted
  s.answer(false, holes);              // 2 refused (503)
  EXPECT_TRUE(s.stalled());
  EXPECT_TRUE(issue_all(s).empty());   // nothing new behind a refusal
  s.answer(false, holes);              // 3, 4 refused too (the usual case: same cause)
  s.answer(false, holes);
  EXPECT_FALSE(s.stalled());
  const auto again = issue_all(s);
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again[0].k, 2u);           // resumes at the first refused k
  EXPECT_EQ(s.acked(0), 1u);
}

TEST(PublishSequence, AcceptedPastARefusalIsAHole) {
  PublishSequence s(1, 0, 3);
  issue_all(s);  // 1, 2, 3
  std::uint64_t holes = 0;
  s.answer(false, holes);  // 1 refused
  s.answer(true, holes);   // 2 accepted: 1 can no longer arrive in order
  EXPECT_EQ(holes, 1u);
  s.answer(true, holes);
  EXPECT_EQ(holes, 0u);
  const auto next = issue_all(s);
  EXPECT_EQ(next.front().k, 4u);  // continues after the highest accepted k
}

TEST(PublishSequence, LostConnectionResendsUnanswered) {
  PublishSequence s(2, 2, 8);
  EXPECT_EQ(issue_all(s).size(), 4u);  // every event issued
  std::uint64_t holes = 0;
  s.answer(true, holes);               // topic 0, k 1
  EXPECT_EQ(s.abandon(), 3u);
  const auto again = issue_all(s);     // each topic from its first k not acknowledged
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].pos, 0u);
  EXPECT_EQ(again[0].k, 2u);
  EXPECT_EQ(again[1].pos, 1u);
  EXPECT_EQ(again[1].k, 1u);
  EXPECT_EQ(again[2].k, 2u);
  EXPECT_EQ(s.acked(0), 1u);
  EXPECT_EQ(s.acked(1), 0u);
  EXPECT_EQ(s.abandon(), 3u);
  EXPECT_EQ(s.abandon(), 0u);
}

TEST(PublishSequence, DepthOneRetriesTheSameEvent) {
  PublishSequence s(1, 5, 1);
  PublishRequest r;
  ASSERT_TRUE(s.issue(0, r));
  EXPECT_FALSE(s.issue(0, r));
  std::uint64_t holes = 0;
  s.answer(false, holes);
  ASSERT_TRUE(s.issue(0, r));
  EXPECT_EQ(r.k, 1u);
}

int parse(std::vector<std::string> args, Options& o) {
  args.insert(args.begin(), "ringcast-load");
  args.push_back("--quiet");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_options(int(argv.size()), argv.data(), o);
}

TEST(Options, PeerFlags) {
  Options o;
  ASSERT_EQ(parse({"run"}, o), 0);
  EXPECT_EQ(o.sub_path, "/sse/");
  EXPECT_EQ(o.pub_path, "/pub/");
  EXPECT_EQ(o.ids, IdMode::ringcast);
  EXPECT_EQ(o.pipeline, 1u);
  ASSERT_EQ(parse({"run", "--sub-path", "/sub?id=", "--pub-path", "/p/", "--ids", "opaque", "--pipeline", "16"}, o), 0);
  EXPECT_EQ(o.sub_path, "/sub?id=");
  EXPECT_EQ(o.ids, IdMode::opaque);
  EXPECT_EQ(o.pipeline, 16u);
  for (const char* bad : {"sse/", "/a b", "/a#", "", "/\x7f"}) EXPECT_EQ(parse({"run", "--sub-path", bad}, o), 2) << bad;
  EXPECT_EQ(parse({"run", "--sub-path", "/" + std::string(kPathMax, 'a')}, o), 2);
  EXPECT_EQ(parse({"run", "--ids", "nchan"}, o), 2);
  EXPECT_EQ(parse({"run", "--pipeline", "0"}, o), 2);
  EXPECT_EQ(parse({"run", "--publishers", "64", "--pipeline", "1024", "--event-bytes", "1048576"}, o), 2);
}

TEST(Options, PublishersClampedToTopics) {
  Options o;
  ASSERT_EQ(parse({"run", "--topics", "2", "--publishers", "8", "--pipeline", "4"}, o), 0);
  EXPECT_EQ(o.publishers, 2u);  // one publisher per topic keeps its k in order
}

TEST(Options, StormChurn) {
  Options o;
  ASSERT_EQ(parse({"storm", "--streams", "10", "--drop", "10"}, o), 0);
  EXPECT_EQ(o.churn_per_s, 0.0);  // one drop
  ASSERT_EQ(parse({"storm", "--streams", "10", "--drop", "10", "--churn", "10000", "--duration", "3"}, o), 0);
  EXPECT_EQ(o.churn_per_s, 10000.0);
  EXPECT_EQ(o.duration_s, 3.0);
  EXPECT_EQ(parse({"run", "--churn", "5"}, o), 2);  // a storm flag
  for (const char* bad : {"0", "-1", "x", "1e8"})
    EXPECT_EQ(parse({"storm", "--streams", "10", "--drop", "10", "--churn", bad}, o), 2) << bad;
}

}  // namespace
}  // namespace ringcast::load
