// Percent-decoding and query-string iteration.
#include "http/query.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringcast::http {
namespace {

struct DecodeCase {
  const char* name;
  std::string in;
  bool ok;
  std::string out;  // expected output when ok
};

class PercentDecode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(PercentDecode, Decodes) {
  const DecodeCase& c = GetParam();
  std::string out = "stale contents";  // must be replaced, not appended to
  EXPECT_EQ(percent_decode(c.in, out), c.ok);
  EXPECT_EQ(out, c.ok ? c.out : std::string());
}

INSTANTIATE_TEST_SUITE_P(
    Table, PercentDecode,
    ::testing::Values(
        DecodeCase{"Empty", "", true, ""},
        DecodeCase{"Plain", "news.eu_1~x-y", true, "news.eu_1~x-y"},
        DecodeCase{"PlusIsSpace", "a+b++", true, "a b  "},
        DecodeCase{"EscapedPlusStaysPlus", "a%2Bb", true, "a+b"},
        DecodeCase{"Space", "a%20b", true, "a b"},
        DecodeCase{"LowerAndUpperHex", "%2f%2F%aB%Ab", true, "//\xab\xab"},
        DecodeCase{"EscapedPercent", "100%25", true, "100%"},
        DecodeCase{"DoubleEncodedDecodedOnce", "%2541", true, "%41"},
        DecodeCase{"Nul", "a%00b", true, std::string("a\0b", 3)},
        DecodeCase{"HighByte", "%FF", true, "\xff"},
        DecodeCase{"Utf8", "caf%C3%A9", true, "caf\xc3\xa9"},
        DecodeCase{"RawUtf8PassesThrough", "caf\xc3\xa9", true, "caf\xc3\xa9"},
        DecodeCase{"OtherReservedKept", "a=b&c;d", true, "a=b&c;d"},
        DecodeCase{"AtEnd", "ab%41", true, "abA"},
        DecodeCase{"LonePercent", "%", false, ""},
        DecodeCase{"LonePercentAtEnd", "abc%", false, ""},
        DecodeCase{"OneDigit", "%4", false, ""},
        DecodeCase{"OneDigitAtEnd", "ab%4", false, ""},
        DecodeCase{"NonHex", "%zz", false, ""},
        DecodeCase{"SecondNonHex", "%4g", false, ""},
        DecodeCase{"FirstNonHex", "%g4", false, ""},
        DecodeCase{"PercentPercent", "%%41", false, ""},
        DecodeCase{"SignNotHex", "%+1", false, ""},
        DecodeCase{"SpaceNotHex", "% 1", false, ""},
        DecodeCase{"BadAfterGood", "%41%4", false, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PercentDecodeAll, EveryByteRoundTrips) {
  // Encoding each byte as %XX (both hex cases) and decoding must give the byte back.
  static const char kHex[] = "0123456789ABCDEF";
  static const char kHexLower[] = "0123456789abcdef";
  std::string encoded, encoded_lower, expected;
  for (int b = 0; b < 256; ++b) {
    encoded += {'%', kHex[b >> 4], kHex[b & 15]};
    encoded_lower += {'%', kHexLower[b >> 4], kHexLower[b & 15]};
    expected += static_cast<char>(b);
  }
  std::string out;
  ASSERT_TRUE(percent_decode(encoded, out));
  EXPECT_EQ(out, expected);
  ASSERT_TRUE(percent_decode(encoded_lower, out));
  EXPECT_EQ(out, expected);
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct IterCase {
  const char* name;
  std::string query;
  Pairs pairs;
};

class QueryIterTable : public ::testing::TestWithParam<IterCase> {};

TEST_P(QueryIterTable, Walks) {
  const IterCase& c = GetParam();
  QueryIter it(c.query);
  Pairs got;
  std::string_view key, value;
  while (it.next(key, value)) got.emplace_back(key, value);
  EXPECT_EQ(got, c.pairs);
  // Once exhausted it stays exhausted.
  EXPECT_FALSE(it.next(key, value));
}

INSTANTIATE_TEST_SUITE_P(
    Table, QueryIterTable,
    ::testing::Values(
        IterCase{"Empty", "", {}},
        IterCase{"OnlyAmpersands", "&&&", {}},
        IterCase{"One", "a=1", {{"a", "1"}}},
        IterCase{"Several", "a=1&b=2&a=3", {{"a", "1"}, {"b", "2"}, {"a", "3"}}},
        IterCase{"EmptyPairsSkipped", "&a=1&&b=2&", {{"a", "1"}, {"b", "2"}}},
        IterCase{"NoEquals", "flag&x=1", {{"flag", ""}, {"x", "1"}}},
        IterCase{"EmptyValue", "a=&b", {{"a", ""}, {"b", ""}}},
        IterCase{"EmptyKey", "=v", {{"", "v"}}},
        IterCase{"LoneEquals", "=", {{"", ""}}},
        IterCase{"SecondEqualsInValue", "a=b=c", {{"a", "b=c"}}},
        IterCase{"RawNotDecoded", "t%20x=a+b%26c", {{"t%20x", "a+b%26c"}}},
        IterCase{"SemicolonNotASeparator", "a=1;b=2", {{"a", "1;b=2"}}},
        IterCase{"QuestionMarkKept", "a=?&?=b", {{"a", "?"}, {"?", "b"}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(QueryIterViews, PointIntoTheQuery) {
  const std::string q = "topic=news&last=7";
  QueryIter it(q);
  std::string_view key, value;
  ASSERT_TRUE(it.next(key, value));
  EXPECT_EQ(key.data(), q.data());
  EXPECT_EQ(value.data(), q.data() + 6);
  ASSERT_TRUE(it.next(key, value));
  EXPECT_EQ(key.data(), q.data() + 11);
  EXPECT_EQ(value.data(), q.data() + 16);
}

}  // namespace
}  // namespace ringcast::http
