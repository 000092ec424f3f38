// Plain responses: reason phrases, exact wire layout, and heads that a strict reader accepts.
#include "http/response.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::http {
namespace {

struct ReasonCase {
  int status;
  const char* reason;
};

class ReasonPhrase : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(ReasonPhrase, Matches) {
  EXPECT_EQ(reason_phrase(GetParam().status), GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReasonPhrase,
    ::testing::Values(ReasonCase{200, "OK"}, ReasonCase{202, "Accepted"},
                      ReasonCase{204, "No Content"}, ReasonCase{400, "Bad Request"},
                      ReasonCase{401, "Unauthorized"}, ReasonCase{403, "Forbidden"},
                      ReasonCase{404, "Not Found"}, ReasonCase{405, "Method Not Allowed"},
                      ReasonCase{408, "Request Timeout"}, ReasonCase{411, "Length Required"},
                      ReasonCase{413, "Content Too Large"}, ReasonCase{414, "URI Too Long"},
                      ReasonCase{429, "Too Many Requests"},
                      ReasonCase{431, "Request Header Fields Too Large"},
                      ReasonCase{500, "Internal Server Error"},
                      ReasonCase{501, "Not Implemented"},
                      ReasonCase{503, "Service Unavailable"},
                      ReasonCase{505, "HTTP Version Not Supported"}, ReasonCase{0, "Unknown"},
                      ReasonCase{299, "Unknown"}, ReasonCase{-1, "Unknown"},
                      ReasonCase{999, "Unknown"}),
    [](const auto& info) {
      return "Status" + std::to_string(info.param.status < 0 ? 0 : info.param.status) +
             (info.param.status < 0 ? "Negative" : "");
    });

struct ResponseCase {
  const char* name;
  int status;
  std::string content_type;
  std::string body;
  bool close;
  std::string extra;
  std::string expected;
};

class AppendResponse : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(AppendResponse, ExactBytes) {
  const ResponseCase& c = GetParam();
  std::string out;
  append_response(out, c.status, c.content_type, c.body, c.close, c.extra);
  EXPECT_EQ(out, c.expected);
}

TEST_P(AppendResponse, AppendsWithoutClobbering) {
  const ResponseCase& c = GetParam();
  std::string out = "previous bytes";
  append_response(out, c.status, c.content_type, c.body, c.close, c.extra);
  EXPECT_EQ(out, "previous bytes" + c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AppendResponse,
    ::testing::Values(
        ResponseCase{"JsonAck", 202, "application/json", "{\"id\":\"17\"}", false, "",
                     "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                     "Content-Length: 11\r\nCache-Control: no-store\r\n\r\n{\"id\":\"17\"}"},
        ResponseCase{"EmptyBodyClose", 204, "text/plain", "", true, "",
                     "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 0\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n"},
        ResponseCase{"ExtraHeaders", 405, "text/plain", "no\n", false,
                     "Allow: GET\r\nX-A: b\r\n",
                     "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 3\r\nCache-Control: no-store\r\nAllow: GET\r\n"
                     "X-A: b\r\n\r\nno\n"},
        ResponseCase{"ExtraHeadersAndClose", 429, "text/plain", "slow down", true,
                     "Retry-After: 1\r\n",
                     "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 9\r\nCache-Control: no-store\r\nRetry-After: 1\r\n"
                     "Connection: close\r\n\r\nslow down"},
        ResponseCase{"UnknownStatus", 299, "text/plain", "x", false, "",
                     "HTTP/1.1 299 Unknown\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 1\r\nCache-Control: no-store\r\n\r\nx"},
        ResponseCase{"BinaryBody", 200, "application/octet-stream", std::string("a\0\r\n", 4),
                     false, "",
                     std::string("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                 "Content-Length: 4\r\nCache-Control: no-store\r\n\r\na\0\r\n",
                                 107)}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AppendResponseBody, LargeBodyLength) {
  const std::string body(1234567, 'z');
  std::string out;
  append_response(out, 200, "text/plain", body, false);
  EXPECT_NE(out.find("\r\nContent-Length: 1234567\r\n"), std::string::npos);
  EXPECT_EQ(out.size() - out.find("\r\n\r\n") - 4, body.size());
}

struct ErrorCase {
  const char* name;
  int status;
  std::string detail;
  std::string extra;
  std::string expected;
};

class AppendError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(AppendError, ExactBytes) {
  const ErrorCase& c = GetParam();
  std::string out = "x";
  append_error(out, c.status, c.detail, c.extra);
  EXPECT_EQ(out, "x" + c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AppendError,
    ::testing::Values(
        ErrorCase{"NotFound", 404, "no such topic", "",
                  "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
                  "404 Not Found: no such topic\n"},
        ErrorCase{"NoDetail", 400, "", "",
                  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n400 Bad Request\n"},
        ErrorCase{"WithExtraHeader", 401, "missing token", "WWW-Authenticate: Bearer\r\n",
                  "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 32\r\nCache-Control: no-store\r\n"
                  "WWW-Authenticate: Bearer\r\nConnection: close\r\n\r\n"
                  "401 Unauthorized: missing token\n"},
        ErrorCase{"HeadTooLarge", 431, "request head too large", "",
                  "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
                  "Content-Length: 60\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                  "431 Request Header Fields Too Large: request head too large\n"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AppendErrorBody, LongDetailKeptWhole) {
  const std::string detail(5000, 'd');
  std::string out;
  append_error(out, 413, detail);
  const std::string body = "413 Content Too Large: " + detail + "\n";
  ASSERT_GE(out.size(), body.size());
  EXPECT_EQ(out.substr(out.size() - body.size()), body);
  EXPECT_NE(out.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
}

TEST(StreamHead, ExactBytes) {
  EXPECT_EQ(stream_head(),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/event-stream\r\n"
            "Cache-Control: no-cache\r\n"
            "X-Accel-Buffering: no\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
}

TEST(StreamHead, IsStatic) {
  // Same storage every call: callers may keep the view (e.g. in a pending send).
  EXPECT_EQ(stream_head().data(), stream_head().data());
}

}  // namespace
}  // namespace ringcast::http
