// The HTTP/1.1 head the shard writes, turned into an HTTP/2 HEADERS frame's fields.
#include "http/h2_head.h"

#include <gtest/gtest.h>

#include "http/response.h"

namespace ringcast::http {
namespace {

std::string field(const H1Head& h, std::string_view name) {
  for (std::size_t i = 0; i < h.field_count; ++i)
    if (h.fields[i].name == name) return std::string(h.fields[i].value);
  return "<absent>";
}

TEST(H2Head, StreamHeadLosesConnectionFieldsAndKeepsTheRest) {
  const std::string bytes = stream_head("Access-Control-Allow-Origin: https://a.example\r\n") +
                            "retry: 2000\n\n";
  H1Head h;
  std::string names;
  ASSERT_TRUE(parse_h1_head(bytes, h, names));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.content_type, "text/event-stream");
  EXPECT_EQ(field(h, "cache-control"), "no-cache");
  EXPECT_EQ(field(h, "x-accel-buffering"), "no");
  EXPECT_EQ(field(h, "access-control-allow-origin"), "https://a.example");
  EXPECT_EQ(field(h, "connection"), "<absent>");  // RFC 9113 §8.2.2
  EXPECT_EQ(bytes.substr(h.head_bytes), "retry: 2000\n\n");
}

TEST(H2Head, ErrorAnswerKeepsStatusLengthAndExtraFields) {
  std::string bytes;
  append_error(bytes, 503, "stream limit reached", "Retry-After: 5\r\n");
  H1Head h;
  std::string names;
  ASSERT_TRUE(parse_h1_head(bytes, h, names));
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.content_type, "text/plain");
  EXPECT_EQ(field(h, "retry-after"), "5");
  EXPECT_EQ(field(h, "content-length"), std::to_string(bytes.size() - h.head_bytes));
  EXPECT_EQ(field(h, "connection"), "<absent>");  // the error's "Connection: close" is dropped
}

TEST(H2Head, NoContentHasNoBody) {
  std::string bytes;
  append_no_content(bytes, false, "Access-Control-Max-Age: 600\r\n");
  H1Head h;
  std::string names;
  ASSERT_TRUE(parse_h1_head(bytes, h, names));
  EXPECT_EQ(h.status, 204);
  EXPECT_EQ(h.head_bytes, bytes.size());
  EXPECT_EQ(field(h, "access-control-max-age"), "600");
}

TEST(H2Head, RefusesWhatIsNotAWholeHead) {
  H1Head h;
  std::string names;
  EXPECT_FALSE(parse_h1_head("HTTP/1.1 200 OK\r\nContent-Type: x\r\n", h, names));  // no blank line
  EXPECT_FALSE(parse_h1_head("HTTP/1.0 200 OK\r\n\r\n", h, names));
  EXPECT_FALSE(parse_h1_head("HTTP/1.1 2x0 OK\r\n\r\n", h, names));
  EXPECT_FALSE(parse_h1_head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", h, names));
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 16; ++i) many += "X-F" + std::to_string(i) + ": v\r\n";
  EXPECT_FALSE(parse_h1_head(many + "\r\n", h, names));  // more than kFieldsMax
}

}  // namespace
}  // namespace ringcast::http
