// Batch publish bodies (NDJSON): what is accepted, and the line every refusal names.
#include "http/publish_batch.h"

#include <gtest/gtest.h>

namespace ringcast::http {
namespace {

std::string refuse(std::string_view body, BatchLimits limits = {}) {
  std::vector<BatchEvent> events;
  std::string error;
  EXPECT_FALSE(parse_publish_batch(body, limits, events, error)) << body;
  EXPECT_TRUE(events.empty());
  return error;
}

TEST(PublishBatch, ParsesEveryLineInOrder) {
  std::vector<BatchEvent> events;
  std::string error;
  ASSERT_TRUE(parse_publish_batch(
      "{\"topic\":\"a\",\"data\":\"one\"}\n"
      "\r\n"
      "{\"data\":\"line\\nbreak \\u00e9\",\"event\":\"tick\",\"topic\":\"b.c\"}\r\n"
      "{\"topic\":\"a\",\"data\":\"\"}",
      {}, events, error))
      << error;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].topic, "a");
  EXPECT_EQ(events[0].data, "one");
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[1].topic, "b.c");
  EXPECT_EQ(events[1].event, "tick");
  EXPECT_EQ(events[1].data, "line\nbreak \xc3\xa9");
  EXPECT_EQ(events[2].data, "");
}

TEST(PublishBatch, RefusalsNameTheLine) {
  const std::string good = "{\"topic\":\"a\",\"data\":\"x\"}\n";
  EXPECT_EQ(refuse(good + "{\"topic\":\"a\"}\n"), "line 2: no \"data\"");
  EXPECT_EQ(refuse(good + good + "{\"data\":\"x\"}"), "line 3: no \"topic\"");
  EXPECT_EQ(refuse("not json"), "line 1: not a JSON object");
  EXPECT_EQ(refuse("[1]"), "line 1: not a JSON object");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"x\"} trailing"), "line 1: malformed JSON");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"x\""), "line 1: malformed JSON");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":1}"), "line 1: topic, event and data must be JSON strings");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"x\",\"id\":\"1-1\"}"),
            "line 1: unknown member (topic, event and data are known)");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"topic\":\"b\",\"data\":\"x\"}"), "line 1: a member appears twice");
  EXPECT_NE(refuse("{\"topic\":\"a b\",\"data\":\"x\"}").find("line 1: topic names"), std::string::npos);
  EXPECT_NE(refuse("{\"topic\":\"..\",\"data\":\"x\"}").find("line 1: topic names"), std::string::npos);
  EXPECT_EQ(refuse("{\"topic\":\"_stats\",\"data\":\"x\"}"), "line 1: topics starting with '_' are the server's");
  EXPECT_NE(refuse("{\"topic\":\"a\",\"event\":\"a\\r\\nid: 1\",\"data\":\"x\"}").find("line 1: event types"),
            std::string::npos);
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"\\ud800\"}").substr(0, 7), "line 1:");  // lone surrogate
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"\xff\"}").substr(0, 7), "line 1:");
  EXPECT_EQ(refuse(""), "line 1: no events: send one JSON object per line");
  EXPECT_EQ(refuse("\n\n"), "line 2: no events: send one JSON object per line");
}

TEST(PublishBatch, LimitsHold) {
  BatchLimits limits;
  limits.events_max = 2;
  limits.event_bytes_max = 3;
  const std::string line = "{\"topic\":\"a\",\"data\":\"abc\"}\n";
  std::vector<BatchEvent> events;
  std::string error;
  EXPECT_TRUE(parse_publish_batch(line + line, limits, events, error)) << error;
  EXPECT_EQ(refuse(line + line + line, limits), "line 3: more events than --max-batch-events");
  EXPECT_EQ(refuse("{\"topic\":\"a\",\"data\":\"abcd\"}", limits), "line 1: data larger than --max-event-bytes");
}

TEST(PublishBatch, TheAnswerListsIdsInOrder) {
  std::vector<BatchEvent> events(2);
  events[0].topic = "a";
  events[1].topic = "b";
  std::string out;
  append_batch_answer(out, events, {EventId{5, 0}, EventId{5, 1}});
  EXPECT_EQ(out, "{\"events\":[{\"topic\":\"a\",\"id\":\"5-0\"},{\"topic\":\"b\",\"id\":\"5-1\"}]}\n");
}

}  // namespace
}  // namespace ringcast::http
