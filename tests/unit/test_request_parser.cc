// Request-head parser: accepted heads and the fields they produce, refused heads and the
// status they get, the size limits, and a byte-at-a-time property: for every prefix of an
// input the parser says either `incomplete` or exactly what it says for the whole input.
#include "http/request_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ringcast::http {
namespace {

// Most cases here test other rules and leave Host out; the Host rule has its own tests below.
ParseLimits lenient() {
  ParseLimits limits;
  limits.require_host = false;
  return limits;
}

ParseResult parse(std::string_view bytes, Request& req, ParseLimits limits = lenient()) {
  return parse_request(bytes, limits, req);
}

// Checks the prefix property for `input` and returns the result for the whole input.
void expect_prefixes_consistent(const std::string& input, const ParseLimits& limits) {
  Request whole_req;
  const ParseResult whole = parse_request(input, limits, whole_req);
  for (std::size_t n = 0; n < input.size(); ++n) {
    // A fresh heap copy of exactly n bytes lets ASan catch any read past the prefix.
    const std::vector<char> copy(input.begin(), input.begin() + static_cast<long>(n));
    Request req;
    const ParseResult r = parse_request(std::string_view(copy.data(), n), limits, req);
    if (r.status == ParseStatus::incomplete) continue;
    ASSERT_EQ(r.status, whole.status) << "prefix of " << n << " bytes";
    ASSERT_EQ(r.error_status, whole.error_status) << "prefix of " << n << " bytes";
    ASSERT_EQ(r.error_reason, whole.error_reason) << "prefix of " << n << " bytes";
    if (r.status == ParseStatus::complete) {
      ASSERT_EQ(req.head_bytes, whole_req.head_bytes) << "prefix of " << n << " bytes";
    }
  }
}

// ---------------------------------------------------------------------------------------
// Accepted heads.

struct OkCase {
  const char* name{};
  std::string input{};
  std::string_view method{};
  std::string_view target{};
  std::string_view path{};
  std::string_view query{};
  int version_minor = 1;
  bool keep_alive = true;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool chunked = false;
  bool has_last_event_id = false;
  std::string_view last_event_id{};
  std::string_view authorization{};
  std::string_view origin{};
  std::size_t head_bytes = 0;  // 0: the whole input
};

class ParseOk : public ::testing::TestWithParam<OkCase> {};

TEST_P(ParseOk, FillsRequest) {
  const OkCase& c = GetParam();
  Request req;
  const ParseResult r = parse(c.input, req);
  ASSERT_EQ(r.status, ParseStatus::complete) << r.error_status << " " << r.error_reason;
  EXPECT_EQ(r.error_status, 0);
  EXPECT_EQ(req.method, c.method);
  EXPECT_EQ(req.target, c.target);
  EXPECT_EQ(req.path, c.path);
  EXPECT_EQ(req.query, c.query);
  EXPECT_EQ(req.version_minor, c.version_minor);
  EXPECT_EQ(req.keep_alive, c.keep_alive);
  EXPECT_EQ(req.has_content_length, c.has_content_length);
  EXPECT_EQ(req.content_length, c.content_length);
  EXPECT_EQ(req.chunked, c.chunked);
  EXPECT_EQ(req.has_last_event_id, c.has_last_event_id);
  EXPECT_EQ(req.last_event_id, c.last_event_id);
  EXPECT_EQ(req.authorization, c.authorization);
  EXPECT_EQ(req.origin, c.origin);
  EXPECT_EQ(req.head_bytes, c.head_bytes == 0 ? c.input.size() : c.head_bytes);
}

TEST_P(ParseOk, EveryPrefixIsIncomplete) {
  const OkCase& c = GetParam();
  const std::size_t head = c.head_bytes == 0 ? c.input.size() : c.head_bytes;
  for (std::size_t n = 0; n < head; ++n) {
    Request req;
    const ParseResult r = parse(std::string_view(c.input).substr(0, n), req);
    ASSERT_EQ(r.status, ParseStatus::incomplete) << "prefix of " << n << " bytes";
  }
}

TEST_P(ParseOk, ViewsPointIntoTheBuffer) {
  const OkCase& c = GetParam();
  Request req;
  ASSERT_EQ(parse(c.input, req).status, ParseStatus::complete);
  const char* begin = c.input.data();
  const char* end = begin + req.head_bytes;
  for (std::string_view v : {req.method, req.target, req.path, req.last_event_id,
                             req.authorization, req.origin}) {
    if (v.empty()) continue;
    EXPECT_GE(v.data(), begin);
    EXPECT_LE(v.data() + v.size(), end);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseOk,
    ::testing::Values(
        OkCase{.name = "SimpleGet", .input = "GET / HTTP/1.1\r\n\r\n", .method = "GET",
               .target = "/", .path = "/"},
        OkCase{.name = "TypicalEventSource",
               .input = "GET /sse?topic=news&x=1 HTTP/1.1\r\n"
                        "Host: example.com\r\n"
                        "Accept: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\n"
                        "Last-Event-ID: 42\r\n"
                        "Origin: https://app.example.com\r\n"
                        "\r\n",
               .method = "GET", .target = "/sse?topic=news&x=1", .path = "/sse",
               .query = "topic=news&x=1", .has_last_event_id = true, .last_event_id = "42",
               .origin = "https://app.example.com"},
        OkCase{.name = "BareLfEverywhere",
               .input = "GET /a?b HTTP/1.1\nHost: h\nLast-Event-ID: 7\n\n", .method = "GET",
               .target = "/a?b", .path = "/a", .query = "b", .has_last_event_id = true,
               .last_event_id = "7"},
        OkCase{.name = "MixedLineEndings", .input = "GET / HTTP/1.1\r\nHost: h\n\r\n",
               .method = "GET", .target = "/", .path = "/"},
        OkCase{.name = "EmptyQuery", .input = "GET /p? HTTP/1.1\r\n\r\n", .method = "GET",
               .target = "/p?", .path = "/p", .query = ""},
        OkCase{.name = "QuestionMarkInQuery", .input = "GET /p?a=?b HTTP/1.1\r\n\r\n",
               .method = "GET", .target = "/p?a=?b", .path = "/p", .query = "a=?b"},
        OkCase{.name = "PercentEncodedTargetKeptRaw",
               .input = "GET /t%20x?k=a%26b HTTP/1.1\r\n\r\n", .method = "GET",
               .target = "/t%20x?k=a%26b", .path = "/t%20x", .query = "k=a%26b"},
        OkCase{.name = "Http10DefaultsToClose", .input = "GET / HTTP/1.0\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .version_minor = 0,
               .keep_alive = false},
        OkCase{.name = "Http10KeepAlive",
               .input = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", .method = "GET",
               .target = "/", .path = "/", .version_minor = 0, .keep_alive = true},
        OkCase{.name = "Http11Close", .input = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .keep_alive = false},
        OkCase{.name = "ConnectionTokenList",
               .input = "GET / HTTP/1.1\r\nConnection: Upgrade ,\tCLOSE\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .keep_alive = false},
        OkCase{.name = "ConnectionCloseWinsOverKeepAlive",
               .input = "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .version_minor = 0,
               .keep_alive = false},
        OkCase{.name = "ConnectionUnknownTokenIgnored",
               .input = "GET / HTTP/1.1\r\nConnection: closed, keep-alive-ish\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .keep_alive = true},
        OkCase{.name = "PostWithContentLength",
               .input = "POST /publish/news HTTP/1.1\r\nHost: h\r\nContent-Type: "
                        "application/json\r\nContent-Length: 16\r\nAuthorization: Bearer "
                        "s3cr3t\r\n\r\n{\"data\":\"hello\"}",
               .method = "POST", .target = "/publish/news", .path = "/publish/news",
               .has_content_length = true, .content_length = 16,
               .authorization = "Bearer s3cr3t", .head_bytes = 122},
        OkCase{.name = "ContentLengthZero",
               .input = "POST /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n", .method = "POST",
               .target = "/p", .path = "/p", .has_content_length = true},
        OkCase{.name = "ContentLengthLeadingZeros",
               .input = "POST /p HTTP/1.1\r\nContent-Length: 007\r\n\r\n", .method = "POST",
               .target = "/p", .path = "/p", .has_content_length = true,
               .content_length = 7},
        OkCase{.name = "ContentLengthMaxU64",
               .input = "POST /p HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
               .method = "POST", .target = "/p", .path = "/p", .has_content_length = true,
               .content_length = UINT64_MAX},
        OkCase{.name = "IdenticalDuplicateContentLength",
               .input = "POST /p HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 05\r\n\r\n",
               .method = "POST", .target = "/p", .path = "/p", .has_content_length = true,
               .content_length = 5},
        OkCase{.name = "Chunked",
               .input = "POST /p HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello",
               .method = "POST", .target = "/p", .path = "/p", .chunked = true,
               .head_bytes = 48},
        OkCase{.name = "HeaderNamesCaseInsensitive",
               .input = "GET / HTTP/1.1\r\nLAST-EVENT-ID: x\r\nAUTHORIZATION: a\r\n"
                        "oRiGiN: o\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .has_last_event_id = true,
               .last_event_id = "x", .authorization = "a", .origin = "o"},
        OkCase{.name = "LastEventIdTrimmed",
               .input = "GET / HTTP/1.1\r\nLast-Event-ID: \t  a b \t \r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .has_last_event_id = true,
               .last_event_id = "a b"},
        OkCase{.name = "LastEventIdEmpty", .input = "GET / HTTP/1.1\r\nLast-Event-ID:\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .has_last_event_id = true,
               .last_event_id = ""},
        OkCase{.name = "LastEventIdOnlySpaces",
               .input = "GET / HTTP/1.1\r\nLast-Event-ID:  \t \r\n\r\n", .method = "GET",
               .target = "/", .path = "/", .has_last_event_id = true, .last_event_id = ""},
        OkCase{.name = "NoSpaceAfterColon", .input = "GET / HTTP/1.1\r\nOrigin:null\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .origin = "null"},
        OkCase{.name = "ObsTextInValue",
               .input = "GET / HTTP/1.1\r\nLast-Event-ID: caf\xc3\xa9\r\n\r\n",
               .method = "GET", .target = "/", .path = "/", .has_last_event_id = true,
               .last_event_id = "caf\xc3\xa9"},
        OkCase{.name = "HtabInsideValue", .input = "GET / HTTP/1.1\r\nX-A: a\tb\r\n\r\n",
               .method = "GET", .target = "/", .path = "/"},
        OkCase{.name = "UnknownHeadersIgnored",
               .input = "GET / HTTP/1.1\r\nX-Custom!#$%&'*+-.^_`|~: whatever : x\r\n\r\n",
               .method = "GET", .target = "/", .path = "/"},
        OkCase{.name = "LeadingBlankLinesIgnored", .input = "\r\n\nGET / HTTP/1.1\r\n\r\n",
               .method = "GET", .target = "/", .path = "/"},
        OkCase{.name = "OptionsAsterisk", .input = "OPTIONS * HTTP/1.1\r\n\r\n",
               .method = "OPTIONS", .target = "*", .path = "*"},
        OkCase{.name = "ExtensionMethodToken", .input = "M-SEARCH /x HTTP/1.1\r\n\r\n",
               .method = "M-SEARCH", .target = "/x", .path = "/x"},
        OkCase{.name = "LowercaseMethodKeptAsSent", .input = "get / HTTP/1.1\r\n\r\n",
               .method = "get", .target = "/", .path = "/"},
        OkCase{.name = "PipelinedSecondRequestNotConsumed",
               .input = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", .method = "GET",
               .target = "/1", .path = "/1", .head_bytes = 19},
        OkCase{.name = "EmptyHeaderValue", .input = "GET / HTTP/1.1\r\nX-Empty:\r\n\r\n",
               .method = "GET", .target = "/", .path = "/"}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------
// Refused heads. `input` is complete unless noted; early refusal of partial input is
// covered by the prefix property below.

struct ErrorCase {
  const char* name;
  std::string input;
  int status;
};

class ParseError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseError, Refuses) {
  const ErrorCase& c = GetParam();
  Request req;
  const ParseResult r = parse(c.input, req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, c.status);
  EXPECT_FALSE(r.error_reason.empty());
}

TEST_P(ParseError, PrefixesAgree) { expect_prefixes_consistent(GetParam().input, {}); }

const std::string kLongTarget = "/" + std::string(2048, 'a');  // 2049 bytes: one too many

INSTANTIATE_TEST_SUITE_P(
    RequestLine, ParseError,
    ::testing::Values(
        ErrorCase{"Http20", "GET / HTTP/2.0\r\n\r\n", 505},
        ErrorCase{"Http09", "GET / HTTP/0.9\r\n\r\n", 505},
        ErrorCase{"Http12", "GET / HTTP/1.2\r\n\r\n", 505},
        ErrorCase{"Http3", "GET / HTTP/3.0\r\n\r\n", 505},
        ErrorCase{"H2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
        ErrorCase{"MissingVersion", "GET /\r\n\r\n", 400},
        ErrorCase{"MissingVersionTrailingSpace", "GET / \r\n\r\n", 400},
        ErrorCase{"MissingTarget", "GET\r\n\r\n", 400},
        ErrorCase{"LowercaseVersion", "GET / http/1.1\r\n\r\n", 400},
        ErrorCase{"VersionNoMinor", "GET / HTTP/1\r\n\r\n", 400},
        ErrorCase{"VersionTwoDigitMajor", "GET / HTTP/11.1\r\n\r\n", 400},
        ErrorCase{"VersionTrailingGarbage", "GET / HTTP/1.1x\r\n\r\n", 400},
        ErrorCase{"VersionTrailingSpace", "GET / HTTP/1.1 \r\n\r\n", 400},
        ErrorCase{"DoubleSpaceBeforeTarget", "GET  / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"DoubleSpaceBeforeVersion", "GET /  HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"TabSeparator", "GET\t/ HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"LeadingSpace", " GET / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"EmptyMethod", " / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"MethodWithSlash", "GE/T / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"MethodWithNul", std::string("GE\0T / HTTP/1.1\r\n\r\n", 19), 400},
        ErrorCase{"TlsClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", 10),
                  400},
        ErrorCase{"AbsoluteFormTarget", "GET http://h/ HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"AuthorityFormTarget", "CONNECT h:443 HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"AsteriskForGet", "GET * HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"RelativeTarget", "GET sse HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"NulInTarget", std::string("GET /a\0b HTTP/1.1\r\n\r\n", 21), 400},
        ErrorCase{"DelInTarget", "GET /a\x7f HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"NonAsciiInTarget", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"BareCrInRequestLine", "GET /\r HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"BareCrEndsRequestLine", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
        ErrorCase{"LoneCrAtStart", "\rGET / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"TargetTooLong", "GET " + kLongTarget + " HTTP/1.1\r\n\r\n", 414},
        ErrorCase{"TargetTooLongNoVersion", "GET " + kLongTarget + "\r\n\r\n", 414},
        ErrorCase{"TargetTooLongIncomplete", "GET " + kLongTarget, 414}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    HeaderLines, ParseError,
    ::testing::Values(
        ErrorCase{"ObsFold", "GET / HTTP/1.1\r\nX-A: a\r\n  b\r\n\r\n", 400},
        ErrorCase{"ObsFoldTab", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", 400},
        ErrorCase{"WhitespaceLineBeforeFirstHeader", "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
                  400},
        ErrorCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        ErrorCase{"TabBeforeColon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400},
        ErrorCase{"EmptyName", "GET / HTTP/1.1\r\n: v\r\n\r\n", 400},
        ErrorCase{"NoColon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
        ErrorCase{"NonTokenName", "GET / HTTP/1.1\r\nX(A): v\r\n\r\n", 400},
        ErrorCase{"NonAsciiName", "GET / HTTP/1.1\r\nX-\xc3\xa9: v\r\n\r\n", 400},
        ErrorCase{"NulInValue", std::string("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28), 400},
        ErrorCase{"BareCrInValue", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400},
        ErrorCase{"BareCrAfterValue", "GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n", 400},
        ErrorCase{"EscInValue", "GET / HTTP/1.1\r\nX-A: a\x1b[0m\r\n\r\n", 400},
        ErrorCase{"DelInValue", "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", 400},
        ErrorCase{"VerticalTabInValue", "GET / HTTP/1.1\r\nX-A: a\vb\r\n\r\n", 400},
        ErrorCase{"NulInName", std::string("GET / HTTP/1.1\r\nX\0A: v\r\n\r\n", 26), 400},
        ErrorCase{"BlankLineWithSpace", "GET / HTTP/1.1\r\n \r\n\r\n", 400},
        ErrorCase{"DuplicateHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        ErrorCase{"DuplicateAuthorization",
                  "GET / HTTP/1.1\r\nAuthorization: a\r\nauthorization: a\r\n\r\n", 400},
        ErrorCase{"DuplicateOrigin", "GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n", 400},
        ErrorCase{"DuplicateLastEventId",
                  "GET / HTTP/1.1\r\nLast-Event-ID: 1\r\nLast-Event-ID: 2\r\n\r\n", 400}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Framing, ParseError,
    ::testing::Values(
        ErrorCase{"ContentLengthEmpty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
        ErrorCase{"ContentLengthNegative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                  400},
        ErrorCase{"ContentLengthPlus", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400},
        ErrorCase{"ContentLengthHex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400},
        ErrorCase{"ContentLengthInnerSpace",
                  "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
        ErrorCase{"ContentLengthList", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
                  400},
        ErrorCase{"ContentLengthOverflow",
                  "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
        ErrorCase{"ContentLengthHugeOverflow",
                  "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
        ErrorCase{"ContentLengthConflict",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        ErrorCase{"ContentLengthAndChunked",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                  400},
        ErrorCase{"ChunkedAndContentLength",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                  400},
        ErrorCase{"ChunkedTwice",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                  "chunked\r\n\r\n",
                  400},
        ErrorCase{"ChunkedInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                  400},
        ErrorCase{"TransferEncodingGzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                  501},
        ErrorCase{"TransferEncodingList",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        ErrorCase{"TransferEncodingIdentity",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 501},
        ErrorCase{"TransferEncodingEmpty", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
                  501},
        ErrorCase{"TransferEncodingUnknownWithContentLength",
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: br\r\n\r\n", 501}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseErrorReason, ObsFoldIsNamed) {
  // A folded line would also fail as a header line; the reason tells the client why.
  for (const char* input : {"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
                            "GET / HTTP/1.1\r\n\tX-A: a\r\n\r\n"}) {
    Request req;
    const ParseResult r = parse(input, req);
    EXPECT_EQ(r.error_status, 400);
    EXPECT_EQ(r.error_reason, "obsolete line folding") << input;
  }
}

TEST(ParseErrorReason, VersionErrorsAreDistinguished) {
  Request req;
  EXPECT_EQ(parse("GET / HTTP/2.0\r\n\r\n", req).error_reason, "unsupported HTTP version");
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", req).error_reason,
            "unsupported Transfer-Encoding");
  EXPECT_EQ(parse("GET /x\r\n\r\n", req).error_reason, "malformed request line");
}

// ---------------------------------------------------------------------------------------
// Size limits.

TEST(ParseLimits, TargetExactlyAtLimitIsAccepted) {
  const std::string input = "GET /" + std::string(2047, 'a') + " HTTP/1.1\r\n\r\n";
  Request req;
  ASSERT_EQ(parse(input, req).status, ParseStatus::complete);
  EXPECT_EQ(req.target.size(), 2048u);
}

TEST(ParseLimits, TooLongTargetRefusedBeforeLineEnds) {
  // The request line is still arriving, but one byte past the limit is already too many.
  const std::string at_limit = "GET /" + std::string(2047, 'a');
  Request req;
  EXPECT_EQ(parse(at_limit, req).status, ParseStatus::incomplete);
  const ParseResult r = parse(at_limit + "a", req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 414);
}

TEST(ParseLimits, CustomUrlLimit) {
  ParseLimits limits = lenient();
  limits.url_bytes_max = 4;
  Request req;
  EXPECT_EQ(parse("GET /abc HTTP/1.1\r\n\r\n", req, limits).status, ParseStatus::complete);
  EXPECT_EQ(parse("GET /abcd HTTP/1.1\r\n\r\n", req, limits).error_status, 414);
  EXPECT_EQ(parse("GET /abcd", req, limits).error_status, 414);
  EXPECT_EQ(parse("GET /abc", req, limits).status, ParseStatus::incomplete);
  // A CR right after the target may begin the CRLF, so it is not counted as target yet.
  EXPECT_EQ(parse("GET /abc\r", req, limits).status, ParseStatus::incomplete);
}

// A head of exactly `size` bytes: request line, one padding header, blank line.
std::string head_of_size(std::size_t size) {
  const std::string start = "GET / HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

TEST(ParseLimits, HeadExactlyAtLimitIsAccepted) {
  const std::string input = head_of_size(8192);
  Request req;
  const ParseResult r = parse(input + "body", req);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(req.head_bytes, 8192u);
}

TEST(ParseLimits, HeadOneByteOverLimitIs431) {
  const std::string input = head_of_size(8193);
  Request req;
  const ParseResult r = parse(input, req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 431);
}

TEST(ParseLimits, IncompleteHeadIs431OnceLimitReached) {
  const std::string input = head_of_size(9000).substr(0, 8192);
  Request req;
  EXPECT_EQ(parse(std::string_view(input).substr(0, 8191), req).status,
            ParseStatus::incomplete);
  const ParseResult r = parse(input, req);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 431);
}

TEST(ParseLimits, EndlessBlankLinesAre431) {
  const std::string input(8192, '\n');
  Request req;
  EXPECT_EQ(parse(input, req).error_status, 431);
}

TEST(ParseLimits, BytesBeyondWindowAreNotExamined) {
  // A NUL after the limit cannot change the answer for a head that already failed to fit.
  std::string input = head_of_size(9000);
  input[8500] = '\0';
  Request req;
  EXPECT_EQ(parse(input, req).error_status, 431);
}

TEST(ParseLimits, ErrorInEarlierLineBeats431) {
  std::string input = "GET / HTTP/1.1\r\nBad Header: x\r\n" + std::string(9000, 'x');
  Request req;
  EXPECT_EQ(parse(input, req).error_status, 400);
}

TEST(ParseLimits, TinyLimits) {
  ParseLimits limits = lenient();
  limits.header_bytes_max = 18;
  Request req;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n", req, limits).status, ParseStatus::complete);
  limits.header_bytes_max = 17;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n", req, limits).error_status, 431);
  limits.header_bytes_max = 0;
  EXPECT_EQ(parse("", req, limits).error_status, 431);
}

// ---------------------------------------------------------------------------------------
// Behaviour across calls and over arbitrary input.

TEST(ParseRequest, EmptyInputIsIncomplete) {
  Request req;
  EXPECT_EQ(parse("", req).status, ParseStatus::incomplete);
  EXPECT_EQ(parse(std::string_view(), req).status, ParseStatus::incomplete);
}

TEST(ParseRequest, ReusedRequestIsReset) {
  // Parsing the same Content-Length head twice into one Request must not look like a
  // duplicate header, and fields from a previous request must not leak into the next.
  Request req;
  const std::string post = "POST /p HTTP/1.0\r\nContent-Length: 3\r\nLast-Event-ID: 9\r\n\r\n";
  ASSERT_EQ(parse(post, req).status, ParseStatus::complete);
  ASSERT_EQ(parse(post, req).status, ParseStatus::complete);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\n\r\n", req).status, ParseStatus::complete);
  EXPECT_FALSE(req.has_content_length);
  EXPECT_EQ(req.content_length, 0u);
  EXPECT_FALSE(req.has_last_event_id);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.version_minor, 1);
}

TEST(ParseRequest, ByteAtATimeMatchesWholeForAcceptedHeads) {
  const std::string input =
      "GET /sse?topic=a HTTP/1.1\r\nHost: h\r\nLast-Event-ID: 5\r\n\r\nGET / HTTP/1.1\r\n";
  expect_prefixes_consistent(input, {});
}

// Random edits of valid heads: the parser must never crash or read out of bounds (ASan),
// must keep the prefix property, and anything it accepts must satisfy its own invariants.
TEST(ParseRequest, MutatedInputsKeepInvariants) {
  const std::vector<std::string> seeds = {
      "GET /sse?topic=a HTTP/1.1\r\nHost: h\r\nLast-Event-ID: 5\r\n\r\n",
      "POST /publish/t HTTP/1.0\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n",
      "OPTIONS * HTTP/1.1\nTransfer-Encoding: chunked\nOrigin: x\n\n",
  };
  const std::string alphabet = std::string("\r\n :\t\0\x7f\xff/?*AaG0-,", 17);
  std::mt19937 rng(12345);
  ParseLimits limits = lenient();
  limits.header_bytes_max = 96;
  limits.url_bytes_max = 24;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = seeds[static_cast<std::size_t>(iter) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t at = rng() % s.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: s[at] = c; break;
        case 1: s.insert(s.begin() + static_cast<long>(at), c); break;
        default: s.erase(at, 1); break;
      }
    }
    expect_prefixes_consistent(s, limits);
    Request req;
    const ParseResult r = parse_request(s, limits, req);
    if (r.status == ParseStatus::error) {
      EXPECT_TRUE(r.error_status == 400 || r.error_status == 414 || r.error_status == 431 ||
                  r.error_status == 501 || r.error_status == 505)
          << r.error_status;
      EXPECT_FALSE(r.error_reason.empty());
    } else if (r.status == ParseStatus::complete) {
      EXPECT_LE(req.head_bytes, limits.header_bytes_max);
      EXPECT_LE(req.target.size(), limits.url_bytes_max);
      EXPECT_FALSE(req.method.empty());
      EXPECT_TRUE(req.target == "*" || req.target.front() == '/') << req.target;
      EXPECT_FALSE(req.has_content_length && req.chunked);
    }
  }
}

// RFC 9112 §3.2: Host is required in HTTP/1.1 and may appear once.
TEST(RequestParserHost, Http11WithoutHostIs400) {
  Request req;
  const ParseResult r = parse_request("GET /sse/a HTTP/1.1\r\n\r\n", ParseLimits{}, req);
  EXPECT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 400);
  EXPECT_EQ(r.error_reason, "HTTP/1.1 request without Host");
}

TEST(RequestParserHost, Http10WithoutHostIsFine) {
  Request req;
  EXPECT_EQ(parse_request("GET /sse/a HTTP/1.0\r\n\r\n", ParseLimits{}, req).status,
            ParseStatus::complete);
}

TEST(RequestParserHost, HostIsRecorded) {
  Request req;
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nhOsT:  example.com:8080 \r\n\r\n", ParseLimits{}, req).status,
            ParseStatus::complete);
  EXPECT_EQ(req.host, "example.com:8080");
}

TEST(RequestParserHost, TwoHostLinesAre400) {
  Request req;
  const ParseResult r =
      parse_request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ParseLimits{}, req);
  EXPECT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.error_status, 400);
}

}  // namespace
}  // namespace ringcast::http
