// The long-poll answer is decoded from the streams' wire bytes: it must give back exactly what
// an EventSource client would see.
#include "http/poll_json.h"

#include <gtest/gtest.h>

#include "http/sse_encoder.h"

namespace ringcast::http {
namespace {

std::string wire(std::string_view id, std::string_view event, std::string_view data) {
  std::string out(encoded_size(id, event, data), '\0');
  encode_event(id, event, data, out.data());
  return out;
}

TEST(PollJson, DecodesWhatTheEncoderWrote) {
  struct Case {
    std::string_view data, seen;  // seen: the data as EventSource reports it
  } cases[] = {
      {"hello", "hello"},  {"", ""},           {"a\nb", "a\nb"},      {"a\r\nb\rc\n", "a\nb\nc\n"},
      {"\n", "\n"},        {"data: x", "data: x"}, {"caf\xc3\xa9", "caf\xc3\xa9"},
  };
  for (const Case& c : cases) {
    SseEventText e;
    const std::string bytes = wire("1-2", "upd", c.data);  // e's views point into it
    ASSERT_TRUE(decode_sse_event(bytes, e)) << c.data;
    EXPECT_EQ(e.id, "1-2");
    EXPECT_EQ(e.event, "upd");
    EXPECT_EQ(e.data, c.seen);
  }
  SseEventText plain;
  const std::string bytes = wire("5-0", "", "x");
  ASSERT_TRUE(decode_sse_event(bytes, plain));
  EXPECT_EQ(plain.event, "");
}

TEST(PollJson, RejectsWhatIsNotOneEvent) {
  SseEventText e;
  EXPECT_FALSE(decode_sse_event("", e));
  EXPECT_FALSE(decode_sse_event("id: 1-0\n\n", e));          // no data line
  EXPECT_FALSE(decode_sse_event("id: 1-0\ndata: x\n", e));   // unterminated
  EXPECT_FALSE(decode_sse_event(": ping\n\n", e));
}

TEST(PollJson, EventObjectsAreJson) {
  std::string out;
  ASSERT_TRUE(append_poll_event(out, wire("7-1", "", "say \"hi\"\\\t\x01\nok")));
  EXPECT_EQ(out, R"({"id":"7-1","data":"say \"hi\"\\\u0009\u0001\nok"})");
  out.clear();
  ASSERT_TRUE(append_poll_event(out, wire("7-2", "t", "")));
  EXPECT_EQ(out, R"({"id":"7-2","event":"t","data":""})");
}

}  // namespace
}  // namespace ringcast::http
