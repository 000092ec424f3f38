// SSE encoder: exact wire bytes for the documented examples, and round trips through an
// independent reference parser written from the WHATWG HTML "interpretation of an event
// stream" algorithm (not from the encoder), fed whole, byte by byte and split in two.
#include "http/sse_encoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringcast::http {
namespace {

struct Event {
  std::string type;
  std::string data;
  std::string last_event_id;
  bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{type=" << ::testing::PrintToString(e.type)
            << " data=" << ::testing::PrintToString(e.data)
            << " id=" << ::testing::PrintToString(e.last_event_id) << "}";
}

// WHATWG HTML §9.2.6 "Interpreting an event stream", as an incremental byte parser.
// Works on bytes rather than decoded text; the only UTF-8 step that matters here is the
// optional leading BOM, which is stripped.
class ReferenceParser {
 public:
  void feed(std::string_view chunk) {
    for (char c : chunk) feed_byte(c);
  }
  // End of stream: a partial line or an undispatched event is discarded.
  std::vector<Event> finish() { return std::move(events_); }

 private:
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";

  void feed_byte(char c) {
    if (!bom_done_) {
      bom_buf_ += c;
      if (kBom.substr(0, bom_buf_.size()) != bom_buf_) {
        bom_done_ = true;  // not a BOM after all: replay the bytes as content
        const std::string replay = std::move(bom_buf_);
        for (char r : replay) feed_text(r);
      } else if (bom_buf_.size() == kBom.size()) {
        bom_done_ = true;  // a whole BOM: drop it
      }
      return;
    }
    feed_text(c);
  }

  // Lines end in CRLF, a lone CR or a lone LF. A CRLF may be split across chunks, so the
  // CR ends the line at once and a directly following LF is swallowed.
  void feed_text(char c) {
    const bool after_cr = last_was_cr_;
    last_was_cr_ = c == '\r';
    if (c == '\n' && after_cr) return;
    if (c == '\r' || c == '\n') {
      process_line(line_);
      line_.clear();
      return;
    }
    line_ += c;
  }

  void process_line(std::string_view line) {
    if (line.empty()) return dispatch();
    if (line.front() == ':') return;  // comment
    std::string_view field = line, value;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "event") {
      event_type_ = value;
    } else if (field == "data") {
      data_ += value;
      data_ += '\n';
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) last_event_id_buffer_ = value;
    }
    // "retry" and unknown fields do not affect events.
  }

  void dispatch() {
    last_event_id_ = last_event_id_buffer_;
    if (data_.empty()) {
      event_type_.clear();
      return;
    }
    if (data_.back() == '\n') data_.pop_back();
    events_.push_back({event_type_.empty() ? "message" : event_type_, data_, last_event_id_});
    data_.clear();
    event_type_.clear();
  }

  bool bom_done_ = false;
  std::string bom_buf_;
  bool last_was_cr_ = false;
  std::string line_;
  std::string data_;
  std::string event_type_;
  std::string last_event_id_buffer_;
  std::string last_event_id_;
  std::vector<Event> events_;
};

std::vector<Event> parse_whole(std::string_view stream) {
  ReferenceParser p;
  p.feed(stream);
  return p.finish();
}

std::vector<Event> parse_bytewise(std::string_view stream) {
  ReferenceParser p;
  for (std::size_t i = 0; i < stream.size(); ++i) p.feed(stream.substr(i, 1));
  return p.finish();
}

// CRLF and lone CR become LF: what a client sees of the payload's line structure.
std::string normalise_newlines(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Encodes into a heap buffer of exactly encoded_size() bytes, so ASan catches any overrun.
std::string encode(std::string_view id, std::string_view event, std::string_view data) {
  std::vector<char> buf(encoded_size(id, event, data));
  const std::size_t n = encode_event(id, event, data, buf.data());
  EXPECT_EQ(n, buf.size());
  return std::string(buf.data(), n);
}

// The wire format's own shape: only LF line ends, known fields, one blank line at the end.
void expect_well_formed(std::string_view wire) {
  EXPECT_EQ(wire.find('\r'), std::string_view::npos);
  ASSERT_GE(wire.size(), 2u);
  EXPECT_EQ(wire.substr(wire.size() - 2), "\n\n");
  std::string_view body = wire.substr(0, wire.size() - 1);
  while (!body.empty()) {
    const std::size_t lf = body.find('\n');
    const std::string_view line = body.substr(0, lf);
    EXPECT_TRUE(line.starts_with("id: ") || line.starts_with("event: ") ||
                line.starts_with("data: "))
        << ::testing::PrintToString(std::string(line));
    body.remove_prefix(lf + 1);
  }
}

void expect_round_trip(std::string_view id, std::string_view event, std::string_view data) {
  const std::string wire = encode(id, event, data);
  expect_well_formed(wire);
  const Event expected{event.empty() ? "message" : std::string(event), normalise_newlines(data),
                       std::string(id)};
  const std::vector<Event> whole = parse_whole(wire);
  ASSERT_EQ(whole.size(), 1u) << ::testing::PrintToString(wire);
  EXPECT_EQ(whole[0], expected);
  EXPECT_EQ(parse_bytewise(wire), whole);
  if (wire.size() <= 512) {
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
      ReferenceParser p;
      p.feed(std::string_view(wire).substr(0, cut));
      p.feed(std::string_view(wire).substr(cut));
      ASSERT_EQ(p.finish(), whole) << "split at " << cut;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The reference parser itself, on hand-written streams.

struct StreamCase {
  const char* name;
  std::vector<std::string> chunks;
  std::vector<Event> events;
};

class ReferenceParserTable : public ::testing::TestWithParam<StreamCase> {};

TEST_P(ReferenceParserTable, Parses) {
  ReferenceParser p;
  for (const std::string& c : GetParam().chunks) p.feed(c);
  EXPECT_EQ(p.finish(), GetParam().events);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReferenceParserTable,
    ::testing::Values(
        StreamCase{"Simple", {"data: a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"NoSpaceAfterColon", {"data:a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"OnlyOneSpaceRemoved", {"data:  a\n\n"}, {{"message", " a", ""}}},
        StreamCase{"FieldWithoutColon", {"data\ndata\n\n"}, {{"message", "\n", ""}}},
        StreamCase{"Bom", {"\xEF\xBB\xBF" "data: a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"BomSplit", {"\xEF", "\xBB", "\xBF" "data: a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"OnlyFirstBomStripped", {"\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n"}, {}},
        StreamCase{"CrlfSplitAcrossChunks", {"data: a\r", "\n\r", "\n"},
                   {{"message", "a", ""}}},
        StreamCase{"LoneCrs", {"data: a\r\r"}, {{"message", "a", ""}}},
        StreamCase{"LfThenCrIsTwoLineEnds", {"data: a\n\r"}, {{"message", "a", ""}}},
        StreamCase{"CommentIgnored", {": hi\ndata: a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"EventType", {"event: up\ndata: a\n\n"}, {{"up", "a", ""}}},
        StreamCase{"IdPersists", {"id: 1\ndata: a\n\ndata: b\n\n"},
                   {{"message", "a", "1"}, {"message", "b", "1"}}},
        StreamCase{"IdWithNulIgnored", {std::string("id: 1\n\nid: 2\0\ndata: a\n\n", 23)},
                   {{"message", "a", "1"}}},
        StreamCase{"EmptyDataNotDispatched", {"event: x\n\ndata: a\n\n"}, {{"message", "a", ""}}},
        StreamCase{"IncompleteEventDiscarded", {"data: a\n\ndata: b\n"}, {{"message", "a", ""}}},
        StreamCase{"TrailingLfOnlyOneRemoved", {"data: a\ndata:\n\n"}, {{"message", "a\n", ""}}},
        StreamCase{"RetryAndUnknownIgnored", {"retry: 10\nfoo: bar\ndata: a\n\n"},
                   {{"message", "a", ""}}}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------
// Exact wire bytes.

struct WireCase {
  const char* name;
  std::string id;
  std::string event;
  std::string data;
  std::string wire;
};

class EncodeWire : public ::testing::TestWithParam<WireCase> {};

TEST_P(EncodeWire, ExactBytes) {
  const WireCase& c = GetParam();
  EXPECT_EQ(encoded_size(c.id, c.event, c.data), c.wire.size());
  EXPECT_EQ(encode(c.id, c.event, c.data), c.wire);
}

INSTANTIATE_TEST_SUITE_P(
    Table, EncodeWire,
    ::testing::Values(
        WireCase{"HeaderExample", "", "", "a\r\nb\rc\n",
                 "data: a\ndata: b\ndata: c\ndata: \n\n"},
        WireCase{"EmptyData", "", "", "", "data: \n\n"},
        WireCase{"AllFields", "42", "update", "{\"x\":1}",
                 "id: 42\nevent: update\ndata: {\"x\":1}\n\n"},
        WireCase{"IdOnly", "7", "", "x", "id: 7\ndata: x\n\n"},
        WireCase{"EventOnly", "", "tick", "x", "event: tick\ndata: x\n\n"},
        WireCase{"OnlyNewline", "", "", "\n", "data: \ndata: \n\n"},
        WireCase{"CrCr", "", "", "\r\r", "data: \ndata: \ndata: \n\n"},
        WireCase{"LfCr", "", "", "\n\r", "data: \ndata: \ndata: \n\n"},
        WireCase{"CrLfIsOneBreak", "", "", "\r\n", "data: \ndata: \n\n"},
        WireCase{"CrCrLf", "", "", "a\r\r\nb", "data: a\ndata: \ndata: b\n\n"},
        WireCase{"LeadingSpaceKept", "", "", " a", "data:  a\n\n"},
        WireCase{"ColonsKept", "", "", ":a:b", "data: :a:b\n\n"},
        WireCase{"FieldLookalike", "", "", "id: 9\nevent: x", "data: id: 9\ndata: event: x\n\n"}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------
// Round trips.

struct RoundTripCase {
  const char* name;
  std::string id;
  std::string event;
  std::string data;
};

class RoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTrip, ReferenceParserRecoversEvent) {
  const RoundTripCase& c = GetParam();
  expect_round_trip(c.id, c.event, c.data);
}

const std::string kLongLine(100 * 1024, 'x');

std::string many_lines() {
  std::string s;
  for (int i = 0; i < 500; ++i) s += "line " + std::to_string(i) + (i % 3 == 0 ? "\r\n" : "\n");
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RoundTrip,
    ::testing::Values(
        RoundTripCase{"Empty", "", "", ""},
        RoundTripCase{"EmptyWithIdAndEvent", "1", "ping", ""},
        RoundTripCase{"Simple", "", "", "hello"},
        RoundTripCase{"Json", "123", "update", "{\"a\":[1,2],\"b\":\"c:d\"}"},
        RoundTripCase{"OnlyLf", "", "", "\n"},
        RoundTripCase{"OnlyLfs", "", "", "\n\n\n"},
        RoundTripCase{"OnlyCrs", "", "", "\r\r\r"},
        RoundTripCase{"OnlyCrlfs", "", "", "\r\n\r\n"},
        RoundTripCase{"CrCr", "", "", "\r\r"},
        RoundTripCase{"LfCr", "", "", "\n\r"},
        RoundTripCase{"CrCrLf", "", "", "\r\r\n"},
        RoundTripCase{"LfCrLf", "", "", "\n\r\n"},
        RoundTripCase{"CrLfLf", "", "", "\r\n\n"},
        RoundTripCase{"CrlfPairsAroundText", "", "", "\r\na\r\n\r\nb\r\n"},
        RoundTripCase{"CrlfSplitByText", "", "", "a\rb\nc"},
        RoundTripCase{"TrailingCr", "", "", "abc\r"},
        RoundTripCase{"LeadingNewline", "", "", "\nabc"},
        RoundTripCase{"LeadingSpace", "", "", " a"},
        RoundTripCase{"LeadingSpaces", "", "", "   a\n  b\n c"},
        RoundTripCase{"TrailingSpaces", "", "", "a  \nb "},
        RoundTripCase{"Tabs", "", "", "\ta\t\n\t"},
        RoundTripCase{"Colons", "", "", ":\n::\n: comment-lookalike\na:b"},
        RoundTripCase{"FieldLookalikes", "", "", "data: x\nid: y\nevent: z\nretry: 1\n\n"},
        RoundTripCase{"BlankLinesInside", "", "", "a\n\nb\n\n\nc"},
        RoundTripCase{"Nul", "", "", std::string("a\0b\n\0", 5)},
        RoundTripCase{"NonAscii", "", "",
                      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\xe4\xb8\xad"},
        RoundTripCase{"BomInData", "", "", "\xEF\xBB\xBFhello"},
        RoundTripCase{"NonAsciiId", "\xc3\xa9t\xc3\xa9", "m\xc3\xa9t", "x"},
        RoundTripCase{"IdWithSpacesAndColon", "a: b", "t", "x"},
        RoundTripCase{"EventWithColon", "", "a:b", "x"},
        RoundTripCase{"IdLeadingSpace", " 5", "", "x"},
        RoundTripCase{"HundredKilobyteLine", "99", "big", kLongLine},
        RoundTripCase{"ManyLines", "", "", many_lines()}),
    [](const auto& info) { return std::string(info.param.name); });

// Every string of up to 6 characters over an alphabet of the bytes that matter.
TEST(RoundTripExhaustive, ShortStrings) {
  const std::string alphabet = "a :\r\n";
  std::vector<std::string> current = {""};
  for (int len = 0; len <= 6; ++len) {
    std::vector<std::string> next;
    for (const std::string& s : current) {
      const std::string wire = encode("", "", s);
      const std::vector<Event> events = parse_whole(wire);
      ASSERT_EQ(events.size(), 1u) << ::testing::PrintToString(s);
      ASSERT_EQ(events[0].data, normalise_newlines(s)) << ::testing::PrintToString(s);
      ASSERT_EQ(wire.size(), encoded_size("", "", s));
      for (char c : alphabet) next.push_back(s + c);
    }
    current = std::move(next);
  }
}

TEST(RoundTripRandom, SizeMatchesAndParses) {
  std::mt19937 rng(7);
  const std::string alphabet = std::string("ab \r\n:\0\xc3\xa9", 9);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string data;
    const std::size_t n = rng() % 64;
    for (std::size_t i = 0; i < n; ++i) data += alphabet[rng() % alphabet.size()];
    const std::string id = iter % 2 ? std::to_string(iter) : "";
    const std::string event = iter % 3 ? "" : "e" + std::to_string(iter);
    expect_round_trip(id, event, data);
  }
}

TEST(EncodeStream, ConsecutiveEventsParseIndependently) {
  // Events are written back to back on one connection; each must come out on its own,
  // and the last event id carries over to events sent without one (WHATWG semantics).
  struct In {
    std::string id, event, data;
  };
  const std::vector<In> in = {
      {"1", "a", "first\nline"}, {"", "", "\r\n"}, {"3", "", ""}, {"", "b", " x\r"}};
  std::string stream;
  std::vector<Event> expected;
  std::string last_id;
  for (const In& e : in) {
    stream += encode(e.id, e.event, e.data);
    if (!e.id.empty()) last_id = e.id;
    expected.push_back(
        {e.event.empty() ? "message" : e.event, normalise_newlines(e.data), last_id});
  }
  EXPECT_EQ(parse_whole(stream), expected);
  EXPECT_EQ(parse_bytewise(stream), expected);
}

TEST(EncodeSize, CountsLines) {
  // 8 = "data: \n" + final "\n"; each extra line adds "data: \n" (7 bytes).
  EXPECT_EQ(encoded_size("", "", ""), 8u);
  EXPECT_EQ(encoded_size("", "", "\n"), 15u);
  EXPECT_EQ(encoded_size("", "", "\r\n"), 15u);
  EXPECT_EQ(encoded_size("", "", "\r\r"), 22u);
  EXPECT_EQ(encoded_size("1", "", ""), 8u + 6u);
  EXPECT_EQ(encoded_size("", "ev", ""), 8u + 10u);
  EXPECT_EQ(encoded_size("", "", kLongLine), kLongLine.size() + 8u);
}

}  // namespace
}  // namespace ringcast::http
