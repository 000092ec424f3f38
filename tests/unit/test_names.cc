// Topic and event-type names.
#include "http/names.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::http {
namespace {

struct NameCase {
  const char* name;
  std::string input;
  bool valid;
};

class TopicTable : public ::testing::TestWithParam<NameCase> {};

TEST_P(TopicTable, Validates) {
  EXPECT_EQ(valid_topic(GetParam().input), GetParam().valid) << GetParam().input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TopicTable,
    ::testing::Values(
        NameCase{"Simple", "news", true},
        NameCase{"AllClasses", "Az09._~-", true},
        NameCase{"OneChar", "a", true},
        NameCase{"Dot", ".", false},      // a dot-segment: proxies rewrite it
        NameCase{"DotDot", "..", false},
        NameCase{"ThreeDots", "...", true},
        NameCase{"DotPrefix", ".a", true},
        NameCase{"AtMax", std::string(128, 'x'), true},
        NameCase{"Empty", "", false},
        NameCase{"OverMax", std::string(129, 'x'), false},
        NameCase{"Space", "a b", false},
        NameCase{"Slash", "a/b", false},
        NameCase{"Colon", "a:b", false},
        NameCase{"Percent", "a%20", false},
        NameCase{"Plus", "a+b", false},
        NameCase{"Nul", std::string("a\0b", 3), false},
        NameCase{"Newline", "a\n", false},
        NameCase{"NonAscii", "caf\xc3\xa9", false},
        NameCase{"Star", "*", false}),
    [](const auto& info) { return std::string(info.param.name); });

class EventTypeTable : public ::testing::TestWithParam<NameCase> {};

TEST_P(EventTypeTable, Validates) {
  EXPECT_EQ(valid_event_type(GetParam().input), GetParam().valid) << GetParam().input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, EventTypeTable,
    ::testing::Values(
        NameCase{"Simple", "update", true},
        NameCase{"Punctuation", "user.created/v2!#$%&'()*+,-;<=>?@[\\]^_`{|}~\"", true},
        NameCase{"OneChar", "x", true},
        NameCase{"AtMax", std::string(64, 'e'), true},
        NameCase{"Empty", "", false},
        NameCase{"OverMax", std::string(65, 'e'), false},
        NameCase{"Colon", "a:b", false},
        NameCase{"Space", "a b", false},
        NameCase{"Tab", "a\tb", false},
        NameCase{"Cr", "a\r", false},
        NameCase{"Lf", "a\n", false},
        NameCase{"Nul", std::string("a\0", 2), false},
        NameCase{"Del", "a\x7f", false},
        NameCase{"NonAscii", "caf\xc3\xa9", false}),
    [](const auto& info) { return std::string(info.param.name); });

// Every single byte, checked against the documented character classes.
TEST(NamesExhaustive, TopicBytes) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool expected = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') ||
                          (b >= 'a' && b <= 'z') || b == '.' || b == '_' || b == '~' ||
                          b == '-';
    EXPECT_EQ(valid_topic(std::string_view(&c, 1)), expected && b != '.') << b;
    // And in the middle of an otherwise valid name.
    const std::string s = std::string("ab") + c + "cd";
    EXPECT_EQ(valid_topic(s), expected) << b;
  }
}

TEST(NamesExhaustive, EventTypeBytes) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool expected = b >= 0x21 && b <= 0x7e && b != ':';
    EXPECT_EQ(valid_event_type(std::string_view(&c, 1)), expected) << b;
    const std::string s = std::string("ab") + c + "cd";
    EXPECT_EQ(valid_event_type(s), expected) << b;
  }
}

TEST(NamesExhaustive, LengthBoundaries) {
  for (std::size_t n = 0; n <= 200; ++n) {
    EXPECT_EQ(valid_topic(std::string(n, 't')), n >= 1 && n <= topic_bytes_max) << n;
    EXPECT_EQ(valid_event_type(std::string(n, 'e')), n >= 1 && n <= event_type_bytes_max)
        << n;
  }
}

}  // namespace
}  // namespace ringcast::http
