// --batch without sockets: the NDJSON body (payloads as JSON strings), the batch answer's
// decoder, the publish sequence with several events per request, and the options that size
// the buffers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/load/event_id.h"
#include "tools/load/http_response.h"
#include "tools/load/options.h"
#include "tools/load/publish_body.h"
#include "tools/load/publish_sequence.h"

namespace ringcast::load {
namespace {

std::string escaped(std::string_view s) {
  std::string out(json_escaped_size(s), '?');
  EXPECT_EQ(write_json_escaped(out.data(), s), out.size());
  return out;
}

std::string line(std::string_view topic, std::string_view data, std::string_view event = {}) {
  std::string out(ndjson_line_size(topic, data, event), '?');
  EXPECT_EQ(write_ndjson_line(out.data(), topic, data, event), out.size());
  return out;
}

TEST(PublishBody, JsonEscapes) {
  EXPECT_EQ(escaped("seq=1 t=2 topic=t0"), "seq=1 t=2 topic=t0");
  EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(escaped("x\ny\rz\t"), "x\\ny\\rz\\t");
  EXPECT_EQ(escaped(std::string_view("\x01\x1f\x7f", 3)), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(escaped(std::string_view("\0", 1)), "\\u0000");
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 as it is
  EXPECT_EQ(escaped("</script>"), "</script>");
}

TEST(PublishBody, NdjsonLines) {
  EXPECT_EQ(line("t0", "seq=1 t=5 topic=t0"), "{\"topic\":\"t0\",\"data\":\"seq=1 t=5 topic=t0\"}\n");
  EXPECT_EQ(line("t1", "a \"quoted\"\nline", "tick"),
            "{\"topic\":\"t1\",\"data\":\"a \\\"quoted\\\"\\nline\",\"event\":\"tick\"}\n");
  // One line per event: no raw newline inside a line, whatever the data holds.
  const std::string l = line("t0", "1\n2\n3");
  EXPECT_EQ(l.find('\n'), l.size() - 1);
}

TEST(PublishBody, PayloadAndPadding) {
  char buf[4096];
  std::string p(buf, write_payload(buf, "t7", 12, 345, 0));
  EXPECT_EQ(p, "seq=12 t=345 topic=t7");
  p.assign(buf, write_payload(buf, "t7", 12, 345, 100));
  EXPECT_EQ(p.size(), 100u);
  EXPECT_EQ(p.substr(0, 26), "seq=12 t=345 topic=t7 pad=");
  EXPECT_EQ(p.back(), 'x');
  EXPECT_LE(write_payload(buf, std::string(kTopicNameMax, 'n'), ~0ull, ~0ull, 0),
            payload_bytes_max(kTopicNameMax, 0));
}

const std::string kAck3 =
    "{\"events\":[{\"topic\":\"t0\",\"id\":\"1795450520683-3\"},{\"topic\":\"t1\",\"id\":\"1795450520683-4\"},"
    "{\"topic\":\"t0\",\"id\":\"1795450520684-0\"}]}\n";

TEST(BatchAck, EntriesInOrder) {
  BatchAckEntry e[4];
  std::size_t n = 99;
  ASSERT_EQ(parse_batch_ack(kAck3, e, 4, n), BatchAckStatus::ok);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(e[0].topic, "t0");
  EXPECT_EQ(e[1].topic, "t1");
  EventId id;
  ASSERT_TRUE(parse_event_id(e[2].id, id));
  EXPECT_EQ(id, (EventId{1795450520684u, 0}));
  EXPECT_EQ(parse_batch_ack(kAck3, e, 2, n), BatchAckStatus::too_many);
}

TEST(BatchAck, WhitespaceOrderAndOtherMembers) {
  const std::string body =
      " {\n \"count\": 2, \"events\" : [ { \"id\" : \"1-0\", \"topic\" : \"a\", \"extra\": {\"x\":[1,true,null]} } ,\n"
      "  {\"topic\":\"b\\\"q\",\"id\":\"1-1\"} ] , \"note\":\"ok\" }\r\n";
  BatchAckEntry e[2];
  std::size_t n = 0;
  ASSERT_EQ(parse_batch_ack(body, e, 2, n), BatchAckStatus::ok);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(e[0].id, "1-0");
  EXPECT_EQ(e[0].topic, "a");
  EXPECT_EQ(e[1].topic, "b\\\"q");  // escapes are left in
  ASSERT_EQ(parse_batch_ack("{\"events\":[]}", e, 2, n), BatchAckStatus::ok);
  EXPECT_EQ(n, 0u);
}

TEST(BatchAck, MalformedBodies) {
  BatchAckEntry e[4];
  std::size_t n = 0;
  for (const char* bad : {"", "{}", "[]", "{\"events\":{}}", "{\"events\":[{\"topic\":\"t0\"}]}",
                          "{\"events\":[{\"id\":\"1-0\"}]}", "{\"events\":[{\"topic\":\"t0\",\"id\":1}]}",
                          "{\"events\":[{\"topic\":\"t0\",\"id\":\"1-0\"}", "{\"events\":[{}]}",
                          "{\"events\":[{\"topic\":\"t0\",\"id\":\"1-0\"},]}", "{\"topic\":\"t0\",\"id\":\"1-0\"}",
                          "{\"events\":[]} trailing", "{\"events\":[{\"topic\":\"t\n0\",\"id\":\"1-0\"}]}",
                          "line 3: data is not a string\n"})
    EXPECT_EQ(parse_batch_ack(bad, e, 4, n), BatchAckStatus::malformed) << bad;
  // Every truncation of a good answer is malformed, never a read past its end.
  for (std::size_t len = 0; len + 1 < kAck3.size(); ++len)
    EXPECT_NE(parse_batch_ack(std::string_view(kAck3).substr(0, len), e, 4, n), BatchAckStatus::ok) << len;
}

TEST(BatchAck, LargeAnswerFitsTheReader) {
  Options o;
  o.batch = 1000;
  std::string body = "{\"events\":[";
  for (int i = 0; i < 1000; ++i)
    body += std::string(i ? "," : "") + "{\"topic\":\"" + std::string(kTopicNameMax, 'n') +
            "\",\"id\":\"17954505206830000000-4294967295\"}";
  body += "]}";
  const std::string answer = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body;
  ResponseReader reader(response_bytes_max(o));
  ASSERT_EQ(reader.feed(answer), answer.size());
  HttpResponse r;
  ASSERT_EQ(reader.parse(r), ReadStatus::complete);
  std::vector<BatchAckEntry> e(1000);
  std::size_t n = 0;
  ASSERT_EQ(parse_batch_ack(r.body, e.data(), e.size(), n), BatchAckStatus::ok);
  EXPECT_EQ(n, 1000u);
}

std::vector<PublishRequest> request(PublishSequence& s, std::uint32_t max, std::uint64_t stamp = 0) {
  std::vector<PublishRequest> out(max);
  out.resize(s.issue_request(stamp, out.data(), max));
  return out;
}

TEST(PublishSequence, BatchesBoundedByRequests) {
  PublishSequence s(1, 10, 2, 3);  // one topic, ten events, two requests of three in flight
  EXPECT_EQ(request(s, 3, 7).size(), 3u);
  const auto second = request(s, 3, 8);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].k, 4u);
  EXPECT_EQ(second[2].stamp, 8u);
  EXPECT_TRUE(request(s, 3).empty());  // two requests in flight
  EXPECT_EQ(s.in_flight(), 6u);
  EXPECT_EQ(s.requests_in_flight(), 2u);
  EXPECT_EQ(s.oldest_request_events(), 3u);
  std::uint64_t holes = 0;
  EXPECT_EQ(s.answer(true, holes).stamp, 7u);
  EXPECT_EQ(s.oldest_request_events(), 2u);
  EXPECT_EQ(s.requests_in_flight(), 2u);  // until its last event is answered
  s.answer(true, holes);
  s.answer(true, holes);
  EXPECT_EQ(s.requests_in_flight(), 1u);
  EXPECT_EQ(request(s, 3).size(), 3u);  // k 7..9
  while (s.in_flight() > 0) s.answer(true, holes);
  const auto last = request(s, 3);
  ASSERT_EQ(last.size(), 1u);  // the tenth alone
  EXPECT_EQ(last[0].k, 10u);
  s.answer(true, holes);
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.acked_total(), 10u);
}

TEST(PublishSequence, RefusedBatchIsResentWhole) {
  PublishSequence s(2, 0, 2, 2);  // two topics, no end
  const auto a = request(s, 2);  // t0 k1, t1 k1
  const auto b = request(s, 2);  // t0 k2, t1 k2
  ASSERT_EQ(b.size(), 2u);
  std::uint64_t holes = 0;
  s.answer(false, holes);  // the first batch refused as a whole
  s.answer(false, holes);
  EXPECT_TRUE(s.stalled());
  EXPECT_TRUE(request(s, 2).empty());
  s.answer(false, holes);  // the second was refused too (it came behind a refusal)
  s.answer(false, holes);
  EXPECT_FALSE(s.stalled());
  const auto again = request(s, 2);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].k, 1u);
  EXPECT_EQ(again[1].k, 1u);
  EXPECT_EQ(s.abandon(), 2u);  // connection lost: both events unanswered
  EXPECT_EQ(s.requests_in_flight(), 0u);
  EXPECT_EQ(request(s, 2)[0].k, 1u);
}

TEST(Options, BatchFlags) {
  Options o;
  const char* argv[] = {"ringcast-load", "publish", "--batch", "50", "--batch-path", "/pub", "--event-bytes", "200"};
  ASSERT_EQ(parse_options(8, const_cast<char**>(argv), o), 0);
  EXPECT_EQ(o.batch, 50u);
  EXPECT_EQ(o.batch_path, "/pub");
  EXPECT_GE(request_bytes_max(o), 50u * (200 + 23));
  EXPECT_GT(response_bytes_max(o), 50u * 130);
  Options d;
  const char* plain[] = {"ringcast-load", "publish"};
  ASSERT_EQ(parse_options(2, const_cast<char**>(plain), d), 0);
  EXPECT_EQ(d.batch, 1u);  // one event per request, as before
  EXPECT_EQ(response_bytes_max(d), ResponseReader::kCapacity);
  for (const char* bad : {"0", "4097", "x"}) {
    const char* v[] = {"ringcast-load", "publish", "--batch", bad};
    Options b;
    EXPECT_EQ(parse_options(4, const_cast<char**>(v), b), 2) << bad;
  }
  const char* path[] = {"ringcast-load", "publish", "--batch-path", "pub"};
  EXPECT_EQ(parse_options(4, const_cast<char**>(path), d), 2);
}

}  // namespace
}  // namespace ringcast::load
